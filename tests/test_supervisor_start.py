"""A web worker that finds no supervisor starts one, and only one while it loads."""

import os
import signal
import threading
import time

from pygeoapi_eoorder import config as eoconfig
from pygeoapi_eoorder.jobs import supervisor_control
from tests.support.process_table import supervisor_pids


def test_repeated_wake_ups_start_one_supervisor(make_server, monkeypatch):
    server = make_server(start=False)
    monkeypatch.setenv(eoconfig.ENV_CONFIG, str(server.config))
    _, settings = eoconfig.load(server.config)
    try:
        for _ in range(8):  # a burst of submissions, each finding the socket absent
            supervisor_control.ensure_supervisor(settings, force=True)
        started = supervisor_pids(server.config)
        assert len(started) == 1, started
        deadline = time.monotonic() + 60
        while not supervisor_control.supervisor_alive(settings):
            assert time.monotonic() < deadline, 'the supervisor never took its lock'
            time.sleep(0.1)
        supervisor_control.ensure_supervisor(settings, force=True)  # alive: nothing started
        assert supervisor_pids(server.config) == started
    finally:
        for pid in supervisor_pids(server.config):
            os.kill(pid, signal.SIGTERM)


def test_a_starting_supervisor_waits_out_liveness_probes(make_server, monkeypatch):
    """`supervisor_alive` takes the lock for a moment; a supervisor starting meanwhile must
    not conclude that another one serves the data directory and leave."""
    server = make_server(start=False)
    monkeypatch.setenv(eoconfig.ENV_CONFIG, str(server.config))
    _, settings = eoconfig.load(server.config)
    probing = threading.Event()
    probing.set()

    def probe():  # a probe's moment, widened: the lock is held 5 ms of every 6
        path = supervisor_control.lock_path(settings)
        while probing.is_set():
            fd = supervisor_control.take_lock(path)
            if fd is not None:
                time.sleep(0.005)
                os.close(fd)
            time.sleep(0.001)

    prober = threading.Thread(target=probe, daemon=True)
    prober.start()
    process = supervisor_control.spawn_supervisor(settings, attached=False)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and process.poll() is None and \
                not supervisor_control.socket_path(settings).exists():
            time.sleep(0.05)
        assert process.poll() is None, 'the supervisor left, taking a probe for a supervisor'
    finally:
        probing.clear()
        prober.join(5)
        process.kill()  # this test is about starting; stopping is tested elsewhere
        process.wait(30)
