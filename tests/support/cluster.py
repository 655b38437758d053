"""Cluster test fixtures: a fresh PostgreSQL database per module, Redis, real `eoorder serve`
and several real `eoorder worker` processes (each with its own data directory, so results
can only reach the server through the shared store)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
import uuid
from pathlib import Path

import psycopg
import pytest
import redis
import requests

from tests.conftest import REPO, TEST_PROCESSES, Server, eoorder_cmd, server_env

PG_ADMIN = os.environ.get('EOORDER_TEST_PG_ADMIN', 'postgresql://postgres@127.0.0.1:5432/test')
PG_BASE = os.environ.get('EOORDER_TEST_PG_BASE', 'postgresql+psycopg://postgres@127.0.0.1:5432')
REDIS_URL = os.environ.get('EOORDER_TEST_REDIS', 'redis://127.0.0.1:6379/0')


def ensure_redis() -> None:
    """Redis answers, or is started here (as `scripts/services` does for PostgreSQL)."""
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        client.ping()
        return
    except redis.ConnectionError:
        pass
    server = shutil.which('redis-server')
    if server is None:
        pytest.fail('Redis is not running at 127.0.0.1:6379 and redis-server is not '
                    'installed: apt-get install redis-server')
    subprocess.run([server, '--port', '6379', '--bind', '127.0.0.1', '--daemonize', 'yes'],
                   check=True)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            client.ping()
            return
        except redis.ConnectionError:
            time.sleep(0.1)
    pytest.fail('redis-server did not start')


class Database:
    """A PostgreSQL database created for one test module and dropped after it."""

    def __init__(self, prefix: str = 'eoorder_cluster'):
        self.name = f'{prefix}_{uuid.uuid4().hex[:10]}'
        self.url = f'{PG_BASE}/{self.name}'
        self.dsn = self.url.replace('postgresql+psycopg', 'postgresql')

    def create(self, postgis: bool = False) -> 'Database':
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.name}"')
        if postgis:
            self.query('CREATE EXTENSION IF NOT EXISTS postgis')
        return self

    def drop(self) -> None:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')

    def query(self, sql: str, *params):
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            cursor = conn.execute(sql, params)
            return cursor.fetchall() if cursor.description else []


def descendants(pid: int) -> set[int]:
    """`pid` and every process below it (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path('/proc').iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / 'stat').read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(')', 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        current = todo.pop()
        found.add(current)
        todo.extend(children.get(current, []))
    return found


def alive(pid: int) -> bool:
    try:
        with open(f'/proc/{pid}/stat') as fh:
            return fh.read().rsplit(')', 1)[1].split()[0] != 'Z'
    except OSError:
        return False


class Worker:
    """An `eoorder worker` process with its own data directory (its own job scratch)."""

    def __init__(self, config: Path, directory: Path, concurrency: int = 1):
        self.config = config
        self.directory = directory
        self.data_dir = directory / 'data'
        self.concurrency = concurrency
        self.process: subprocess.Popen | None = None
        self.log_path = directory / 'worker.log'

    def start(self, timeout: float = 60) -> 'Worker':
        self.directory.mkdir(parents=True, exist_ok=True)
        env = server_env()
        env['EOORDER_DATA_DIR'] = str(self.data_dir)
        offset = len(self.log())
        log = open(self.log_path, 'ab')
        self.process = subprocess.Popen(
            eoorder_cmd('worker', '--config', str(self.config),
                        '--concurrency', str(self.concurrency)),
            stdout=log, stderr=log, env=env, start_new_session=True, cwd=REPO)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f'worker exited: {self.log()[-3000:]}')
            if ' ready.' in self.log()[offset:]:
                return self
            time.sleep(0.1)
        raise RuntimeError(f'worker not ready in {timeout}s: {self.log()[-3000:]}')

    def log(self) -> str:
        return self.log_path.read_text(errors='replace') if self.log_path.exists() else ''

    def pids(self) -> set[int]:
        return descendants(self.process.pid) if self.process else set()

    def kill(self) -> None:
        """A lost machine: SIGKILL to the worker's whole process group."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)


def cluster_block(database: Database, queue: str, **jobs) -> dict:
    return {'store': {'url': database.url},
            'jobs': {'engine': 'celery', 'broker_url': REDIS_URL, 'queue': queue,
                     'result_store': 'database', 'lease_seconds': 3,
                     'sweep_interval_seconds': 1, 'prefetch': 1, **jobs}}


class Cluster:
    """A server and `workers` workers on one fresh database and one queue of their own."""

    def __init__(self, directory: Path, workers: int = 2, concurrency: int = 1,
                 resources: dict | None = None, **jobs):
        ensure_redis()
        self.directory = directory
        self.database = Database().create()
        self.queue = f'eoorder-test-{uuid.uuid4().hex[:8]}'
        self.block = cluster_block(self.database, self.queue, **jobs)
        self.resources = resources if resources is not None else TEST_PROCESSES
        (directory / 'server').mkdir(parents=True, exist_ok=True)
        self.server = Server(directory / 'server', self.block, self.resources)
        self.workers = [Worker(self.server.config, directory / f'worker{i}', concurrency)
                        for i in range(workers)]
        self.extra_servers: list[Server] = []

    def start(self) -> 'Cluster':
        for worker in self.workers:
            worker.start()
        self.server.start()
        return self

    def another_server(self) -> Server:
        """A second server instance: same store and broker, its own data directory."""
        directory = self.directory / f'server-extra{len(self.extra_servers)}'
        directory.mkdir()
        server = Server(directory, self.block, self.resources).start()
        self.extra_servers.append(server)
        return server

    def worker_of(self, pid: int) -> Worker | None:
        for worker in self.workers:
            if pid in worker.pids():
                return worker
        return None

    def stop(self) -> None:
        for server in [self.server, *self.extra_servers]:
            server.stop()
        for worker in self.workers:
            worker.stop()
        self.database.drop()
        client = redis.Redis.from_url(REDIS_URL)
        client.delete(self.queue, f'{self.queue}\x06\x163', f'{self.queue}\x06\x166',
                      f'{self.queue}\x06\x169')


def wait_for(predicate, timeout: float, interval: float = 0.05, what: str = 'condition'):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f'{what} not reached within {timeout}s')
        time.sleep(interval)


def containers_of(job_id: str) -> list[str]:
    out = subprocess.run(['docker', 'ps', '-q', '--filter', f'label=eoorder.job={job_id}'],
                         capture_output=True, text=True, check=True).stdout
    return out.split()


def deploy_sleep(server: Server, pid: str = 'sleep') -> None:
    body = {'processDescription': {
        'id': pid, 'jobControlOptions': ['async-execute', 'dismiss'],
        'inputs': {'seconds': {'minOccurs': 0, 'schema': {'type': 'integer'}}},
        'outputs': {'result': {'schema': {'type': 'string'}}}},
        'executionUnit': {'type': 'docker', 'image': 'eoorder-test/sleep:1.0'}}
    reply = requests.post(f'{server.url}/processes', json=body, timeout=30,
                          headers={'Content-Type': 'application/ogcapppkg+json'})
    assert reply.status_code == 201, reply.text
