"""A supervisor that a web server started (pygeoapi serving the configuration, not
`eoorder serve`) outlives that server. When its configuration file changes it restarts
with it, in the same process, so that the jobs of a process the deployer added run; a
changed file that does not load is reported and the running configuration kept. When the
installed package is upgraded it restarts with the new code."""

from __future__ import annotations

import os
import shutil
import signal
import time
from pathlib import Path

import yaml

from pygeoapi_eoorder import config as eoconfig
from pygeoapi_eoorder.jobs import supervisor_control
from pygeoapi_eoorder.jobs.config_watch import CodeWatch, FileWatch
from pygeoapi_eoorder.jobs.repository import FINAL, JobRepository
from pygeoapi_eoorder.store import get_store
from tests.conftest import REPO, TEST_PROCESSES
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


def _detached_supervisor(settings):
    """A supervisor started as a web server starts one, once it listens for wake-ups."""
    process = supervisor_control.spawn_supervisor(settings, attached=False)
    log = settings.log_dir / 'supervisor.log'
    deadline = time.monotonic() + 60
    try:
        while not supervisor_control.socket_path(settings).exists():
            assert process.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
    except AssertionError:
        process.kill()
        raise
    return process, log


def test_a_detached_supervisor_restarts_with_its_changed_configuration(make_server,
                                                                       monkeypatch):
    server = make_server(None, {'countdown': TEST_PROCESSES['countdown']}, start=False)
    monkeypatch.setenv(eoconfig.ENV_CONFIG, str(server.config))
    monkeypatch.delenv(supervisor_control.ENV_SUPERVISOR, raising=False)  # not `serve`'s
    _, settings = eoconfig.load(server.config)
    process, log = _detached_supervisor(settings)
    try:
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


def _replace(path: Path, text: str) -> None:
    """Write `path` anew as an installer does (a new file renamed over the old one)."""
    fresh = path.with_name(f'.{path.name}.new')
    fresh.write_text(text)
    os.replace(fresh, path)


def test_a_watched_file_changes_when_its_content_did_and_settled(tmp_path):
    path = tmp_path / '__init__.py'
    path.write_text("__version__ = '1.0'\n")
    watch = FileWatch(path, 'the package', settle=0.3)
    assert not watch.changed() and not watch.differs
    _replace(path, "__version__ = '1.0'\n")  # reinstalled: a new file, the same content
    assert not watch.changed() and watch.differs  # (no job starts until it is known)
    time.sleep(0.4)
    assert not watch.changed() and not watch.differs  # the same: nothing to restart for
    _replace(path, "__version__ = '1.1'\n")
    assert not watch.changed() and watch.differs  # not settled yet
    time.sleep(0.4)
    assert watch.changed()
    assert CodeWatch().path == Path(supervisor_control.__file__).parents[1] / '__init__.py'


def test_a_detached_supervisor_restarts_with_an_upgraded_package(make_server, monkeypatch,
                                                                 tmp_path):
    """The supervisor runs the package from a copy (as installed); the copy is upgraded
    (a job's log line changes, so does the version): jobs then run the new code."""
    code = tmp_path / 'installed'
    shutil.copytree(REPO / 'pygeoapi_eoorder', code / 'pygeoapi_eoorder',
                    ignore=shutil.ignore_patterns('__pycache__'))
    server = make_server(None, {'countdown': TEST_PROCESSES['countdown']}, start=False)
    monkeypatch.setenv(eoconfig.ENV_CONFIG, str(server.config))
    monkeypatch.delenv(supervisor_control.ENV_SUPERVISOR, raising=False)
    monkeypatch.setenv('PYTHONPATH', str(REPO))  # (the test processes; the package: the copy)
    monkeypatch.chdir(code)  # `python -m` finds the package in its working directory first
    _, settings = eoconfig.load(server.config)
    process, log = _detached_supervisor(settings)
    try:
        jobs = JobRepository(get_store(settings.store_url))
        before = _run(jobs, settings, 'countdown')
        assert before['status'] == 'successful'
        job_log = (settings.job_dir(before['id']) / 'job.log').read_text()
        assert 'started (attempt 1)' in job_log and 'upgraded' not in job_log

        worker = code / 'pygeoapi_eoorder' / 'jobs' / 'worker.py'
        _replace(worker, worker.read_text().replace("log.info('job %s of process",
                                                    "log.info('upgraded: job %s of process"))
        package = code / 'pygeoapi_eoorder' / '__init__.py'
        _replace(package, package.read_text().replace("__version__ = '",
                                                      "__version__ = '99.0+"))
        deadline = time.monotonic() + 60
        while 'changed: restarting' not in log.read_text():
            assert process.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        after = _run(jobs, settings, 'countdown')
        assert after['status'] == 'successful', log.read_text()
        assert 'upgraded: job' in (settings.job_dir(after['id']) / 'job.log').read_text()
        assert f'the installed package ({code / "pygeoapi_eoorder"}) changed' in log.read_text()
        assert supervisor_pids(server.config) == [process.pid]  # restarted in place
        assert process.poll() is None
    finally:
        for pid in supervisor_pids(server.config):
            os.kill(pid, signal.SIGTERM)
        process.wait(30)
