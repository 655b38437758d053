"""Job result files: a job's own written in place (never through a link), copies whole
(write-then-rename); read back with their media type."""

from __future__ import annotations

import errno
import json
import os
import queue
import stat
import tempfile
import threading
from pathlib import Path
from typing import Any, Callable

JSON_TYPE = 'application/json'


def write_atomic(path: Path, data: bytes, sync: bool = True) -> None:
    """Write `data` to `path` so that readers see either nothing or the whole file;
    `sync`: on disk before it is renamed into place (else see `Syncing`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f'.{path.name}.')
    try:
        with os.fdopen(fd, 'wb') as fh:
            fh.write(data)
            fh.flush()
            if sync:
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class FileWork:
    """File work done by another thread: `wait()` before anything reports the files as
    kept."""

    _error: Exception | None = None

    def _block(self) -> None:
        raise NotImplementedError

    def wait(self, *_) -> None:
        """Block until the work is done; raise what went wrong (extra arguments are
        ignored: it can run as a write of a job's completing transaction)."""
        self._block()
        if self._error is not None:
            raise self._error


class InBackground(FileWork):
    """File work done by a thread of its own (the disk's waits overlap the caller's work)."""

    def __init__(self, work: Callable[[], object], name: str):
        self._work = work
        self._thread = threading.Thread(target=self._run, daemon=True, name=name)
        self._thread.start()

    def _block(self) -> None:
        self._thread.join()

    def _run(self) -> None:
        try:
            self._work()
        except Exception as err:  # (raised by `wait`, in the caller's thread)
            self._error = err


class Syncing(FileWork):
    """A written file being put on disk (`fd`: open on it; closed then) by the process's
    syncing thread (`_SYNCER`): started once, not at each job (starting a thread waits
    for it to run: ≈ 0.3 ms on a machine idle before). The caller waits until the
    thread has begun (at most `HAND_OVER` seconds, e.g. behind another file): woken, the
    thread needs the GIL to call fsync, which a caller going on in Python kept from it
    until it blocked (the fsync began ≈ 1.2 ms after the hand-over, as the job's
    completing transaction ran, and was waited for there: 0.6 ms, measured)."""

    HAND_OVER = 0.002

    def __init__(self, fd: int):
        self._done = threading.Event()
        self._begun = threading.Event()
        _SYNCER.put(fd, self)
        self._begun.wait(self.HAND_OVER)

    def _block(self) -> None:
        self._done.wait()

    def begun(self) -> None:
        self._begun.set()

    @property
    def under_way(self) -> bool:
        """The syncing thread has taken the file (its fsync began or is done)."""
        return self._begun.is_set()

    def ended(self, error: Exception | None) -> None:
        self._error = error
        self._done.set()


class _Syncer:
    """One thread per process that puts written files on disk, in the order given
    (started at the first file of the process, a forked child's own included)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._queue: queue.SimpleQueue = queue.SimpleQueue()

    def start(self) -> None:
        """Start the thread of this process if it has none (e.g. before the first job)."""
        with self._lock:
            if self._pid != os.getpid():
                self._queue = queue.SimpleQueue()  # (a parent's queue stays the parent's)
                threading.Thread(target=_sync_each, args=(self._queue,), daemon=True,
                                 name='eoorder-fsync').start()
                self._pid = os.getpid()

    def put(self, fd: int, waiter: Syncing) -> None:
        if self._pid != os.getpid():
            self.start()
        self._queue.put((fd, waiter))


def _sync_each(files: queue.SimpleQueue) -> None:
    while True:
        fd, waiter = files.get()
        waiter.begun()  # (its caller goes on; this thread keeps the GIL until fsync)
        try:
            _sync_and_close(fd)
        except Exception as err:  # (raised by `wait`, in the waiting thread)
            waiter.ended(err)
        else:
            waiter.ended(None)


_SYNCER = _Syncer()
start_syncing = _SYNCER.start


def _sync_and_close(fd: int) -> None:
    """Put the file's bytes and size on disk (fdatasync: what reading it back needs, not
    its times as fsync also does), then close it."""
    try:
        os.fdatasync(fd)
    finally:
        os.close(fd)


def write_in_background(files: dict[Path, bytes]) -> InBackground:
    """Write each file whole (see `write_atomic`, not synced) by a thread of its own."""
    def write_all() -> None:
        for path, data in files.items():
            write_atomic(path, data, sync=False)
    return InBackground(write_all, 'eoorder-write')


def write_in_place(files: dict[Path, bytes]) -> None:
    """Write each file in place (created or replaced, not synced, see `_written`): for a
    job's result files, which are served once the job ended and copied once it is done
    with them."""
    for path, data in files.items():
        os.close(_written(path, data))


def encode(mimetype: str | None, outputs: Any) -> tuple[bytes, str]:
    """Bytes and media type of what a processor returned."""
    if isinstance(outputs, (dict, list)) or outputs is None or isinstance(outputs, (int, float)):
        return json.dumps(outputs, default=str).encode(), mimetype or JSON_TYPE
    if isinstance(outputs, str):
        return outputs.encode(), mimetype or 'text/plain'
    if isinstance(outputs, (bytes, bytearray)):
        return bytes(outputs), mimetype or 'application/octet-stream'
    raise TypeError(f'a process returned an unsupported result type {type(outputs).__name__}')


def write_result(job_dir: Path, mimetype: str | None, outputs: Any
                 ) -> tuple[str, str, Syncing]:
    """Store a processor's result under the job directory, in place (it is read once the
    job ended, or copied once written); its file name, media type, and its way to disk
    (wait for it before the job is done)."""
    data, media_type = encode(mimetype, outputs)
    name = 'result.json' if media_type == JSON_TYPE else 'result'
    return f'results/{name}', media_type, Syncing(_written(job_dir / 'results' / name, data))


def _written(path: Path, data: bytes) -> int:
    """`data` written to `path` in place (its folder made if needed, see
    `_open_regular`); the file's descriptor, still open."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = _open_regular(path)
    try:
        left = memoryview(data)
        while left:
            left = left[os.write(fd, left):]
    except BaseException:
        os.close(fd)
        raise
    return fd


def _open_regular(path: Path) -> int:
    """`path` opened for writing from its start as a regular file of its own: a link or
    special file found there (e.g. left by a process's outputs) is replaced, never
    followed or waited on."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK
    try:
        fd = os.open(path, flags | os.O_TRUNC, 0o644)
    except OSError as err:
        if err.errno not in (errno.ELOOP, errno.ENXIO):  # (a link; a FIFO nobody reads)
            raise
    else:
        if stat.S_ISREG(os.fstat(fd).st_mode):
            return fd
        os.close(fd)
    path.unlink()
    return os.open(path, flags | os.O_EXCL, 0o644)


def read_result(job_dir: Path, result_file: str) -> bytes:
    return (job_dir / result_file).read_bytes()


def decode(media_type: str | None, data: bytes) -> Any:
    if media_type == JSON_TYPE:
        return json.loads(data)
    return data
