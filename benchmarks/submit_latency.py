"""Async job submission: `eoorder serve` against pygeoapi's TinyDB manager.

Starts each server fresh (empty store) on a loopback port with the same no-op process
and the same gunicorn workers and threads, then measures, one server after the other:

  1. latency of sequential async submissions (p50, p95), after a warm-up;
  2. submissions/s with concurrent clients;
  3. lost jobs: every submitted job must reach `successful` in GET /jobs/{id}.

Run with the virtualenv's Python:  python benchmarks/submit_latency.py [--quick]
Exit status: 0 targets met, 1 a target missed or jobs lost, 2 a server failed to run.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import signal
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import bench_load as load
import bench_servers as servers

TARGET_LATENCY_RATIO = 0.1
TARGET_RATE = 300.0
PRESETS = {
    'full': {'requests': 200, 'warmup': 20, 'clients': 16, 'duration': 10.0, 'wait': 120.0},
    'quick': {'requests': 30, 'warmup': 5, 'clients': 16, 'duration': 2.0, 'wait': 60.0},
}


@dataclass
class Result:
    """Everything measured on one server."""

    name: str
    latencies: list[float] = field(default_factory=list)
    load_latencies: list[float] = field(default_factory=list)
    rate: float = math.nan
    failures: list[load.Submission] = field(default_factory=list)
    completion: load.Completion | None = None
    problem_count: int = 0
    problem_lines: list[str] = field(default_factory=list)
    access: dict[str, int] = field(default_factory=dict)
    leftovers: list[int] = field(default_factory=list)

    @property
    def submitted(self) -> int:
        return len(self.completion.statuses) if self.completion else 0

    @property
    def has_problems(self) -> bool:
        lost = self.completion.lost if self.completion else 0
        return bool(self.failures or lost or self.problem_count or self.leftovers)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--quick', action='store_true', help='short smoke run')
    parser.add_argument('-n', '--requests', type=int, help='sequential submissions measured '
                        f'(default {PRESETS["full"]["requests"]}, quick '
                        f'{PRESETS["quick"]["requests"]})')
    parser.add_argument('--warmup', type=int,
                        help='sequential submissions not measured (default 20, quick 5)')
    parser.add_argument('-c', '--clients', type=int, help='concurrent clients (default 16)')
    parser.add_argument('-d', '--duration', type=float,
                        help='seconds of concurrent submission (default 10, quick 2)')
    parser.add_argument('--total', type=int,
                        help='stop concurrent submission after this many (or at --duration)')
    parser.add_argument('--wait', type=float,
                        help='seconds to wait for all jobs to finish (default 120, quick 60)')
    servers.add_server_options(parser)
    args = parser.parse_args(argv)
    servers.apply_preset(args, PRESETS)
    for key in ('requests', 'clients', 'duration', 'wait', 'workers', 'threads', 'job_workers'):
        if getattr(args, key) <= 0:
            parser.error(f'--{key.replace("_", "-")} must be positive')
    return args


def say(name: str, message: str) -> None:
    print(f'[{name}] {message}', flush=True)


def measure(server: servers.Server, args: argparse.Namespace) -> Result:
    """Run the three measurements against a started, answering server."""
    result = Result(server.name)
    say(server.name, f'{args.warmup} warm-up + {args.requests} sequential submissions')
    warm, measured = load.sequential(server.url, args.requests, args.warmup)
    result.latencies = [s.seconds for s in measured if s.ok]
    say(server.name, f'{args.clients} clients for {args.duration:g} s')
    burst, elapsed = load.concurrent(server.url, args.clients, args.duration, args.total)
    result.load_latencies = [s.seconds for s in burst if s.ok]
    result.rate = len(result.load_latencies) / elapsed if elapsed > 0 else math.nan
    everything = warm + measured + burst
    result.failures = [s for s in everything if not s.ok]
    job_ids = [s.job_id for s in everything if s.ok]
    say(server.name, f'waiting up to {args.wait:g} s for {len(job_ids)} jobs to finish')
    result.completion = load.await_completion(server.url, job_ids, args.wait, args.clients)
    return result


def run_one(server: servers.Server, args: argparse.Namespace) -> Result:
    """Start a server, measure it and stop it, whatever happens."""
    say(server.name, f'starting on {server.url}')
    try:
        server.start()
        server.wait_ready()
        result = measure(server, args)
        server.mark_logs()
    finally:
        leftovers = server.stop()
    result.problem_count, result.problem_lines = server.problems()
    result.access = server.access_statuses()
    result.leftovers = leftovers
    return result


def ms(seconds: float) -> str:
    return 'n/a' if math.isnan(seconds) else f'{seconds * 1000:.1f}'


def table_rows(results: list[Result], args: argparse.Namespace) -> list[tuple[str, ...]]:
    def row(label, get):
        return (label, *(get(r) for r in results))

    def jobs(*statuses):
        return lambda r: str(r.completion.count(*statuses))

    return [
        row('async submit latency p50 (ms)', lambda r: ms(load.percentile(r.latencies, 50))),
        row('async submit latency p95 (ms)', lambda r: ms(load.percentile(r.latencies, 95))),
        row(f'submissions/s ({args.clients} clients)', lambda r: f'{r.rate:.1f}'),
        row('latency under load p50 (ms)', lambda r: ms(load.percentile(r.load_latencies, 50))),
        row('latency under load p95 (ms)', lambda r: ms(load.percentile(r.load_latencies, 95))),
        row('failed submissions (not 201)', lambda r: str(len(r.failures))),
        row('jobs accepted (201)', lambda r: str(r.submitted)),
        row('  successful', jobs('successful')),
        row('  missing (404)', jobs(load.MISSING)),
        row('  failed or dismissed', jobs('failed', 'dismissed')),
        row(f'  not final after {args.wait:g} s', lambda r: str(r.completion.not_final)),
        row('lost (accepted, not successful)', lambda r: str(r.completion.lost)),
        row('all final, s after last submit', lambda r: f'{r.completion.seconds:.1f}'),
        row('problem lines in server logs', lambda r: str(r.problem_count)),
    ]


def print_table(rows: list[tuple[str, ...]], names: list[str]) -> None:
    widths = [max(len(row[i]) for row in [('', *names), *rows]) for i in range(len(names) + 1)]
    for row in [('', *names), *rows]:
        print('  '.join([row[0].ljust(widths[0])]
                        + [cell.rjust(w) for cell, w in zip(row[1:], widths[1:])]))


def print_details(result: Result) -> None:
    """Failures, unsuccessful jobs and log problems of one server, if any."""
    if not result.has_problems and not result.access:
        return
    print(f'\n{result.name}:')
    if result.access:
        print('  access log statuses: ' + ', '.join(f'{k}: {v}' for k, v in
                                                   sorted(result.access.items())))
    codes = Counter(str(s.status) for s in result.failures)
    for code, count in sorted(codes.items()):
        example = next(s.error for s in result.failures if str(s.status) == code)
        print(f'  {count} submissions answered {code}, e.g. {example}')
    for status, example in result.completion.examples().items():
        print(f'  {result.completion.count(status)} jobs {status}, e.g. {example}')
    if result.problem_count:
        print(f'  {result.problem_count} problem lines in the server logs, first ones:')
        for line in result.problem_lines:
            print(f'    {line[:300]}')
    if result.leftovers:
        print(f'  processes left after stopping (killed): {result.leftovers}')


def print_verdict(ours: Result, theirs: Result) -> bool:
    """Print the ratios against the targets; True if all are met."""
    ratio = load.percentile(ours.latencies, 50) / load.percentile(theirs.latencies, 50)
    latency_ok = ratio <= TARGET_LATENCY_RATIO
    rate_ok = ours.rate >= TARGET_RATE
    lost_ok = ours.completion.lost == 0 and not ours.failures
    print(f'\nmedian latency ratio eoorder/tinydb: {ratio:.3f} '
          f'(target <= {TARGET_LATENCY_RATIO}: {"met" if latency_ok else "MISSED"})')
    print(f'eoorder submissions/s: {ours.rate:.1f} '
          f'(target >= {TARGET_RATE:g}: {"met" if rate_ok else "MISSED"})')
    print(f'lost jobs: eoorder {ours.completion.lost}, tinydb {theirs.completion.lost} '
          f'(target 0 for eoorder: {"met" if lost_ok else "MISSED"})')
    return latency_ok and rate_ok and lost_ok


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)
    load_at_start = os.getloadavg()[0]
    workdir = Path(tempfile.mkdtemp(prefix='eoorder-bench-'))
    print(f'work directory: {workdir}', flush=True)
    try:
        ours = run_one(servers.ours(workdir / 'eoorder', servers.free_port(), args.workers,
                                    args.threads, args.job_workers), args)
        theirs = run_one(servers.tinydb(workdir / 'tinydb', servers.free_port(),
                                        args.workers, args.threads), args)
    except (RuntimeError, OSError) as err:
        print(f'error: {err}\nlogs kept in {workdir}', file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f'interrupted; servers stopped; logs kept in {workdir}', file=sys.stderr)
        return 130
    print(f'\nworkers {args.workers} x threads {args.threads} (gthread) for both; '
          f'{args.requests} sequential after {args.warmup} warm-up; {args.clients} clients '
          f'for {args.duration:g} s; {os.cpu_count()} CPUs, load average at start '
          f'{load_at_start:.2f}\n')
    print_table(table_rows([ours, theirs], args), [ours.name, theirs.name])
    for result in (ours, theirs):
        print_details(result)
    met = print_verdict(ours, theirs)
    if ours.has_problems or theirs.has_problems or args.keep:
        print(f'\nlogs kept in {workdir}')
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0 if met else 1


if __name__ == '__main__':
    sys.exit(main())
