"""Subscriber callbacks (successUri, inProgressUri, failedUri) of OGC API - Processes."""

from __future__ import annotations

import logging

import requests

from .. import egress


def send(url: str | None, payload: dict, *, timeout: float, allow_internal: bool,
         logger: logging.Logger, egress_block: dict | None = None) -> bool:
    """POST `payload` as JSON to `url` under the egress policy (`egress_block`, widened by
    the process's `allow_internal_requests`); failures are logged to the job log, never
    raised."""
    if not url:
        return False
    policy = egress.policy_from_settings(egress_block, allow_internal=allow_internal)
    try:
        egress.check_url(url, policy)
        reply = egress.session(policy).post(url, json=payload, timeout=timeout,
                                            allow_redirects=False)
        logger.info('callback %s answered %s', url, reply.status_code)
        return reply.ok
    except egress.EgressRefused as err:
        logger.warning('callback to %s refused: %s; internal addresses are not allowed for '
                       'this process unless it sets allow_internal_requests: true', url, err)
        return False
    except requests.RequestException as err:
        logger.warning('callback %s failed: %s', url, err)
        return False
