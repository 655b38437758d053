"""How committed jobs reach the workers: the job engine's dispatchers.

`LocalDispatcher` wakes this machine's supervisor (`supervisor.py`, `jobs.engine: local`);
`CeleryDispatcher` publishes the job to the broker for `eoorder worker`s (`cluster.py`,
`jobs.engine: celery`). The engine core (`engine.py`) is the same for both.
"""

from __future__ import annotations

import abc
import time
from collections.abc import Sequence

from ..config import Settings
from . import celery_app, supervisor_control
from .repository import JobRepository


class Dispatcher(abc.ABC):
    """Hands committed jobs to the workers of one engine kind."""

    kind = ''

    def __init__(self, settings: Settings, repo: JobRepository):
        self.settings = settings
        self.repo = repo

    @abc.abstractmethod
    def announce(self, job_ids: list[str], wake: bool = True, jobs: Sequence[dict] = ()) -> None:
        """Committed jobs go to the workers (never lost when this fails: see the sweeps);
        `jobs`: their records, if the caller has them."""

    def wake(self) -> None:
        """Look for queued jobs now (the local supervisor; no-op elsewhere)."""

    def dismissed(self, job_id: str) -> None:
        """A running job was dismissed: tell whoever stops its work."""

    def listener(self, job_id: str) -> 'Listener':
        """What a synchronous request sleeps on until the job may have ended."""
        return Listener()


class Listener:
    """Polls: remote workers cannot wake a waiting request (10 ms naps)."""

    def wait(self, timeout: float) -> None:
        time.sleep(max(0.0, min(timeout, 0.01)))

    def close(self) -> None:
        """Nothing held."""


class LocalDispatcher(Dispatcher):
    """The supervisor of this data directory, woken through its socket."""

    kind = 'local'

    def announce(self, job_ids: list[str], wake: bool = True, jobs: Sequence[dict] = ()) -> None:
        """A lone job's record goes with the wake-up: on an idle engine the supervisor
        claims it without reading the queue (`Supervisor.claim_announced`)."""
        if wake and job_ids:
            lone = len(job_ids) == 1 and len(jobs) == 1 and jobs[0].get('id') == job_ids[0]
            self.wake(jobs[0] if lone else None)

    def wake(self, job: dict | None = None) -> None:
        """Wake the supervisor (it also looks every quarter second); start one if none.
        `job`: the one queued job this wake-up announces."""
        woken = supervisor_control.nudge(self.settings, job)
        if not supervisor_control.supervised_externally():
            supervisor_control.ensure_supervisor(self.settings, force=not woken)

    def dismissed(self, job_id: str) -> None:
        supervisor_control.nudge(self.settings)

    def listener(self, job_id: str) -> 'supervisor_control.FinishedListener':
        """Local workers wake the waiting request when the job ends."""
        return supervisor_control.FinishedListener(job_id)


class CeleryDispatcher(Dispatcher):
    """The broker: the job id is published after its row is committed."""

    kind = 'celery'

    def announce(self, job_ids: list[str], wake: bool = True, jobs: Sequence[dict] = ()) -> None:
        """Publish each job and stamp it queued; one the broker does not take stays
        `accepted` without `queued`, and a worker's sweep publishes it later."""
        for job_id in job_ids:
            if celery_app.publish(self.settings, job_id):
                self.repo.mark_queued(job_id)

    def dismissed(self, job_id: str) -> None:
        """Nothing to send: the task's watcher sees the status in the store."""


DISPATCHERS: dict[str, type[Dispatcher]] = {LocalDispatcher.kind: LocalDispatcher,
                                            CeleryDispatcher.kind: CeleryDispatcher}


def build(settings: Settings, repo: JobRepository) -> Dispatcher:
    """The dispatcher of `jobs.engine`."""
    return DISPATCHERS[settings.jobs.engine](settings, repo)
