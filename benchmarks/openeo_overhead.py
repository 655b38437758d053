"""openEO overhead: the NDVI graph on the demo bands as a batch job through the API,
against the same graph run with openeo-processes-dask directly in one Python process.
The graph is the one issue #19 names, load_collection -> filter_bbox -> ndvi ->
reduce_dimension(t, mean) -> save_result (GTiff); `--graph extent` runs the box as
load_collection's extent instead (no filter_bbox step; this benchmark's graph until stop 33).

A fresh `eoorder serve` (the embedded default: demo products, local job engine) on a
loopback port, measured once it is idle (its workers' openEO warm-up imports done;
`--no-settle`: at once); then, in rounds (one run of each way per round, after warm-up
rounds):

  - API: POST /openeo/1.2/jobs, POST /jobs/{id}/results (start), GET /jobs/{id} at once
    and then after pauses until `finished` (one keep-alive session), as the openeo
    client's `start_and_wait` polls (at once, then every 5 s and more; here 0.1 s and
    more, to keep rounds short): submit to results ready, i.e. to the job's final
    `updated` time (the server's clock, the same machine; taken once the transaction
    that ends the job has made its writes, just before it commits). With `--poll SECONDS` the
    client polls at that fixed interval instead, and submit to `finished` seen by the
    client is printed too (its polls' CPU then runs beside the job's: on 2 CPUs 20 ms
    polling made results ready ≈ 1.4 ms later, paired rounds, stop 30);
  - direct: the graph parsed and run in one Python process (openeo-pg-parser-networkx +
    openeo-processes-dask, the same load_collection/save_result), files written; a
    process of its own started with each server (see `DirectProcess`);
  - floor: a graph that computes nothing (`add(1, 1)`) as a batch job: what the HTTP
    requests and the job engine cost whatever the graph.

Prints the medians, the load average, where the API runs' time went (from the jobs' own
times: stored, claimed by a worker, results ready), how fast the job worker ran the graph
against the direct process (from load_collection's log line to save_result's: a fresh
server's worker runs it several per cent faster or slower for its whole life), what one
small HTTP request costs on this machine, what the HTTP client alone costs per request
(`client_floor.py`: part of every API run, whatever the server), and the overhead
(API p50 - direct p50) / direct p50 of results ready; target <= 20 %.
Run with the virtualenv's Python:  python benchmarks/openeo_overhead.py [--runs N] [--repeat K]
(`--repeat K`, default 5: K measurements, each with a fresh server and a fresh direct
process, judged by their median overhead: one run moves by several points with the
machine.)
Exit status: 0 target met (the median with --repeat), 1 missed, 2 the server did not start.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import requests
import yaml
from bench_servers import wait_idle
from client_floor import client_round_trip, p50_after_idle

REPO = Path(__file__).resolve().parent.parent
TARGET = 0.20
LYON = {'west': 4.75, 'south': 45.70, 'east': 4.95, 'north': 45.85}  # the demo scene
# the graph issue #19 names: load_collection -> filter_bbox -> ndvi -> reduce_dimension(t,
# mean) -> save_result (GTiff)
GRAPH = {
    'load': {'process_id': 'load_collection', 'arguments': {
        'id': 'products', 'bands': ['red', 'nir'], 'temporal_extent': ['2024-06-01', '2024-07-01'],
        'spatial_extent': None}},
    'bbox': {'process_id': 'filter_bbox', 'arguments': {'data': {'from_node': 'load'},
                                                        'extent': LYON}},
    'ndvi': {'process_id': 'ndvi', 'arguments': {'data': {'from_node': 'bbox'}}},
    'mean': {'process_id': 'reduce_dimension', 'arguments': {
        'data': {'from_node': 'ndvi'}, 'dimension': 't', 'reducer': {'process_graph': {
            'm': {'process_id': 'mean', 'arguments': {'data': {'from_parameter': 'data'}},
                  'result': True}}}}},
    'save': {'process_id': 'save_result', 'arguments': {'data': {'from_node': 'mean'},
                                                        'format': 'GTiff'}, 'result': True},
}
# the same with the box as load_collection's extent, no filter_bbox step (this benchmark's
# graph until stop 33: `--graph extent`)
EXTENT_GRAPH = {'load': {**GRAPH['load'], 'arguments': {**GRAPH['load']['arguments'],
                                                         'spatial_extent': LYON}},
                'ndvi': {'process_id': 'ndvi', 'arguments': {'data': {'from_node': 'load'}}},
                'mean': GRAPH['mean'], 'save': GRAPH['save']}
GRAPHS = {'filter_bbox': GRAPH, 'extent': EXTENT_GRAPH}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def start_server(workdir: Path, code: Path = REPO, **blocks
                 ) -> tuple[subprocess.Popen, str, Path]:
    """`eoorder serve` of the embedded default (with `blocks` of the eoorder block), run
    from the source tree `code` (this one unless given)."""
    config = yaml.safe_load((code / 'config' / 'local.yml').read_text())
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
         '--host', '127.0.0.1', '--port', str(port)], stdout=log, stderr=log, cwd=code,
        env={**os.environ, 'PYTHONPATH': os.pathsep.join(
            filter(None, [str(code), os.environ.get('PYTHONPATH')]))}, start_new_session=True)
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


def settle(process: subprocess.Popen, url: str) -> float:
    """Send every web worker a first request, then wait until the server is idle: the
    openEO warm-up (each web and job worker imports the data-cube libraries, seconds of
    CPU) is start-up work, not the overhead of a job; the seconds waited."""
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda _: requests.get(f'{url}/openeo/1.2/', timeout=60), range(16)))
    return wait_idle(process.pid)


NOTHING = {'add': {'process_id': 'add', 'arguments': {'x': 1, 'y': 1}, 'result': True}}


LATER = 0.1  # seconds before the client's second poll (the openeo client: 5), then × 1.25


def through_api(session: requests.Session, url: str, graph: dict,
                poll: float | None = None) -> dict:
    """Seconds from submitting a batch job to its results being ready (`ready`: the
    job's last update) and to the client seeing `finished` (`seen`); the job's `id` and
    the submitting client's clock (`wall`). `poll`: seconds between status polls (None:
    as the openeo client, at once and then after growing pauses, see `LATER`)."""
    began, wall = time.perf_counter(), time.time()
    created = session.post(f'{url}/openeo/1.2/jobs', json={'process': {
        'process_graph': graph}}, timeout=30)
    job_url = created.headers['Location']
    session.post(f'{job_url}/results', timeout=30)
    pause = LATER if poll is None else poll
    while True:
        job = session.get(job_url, timeout=30).json()
        if job['status'] == 'finished':
            seen = time.perf_counter() - began
            return {'ready': _stamp(job['updated']) - wall, 'seen': seen, 'id': job['id'],
                    'wall': wall}
        if job['status'] in ('error', 'canceled'):
            raise RuntimeError(f'job {job_url}: {job["status"]}')
        time.sleep(pause)
        pause = pause * 1.25 if poll is None else poll


def _stamp(value: str) -> float:
    return datetime.fromisoformat(value.replace('Z', '+00:00')).timestamp()


def phases(session: requests.Session, url: str, runs: list[dict]) -> dict[str, float]:
    """Where the API runs' time went (p50 ms from submit), from the jobs' own times in
    the shared engine (OGC API - Processes status): stored by the create request,
    claimed by a worker (after the start request and the hand-over), results ready."""
    found: dict[str, list[float]] = {'stored': [], 'claimed': [], 'ready': []}
    for run in runs:
        status = session.get(f'{url}/jobs/{run["id"]}', params={'f': 'json'}, timeout=30).json()
        for name, field in (('stored', 'created'), ('claimed', 'started'), ('ready', 'finished')):
            found[name].append(_stamp(status[field]) - run['wall'])
    return {name: statistics.median(times) * 1000 for name, times in found.items()}


SPAN = ('load_collection ', 'save_result: ')  # the graph's first and last log lines
_JOB_LOG_LINE = re.compile(r'^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) \S+ [^:]+: (.*)$')


def graph_span(lines: list[tuple[float, str]]) -> float | None:
    """Seconds from the graph's `load_collection` log line to its `save_result` line
    (`lines`: time and message): most of the graph, logged both ways (the job's log, a
    handler in the direct process), which tells how fast a job worker runs the graph
    apart from what the server does around it."""
    found = [next((t for t, message in lines if message.startswith(m)), None) for m in SPAN]
    return None if None in found else found[1] - found[0]


def worker_spans(session: requests.Session, url: str, runs: list[dict]) -> list[float]:
    """The graph spans (see `graph_span`) of the API runs, from their jobs' openEO logs
    (the job log's times: milliseconds)."""
    spans = []
    for run in runs:
        logs = session.get(f'{url}/openeo/1.2/jobs/{run["id"]}/logs', timeout=30).json()
        lines = [(datetime.strptime(m[1], '%Y-%m-%d %H:%M:%S,%f').timestamp(), m[2])
                 for entry in logs['logs'] if (m := _JOB_LOG_LINE.match(entry['message']))]
        span = graph_span(lines)
        if span is not None:
            spans.append(span)
    return spans


def request_round_trip(session: requests.Session, url: str, count: int = 100) -> float:
    """p50 ms of one small request after 20 ms idle (as the API run's requests are):
    what one HTTP request costs on this machine, whatever the job."""
    return p50_after_idle(
        lambda: session.get(f'{url}/.well-known/openeo', timeout=30).raise_for_status(), count)


def run_environments(config_path: Path):
    """A function giving the run environment of a graph in a directory, as a job of the
    server at `config_path` gets it (its cube collections, stage-in rules)."""
    from pygeoapi_eoorder import config as eoconfig
    from pygeoapi_eoorder.datacube.job import environment
    from pygeoapi_eoorder.execution.staging import Stager
    _, settings = eoconfig.load(config_path)
    roots = settings.block['execution']['stage_in']['allowed_file_roots']
    log = logging.getLogger('bench')

    def environment_in(target: Path):
        return environment(settings, target, target / 'out', Stager(target / 'in', roots), log)
    return environment_in


def direct_runner(config_path: Path, workdir: Path, graph: dict = GRAPH):
    """A function running `graph` in this process with the same data and code."""
    from pygeoapi_eoorder.datacube.run import run
    environment_in = run_environments(config_path)

    def once() -> float:
        target = workdir / 'direct'
        shutil.rmtree(target, ignore_errors=True)
        began = time.perf_counter()
        run(graph, environment_in(target), {})
        return time.perf_counter() - began
    return once


class DirectProcess:
    """The direct run in a Python process of its own, started fresh for each measurement
    as the server is (`direct_runner` there, with the code of `code`): processes of the
    same code run the graph a few per cent faster or slower for their whole life
    (six interleaved: p50 37.9 to 40.1 ms), so a direct side run in the measuring
    process would be one draw of that for every measurement while each server is a new
    one. Calling it runs the graph once; the seconds, timed in that process (`spans`: the
    graph span of each run, see `graph_span`; None if its log lines were missing)."""

    def __init__(self, config_path: Path, workdir: Path, graph: dict = GRAPH,
                 code: Path = REPO):
        self.process = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), DIRECT_CHILD, str(config_path),
             str(workdir), json.dumps(graph)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            text=True, cwd=code, start_new_session=True,
            env={**os.environ, 'PYTHONPATH': os.pathsep.join(
                filter(None, [str(code), os.environ.get('PYTHONPATH')]))})
        self.spans: list[float | None] = []
        if self.process.stdout.readline().strip() != 'ready':
            self.close()
            raise RuntimeError('the direct run\'s process did not start (its error above)')

    def __call__(self) -> float:
        self.process.stdin.write('run\n')
        self.process.stdin.flush()
        answer = self.process.stdout.readline().split()
        if not answer:
            raise RuntimeError('the direct run failed (its error above)')
        self.spans.append(None if answer[1] == 'None' else float(answer[1]))
        return float(answer[0])

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.stdin.close()
            self.process.wait(30)


DIRECT_CHILD = '--direct-child'


def direct_child(config_path: str, workdir: str, graph: str) -> int:
    """The process of a `DirectProcess`: a run for each line read, its seconds and its
    graph span written (the run's log lines kept in memory, as a job's go to its log)."""
    answers = os.fdopen(os.dup(1), 'w')  # (what the libraries print goes to stderr)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    lines: list[tuple[float, str]] = []
    log = logging.getLogger('bench')
    log.setLevel(logging.INFO)
    log.propagate = False
    log.addHandler(_Kept(lines))
    once = direct_runner(Path(config_path), Path(workdir), json.loads(graph))
    print('ready', file=answers, flush=True)
    for _ in sys.stdin:
        lines.clear()
        seconds = once()
        print(repr(seconds), repr(graph_span(lines)), file=answers, flush=True)
    return 0


class _Kept(logging.Handler):
    def __init__(self, lines: list):
        super().__init__()
        self.lines = lines

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append((record.created, record.getMessage()))


def measure(url: str, direct, runs: int, warmup: int, poll: float | None = None,
            graph: dict = GRAPH) -> tuple[dict[str, list], list[dict]]:
    """Rounds of one run each way (alternating which goes first), after warm-up rounds;
    the times by way, and the API runs of the graph."""
    times = {'ready': [], 'seen': [], 'direct': [], 'floor': []}
    api_runs: list[dict] = []
    session = requests.Session()

    def api() -> None:
        run = through_api(session, url, graph, poll)
        times['ready'].append(run['ready'])
        times['seen'].append(run['seen'])
        api_runs.append(run)

    for round_ in range(warmup + runs):
        pair = (api, lambda: times['direct'].append(direct()))
        for run in (pair if round_ % 2 == 0 else pair[::-1]):
            run()
        times['floor'].append(through_api(session, url, NOTHING, poll)['ready'])
        if round_ < warmup:
            for found in (*times.values(), api_runs):
                found.clear()
    return times, api_runs


def one_run(args) -> dict:
    """One measurement with a fresh server: the p50s (ms), where the API runs' time
    went, one small request's cost, the client's own cost of one (`client_floor`) and
    the load average before and after."""
    workdir = Path(tempfile.mkdtemp(prefix='openeo-bench-'))
    process, url, config = start_server(workdir)
    if args.settle:
        print(f'server idle after {settle(process, url):.1f} s', flush=True)
    load = os.getloadavg()
    try:
        graph = GRAPHS[args.graph]
        direct = DirectProcess(config, workdir, graph)
        try:
            times, api_runs = measure(url, direct, args.runs, args.warmup, args.poll, graph)
        finally:
            direct.close()
        session = requests.Session()
        where = phases(session, url, api_runs)
        spans = {'worker': worker_spans(session, url, api_runs),
                 'direct': [s for s in direct.spans[-args.runs:] if s is not None]}
        request_ms = request_round_trip(session, url)
        client_ms = client_round_trip({'process': {'process_graph': graph}})
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(30)
        shutil.rmtree(workdir, ignore_errors=True)
    p50 = {name: statistics.median(found) * 1000 for name, found in times.items()}
    where.update({f'span_{side}': statistics.median(found) * 1000
                  for side, found in spans.items() if found})
    return {'p50': p50, 'where': where, 'request_ms': request_ms, 'client_ms': client_ms,
            'load': (load[0], os.getloadavg()[0]),
            'overhead': (p50['ready'] - p50['direct']) / p50['direct']}


def report(args, found: dict) -> None:
    p50, where, overhead = found['p50'], found['where'], found['overhead']
    print(f'graph: {args.graph}; runs: {args.runs} (after {args.warmup} warm-up rounds); '
          f'load average {found["load"][0]:.2f} before, {found["load"][1]:.2f} after')
    print(f'direct openeo-processes-dask p50:            {p50["direct"]:8.1f} ms')
    print(f'API batch job, submit -> results ready p50:  {p50["ready"]:8.1f} ms')
    if args.poll is None:
        print(f'the client polled as the openeo client does (at once after the start, then '
              f'after {LATER * 1000:.0f} ms and more)')
    else:
        print(f'API batch job, submit -> finished seen p50:  {p50["seen"]:8.1f} ms '
              f'(polling every {args.poll * 1000:.0f} ms)')
    print(f'API floor (a graph computing nothing) p50:   {p50["floor"]:8.1f} ms')
    print(f'API run, p50 ms from submit: job stored {where["stored"]:.1f} (create '
          f'request), claimed by a worker {where["claimed"]:.1f} (start request, hand-over), '
          f'results ready {where["ready"]:.1f} (the graph and the job\'s bookkeeping)')
    if 'span_worker' in where and 'span_direct' in where:
        print(f'the graph from load_collection to save_result (log times) p50: in the job '
              f'worker {where["span_worker"]:.1f} ms, direct {where["span_direct"]:.1f} ms '
              f'(the worker {where["span_worker"] - where["span_direct"]:+.1f} ms)')
    print(f'one small HTTP request after 20 ms idle on this machine p50: '
          f'{found["request_ms"]:.1f} ms (GET /.well-known/openeo, round trip)')
    client = found['client_ms']
    print(f'the HTTP client alone, one request p50: {client:.1f} ms (requests POSTing the '
          f'graph to a bare socket server on loopback after 20 ms idle): a job\'s two '
          f'requests cost {2 * client:.1f} ms of the overhead whatever the server, '
          f'{2 * client / p50["direct"]:.1%} of the direct run')
    seen = '' if args.poll is None else \
        f'; seen by the client: {(p50["seen"] - p50["direct"]) / p50["direct"]:+.1%}'
    print(f'overhead: {overhead:+.1%} (target <= +{TARGET:.0%}){seen}', flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--runs', type=int, default=30)
    parser.add_argument('--warmup', type=int, default=2)
    parser.add_argument('--repeat', type=int, default=5,
                        help='measure this many times, each with a fresh server, and judge '
                             'the median overhead (single runs move by several points with '
                             'the machine)')
    parser.add_argument('--poll', type=float, default=None,
                        help='seconds between status polls (default: as the openeo client, '
                             'at once and then after growing pauses); also prints `seen`')
    parser.add_argument('--graph', choices=sorted(GRAPHS), default='filter_bbox',
                        help='filter_bbox: the graph issue #19 names (default); extent: the '
                             'box as load_collection\'s extent, no filter_bbox step')
    parser.add_argument('--no-settle', dest='settle', action='store_false',
                        help='measure at once, the start-up work (openEO warm-up) included')
    args = parser.parse_args()
    overheads = []
    for index in range(args.repeat):
        if args.repeat > 1:
            print(f'-- measurement {index + 1} of {args.repeat}')
        found = one_run(args)
        report(args, found)
        overheads.append(found['overhead'])
    overhead = statistics.median(overheads)
    if args.repeat > 1:
        print(f'overhead over {args.repeat} measurements: median {overhead:+.1%} (each: '
              + ', '.join(f'{o:+.1%}' for o in overheads) + f'; target <= +{TARGET:.0%})')
    return 0 if overhead <= TARGET else 1


if __name__ == '__main__':
    sys.exit(direct_child(*sys.argv[2:]) if sys.argv[1:2] == [DIRECT_CHILD] else main())
