"""Where job results and logs live for the servers that serve them.

`local` (the embedded default): the job directory under `data_dir`, written by the
worker and read by the server of the same machine. `database`: the worker copies the
job's `results/` tree and `job.log` into `eoorder_job_file` rows of the shared store
before it reports the job finished, so every server instance can serve them; a server
materialises them into its own `data_dir/cache/` on first read (a finished job's results
never change) and streams them from there.
"""

from __future__ import annotations

import abc
import importlib
import os
import shutil
import stat
from pathlib import Path

from sqlalchemy import delete, select

from ..config import Settings
from ..execution.paths import open_nofollow
from ..store import JobFile, Store, utcnow
from .results import write_atomic

LOG_NAME = 'job.log'
COMPLETE = '.complete'


class ResultStore(abc.ABC):
    """Where a job's results and log are kept for the servers that serve them.

    The worker side (`publish`, `publish_log`, `after_job`) runs in the job's worker
    before the job is reported finished; the server side (`read`, `results_dir`,
    `log_path`, `remove`) runs in any server instance.
    """

    name = ''

    def __init__(self, settings: Settings, store: Store):
        self.settings = settings
        self.store = store

    # -- the worker side ----------------------------------------------------------
    @abc.abstractmethod
    def publish(self, job_id: str, job_dir: Path) -> None:
        """Make the job's results readable by the servers (before it is reported done)."""

    @abc.abstractmethod
    def publish_log(self, job_id: str, job_dir: Path) -> None:
        """Make the job's log (so far) readable by the servers."""

    @abc.abstractmethod
    def after_job(self, job_id: str, job_dir: Path) -> None:
        """The job left this worker; its local files may go if the servers do not need them."""

    # -- the server side ----------------------------------------------------------
    @abc.abstractmethod
    def read(self, job_id: str, relative: str) -> bytes:
        """The bytes of one result file (`relative` to the job directory)."""

    @abc.abstractmethod
    def results_dir(self, job_id: str) -> Path:
        """A local directory holding the job's result files."""

    @abc.abstractmethod
    def log_path(self, job_id: str) -> Path:
        """A local file holding the job's log (as far as it has been published)."""

    @abc.abstractmethod
    def remove(self, job_id: str) -> None:
        """Remove everything kept for the job (dismissal, retention)."""


class LocalResults(ResultStore):
    """Results and logs in the job directory of this machine (one machine only)."""

    name = 'local'

    def publish(self, job_id: str, job_dir: Path) -> None:
        """Nothing to do: the servers read the job directory itself."""

    def publish_log(self, job_id: str, job_dir: Path) -> None:
        """Nothing to do: the servers read the job directory itself."""

    def after_job(self, job_id: str, job_dir: Path) -> None:
        """The files stay: they are what the servers serve."""

    def read(self, job_id: str, relative: str) -> bytes:
        return (self.settings.job_dir(job_id) / relative).read_bytes()

    def results_dir(self, job_id: str) -> Path:
        return self.settings.job_dir(job_id) / 'results'

    def log_path(self, job_id: str) -> Path:
        return self.settings.job_dir(job_id) / LOG_NAME

    def remove(self, job_id: str) -> None:
        shutil.rmtree(self.settings.job_dir(job_id), ignore_errors=True)


class DatabaseResults(ResultStore):
    """Results and logs as rows of the shared store, cached on each server's disk."""

    name = 'database'

    def _cache(self, job_id: str) -> Path:
        return self.settings.data_dir / 'cache' / 'jobs' / job_id

    def _put(self, job_id: str, files: dict[str, bytes], replace_prefix: str | None) -> None:
        now = utcnow()
        rows = [{'job_id': job_id, 'path': path, 'size': len(data), 'data': data,
                 'updated': now} for path, data in files.items()]
        with self.store.write() as session:
            if replace_prefix is not None:
                session.execute(delete(JobFile).where(
                    JobFile.job_id == job_id, JobFile.path.like(f'{replace_prefix}%'),
                    JobFile.path.not_in(list(files))))
            if rows:
                _upsert(session, rows)

    def publish(self, job_id: str, job_dir: Path) -> None:
        """Store the regular files of `results/`; links and special files a container
        wrote are skipped, never followed (each file opened without following links)."""
        results = job_dir / 'results'
        files = {}
        if results.is_dir() and not results.is_symlink():
            for relative in _regular_files(results):
                files[f'results/{relative}'] = _read_nofollow(results, relative)
        self._put(job_id, files, replace_prefix='results/')

    def publish_log(self, job_id: str, job_dir: Path) -> None:
        log = job_dir / LOG_NAME
        if log.is_file():
            self._put(job_id, {LOG_NAME: log.read_bytes()}, replace_prefix=None)

    def after_job(self, job_id: str, job_dir: Path) -> None:
        shutil.rmtree(job_dir, ignore_errors=True)  # everything servers need is in the store

    def read(self, job_id: str, relative: str) -> bytes:
        with self.store.read() as session:
            data = session.scalar(select(JobFile.data).where(JobFile.job_id == job_id,
                                                             JobFile.path == relative))
        if data is None:
            raise FileNotFoundError(f'job {job_id}: no stored file {relative}')
        return bytes(data)

    def results_dir(self, job_id: str) -> Path:
        """The job's results on this server's disk, fetched from the store once."""
        cache = self._cache(job_id)
        if not (cache / COMPLETE).exists():
            with self.store.read() as session:
                rows = session.execute(select(JobFile.path, JobFile.data).where(
                    JobFile.job_id == job_id, JobFile.path.like('results/%'))).all()
            for path, data in rows:
                target = (cache / path).resolve()
                if cache.resolve() in target.parents:  # never outside the cache
                    write_atomic(target, bytes(data))
            if rows:
                write_atomic(cache / COMPLETE, b'')
        return cache / 'results'

    def log_path(self, job_id: str) -> Path:
        """The log as last published by the worker (it grows while the job runs)."""
        path = self._cache(job_id) / LOG_NAME
        try:
            write_atomic(path, self.read(job_id, LOG_NAME))
        except FileNotFoundError:
            path.unlink(missing_ok=True)
        return path

    def remove(self, job_id: str) -> None:
        with self.store.write() as session:
            session.execute(delete(JobFile).where(JobFile.job_id == job_id))
        shutil.rmtree(self._cache(job_id), ignore_errors=True)
        shutil.rmtree(self.settings.job_dir(job_id), ignore_errors=True)  # a worker's leftovers


def _regular_files(tree: Path) -> list[str]:
    """Relative paths of the regular, non-hidden files under `tree`; links not followed."""
    found = []
    for dirpath, dirnames, filenames in os.walk(tree, followlinks=False):
        here = Path(dirpath)
        for name in filenames:
            path = here / name
            if not name.startswith('.') and stat.S_ISREG(os.lstat(path).st_mode):
                found.append(path.relative_to(tree).as_posix())
    return sorted(found)


def _read_nofollow(tree: Path, relative: str) -> bytes:
    """The bytes of `tree/relative`, opened without following any link below `tree`."""
    with os.fdopen(open_nofollow(tree, relative), 'rb') as fh:
        return fh.read()


def _upsert(session, rows: list[dict]) -> None:
    """Insert or replace file rows in one statement (an ORM merge reads each row first;
    the job's process and its watcher both publish the log)."""
    dialect = session.get_bind().dialect.name
    if dialect not in ('postgresql', 'sqlite'):
        for row in rows:
            session.merge(JobFile(**row))
        return
    statement = importlib.import_module(f'sqlalchemy.dialects.{dialect}').insert(JobFile)
    statement = statement.on_conflict_do_update(
        index_elements=[JobFile.job_id, JobFile.path],
        set_={name: statement.excluded[name] for name in ('size', 'data', 'updated')})
    session.execute(statement, rows)


RESULT_STORES: dict[str, type[ResultStore]] = {LocalResults.name: LocalResults,
                                               DatabaseResults.name: DatabaseResults}


def build(settings: Settings, store: Store) -> ResultStore:
    """The result store `jobs.result_store` names."""
    return RESULT_STORES[settings.jobs.result_store](settings, store)
