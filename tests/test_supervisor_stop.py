"""A supervisor stopped while it forks its workers leaves none behind: a SIGTERM is
handled from the moment its lock holds its pid (it drains and its workers end), and a
worker whose supervisor died before the worker was told to die with it leaves at once."""

import os
import signal
import subprocess
import sys
import time

from pygeoapi_eoorder import config as eoconfig
from pygeoapi_eoorder.jobs import supervisor_control
from tests.conftest import server_env
from tests.support.process_table import of_engine, processes

WORKERS = 4  # several forks: a wide moment between the lock and the last worker


def start_supervisor(make_server, monkeypatch):
    """A supervisor of a fresh configuration, returned as soon as its lock holds its pid
    (it is then forking its workers)."""
    server = make_server({'jobs': {'workers': WORKERS}}, start=False)
    monkeypatch.setenv(eoconfig.ENV_CONFIG, str(server.config))
    _, settings = eoconfig.load(server.config)
    lock = supervisor_control.lock_path(settings)
    process = supervisor_control.spawn_supervisor(settings, attached=False)
    deadline = time.monotonic() + 60
    while not _holds(lock, process.pid):
        assert process.poll() is None, f'the supervisor left ({process.returncode})'
        assert time.monotonic() < deadline, 'the supervisor never wrote its pid'
        time.sleep(0.001)
    return server, settings, process


def _holds(lock, pid: int) -> bool:
    try:
        return lock.read_text().split() == [str(pid)]
    except FileNotFoundError:
        return False


def wait_until_gone(config_path, timeout: float = 10) -> list:
    """The engine's processes still there after `timeout` seconds (none, hopefully)."""
    deadline = time.monotonic() + timeout
    while (left := of_engine(config_path)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


def test_sigterm_as_workers_are_forked_drains_and_leaves_no_worker(make_server, monkeypatch):
    server, settings, process = start_supervisor(make_server, monkeypatch)
    try:
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0, 'the SIGTERM was not handled: the supervisor died'
        assert supervisor_control.stopping_path(settings).exists()  # it said it drained
        assert wait_until_gone(server.config) == []
    finally:
        for left in of_engine(server.config):
            os.kill(left.pid, signal.SIGKILL)
        process.kill()
        process.wait(30)


def assert_sigkill_leaves_no_worker(server, process) -> None:
    """SIGKILL the supervisor: none of its workers outlives it (those left are killed)."""
    try:
        process.kill()
        process.wait(30)
        assert wait_until_gone(server.config) == []
    finally:
        for left in of_engine(server.config):
            os.kill(left.pid, signal.SIGKILL)


def test_sigkill_as_workers_are_forked_leaves_no_worker(make_server, monkeypatch):
    server, _, process = start_supervisor(make_server, monkeypatch)
    assert_sigkill_leaves_no_worker(server, process)


def test_sigkill_of_a_running_supervisor_leaves_no_worker(make_server, monkeypatch):
    server, settings, process = start_supervisor(make_server, monkeypatch)
    deadline = time.monotonic() + 60
    while (started := len(of_engine(server.config))) < 1 + WORKERS and \
            time.monotonic() < deadline:
        time.sleep(0.05)
    assert_sigkill_leaves_no_worker(server, process)
    assert started == 1 + WORKERS, 'the workers never started'


# a worker forked by a supervisor that dies before the worker is told to die with it (the
# moment is widened: the worker waits until it was handed to another parent); the worker
# holds its pipe's other end too, so only leaving at once ends it
ORPHAN = """
import multiprocessing, os, sys, time
from pygeoapi_eoorder.components import Components
from pygeoapi_eoorder.jobs.worker import worker_main
runtime = Components.for_config(sys.argv[1]).runtime()
supervisor_end, worker_end = multiprocessing.Pipe()
supervisor = os.getpid()
worker = os.fork()
if worker == 0:
    while os.getppid() == supervisor:
        time.sleep(0.001)
    worker_main(runtime, worker_end, supervisor)
    os._exit(0)
print(worker, flush=True)
os._exit(0)
"""


def test_a_worker_whose_supervisor_died_first_leaves_at_once(make_server, tmp_path):
    server = make_server(start=False)
    with open(tmp_path / 'out', 'w') as out:  # no pipe: the worker would hold it open
        forked = subprocess.run([sys.executable, '-c', ORPHAN, str(server.config)],
                                env=server_env(), stdout=out, stderr=subprocess.STDOUT,
                                timeout=120)
    assert forked.returncode == 0, (tmp_path / 'out').read_text()
    worker = int((tmp_path / 'out').read_text().split()[0])
    try:
        deadline = time.monotonic() + 5
        while _running(worker) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _running(worker), 'the orphaned worker lives on'
    finally:
        if _running(worker):
            os.kill(worker, signal.SIGKILL)


def _running(pid: int) -> bool:
    """Is `pid` a process that has not exited (a zombie has)?"""
    return any(p.pid == pid and p.state != 'Z' for p in processes())
