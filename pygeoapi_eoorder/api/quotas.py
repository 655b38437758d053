"""Quotas in OGC API terms: the refusal (problem+json 429) and `GET /quotas`.

429 Too Many Requests (RFC 6585) is what OGC API deployments and the EOEPCA ADES answer
when a caller is over a usage limit: the request is valid and the caller allowed; only
their current usage stands in the way, and it passes once their jobs progress (403 would
say "never", and tells a client not to retry).
"""

from __future__ import annotations

import json

from flask import Request, Response

from ..auth import current_user
from ..jobs.quotas import QuotaExceeded
from ..web.problem import problem

QUOTA_EXCEEDED = 'quota-exceeded'


def refusal(err: QuotaExceeded) -> Response:
    """The problem+json answer to a request over a quota (names the limit and the usage)."""
    return problem(429, QUOTA_EXCEEDED, str(err), quota=err.as_dict())


def usage(manager, request: Request) -> Response:
    """The caller's limits and current usage (anonymous callers: those of jobs without
    an owner); an admin may name another user (`?user=`,
    shown with the default limits: roles belong to a user's requests, not the store)."""
    user = current_user()  # anonymous callers share the limits of jobs without owner
    name, roles = (user.name, sorted(user.roles)) if user else (None, [])
    asked = request.args.get('user')
    if asked and asked != name:
        if not manager.auth.is_admin(user):
            return problem(403, 'forbidden', 'only admins may see the quotas of other users')
        name, roles = asked, []
    body = {'user': name, 'quotas': manager.jobs.quotas.usage(name, roles)}
    return Response(json.dumps(body), status=200, mimetype='application/json')
