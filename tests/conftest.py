"""Test fixtures: real `eoorder serve` processes on loopback ports, with their own data."""

from __future__ import annotations

import copy
import fcntl
import itertools
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import requests
import yaml

REPO = Path(__file__).resolve().parent.parent
LOCAL_CONFIG = REPO / 'config' / 'local.yml'

TEST_PROCESSES = {
    'countdown': {'type': 'process', 'processor': {'name': 'tests.support.processes.Countdown'},
                  'allow_internal_requests': True},
    'countdown-idempotent': {'type': 'process', 'idempotent': True,
                             'processor': {'name': 'tests.support.processes.Countdown'}},
    'countdown-async': {'type': 'process',
                        'processor': {'name': 'tests.support.processes.AsyncCountdown'}},
    'countdown-external': {'type': 'process',
                           'processor': {'name': 'tests.support.processes.Countdown'}},
    'text': {'type': 'process', 'processor': {'name': 'tests.support.processes.TextResult'}},
}


# Ports handed to test servers: below the kernel's ephemeral range (so no socket bound to
# port 0 takes one), reserved machine-wide with a lock file held until this process ends, so
# parallel workers and other test runs on the machine never start two servers on one port.
PORTS = range(20000, 32000)
PORT_LOCKS = Path(tempfile.gettempdir()) / 'eoorder-test-ports'
_reserved: dict[int, object] = {}
_next_ports = itertools.cycle(random.sample(PORTS, len(PORTS)))


def _reserve(port: int) -> bool:
    if port in _reserved:
        return True
    PORT_LOCKS.mkdir(exist_ok=True)
    handle = open(PORT_LOCKS / f'{port}.lock', 'a')
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        return False
    _reserved[port] = handle
    return True


def free_port() -> int:
    """A port nobody listens on and no other test process holds."""
    for _ in range(len(PORTS)):
        port = next(_next_ports)
        if not _reserve(port):
            continue
        with socket.socket() as sock:
            try:
                sock.bind(('127.0.0.1', port))
            except OSError:
                continue
            return port
    raise RuntimeError(f'no free port in {PORTS}')


def make_config(directory: Path, port: int, eoorder: dict | None = None,
                resources: dict | None = None) -> Path:
    """A pygeoapi config based on config/local.yml, with its data under `directory`."""
    config = yaml.safe_load(LOCAL_CONFIG.read_text())
    config['server']['url'] = f'http://127.0.0.1:{port}'
    config['server']['bind'] = {'host': '127.0.0.1', 'port': port}
    config['logging'] = {'level': 'ERROR'}
    block = copy.deepcopy(eoorder or {})
    block.setdefault('data_dir', str(directory / 'data'))
    # no eager import of the data-cube libraries in every web and job worker of every test
    # server (seconds of CPU each); openEO tests and benchmarks that measure it turn it on
    block.setdefault('openeo', {}).setdefault('warm_up_workers', False)
    config['eoorder'] = block
    config['resources'] = copy.deepcopy(resources if resources is not None else TEST_PROCESSES)
    path = directory / 'pygeoapi-config.yml'
    path.write_text(yaml.safe_dump(config))
    return path


def eoorder_cmd(*args: str) -> list[str]:
    return [sys.executable, '-m', 'pygeoapi_eoorder.cli', *args]


def server_env() -> dict:
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join(filter(None, [str(REPO), env.get('PYTHONPATH')]))
    env.pop('EOORDER_DATA_DIR', None)
    env.pop('EOORDER_STORE_URL', None)
    return env


class PortTaken(Exception):
    """The server could not bind its port."""


class Server:
    """An `eoorder serve` process; `kill()` is a crash (SIGKILL to its process group)."""

    def __init__(self, directory: Path, eoorder: dict | None = None,
                 resources: dict | None = None, web: tuple[int, int] = (2, 8)):
        """`web`: the web processes and the threads of each."""
        self.directory = directory
        self.web = web
        self.data_dir = Path((eoorder or {}).get('data_dir', directory / 'data'))
        self.process: subprocess.Popen | None = None
        self.port = free_port()
        self.url = f'http://127.0.0.1:{self.port}'
        self.config = make_config(directory, self.port, eoorder, resources)

    def choose_port(self) -> None:
        """Move to another free port, keeping any edits a test made to the config file."""
        old, self.port = self.port, free_port()
        self.url = f'http://127.0.0.1:{self.port}'
        config = yaml.safe_load(self.config.read_text())
        config['server']['bind']['port'] = self.port
        if config['server'].get('url'):
            config['server']['url'] = config['server']['url'].replace(f':{old}', f':{self.port}')
        self.config.write_text(yaml.safe_dump(config))

    def start(self, timeout: float = 60) -> 'Server':
        for _ in range(3):
            try:
                return self._start(timeout)
            except PortTaken:
                # parallel test workers: another process bound the free port first
                self.choose_port()
        raise RuntimeError('no free port after 3 attempts')

    def _start(self, timeout: float) -> 'Server':
        offset = len(self.log())
        log = open(self.directory / 'server.log', 'ab')
        self.process = subprocess.Popen(
            eoorder_cmd('serve', '--config', str(self.config), '--port', str(self.port),
                        '--workers', str(self.web[0]), '--threads', str(self.web[1])),
            stdout=log, stderr=log, env=server_env(), start_new_session=True, cwd=REPO)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                if 'Address already in use' in self.log()[offset:]:
                    raise PortTaken(self.port)
                raise RuntimeError(f'server exited: {self.log()[-3000:]}')
            if 'Listening at' not in self.log()[offset:]:  # else a server of another
                time.sleep(0.1)                            # test process may answer
                continue
            try:
                if requests.get(self.url + '/', timeout=2).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise RuntimeError(f'server did not answer in {timeout}s: {self.log()[-3000:]}')

    def log(self) -> str:
        path = self.directory / 'server.log'
        return path.read_text(errors='replace') if path.exists() else ''

    def kill(self) -> None:
        """Crash: SIGKILL the whole server (web workers and job engine)."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)
        time.sleep(0.3)  # let PDEATHSIG reach the job workers

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)

    # -- helpers for tests -----------------------------------------------------
    def execute(self, process_id: str, inputs: dict | None = None, *, async_: bool = True,
                **body) -> requests.Response:
        headers = {'Prefer': 'respond-async'} if async_ else {}
        return requests.post(f'{self.url}/processes/{process_id}/execution',
                             json={'inputs': inputs or {}, **body}, headers=headers, timeout=60)

    def submit(self, process_id: str, inputs: dict | None = None, **body) -> str:
        reply = self.execute(process_id, inputs, **body)
        assert reply.status_code == 201, reply.text
        return reply.json()['jobID']

    def job(self, job_id: str) -> dict:
        try:
            reply = requests.get(f'{self.url}/jobs/{job_id}', timeout=10)
        except requests.ConnectionError as err:
            raise AssertionError(f'{err}; server log:\n{self.log()[-4000:]}') from err
        assert reply.status_code == 200, reply.text
        return reply.json()

    def wait_for(self, job_id: str, statuses=('successful', 'failed', 'dismissed'),
                 timeout: float = 30) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            job = self.job(job_id)
            if job['status'] in statuses:
                return job
            if time.monotonic() > deadline:
                raise AssertionError(f'job {job_id} still {job["status"]} after {timeout}s')
            time.sleep(0.05)


def embedded_default(directory: Path, resources: dict | None = None,
                     web: tuple[int, int] = (2, 8), **blocks) -> Server:
    """A server (not started) on the embedded default (config/local.yml: demo products,
    ordering, openEO) with its data in `directory`; `blocks` replace keys of its eoorder
    block, `resources` join its resources."""
    local = yaml.safe_load(LOCAL_CONFIG.read_text())
    block = {**local['eoorder'], 'data_dir': str(directory / 'data'), **blocks}
    return Server(directory, block, {**local['resources'], **(resources or {})}, web)


@pytest.fixture
def make_server(tmp_path):
    """Start servers with custom eoorder blocks; all are stopped at the end of the test."""
    servers: list[Server] = []

    def factory(eoorder: dict | None = None, resources: dict | None = None,
                start: bool = True) -> Server:
        directory = tmp_path / f'server{len(servers)}'
        directory.mkdir()
        server = Server(directory, eoorder, resources)
        servers.append(server)
        return server.start() if start else server

    yield factory
    for server in servers:
        server.stop()


@pytest.fixture(scope='module')
def server(tmp_path_factory):
    """One embedded-default server shared by a test module."""
    server = Server(tmp_path_factory.mktemp('server'), {'jobs': {'workers': 2}}).start()
    yield server
    server.stop()


@pytest.fixture
def receiver():
    """A loopback endpoint that records the OSEO notifications POSTed to it."""
    from .support.oseo import Receiver
    receiver = Receiver()
    yield receiver
    receiver.close()


@pytest.fixture
def webhook(receiver):
    """The same endpoint, as the target of WPS response handlers and OGC API callbacks."""
    return receiver
