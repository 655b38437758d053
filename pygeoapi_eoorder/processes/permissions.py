"""Permissions of processes that change shared state (deploy, undeploy, harvest, ...).

Such a processor defines `authorize(manager, user, inputs) -> Refusal | None` (`manager`:
the job engine, with `auth`, `settings` and `registry`). It is asked
twice: when a job is requested (a refusal is the answer: nothing is queued) and again in
the job, as the job's owner (`enforce`), so that a job that reached the engine another
way can do no more than its owner may. Outside both, nobody may.
"""

from __future__ import annotations

from dataclasses import dataclass
from http import HTTPStatus

from pygeoapi.process.base import ProcessorExecuteError

from ..auth import User, acting_auth, current_user


@dataclass(frozen=True)
class Refusal:
    """Why a caller may not run a process with these inputs (an OGC API problem)."""

    status: int
    type: str
    detail: str


def forbidden(detail: str) -> Refusal:
    return Refusal(403, 'forbidden', detail)


class Refused(ProcessorExecuteError):
    """A job that its owner may not run: fails with the refusal's status and message."""

    def __init__(self, refusal: Refusal):
        super().__init__(user_msg=refusal.detail)
        self.http_status_code = HTTPStatus(refusal.status)
        self.refusal = refusal


def refusal(processor, manager, user: User | None, inputs: dict) -> Refusal | None:
    """The refusal of `processor` for `user` and `inputs`, or None if it may run."""
    authorize = getattr(processor, 'authorize', None)
    if authorize is None:
        return None
    return authorize(manager, user, inputs if isinstance(inputs, dict) else {})


def enforce(processor, inputs: dict) -> User:
    """In a job: raise `Refused` unless the job's owner may run `processor` with these
    inputs; return the owner."""
    user, context = current_user(), getattr(processor, 'context', None)
    if acting_auth() is None or user is None or context is None or context.manager is None:
        raise Refused(forbidden(f'{processor.metadata["id"]} runs only as a job of an '
                                'identified user'))
    refused = refusal(processor, context.manager, user, inputs)
    if refused is not None:
        raise Refused(refused)
    return user
