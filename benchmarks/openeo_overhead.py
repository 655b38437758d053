"""openEO overhead: the NDVI graph on the demo bands as a batch job through the API,
against the same graph run with openeo-processes-dask directly in one Python process.

A fresh `eoorder serve` (the embedded default: demo products, local job engine) on a
loopback port; then, in rounds (one run of each way per round, after warm-up rounds):

  - API: POST /openeo/1.2/jobs, POST /jobs/{id}/results (start), poll GET /jobs/{id}
    every 20 ms until `finished`: submit to results ready;
  - direct: the graph parsed and run in this process (openeo-pg-parser-networkx +
    openeo-processes-dask, the same load_collection/save_result), files written.

Prints the medians and the overhead (API p50 - direct p50) / direct p50; target <= 20 %.
Run with the virtualenv's Python:  python benchmarks/openeo_overhead.py [--runs N]
Exit status: 0 target met, 1 missed, 2 the server did not start.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests
import yaml

REPO = Path(__file__).resolve().parent.parent
TARGET = 0.20
GRAPH = {
    'load': {'process_id': 'load_collection', 'arguments': {
        'id': 'products', 'bands': ['red', 'nir'], 'temporal_extent': ['2024-06-01', '2024-07-01'],
        'spatial_extent': {'west': 4.75, 'south': 45.70, 'east': 4.95, 'north': 45.85}}},
    'ndvi': {'process_id': 'ndvi', 'arguments': {'data': {'from_node': 'load'}}},
    'mean': {'process_id': 'reduce_dimension', 'arguments': {
        'data': {'from_node': 'ndvi'}, 'dimension': 't', 'reducer': {'process_graph': {
            'm': {'process_id': 'mean', 'arguments': {'data': {'from_parameter': 'data'}},
                  'result': True}}}}},
    'save': {'process_id': 'save_result', 'arguments': {'data': {'from_node': 'mean'},
                                                        'format': 'GTiff'}, 'result': True},
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def start_server(workdir: Path, **blocks) -> tuple[subprocess.Popen, str, Path]:
    """`eoorder serve` of the embedded default (with `blocks` of the eoorder block)."""
    config = yaml.safe_load((REPO / 'config' / 'local.yml').read_text())
    config['eoorder']['data_dir'] = str(workdir / 'data')
    config['eoorder'].update(blocks)
    config['logging'] = {'level': 'ERROR'}
    path = workdir / 'config.yml'
    path.write_text(yaml.safe_dump(config))
    port = free_port()
    url = f'http://127.0.0.1:{port}'
    log = open(workdir / 'server.log', 'ab')
    process = subprocess.Popen(
        [sys.executable, '-m', 'pygeoapi_eoorder.cli', 'serve', '--config', str(path),
         '--host', '127.0.0.1', '--port', str(port)], stdout=log, stderr=log, cwd=REPO,
        start_new_session=True)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if requests.get(f'{url}/openeo/1.2/', timeout=2).status_code == 200:
                return process, url, path
        except requests.RequestException:
            pass
        time.sleep(0.2)
    os.killpg(process.pid, signal.SIGKILL)
    raise SystemExit(2)


def through_api(url: str) -> float:
    """Seconds from submitting a batch job to its results being ready."""
    began = time.perf_counter()
    created = requests.post(f'{url}/openeo/1.2/jobs', json={'process': {
        'process_graph': GRAPH}}, timeout=30)
    job_url = created.headers['Location']
    requests.post(f'{job_url}/results', timeout=30)
    while True:
        status = requests.get(job_url, timeout=30).json()['status']
        if status == 'finished':
            return time.perf_counter() - began
        if status in ('error', 'canceled'):
            raise RuntimeError(f'job {job_url}: {status}')
        time.sleep(0.02)


def direct_runner(config_path: Path, workdir: Path):
    """A function running the graph in this process with the same data and code."""
    from pygeoapi_eoorder import config as eoconfig
    from pygeoapi_eoorder.datacube.job import environment
    from pygeoapi_eoorder.datacube.run import run
    from pygeoapi_eoorder.execution.staging import Stager
    _, settings = eoconfig.load(config_path)
    roots = settings.block['execution']['stage_in']['allowed_file_roots']
    log = logging.getLogger('bench')

    def once() -> float:
        target = workdir / 'direct'
        shutil.rmtree(target, ignore_errors=True)
        began = time.perf_counter()
        env = environment(settings, target, target / 'out', Stager(target / 'in', roots), log)
        run(GRAPH, env, {})
        return time.perf_counter() - began
    return once


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--runs', type=int, default=10)
    parser.add_argument('--warmup', type=int, default=2)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix='openeo-bench-'))
    process, url, config = start_server(workdir)
    try:
        direct = direct_runner(config, workdir)
        times = {'api': [], 'direct': []}
        for round_ in range(args.warmup + args.runs):
            pair = (('api', lambda: through_api(url)), ('direct', direct))
            for name, measure in (pair if round_ % 2 == 0 else pair[::-1]):
                seconds = measure()
                if round_ >= args.warmup:
                    times[name].append(seconds)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(30)
    api, alone = statistics.median(times['api']), statistics.median(times['direct'])
    overhead = (api - alone) / alone
    print(f'runs: {args.runs} (after {args.warmup} warm-up rounds)')
    print(f'direct openeo-processes-dask p50: {alone * 1000:8.1f} ms')
    print(f'API batch job (submit -> ready) p50: {api * 1000:8.1f} ms')
    print(f'overhead: {overhead:+.1%} (target <= +{TARGET:.0%})')
    shutil.rmtree(workdir, ignore_errors=True)
    return 0 if overhead <= TARGET else 1


if __name__ == '__main__':
    sys.exit(main())
