"""Cluster engine benchmark, in one run:

1. container-job throughput with 1 and then 2 `eoorder worker`s (concurrency 1 each) on the
   real PostgreSQL + Redis + Docker: `echo` jobs (container start/stop dominate: CPU-bound
   on dockerd) and `sleep` jobs (2 s inside the container: bound by waiting);
2. submission latency (POST .../execution, Prefer: respond-async → 201) of the embedded
   engine (SQLite + local supervisor) against the cluster engine (PostgreSQL + Redis).

    /work/venv/bin/python benchmarks/cluster_bench.py [--jobs 24] [--sleep-jobs 8] [--submits 200]

Prints the figures and the 2-worker/1-worker ratios. Needs PostgreSQL at 127.0.0.1:5432,
Redis at 127.0.0.1:6379 and the test images (docker/build-test-images).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.conftest import Server  # noqa: E402
from tests.support.cluster import Cluster, Worker, deploy_sleep  # noqa: E402

ECHO = {'processDescription': {
    'id': 'echo', 'jobControlOptions': ['async-execute'],
    'inputs': {'message': {'schema': {'type': 'string'}}},
    'outputs': {'result': {'schema': {'type': 'string', 'contentMediaType': 'text/plain'}}}},
    'executionUnit': {'type': 'docker', 'image': 'eoorder-test/echo:1.0'}}


def wait_all(server: Server, ids: list[str], timeout: float = 600) -> None:
    pending = set(ids)
    deadline = time.monotonic() + timeout
    while pending:
        if time.monotonic() > deadline:
            raise SystemExit(f'{len(pending)} jobs unfinished after {timeout}s')
        for job_id in list(pending):
            job = server.job(job_id)
            if job['status'] in ('successful', 'failed', 'dismissed'):
                if job['status'] != 'successful':
                    raise SystemExit(f'job {job_id} {job["status"]}: {job["message"]}')
                pending.discard(job_id)
        time.sleep(0.1)


def throughput(server: Server, process: str, inputs: dict, jobs: int) -> float:
    """Jobs per second from the first submission to the last job finished."""
    started = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        ids = list(pool.map(lambda _: server.submit(process, inputs), range(jobs)))
    wait_all(server, ids)
    return jobs / (time.monotonic() - started)


def latency(server: Server, count: int) -> tuple[float, float]:
    """Median and 95th percentile (ms) of sequential asynchronous submissions."""
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        reply = server.execute('countdown', {'steps': 0})
        samples.append((time.perf_counter() - started) * 1000)
        assert reply.status_code == 201, reply.text
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.95) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--jobs', type=int, default=24, help='echo jobs per run')
    parser.add_argument('--sleep-jobs', type=int, default=8, help='2-second sleep jobs per run')
    parser.add_argument('--submits', type=int, default=200, help='submissions for latency')
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix='eoorder-cluster-bench-'))
    results: dict[str, float] = {}

    cluster = Cluster(root / 'cluster', workers=1, concurrency=1)
    try:
        cluster.start()
        server = cluster.server
        assert requests.post(f'{server.url}/processes', json=ECHO, timeout=30, headers={
            'Content-Type': 'application/ogcapppkg+json'}).status_code == 201
        deploy_sleep(server)
        throughput(server, 'echo', {'message': 'warm-up'}, 2)
        for workers in (1, 2):
            if workers == 2:
                second = Worker(server.config, root / 'cluster' / 'worker1', 1).start()
                cluster.workers.append(second)
            results[f'echo_{workers}'] = throughput(server, 'echo', {'message': 'hi'},
                                                    args.jobs)
            results[f'sleep_{workers}'] = throughput(server, 'sleep', {'seconds': 2},
                                                     args.sleep_jobs)
            print(f'{workers} worker(s): echo {results[f"echo_{workers}"]:.2f} jobs/s, '
                  f'sleep(2 s) {results[f"sleep_{workers}"]:.3f} jobs/s', flush=True)
        latency(server, 20)
        results['latency_cluster'], results['p95_cluster'] = latency(server, args.submits)
    finally:
        cluster.stop()

    (root / 'embedded').mkdir()
    embedded = Server(root / 'embedded', {'jobs': {'workers': 2}}).start()
    try:
        latency(embedded, 20)
        results['latency_embedded'], results['p95_embedded'] = latency(embedded, args.submits)
    finally:
        embedded.stop()

    print()
    print('container-job throughput (jobs/s), 1 -> 2 workers (concurrency 1 each):')
    for kind, label in (('echo', 'echo (container start/stop)'), ('sleep', 'sleep 2 s')):
        one, two = results[f'{kind}_1'], results[f'{kind}_2']
        print(f'  {label:30s} {one:7.3f} -> {two:7.3f}   ratio {two / one:.2f}x')
    print('submission latency, async execute (ms):')
    for engine in ('embedded', 'cluster'):
        print(f'  {engine:10s} median {results[f"latency_{engine}"]:6.1f}   '
              f'p95 {results[f"p95_{engine}"]:6.1f}')
    print(f'  cluster/embedded median ratio '
          f'{results["latency_cluster"] / results["latency_embedded"]:.2f}x')


if __name__ == '__main__':
    main()
