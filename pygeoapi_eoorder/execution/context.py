"""What a running job sees: its work directory, its log and a way to report progress.

The job engine builds a :class:`JobContext` for each job it runs and hands it to the
job's processor (a :class:`JobProcessor`); execution runners work through it only, so
they need nothing from the engine itself.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Callable, Protocol

from pygeoapi.process.base import BaseProcessor, ProcessorExecuteError

from ..catalogue import demo
from ..config import Settings
from ..egress import policy_from_settings
from .s3_sources import S3Sources
from .staging import Stager


class JobRecorder(Protocol):
    """Where a job's progress and provenance facts are recorded (the job store)."""

    def report_progress(self, job_id: str, progress: int, message: str | None = None) -> bool:
        """Record progress of a running job."""

    def record_provenance(self, job_id: str, **facts: Any) -> None:
        """Merge facts into the job's provenance record."""

    def write_unless_ended(self, job_id: str, write: Callable[[Any], object]) -> bool:
        """`write(connection)` in a transaction of its own, unless the job was dismissed
        or deleted (read in that transaction); True if written."""


class Completion:
    """What a job writes to the store when it succeeds: each `write(connection)` runs in
    the transaction that makes the job successful (none of them if it failed or was
    dismissed meanwhile: successful and registered go together), each of `afterwards`
    once that transaction is committed (e.g. telling listeners of new records);
    `after_result`: work done once the job's result document is written, while it goes
    to disk (see `JobContext.once_result_written`)."""

    def __init__(self):
        self.writes: list[Callable[[Any], object]] = []
        self.afterwards: list[Callable[[], object]] = []
        self.after_result: list[Callable[[], object]] = []
        self.background: list = []  # file work of the job's threads (`in_background`)

    def result_written(self) -> None:
        """The job's result document is written: do the work left for then."""
        for step in self.after_result:
            step()

    def wait_files(self) -> None:
        """Wait for the file work the job's threads do; raise what failed there."""
        for work in self.background:
            work.wait()

    def settle(self) -> None:
        """Wait for the file work the job's threads do, whatever its end (a failed or
        dismissed job's files must not be written after it let go of them); what failed
        there already failed the job or no longer matters."""
        for work in self.background:
            try:
                work.wait()
            except Exception:  # (see above)
                pass


def job_stager(settings: Settings, workdir: Path, file_roots: list[str] = (),
               openers: dict | None = None, own_urls=None) -> Stager:
    """A stager of a job's inputs into `workdir`/inputs: from the configured file roots
    (and `file_roots`), under the egress policy and size limit, s3 from the configured
    sources unless `openers` has its own."""
    openers = dict(openers or {})
    if 's3' not in openers:  # (a processor's own s3 reader reads these sources too)
        sources = S3Sources.from_settings(settings)
        if sources is not None:
            openers['s3'] = sources.open
    stage_in = settings.block['execution']['stage_in']
    return Stager(workdir / 'inputs', [*stage_in['allowed_file_roots'], *file_roots],
                  policy=policy_from_settings(settings.block.get('egress')),
                  max_bytes=stage_in.get('max_bytes'), openers=openers, own_urls=own_urls)


class JobContext:
    """Handed to a :class:`JobProcessor` before it executes."""

    def __init__(self, repo: JobRecorder, job: dict, job_dir: Path, logger: logging.Logger,
                 settings: Settings, base_url: str, manager=None,
                 runners: dict | None = None, completion: Completion | None = None):
        """`completion`: where the job engine collects what the job writes as it
        succeeds (None: such writes are made at once; see `on_success`)."""
        self.repo = repo
        self.completion = completion
        self.manager = manager  # the job engine's process manager (built-in processes use it)
        # execution runners by unit kind (the component registry's; else the manager's)
        self.runners = runners if runners is not None else getattr(manager, 'runners', {})
        self.settings = settings
        self.base_url = base_url.rstrip('/')
        self.job = job
        self.job_id = job['id']
        self.job_dir = job_dir
        self.workdir = job_dir / 'work'
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.log = logger
        # more places file:// inputs may come from (an order item's staged product)
        self.file_roots: list[str] = []
        self.openers: dict = {}  # more URL schemes stage-in reads (see `Stager`)
        # this server's URLs stage-in reads itself (see `Stager`): the demo files'
        self.own_urls = demo.file_urls(settings, self.base_url)

    def stager(self) -> Stager:
        """A stager for this job's inputs: its file roots and the configured egress policy."""
        return job_stager(self.settings, self.workdir, self.file_roots, self.openers,
                          self.own_urls)

    def runner(self, kind: str):
        """The execution runner of units of `kind` (an `ExecutionRunner`)."""
        try:
            return self.runners[kind]
        except KeyError:
            raise ProcessorExecuteError(user_msg=f'no execution runner for {kind!r} units '
                                        'on this server') from None

    def record_provenance(self, **facts: Any) -> None:
        """Record what the job ran (e.g. `images=[...]`) for its PROV document."""
        self.repo.record_provenance(self.job_id, **facts)

    def in_background(self, work) -> None:
        """File work the job left to a thread of its own (`jobs.results.InBackground`):
        done before the job's results are published and before it succeeds (its failure
        fails the job), and before its worker lets go of it in any case."""
        if self.completion is None:
            work.wait()
            return
        self.completion.background.append(work)
        self.completion.writes.append(work.wait)

    def once_result_written(self, step: Callable[[], object]) -> None:
        """Do `step()` once the job's result document is written and on its way to disk
        (the sync waits for the disk: the step's work overlaps it), before the job ends;
        what it raises fails the job. For work the result document does not depend on
        (e.g. the job's STAC catalog and records). Without a `completion`: at once."""
        if self.completion is None:
            step()
            return
        self.completion.after_result.append(step)

    def on_success(self, write: Callable[[Any], object],
                   afterwards: Callable[[], object] | None = None) -> None:
        """Have `write(connection)` made in the transaction that ends the job successful,
        then `afterwards()`. Without a `completion` (a context no engine ends), at once
        in a transaction of its own unless the job was dismissed."""
        if self.completion is None:
            if self.repo.write_unless_ended(self.job_id, write) and afterwards:
                afterwards()
            return
        self.completion.writes.append(write)
        if afterwards is not None:
            self.completion.afterwards.append(afterwards)

    def progress(self, percent: int, message: str | None = None) -> None:
        """Record progress (0-100) and an optional message, visible at /jobs/{id}."""
        self.log.info('progress %s%%%s', percent, f': {message}' if message else '')
        self.repo.report_progress(self.job_id, percent, message)


class JobProcessor(BaseProcessor):
    """A pygeoapi processor that reports progress and writes into its job's work directory.

    Plain pygeoapi processors run unchanged; subclasses of this one also get `context`.
    """

    context: JobContext | None = None

    def report_progress(self, percent: int, message: str | None = None) -> None:
        if self.context is not None:
            self.context.progress(percent, message)
