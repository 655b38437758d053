"""A supervisor that a web server started (pygeoapi serving the configuration, not
`eoorder serve`) outlives that server. When its configuration file changes it restarts
with it, in the same process, so that the jobs of a process the deployer added run; a
changed file that does not load is reported and the running configuration kept."""

from __future__ import annotations

import os
import signal
import time

import yaml

from pygeoapi_eoorder import config as eoconfig
from pygeoapi_eoorder.jobs import supervisor_control
from pygeoapi_eoorder.jobs.repository import FINAL, JobRepository
from pygeoapi_eoorder.store import get_store
from tests.conftest import TEST_PROCESSES
from tests.support.process_table import supervisor_pids

QUICK = {'steps': 1, 'delay': 0}


def _run(jobs: JobRepository, settings, process_id: str, timeout: float = 90) -> dict:
    """Queue a job the way a web server does (commit, then wake the supervisor); its
    final record."""
    job = jobs.add(process_id, job_type='process', inputs=QUICK)
    supervisor_control.nudge(settings)
    deadline = time.monotonic() + timeout
    while (found := jobs.get(job['id']))['status'] not in FINAL:
        assert time.monotonic() < deadline, found
        time.sleep(0.1)
    return found


def test_a_detached_supervisor_restarts_with_its_changed_configuration(make_server,
                                                                       monkeypatch):
    server = make_server(None, {'countdown': TEST_PROCESSES['countdown']}, start=False)
    monkeypatch.setenv(eoconfig.ENV_CONFIG, str(server.config))
    monkeypatch.delenv(supervisor_control.ENV_SUPERVISOR, raising=False)  # not `serve`'s
    _, settings = eoconfig.load(server.config)
    process = supervisor_control.spawn_supervisor(settings, attached=False)
    log = settings.log_dir / 'supervisor.log'
    try:
        deadline = time.monotonic() + 60
        while not supervisor_control.socket_path(settings).exists():
            assert process.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        jobs = JobRepository(get_store(settings.store_url))
        good = server.config.read_text()
        added = yaml.safe_load(good)
        added['resources']['added'] = TEST_PROCESSES['countdown']

        server.config.touch()  # the same content: nothing to restart for
        time.sleep(1.5)
        assert _run(jobs, settings, 'countdown')['status'] == 'successful'
        server.config.write_text('server: [a file cut short by an editor')
        time.sleep(2.5)  # settled and tried: it does not load
        assert _run(jobs, settings, 'countdown')['status'] == 'successful'
        assert 'does not load' in log.read_text()
        assert _run(jobs, settings, 'added')['status'] == 'failed'  # not known yet

        server.config.write_text(yaml.safe_dump(added))
        assert _run(jobs, settings, 'added')['status'] == 'successful', log.read_text()
        assert supervisor_pids(server.config) == [process.pid]  # restarted in place
        assert log.read_text().count('changed: restarting') == 1
        assert process.poll() is None
        assert _run(jobs, settings, 'countdown')['status'] == 'successful'
    finally:
        for pid in supervisor_pids(server.config):
            os.kill(pid, signal.SIGTERM)
        process.wait(30)
