"""WPS 1.0.0: `eoorder serve` against pywps 4.8, 100 no-op processes each, in one run.

Starts each server fresh on a loopback port behind gunicorn with the same workers and
threads, one after the other, and measures on each:

  1. GetCapabilities (KVP) with 100 processes: p50, p95;
  2. DescribeProcess (KVP) of one process: p50, p95;
  3. async Execute submit latency (storeExecuteResponse="true" status="true"): p50, p95;
     every answer must be an ExecuteResponse with a statusLocation;
  4. jobs completed per second: N Executes from concurrent clients, then their status
     locations polled until all are ProcessSucceeded.

pywps runs with its own queue: `parallelprocesses` (= --job-workers) jobs at a time in
forked processes, the rest stored in its sqlite logging database until a slot frees.

Run with the virtualenv's Python:  python benchmarks/wps_bench.py [--quick]
Exit status: 0 targets met, 1 a target missed or jobs lost, 2 a server failed to run.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import bench_servers as servers
import requests
import wps_client as client
from bench_load import percentile
from wps_client import process_ids

TARGET_SUBMIT_RATIO = 0.2
TARGET_CAPABILITIES_RATIO = 1.0
PRESETS = {
    'full': {'requests': 200, 'warmup': 20, 'jobs': 300, 'clients': 8, 'wait': 300.0},
    'quick': {'requests': 30, 'warmup': 5, 'jobs': 40, 'clients': 8, 'wait': 120.0},
}
PYWPS_CONFIG = """\
[server]
url = {url}/wps
outputurl = {url}/outputs/
outputpath = {outputs}
workdir = {work}
temp_path = {work}
parallelprocesses = {parallel}
maxprocesses = -1
cleantempdir = true

[processing]
mode = multiprocessing

[logging]
level = ERROR
file = {log}
database = sqlite:///{database}

[metadata:main]
identification_title = WPS benchmark
"""


class WpsServer(servers.Server):
    """A server whose readiness is a WPS GetCapabilities answering 200."""

    def settle(self, timeout: float = 120.0, idle: float = 0.05) -> float:
        """Send every worker a first request, then wait until the server uses less than
        `idle` of a CPU over a second (start-up work done); return the seconds waited."""
        url = f'{self.url}/wps?service=WPS&request=GetCapabilities&version=1.0.0'
        start = time.monotonic()
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(lambda _: requests.get(url, timeout=60), range(16)))
        servers.wait_idle(self.process.pid, timeout, idle)
        return time.monotonic() - start

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        url = f'{self.url}/wps?service=WPS&request=GetCapabilities&version=1.0.0'
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f'{self.name} exited with code '
                                   f'{self.process.returncode}\n{self.tail()}')
            try:
                if requests.get(url, timeout=5).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise RuntimeError(f'{self.name}: no GetCapabilities within {timeout:.0f} s'
                           f'\n{self.tail()}')


def ours(workdir: Path, args) -> WpsServer:
    """`eoorder serve` (bench_servers' configuration) with the noop processor under N ids."""
    base = servers.ours(workdir, servers.free_port(), args.workers, args.threads,
                        args.job_workers)
    config = Path(base.cmd[base.cmd.index('--config') + 1])
    text = config.read_text()
    resources = ''.join(f'  {pid}:\n    type: process\n    processor:\n'
                        '      name: noop_process.NoopProcessor\n'
                        for pid in process_ids(args.processes))
    config.write_text(text[:text.index('resources:\n')] + 'resources:\n' + resources)
    return WpsServer(base.name, base.url, base.cmd, base.env, workdir, base.extra_logs)


def pywps(workdir: Path, args) -> WpsServer:
    """pywps 4.8 (benchmarks/pywps_noop.py) behind gunicorn like ours."""
    workdir.mkdir(parents=True)
    port = servers.free_port()
    url = f'http://127.0.0.1:{port}'
    for name in ('outputs', 'work'):
        (workdir / name).mkdir()
    cfg = workdir / 'pywps.cfg'
    cfg.write_text(PYWPS_CONFIG.format(
        url=url, outputs=workdir / 'outputs', work=workdir / 'work',
        parallel=args.job_workers, log=workdir / 'pywps.log',
        database=workdir / 'pywps-logs.sqlite'))
    env = servers._base_env()
    env.update(PYWPS_BENCH_CFG=str(cfg), PYWPS_BENCH_PROCESSES=str(args.processes))
    cmd = [args.pywps_python, '-m', 'gunicorn', '-w', str(args.workers), '--threads',
           str(args.threads), '-k', 'gthread', '-b', f'127.0.0.1:{port}',
           'pywps_noop:application']
    return WpsServer('pywps', url, cmd, env, workdir, extra_logs=[workdir / 'pywps.log'])


@dataclass
class Result:
    """Everything measured on one server."""

    name: str
    timings: dict[str, list[client.Timed]] = field(default_factory=dict)
    processes_listed: int = 0
    drained: client.Completion | None = None
    burst: list[client.Timed] = field(default_factory=list)
    completion: client.Completion | None = None
    invalid: dict[str, list[str]] = field(default_factory=dict)
    problem_count: int = 0
    problem_lines: list[str] = field(default_factory=list)
    leftovers: list[int] = field(default_factory=list)

    def seconds(self, kind: str) -> list[float]:
        return [t.seconds for t in self.timings.get(kind, []) if t.error is None]

    def failures(self) -> list[client.Timed]:
        found = [t for kind in self.timings.values() for t in kind if t.error]
        return found + [t for t in self.burst if t.error]

    @property
    def jobs_per_second(self) -> float:
        return self.completion.per_second if self.completion else math.nan

    @property
    def has_problems(self) -> bool:
        lost = sum(c.lost for c in (self.drained, self.completion) if c)
        return bool(self.failures() or lost or self.problem_count or self.leftovers
                    or any(self.invalid.values()))


def say(name: str, message: str) -> None:
    print(f'[{name}] {message}', flush=True)


def measure_reads(server: WpsServer, args, result: Result) -> None:
    """GetCapabilities and DescribeProcess, sequential, each after a warm-up."""
    url = f'{server.url}/wps'
    count = max(10, args.requests // 4)
    say(server.name, f'{count} GetCapabilities, {args.requests} DescribeProcess')
    caps = client.sequential(client.kvp(url, request='GetCapabilities'), count, 3)
    one = process_ids(args.processes)[args.processes // 2]
    describe = client.sequential(client.kvp(url, request='DescribeProcess', identifier=one),
                                 args.requests, args.warmup)
    result.timings.update(capabilities=caps, describe=describe)
    result.invalid['capabilities'] = client.schema_errors([t.body for t in caps[-3:]],
                                                          'Capabilities')
    result.invalid['describe'] = client.schema_errors([t.body for t in describe[-3:]],
                                                      'ProcessDescriptions')
    if caps and caps[-1].body:
        root = client.etree.fromstring(caps[-1].body)
        result.processes_listed = len(root.findall(
            f'{{{client.WPS}}}ProcessOfferings/{{{client.WPS}}}Process'))


def measure_jobs(server: WpsServer, args, result: Result) -> None:
    """Submit latency (sequential), then jobs/s of a burst once the first jobs are done."""
    url = f'{server.url}/wps'
    body = client.execute_body(process_ids(args.processes)[0])
    say(server.name, f'{args.warmup} warm-up + {args.requests} sequential Executes')
    submits = client.sequential(lambda s: client.submit(s, url, body), args.requests,
                                args.warmup)
    result.timings['submit'] = submits
    result.invalid['submit'] = client.schema_errors(
        [t.body for t in submits if t.error is None], 'ExecuteResponse')
    located = [t.status_location for t in submits if t.status_location]
    say(server.name, f'waiting for those {len(located)} jobs')
    result.drained = client.await_all(located, time.perf_counter(), args.wait, args.clients)
    say(server.name, f'{args.jobs} Executes from {args.clients} clients, then polling')
    start = time.perf_counter()
    result.burst = client.concurrent_submits(url, body, args.jobs, args.clients)
    located = [t.status_location for t in result.burst if t.status_location]
    result.completion = client.await_all(located, start, args.wait, args.clients)
    result.invalid['final status'] = client.schema_errors(
        list(result.completion.bodies.values()), 'ExecuteResponse')


def run_one(server: WpsServer, args) -> Result:
    """Start a server, measure it and stop it, whatever happens."""
    say(server.name, f'starting on {server.url}')
    result = Result(server.name)
    try:
        server.start()
        server.wait_ready()
        if args.settle:
            say(server.name, f'idle after {server.settle():.1f} s')
        measure_reads(server, args, result)
        measure_jobs(server, args, result)
        server.mark_logs()
    finally:
        result.leftovers = server.stop()
    result.problem_count, result.problem_lines = server.problems()
    return result


def ms(values: list[float], pct: float) -> str:
    value = percentile(values, pct)
    return 'n/a' if math.isnan(value) else f'{value * 1000:.1f}'


def table_rows(results: list[Result], args) -> list[tuple[str, ...]]:
    def row(label, get):
        return (label, *(get(r) for r in results))

    rows = [row('processes in GetCapabilities', lambda r: str(r.processes_listed))]
    for kind, label in (('capabilities', 'GetCapabilities'), ('describe', 'DescribeProcess'),
                        ('submit', 'Execute submit (async)')):
        rows += [row(f'{label} p50 (ms)', lambda r, k=kind: ms(r.seconds(k), 50)),
                 row(f'{label} p95 (ms)', lambda r, k=kind: ms(r.seconds(k), 95))]
    rows += [
        row(f'burst submit p50 (ms, {args.clients} clients)',
            lambda r: ms([t.seconds for t in r.burst if t.error is None], 50)),
        row(f'jobs completed/s ({args.jobs} jobs)', lambda r: f'{r.jobs_per_second:.1f}'),
        row('  s from first submit to last success', lambda r: f'{r.completion.seconds:.1f}'),
        row('failed requests (no ExecuteResponse)', lambda r: str(len(r.failures()))),
        row(f'jobs not succeeded after {args.wait:g} s',
            lambda r: str(r.drained.lost + r.completion.lost)),
        row('answers not schema-valid',
            lambda r: str(sum(len(v) for v in r.invalid.values()))),
        row('problem lines in server logs', lambda r: str(r.problem_count)),
    ]
    return rows


def print_table(rows: list[tuple[str, ...]], names: list[str]) -> None:
    widths = [max(len(row[i]) for row in [('', *names), *rows]) for i in range(len(names) + 1)]
    for row in [('', *names), *rows]:
        print('  '.join([row[0].ljust(widths[0])]
                        + [cell.rjust(w) for cell, w in zip(row[1:], widths[1:])]))


def print_details(result: Result) -> None:
    """Failures, unfinished jobs, invalid answers and log problems of one server."""
    if not result.has_problems:
        return
    print(f'\n{result.name}:')
    for failure in result.failures()[:5]:
        print(f'  failed request: {failure.error}')
    for done in (result.drained, result.completion):
        for location, state in list(done.states.items()):
            if state != client.SUCCEEDED:
                print(f'  job {location}: {state} {done.bodies.get(location, b"")[:200]!r}')
                break
    for kind, errors in result.invalid.items():
        for error in sorted(set(errors))[:3]:
            print(f'  {errors.count(error)} {kind} answers not schema-valid: {error[:300]}')
    for line in result.problem_lines[:10]:
        print(f'  log: {line[:300]}')
    if result.leftovers:
        print(f'  processes left after stopping (killed): {result.leftovers}')


def print_verdict(ours: Result, theirs: Result) -> bool:
    """Print the ratios against the targets; True if all are met."""
    def ratio(kind: str) -> float:
        return percentile(ours.seconds(kind), 50) / percentile(theirs.seconds(kind), 50)

    submit, caps = ratio('submit'), ratio('capabilities')
    submit_ok = submit <= TARGET_SUBMIT_RATIO
    caps_ok = caps <= TARGET_CAPABILITIES_RATIO
    print(f'\np50 ratio eoorder/pywps: Execute submit {submit:.3f} (target <= '
          f'{TARGET_SUBMIT_RATIO}: {"met" if submit_ok else "MISSED"}), GetCapabilities '
          f'{caps:.3f} (target <= {TARGET_CAPABILITIES_RATIO}: '
          f'{"met" if caps_ok else "MISSED"}), DescribeProcess {ratio("describe"):.3f}')
    print(f'jobs/s ratio eoorder/pywps: {ours.jobs_per_second / theirs.jobs_per_second:.2f}')
    return submit_ok and caps_ok and not ours.has_problems


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--quick', action='store_true', help='short smoke run')
    parser.add_argument('-n', '--requests', type=int, help='measured DescribeProcess and '
                        'Execute requests (default 200, quick 30); GetCapabilities n/4')
    parser.add_argument('--warmup', type=int, help='unmeasured requests (default 20, quick 5)')
    parser.add_argument('--jobs', type=int, help='jobs of the jobs/s burst (300, quick 40)')
    parser.add_argument('-c', '--clients', type=int, help='burst and polling clients (8)')
    parser.add_argument('--wait', type=float, help='seconds to wait for jobs (300, quick 120)')
    parser.add_argument('--processes', type=int, default=100, help='no-op processes (100)')
    parser.add_argument('--pywps-python', default=sys.executable,
                        help='Python with pywps 4.8 and gunicorn (default: this one)')
    parser.add_argument('--no-settle', dest='settle', action='store_false',
                        help='measure at once, without waiting for start-up work to end')
    servers.add_server_options(parser)
    args = parser.parse_args(argv)
    servers.apply_preset(args, PRESETS)
    for key in ('requests', 'jobs', 'clients', 'wait', 'processes', 'workers', 'threads',
                'job_workers'):
        if getattr(args, key) <= 0:
            parser.error(f'--{key.replace("_", "-")} must be positive')
    return args


def pywps_version(python: str) -> str:
    done = subprocess.run([python, '-c', 'import pywps; print(pywps.__version__)'],
                          capture_output=True, text=True, timeout=60)
    return done.stdout.strip() or 'unknown'


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)
    load_at_start = os.getloadavg()[0]
    workdir = Path(tempfile.mkdtemp(prefix='eoorder-wps-bench-'))
    print(f'work directory: {workdir}', flush=True)
    try:
        ours_result = run_one(ours(workdir / 'eoorder', args), args)
        theirs = run_one(pywps(workdir / 'pywps', args), args)
    except (RuntimeError, OSError) as err:
        print(f'error: {err}\nlogs kept in {workdir}', file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f'interrupted; servers stopped; logs kept in {workdir}', file=sys.stderr)
        return 130
    print(f'\npywps {pywps_version(args.pywps_python)}; {args.processes} processes; '
          f'workers {args.workers} x threads {args.threads} (gthread) for both; '
          f'{args.job_workers} job workers / parallelprocesses; {args.requests} sequential '
          f'after {args.warmup} warm-up; '
          f'{os.cpu_count()} CPUs, load average at start {load_at_start:.2f}\n')
    print_table(table_rows([ours_result, theirs], args), [ours_result.name, theirs.name])
    for result in (ours_result, theirs):
        print_details(result)
    met = print_verdict(ours_result, theirs)
    if ours_result.has_problems or theirs.has_problems or args.keep:
        print(f'\nlogs kept in {workdir}')
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0 if met else 1


if __name__ == '__main__':
    sys.exit(main())
