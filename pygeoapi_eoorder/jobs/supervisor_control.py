"""Finding, starting and waking the job engine's supervisor (one per data directory).

The supervisor holds an exclusive lock on `run/supervisor.lock`; whoever can take that
lock knows no supervisor is alive. Servers wake it through a datagram on
`run/supervisor.sock` right after committing a job, so a queued job starts at once (an
abstract socket named after the run directory when that path is too long for a socket).
"""

from __future__ import annotations

import ctypes
import fcntl
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from ..config import ENV_CONFIG, Settings

ENV_SUPERVISOR = 'EOORDER_SUPERVISOR'  # `external`: `eoorder serve` keeps it running
_last_check: dict[str, float] = {}
_starting: dict[str, subprocess.Popen] = {}  # supervisors this process started, by data dir
CHECK_EVERY = 2.0


def lock_path(settings: Settings) -> Path:
    return settings.run_dir / 'supervisor.lock'


def stopping_path(settings: Settings) -> Path:
    """Present while a supervisor drains after being asked to stop (not after a crash)."""
    return settings.run_dir / 'supervisor.stopping'


def socket_path(settings: Settings) -> Path:
    return settings.run_dir / 'supervisor.sock'


MAX_SOCKET_PATH = 107  # bytes of a socket's path (Linux `sun_path`, less its final NUL)


def wake_up_address(settings: Settings) -> str:
    """Where the supervisor hears wake-ups: its socket file (`socket_path`), or, when that
    path is too long for a socket, an abstract socket (Linux: no file) named after the
    run directory."""
    path = str(socket_path(settings))
    if len(os.fsencode(path)) <= MAX_SOCKET_PATH:
        return path
    digest = hashlib.sha256(os.fsencode(os.path.realpath(settings.run_dir))).hexdigest()
    return f'\0eoorder-wake-up-{digest[:32]}'


def is_abstract(address: str) -> bool:
    return address.startswith('\0')


def take_lock(path: Path, patience: float = 0.0) -> int | None:
    """Take the supervisor lock; return its descriptor, or None if another holds it.

    `supervisor_alive` probes hold the lock for microseconds: a supervisor starting waits
    `patience` seconds before it concludes that another supervisor holds it for good.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    deadline = time.monotonic() + patience
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except BlockingIOError:
            if time.monotonic() >= deadline:
                os.close(fd)
                return None
            time.sleep(0.01)


def supervisor_alive(settings: Settings) -> bool:
    fd = take_lock(lock_path(settings))
    if fd is None:
        return True
    os.close(fd)
    return False


def die_with_parent() -> None:
    """Ask Linux to SIGKILL this process when its parent dies (no orphans after a crash)."""
    try:
        libc = ctypes.CDLL('libc.so.6', use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def supervise_command(settings: Settings) -> list[str]:
    """The command line of `settings`' supervisor process."""
    return [sys.executable, '-m', 'pygeoapi_eoorder.supervise', str(settings.config_path)]


def spawn_supervisor(settings: Settings, *, attached: bool) -> subprocess.Popen:
    """Start a supervisor process for `settings`' configuration file.

    `attached` supervisors die with their parent (`eoorder serve`); detached ones are
    started by a web worker that found none running, and outlive it.
    """
    settings.log_dir.mkdir(parents=True, exist_ok=True)
    log = open(settings.log_dir / 'supervisor.log', 'ab')
    env = dict(os.environ, **{ENV_CONFIG: str(settings.config_path)})
    return subprocess.Popen(supervise_command(settings), stdin=subprocess.DEVNULL, stdout=log,
                            stderr=log, env=env, close_fds=True, start_new_session=not attached,
                            preexec_fn=die_with_parent if attached else None)


def wait_until_alive(settings: Settings, process: subprocess.Popen, timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if supervisor_alive(settings):
            return True
        if process.poll() is not None:
            return supervisor_alive(settings)
        time.sleep(0.02)
    return False


def supervised_externally() -> bool:
    return os.environ.get(ENV_SUPERVISOR) == 'external'


def ensure_supervisor(settings: Settings, *, force: bool = False) -> None:
    """Start a detached supervisor if none is alive (checked at most every few seconds).

    Only the local engine has one; with the celery engine `eoorder worker`s run the jobs.
    """
    if settings.jobs.engine != 'local':
        return
    key = str(settings.data_dir)
    now = time.monotonic()
    if not force and now - _last_check.get(key, -CHECK_EVERY) < CHECK_EVERY:
        return
    _last_check[key] = now
    if supervisor_alive(settings):
        return
    starting = _starting.get(key)
    if starting is not None and starting.poll() is None:
        return  # the one this process started is still loading: do not start another
    _starting[key] = spawn_supervisor(settings, attached=False)


def nudge(settings: Settings, job: dict | None = None) -> bool:
    """Wake the supervisor; True if it was reachable. `job`: the one queued job this
    wake-up announces (see `announced_head`)."""
    address = wake_up_address(settings)
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.setblocking(False)
            sock.sendto(_wake_up_message(job), address)
        return True
    except OSError:
        return False


HEAD_FIELDS = ('id', 'process_id', 'owner', 'owner_roles')
MAX_WAKE_UP = 4096  # bytes the supervisor reads of a wake-up


def _wake_up_message(job: dict | None) -> bytes:
    """`!` (look for queued jobs), or `+` and the head of the job announced (what its
    claim needs of it: `HEAD_FIELDS`) as JSON."""
    if job is None:
        return b'!'
    try:
        message = b'+' + json.dumps({k: job.get(k) for k in HEAD_FIELDS}).encode()
    except (TypeError, ValueError):  # (a head that JSON cannot hold: a plain wake-up)
        return b'!'
    return message if len(message) <= MAX_WAKE_UP else b'!'


def announced_head(messages: list[bytes]) -> dict | None:
    """The job announced, if these wake-ups are exactly one that names one (its head: a
    hint; its claim takes only a queued job never claimed before, and the job's worker
    records the job's own process facts if the head misstated them)."""
    if len(messages) != 1 or not messages[0].startswith(b'+'):
        return None
    try:
        head = json.loads(messages[0][1:])
    except ValueError:
        return None
    if not isinstance(head, dict) or not all(isinstance(head.get(k), str)
                                             for k in ('id', 'process_id')):
        return None
    return head


def _finished_address(job_id: str) -> str:
    """An abstract unix socket (Linux): no file, no path-length limit."""
    return f'\0eoorder-finished-{job_id}'


class FinishedListener:
    """Lets a synchronous request sleep until the worker says its job finished."""

    def __init__(self, job_id: str):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            self.sock.bind(_finished_address(job_id))
        except OSError:
            self.sock.close()
            self.sock = None

    def wait(self, timeout: float) -> None:
        if self.sock is None:
            time.sleep(min(timeout, 0.01))
            return
        import select
        if select.select([self.sock], [], [], timeout)[0]:
            self.sock.recv(16)

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()


def notify_finished(job_id: str) -> None:
    """Wake a request waiting for this job (if any; best effort)."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.setblocking(False)
            sock.sendto(b'!', _finished_address(job_id))
    except OSError:
        pass
