"""The interface of execution runners: what runs a deployed process's execution unit.

A runner is chosen by the unit's kind (`docker`, `cwl`; see `runners.py` and the
component registry). The job engine calls `run` inside the job's worker process, with
the job's :class:`~.context.JobContext`; `stop` from the engine when a job is dismissed or
its worker was lost; `prepare` once in a process that forks job processes.

A runner for another platform (e.g. Kubernetes: one Job object per job, labelled with
the job id) implements the same four methods:

- `run`: stage inputs in (`ctx.stager()`), start the work, stream its log to `ctx.log`
  and progress to `ctx.progress`, wait for it within the unit's limits, collect the
  outputs under `ctx.job_dir / 'results'` and return `(media type, results document)`;
  raise :class:`~.errors.ExecutionError` with a one-line reason on failure.
- `stop`: end whatever still runs for a job id, even when called from another process
  or machine than the one that started it (find the work by its job label); return how
  many things were stopped.
- `missing_images`: which of the images a package names the platform cannot run yet
  (deployment warns about them).
- `prepare`: optional warm-up (the Docker runner learns the engine's API version).

Status and logs need no method: the job's status is the engine's (the job row), and its
log is the job's `job.log`, which `ctx.log` writes.
"""

from __future__ import annotations

import abc

from ..config import Settings
from .context import JobContext
from .unit import ExecutionUnit


class ExecutionRunner(abc.ABC):
    """Runs execution units of one kind for the job engine."""

    kind = ''
    # runners whose work lives on the same platform share it: the engine stops each once
    platform = ''

    def __init__(self, settings: Settings):
        self.settings = settings

    @abc.abstractmethod
    def run(self, ctx: JobContext, process: dict, unit: ExecutionUnit, data: dict,
            requested: dict | None) -> tuple[str, dict]:
        """Run `unit` for the job of `ctx` with inputs `data`; return its results."""

    @abc.abstractmethod
    def stop(self, job_id: str) -> int:
        """Stop whatever still runs for the job; the number of things stopped."""

    @abc.abstractmethod
    def missing_images(self, images: list[str]) -> list[str]:
        """Warnings for `images` the platform does not hold (deployment goes on)."""

    def prepare(self) -> None:
        """Warm up before job processes are forked (best effort)."""
