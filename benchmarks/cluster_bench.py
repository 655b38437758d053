"""Cluster engine benchmark, in one run:

1. container-job throughput with 1 and then 2 `eoorder worker`s (concurrency 1 each) on the
   real PostgreSQL + Redis (or RabbitMQ) + Docker: `echo` jobs (container start/stop
   dominate: CPU-bound, on two cores one worker already keeps about one core busy) and
   `sleep` jobs (2 s inside the container: bound by waiting);
2. submission latency (POST .../execution, Prefer: respond-async → 201) of the embedded
   engine (SQLite + local supervisor) against the cluster engine (PostgreSQL + Redis).

    .venv/bin/python benchmarks/cluster_bench.py [--jobs 24] [--sleep-jobs 8] [--submits 200]
        [--broker amqp://guest:guest@127.0.0.1:5672//] [--no-latency]

Prints the figures, the 2-worker/1-worker ratios and, per run, the CPU milliseconds per job
of each party: our `eoorder worker`s and server, PostgreSQL, the broker, dockerd, and
containerd with the container shims and runc. The shims are re-parented to PID 1, so no
process tree holds their time; as root on a machine with a cgroup2 hierarchy the benchmark
moves containerd into a cgroup of its own for the run (the shims and runc it starts inherit
it; moved back afterwards) and reads that cgroup's `cpu.stat`; otherwise the column is
containerd alone. `machine` is /proc/stat: everything that ran, other users' work included.
Needs PostgreSQL at 127.0.0.1:5432, Redis at 127.0.0.1:6379 (or --broker) and the test
images (docker/build-test-images).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
import psycopg
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.conftest import Server  # noqa: E402
from tests.support.cluster import Cluster, Worker, deploy_sleep  # noqa: E402

ECHO = {'processDescription': {
    'id': 'echo', 'jobControlOptions': ['async-execute'],
    'inputs': {'message': {'schema': {'type': 'string'}}},
    'outputs': {'result': {'schema': {'type': 'string', 'contentMediaType': 'text/plain'}}}},
    'executionUnit': {'type': 'docker', 'image': 'eoorder-test/echo:1.0'}}


def wait_all(cluster: Cluster, ids: list[str], timeout: float = 600) -> None:
    """Until every job is final: one query of the store every 50 ms, on one connection
    (polling each job over HTTP would load the server, and a connection per look would load
    PostgreSQL, on the same two cores as the workers)."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(cluster.database.dsn, autocommit=True) as conn:
        while True:
            rows = dict(conn.execute(
                'select status, count(*) from eoorder_job where id = any(%s) group by status',
                (ids,)).fetchall())
            if rows.get('failed') or rows.get('dismissed'):
                failed = conn.execute(
                    "select id, message from eoorder_job where id = any(%s) and status in "
                    "('failed', 'dismissed') limit 1", (ids,)).fetchall()
                raise SystemExit(f'job not successful: {failed}')
            if rows.get('successful', 0) == len(ids):
                return
            if time.monotonic() > deadline:
                raise SystemExit(f'jobs unfinished after {timeout}s: {rows}')
            time.sleep(0.05)


# -- CPU accounting -------------------------------------------------------------------------
def _tree_cpu(root: int) -> float:
    """CPU seconds of `root` and its descendants, including the ones that exited and were
    reaped inside the tree (their time is in the reaper's children times)."""
    try:
        processes = [psutil.Process(root)]
        processes += processes[0].children(recursive=True)
    except psutil.NoSuchProcess:
        return 0.0
    total = 0.0
    for process in processes:
        try:
            t = process.cpu_times()
            total += t.user + t.system + t.children_user + t.children_system
        except psutil.NoSuchProcess:
            pass
    return total


def _named(name: str) -> list[int]:
    return [p.pid for p in psutil.process_iter(['name']) if p.info['name'] == name]


def _machine_busy() -> float:
    with open('/proc/stat') as fh:
        fields = [int(v) for v in fh.readline().split()[1:]]
    idle = fields[3] + fields[4]
    return (sum(fields[:8]) - idle) / os.sysconf('SC_CLK_TCK')


class RuntimeCgroup:
    """containerd in a cgroup2 group of its own, so that its shims and their runc calls
    (children of PID 1 once started) are measured with it."""

    NAME = 'eoorder-bench-runtime'

    def __init__(self):
        self.path: Path | None = None
        self.home: Path | None = None

    def __enter__(self) -> "RuntimeCgroup":
        pids = _named('containerd')
        mount = next((line.split()[1] for line in open('/proc/mounts')
                      if line.split()[2] == 'cgroup2'), None)
        if len(pids) != 1 or mount is None or os.geteuid() != 0:
            return self
        current = next(line.split(':', 2)[2].strip() for line in
                       open(f'/proc/{pids[0]}/cgroup') if line.startswith('0::'))
        try:
            self.home = Path(mount + current)
            self.path = self.home / self.NAME
            self.path.mkdir(exist_ok=True)
            (self.path / 'cgroup.procs').write_text(str(pids[0]))
        except OSError as err:
            print(f'(containerd not moved to a cgroup of its own: {err})')
            self.path = None
        return self

    def cpu(self) -> float | None:
        if self.path is None:
            return None
        for line in (self.path / 'cpu.stat').read_text().splitlines():
            if line.startswith('usage_usec'):
                return int(line.split()[1]) / 1e6
        return None

    def __exit__(self, *exc) -> None:
        if self.path is None:
            return
        with contextlib.suppress(OSError):
            for pid in (self.path / 'cgroup.procs').read_text().split():
                (self.home / 'cgroup.procs').write_text(pid)   # containerd and live shims
            self.path.rmdir()


RUNTIME = RuntimeCgroup()


def cpu_snapshot(cluster: Cluster) -> dict[str, float]:
    """CPU seconds used so far by each party of a container job."""
    runtime = RUNTIME.cpu()
    containerd = sum(_tree_cpu(pid) for pid in _named('containerd'))
    return {
        'worker (ours)': sum(_tree_cpu(w.process.pid) for w in cluster.workers),
        'server (ours)': _tree_cpu(cluster.server.process.pid),
        'postgres': sum(_tree_cpu(pid) for pid in _named('postgres')
                        if psutil.Process(pid).ppid() == 1),
        'broker': sum(_tree_cpu(pid) for pid in _named('redis-server') + _named('beam.smp')),
        'dockerd': sum(_tree_cpu(pid) for pid in _named('dockerd')) - containerd,
        ('containerd+shim+runc' if runtime is not None else 'containerd'):
            runtime if runtime is not None else containerd,
        'machine': _machine_busy(),
    }


def cpu_per_job(before: dict, after: dict, jobs: int) -> dict[str, float]:
    return {key: (after[key] - before[key]) / jobs for key in before}


def throughput(cluster: Cluster, process: str, inputs: dict, jobs: int
               ) -> tuple[float, dict[str, float]]:
    """Jobs per second from the first submission to the last job finished, and the CPU
    seconds per job of each party over that time."""
    server = cluster.server
    before = cpu_snapshot(cluster)
    started = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        ids = list(pool.map(lambda _: server.submit(process, inputs), range(jobs)))
    wait_all(cluster, ids)
    elapsed = time.monotonic() - started
    return jobs / elapsed, cpu_per_job(before, cpu_snapshot(cluster), jobs)


def show_cpu(label: str, split: dict[str, float]) -> None:
    parts = '  '.join(f'{key} {value * 1000:5.0f}' for key, value in split.items())
    print(f'    CPU ms/job {label}: {parts}', flush=True)


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


def measure_cluster(root: Path, args, results: dict, splits: dict) -> None:
    """Throughput with 1 then 2 workers (and the cluster's submission latency)."""
    broker = {'broker_url': args.broker} if args.broker else {}
    # lease and sweep as in config/cluster.yml (the tests' 3 s / 1 s make failures quick to
    # see, and cost a sweep per worker every second)
    cluster = Cluster(root / 'cluster', workers=1, concurrency=1, lease_seconds=15,
                      sweep_interval_seconds=5, **broker)
    try:
        cluster.start()
        server = cluster.server
        assert requests.post(f'{server.url}/processes', json=ECHO, timeout=30, headers={
            'Content-Type': 'application/ogcapppkg+json'}).status_code == 201
        deploy_sleep(server)
        for workers in (1, 2):
            if workers == 2:
                second = Worker(server.config, root / 'cluster' / 'worker1', 1).start()
                cluster.workers.append(second)
            throughput(cluster, 'echo', {'message': 'warm-up'}, 2 * workers)
            for kind, inputs, count in (('echo', {'message': 'hi'}, args.jobs),
                                        ('sleep', {'seconds': 2}, args.sleep_jobs)):
                key = f'{kind}_{workers}'
                results[key], splits[key] = throughput(cluster, kind, inputs, count)
            print(f'{workers} worker(s): echo {results[f"echo_{workers}"]:.2f} jobs/s, '
                  f'sleep(2 s) {results[f"sleep_{workers}"]:.3f} jobs/s', flush=True)
            for kind in ('echo', 'sleep'):
                show_cpu(kind, splits[f'{kind}_{workers}'])
        if not args.no_latency:
            latency(server, 20)
            results['latency_cluster'], results['p95_cluster'] = latency(server, args.submits)
    finally:
        cluster.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--jobs', type=int, default=24, help='echo jobs per run')
    parser.add_argument('--sleep-jobs', type=int, default=8, help='2-second sleep jobs per run')
    parser.add_argument('--submits', type=int, default=200, help='submissions for latency')
    parser.add_argument('--broker', default=None, help='broker URL (default: the test Redis)')
    parser.add_argument('--no-latency', action='store_true', help='throughput only')
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix='eoorder-cluster-bench-'))
    results: dict[str, float] = {}
    splits: dict[str, dict[str, float]] = {}
    with RUNTIME:
        measure_cluster(root, args, results, splits)
    _report_throughput(results, splits)
    if args.no_latency:
        return

    (root / 'embedded').mkdir()
    embedded = Server(root / 'embedded', {'jobs': {'workers': 2}}).start()
    try:
        latency(embedded, 20)
        results['latency_embedded'], results['p95_embedded'] = latency(embedded, args.submits)
    finally:
        embedded.stop()

    print('submission latency, async execute (ms):')
    for engine in ('embedded', 'cluster'):
        print(f'  {engine:10s} median {results[f"latency_{engine}"]:6.1f}   '
              f'p95 {results[f"p95_{engine}"]:6.1f}')
    print(f'  cluster/embedded median ratio '
          f'{results["latency_cluster"] / results["latency_embedded"]:.2f}x')


def _report_throughput(results: dict, splits: dict) -> None:
    print()
    print('container-job throughput (jobs/s), 1 -> 2 workers (concurrency 1 each):')
    for kind, label in (('echo', 'echo (container start/stop)'), ('sleep', 'sleep 2 s')):
        one, two = results[f'{kind}_1'], results[f'{kind}_2']
        print(f'  {label:30s} {one:7.3f} -> {two:7.3f}   ratio {two / one:.2f}x')
    if 'echo_1' in splits:
        parties_1 = sum(v for k, v in splits['echo_1'].items() if k != 'machine')
        print(f'  echo, 1 worker: {parties_1:.3f} CPU s/job x {results["echo_1"]:.2f} jobs/s = '
              f'{parties_1 * results["echo_1"]:.2f} cores busy with one worker alone (a second '
              f'worker can add at most what is left of {os.cpu_count()} cores)')
    if 'echo_2' in splits:
        split = splits['echo_2']
        runtime = sum(v for k, v in split.items() if k.startswith(('dockerd', 'containerd')))
        parties = sum(v for k, v in split.items() if k != 'machine')
        print(f'  echo, 2 workers, CPU s/job: container runtime (dockerd+containerd'
              f'{"+shim+runc" if "containerd+shim+runc" in split else ""}) '
              f'{runtime:.3f}, our worker {split["worker (ours)"]:.3f}, our server '
              f'{split["server (ours)"]:.3f}, all parties {parties:.3f} (whole machine, with '
              f'whatever else runs: {split["machine"]:.3f}); at that CPU cost {os.cpu_count()} '
              f'cores cannot run more than {os.cpu_count() / parties:.2f} jobs/s')


if __name__ == '__main__':
    main()
