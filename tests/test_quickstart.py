"""The README's quick start, run verbatim: every ```sh block marked `<!-- quickstart -->` is
executed, in order and in one shell, against a fresh server started exactly as
`scripts/run-local` starts it (its `exec` line, with a free port and a temporary data
directory), and each step's outcome is checked. The README cannot rot."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
import zipfile
from pathlib import Path

import pytest
import requests

from .conftest import REPO, free_port

MARK = '<!-- quickstart -->'
BLOCK = re.compile(re.escape(MARK) + r'\s*```sh\n(.*?)```', re.DOTALL)
STEP = '@@quickstart-step'
PARIS = 'DEMO_S2A_MSIL2A_20240601T104021_T31UDQ'


def quickstart_blocks() -> list[str]:
    """The marked shell blocks of the README, in order."""
    return BLOCK.findall((REPO / 'README.md').read_text())


def run_local_command() -> str:
    """The command `scripts/run-local` ends with (after installing)."""
    lines = [line for line in (REPO / 'scripts' / 'run-local').read_text().splitlines()
             if line.startswith('exec ')]
    assert len(lines) == 1, 'scripts/run-local must end with one exec line'
    return lines[0]


@pytest.fixture
def run_local_server(tmp_path):
    """A server started like scripts/run-local (config/local.yml, its exec line)."""
    port = free_port()
    env = {**os.environ, 'PORT': str(port), 'EOORDER_DATA_DIR': str(tmp_path / 'data')}
    env.pop('EOORDER_STORE_URL', None)
    env.pop('EOORDER_URL', None)
    log = open(tmp_path / 'server.log', 'wb')
    process = subprocess.Popen(['bash', '-c', run_local_command()], cwd=REPO, env=env,
                               stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f'http://localhost:{port}'
    deadline = time.monotonic() + 90
    try:
        while True:
            assert process.poll() is None, (tmp_path / 'server.log').read_text()[-3000:]
            assert time.monotonic() < deadline, 'the server did not answer within 90 s'
            try:
                if requests.get(url + '/', timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                time.sleep(0.2)
        yield url, tmp_path
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
        log.close()


def run_blocks(blocks: list[str], url: str, workdir: Path) -> dict[int, str]:
    """Run the blocks in one bash (errors stop it) from a folder that looks like the
    clone's (the README's relative paths), and return each step's output."""
    workdir.mkdir()
    for name in ('docker', 'tests', 'scripts'):
        (workdir / name).symlink_to(REPO / name)
    script = 'set -euo pipefail\n' + ''.join(f'echo "{STEP} {index}"\n{block}\n'
                                             for index, block in enumerate(blocks))
    done = subprocess.run(['bash', '-c', script], cwd=workdir, capture_output=True,
                          text=True, timeout=300, env={**os.environ, 'EOORDER_URL': url})
    assert done.returncode == 0, f'quick start failed:\n{done.stdout}\n{done.stderr}'
    steps, current = {}, None
    for line in done.stdout.splitlines():
        if line.startswith(STEP):
            current = int(line.split()[1])
            steps[current] = ''
        elif current is not None:
            steps[current] += line + '\n'
    return steps


def test_readme_quick_start_runs_verbatim_from_discovery_to_a_finished_job(
        run_local_server):
    url, tmp_path = run_local_server
    blocks = quickstart_blocks()
    assert len(blocks) == 5, 'discover, order, watch, download, deploy + run'
    steps = run_blocks(blocks, url, tmp_path / 'clone')

    # discover: the bbox finds the Paris demo product, and only what lies there
    assert PARIS in steps[0]
    assert 'DEMO_S1A_IW_GRDH' not in steps[0]  # Rome is outside the box
    # order: an order id
    order_id = re.search(r'^order (\S+)$', steps[1], re.MULTILINE).group(1)
    order = requests.get(f'{url}/orders/{order_id}', timeout=10).json()
    assert order['reference'] == 'quick start'
    # watch: completed
    assert steps[2].strip() == 'Completed'
    # download: the zip holds the demo product, byte for byte the file the server made
    assert f'{PARIS}.tif' in steps[3]
    with zipfile.ZipFile(tmp_path / 'clone' / 'demo-product.zip') as archive:
        names = [n for n in archive.namelist() if n.endswith('.tif')]
        assert len(names) == 1
        delivered = archive.read(names[0])
    assert delivered == (tmp_path / 'data' / 'demo' / f'{PARIS}.tif').read_bytes()
    assert delivered[:4] in (b'II*\x00', b'MM\x00*')  # a TIFF
    item = requests.get(f'{url}/orders/{order_id}', timeout=10).json()['items'][0]
    assert item['status'] == 'Downloaded'
    # deploy + run: deployed, the job succeeded, its result is the message
    assert 'deployed: HTTP 201' in steps[4]
    assert '"successful"' in steps[4]
    assert steps[4].rstrip().endswith('hello, EO world')
    assert 'Traceback' not in (tmp_path / 'server.log').read_text()
