"""A job's directory made before its job arrives.

A local worker prepares the next job's directory while it is idle (`.next-<pid>` in the
jobs folder, with `work/`, `results/` (every job that succeeds writes its result
document there) and its log file open) and renames it to the job's directory
when a job arrives: the job starts without creating folders and files, which a file
system makes slowly. A job whose directory exists already (one run again) makes its own.
The supervisor removes the directory of a worker it replaces and, as it starts, every one
a crash left behind.
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

from .result_store import LOG_NAME

PREFIX = '.next-'  # (never a job's id: those are UUIDs)
LOGGER = logging.getLogger(__name__)


def prepared_path(jobs_dir: Path, pid: int) -> Path:
    return jobs_dir / f'{PREFIX}{pid}'


class NextJobDir:
    """The next job's directory of this process (see the module)."""

    def __init__(self, jobs_dir: Path):
        self.path = prepared_path(jobs_dir, os.getpid())
        self.log_fd: int | None = None

    def prepare(self) -> None:
        """Make the directory unless it is ready; a failure (e.g. a full disk) only
        leaves the next job to make its own."""
        if self.log_fd is not None:
            return
        try:
            shutil.rmtree(self.path, ignore_errors=True)
            (self.path / 'work').mkdir(parents=True)
            (self.path / 'results').mkdir()
            self.log_fd = os.open(self.path / LOG_NAME,
                                  os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        except OSError as err:
            LOGGER.warning('the next job directory could not be prepared: %s', err)

    def take(self, job_dir: Path) -> int | None:
        """Make the prepared directory `job_dir`; the descriptor of its open log, now the
        caller's (None: none prepared, or `job_dir` exists already)."""
        if self.log_fd is None:
            return None
        try:
            os.rename(self.path, job_dir)  # (refused if job_dir holds anything)
        except OSError:
            return None  # (kept for the next job)
        log_fd, self.log_fd = self.log_fd, None
        return log_fd


def remove_prepared(jobs_dir: Path, pid: int | None = None) -> None:
    """Remove the prepared directory of worker `pid` (None: of every worker)."""
    paths = [prepared_path(jobs_dir, pid)] if pid is not None else \
        jobs_dir.glob(f'{PREFIX}*') if jobs_dir.is_dir() else []
    for path in paths:
        shutil.rmtree(path, ignore_errors=True)
