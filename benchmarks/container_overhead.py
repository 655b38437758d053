"""Container overhead: an `eoorder serve` execution against a plain `docker run`.

Runs the echo application package (image eoorder-test/echo:1.0) in one go, with a fresh
`eoorder serve` (empty data directory, 2 job workers) on a loopback port:

  1. N times one after another, four ways, in rounds (one run of each per round, in a
     rotating order, after unmeasured warm-up rounds): directly in the sandbox our
     server uses, with the docker command (`docker run --rm ...`), with the Docker SDK
     (containers.run detached, wait, remove) and with the server's own container code
     (containers.client + image check + run_container) outside the server; and as a
     synchronous execution of the deployed package (POST /processes/echo/execution),
     split into its phases from GET /jobs/{id} and the job's log;
  2. the overhead (execute p50 - docker run p50) / docker run p50, target <= 15 %;
  3. `--concurrent` (20) asynchronous executions at once, all polled to a final status:
     every one must succeed with its own result.

Run with the virtualenv's Python:  python benchmarks/container_overhead.py [--quick]
Exit status: 0 targets met, 1 a target missed or jobs lost, 2 a run failed to start.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import signal
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import requests

import bench_ades as ades
import bench_load as load
import bench_servers as servers
from submit_latency import print_table

TARGET_OVERHEAD = 0.15
PRESETS = {
    'full': {'runs': 20, 'warmup': 2, 'concurrent': 20, 'wait': 120.0},
    'quick': {'runs': 5, 'warmup': 1, 'concurrent': 20, 'wait': 60.0},
}
DIRECT = ('docker run (CLI)', 'docker SDK', "server's run_container")
EXECUTE = 'eoorder sync execute'
PHASES = (('queue', 'queued (created -> started)'),
          ('job', 'job (started -> finished)'),
          ('handoff', '  hand-off to worker'),
          ('setup', '  setup: client, ping, image'),
          ('container', '  container: run_container'),
          ('collect', '  collect outputs, finish'),
          ('http', 'HTTP + sync wait + response'),
          ('before', '  request -> job committed'),
          ('after', '  job finished -> response'))


@dataclass
class Results:
    runs: dict[str, list[ades.Run]] = field(default_factory=dict)
    submissions: list[load.Submission] = field(default_factory=list)
    completion: load.Completion | None = None
    concurrent_seconds: float = math.nan
    makespan: float = math.nan
    queue_max: float = math.nan
    wrong_results: list[str] = field(default_factory=list)
    problem_count: int = 0
    problem_lines: list[str] = field(default_factory=list)
    leftovers: list[int] = field(default_factory=list)

    def ok_seconds(self, name: str) -> list[float]:
        return [r.seconds for r in self.runs.get(name, []) if r.ok]

    def failures(self) -> list[tuple[str, ades.Run]]:
        return [(name, r) for name, runs in self.runs.items() for r in runs if not r.ok]

    @property
    def lost(self) -> int:
        failed_submissions = sum(1 for s in self.submissions if not s.ok)
        return failed_submissions + (self.completion.lost if self.completion else 0)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--quick', action='store_true', help='short smoke run')
    parser.add_argument('-n', '--runs', type=int, help='measured sequential runs of each '
                        'kind (default 20, quick 5)')
    parser.add_argument('--warmup', type=int, help='unmeasured runs before each kind '
                        '(default 2, quick 1)')
    parser.add_argument('--concurrent', type=int,
                        help='asynchronous executions submitted at once (default 20)')
    parser.add_argument('--wait', type=float, help='seconds to wait for the concurrent '
                        'jobs to finish (default 120, quick 60)')
    servers.add_server_options(parser)
    args = parser.parse_args(argv)
    servers.apply_preset(args, PRESETS)
    for key in ('runs', 'concurrent', 'wait', 'workers', 'threads', 'job_workers'):
        if getattr(args, key) <= 0:
            parser.error(f'--{key.replace("_", "-")} must be positive')
    if args.warmup < 0:
        parser.error('--warmup must not be negative')
    return args


def say(message: str) -> None:
    print(f'[overhead] {message}', flush=True)


def direct_kinds(root: Path, engine, sandbox: ades.Sandbox, token: str,
                 prefix: str) -> dict:
    """name -> one run of that kind, given a run name (each gets a fresh directory)."""
    docker = ades.docker_cli()
    return {
        DIRECT[0]: lambda name: ades.run_cli(
            docker, sandbox, ades.prepare_dir(root / 'cli', name), token),
        DIRECT[1]: lambda name: ades.run_sdk(
            engine, sandbox, ades.prepare_dir(root / 'sdk', name), token),
        DIRECT[2]: lambda name: ades.run_server_code(
            sandbox, ades.prepare_dir(root / 'runner', name), prefix + name),
    }


def measure_sequential(results: Results, args: argparse.Namespace, kinds: dict) -> None:
    """Round after round, one run of each kind (in a rotating order), so that whatever
    else the machine does meanwhile weighs on every kind alike. The first `--warmup`
    rounds are not measured."""
    names = list(kinds)
    results.runs = {name: [] for name in names}
    say(f'{args.warmup} warm-up + {args.runs} measured rounds, each one run of: '
        + ', '.join(names))
    for round_no in range(args.warmup + args.runs):
        measured = round_no >= args.warmup
        shift = round_no % len(names)
        for name in names[shift:] + names[:shift]:
            run = kinds[name](f'{"run" if measured else "warm"}-{round_no}')
            if measured:
                results.runs[name].append(run)


def add_job_timings(results: Results, url: str, data_dir: Path) -> None:
    """Job record and phases of each measured synchronous execution."""
    with requests.Session() as session:
        for run in results.runs.get(EXECUTE, []):
            if run.job_id:
                run.job = ades.job_record(session, url, run.job_id)
                run.phases = ades.server_phases(run, data_dir)


def measure_concurrent(results: Results, args: argparse.Namespace, url: str) -> None:
    count = args.concurrent
    say(f'{count} asynchronous executions from {count} threads at once')
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=count) as pool:
        submissions = list(pool.map(lambda i: ades.submit_async(url, f'm{i}'), range(count)))
    results.submissions = submissions
    accepted = {s.job_id: f'm{i}' for i, s in enumerate(submissions) if s.ok}
    say(f'{len(accepted)} accepted; waiting up to {args.wait:g} s for them to finish')
    results.completion = load.await_completion(url, list(accepted), args.wait,
                                               min(count, 16))
    results.concurrent_seconds = time.perf_counter() - start
    records = []
    with requests.Session() as session:
        for job_id, message in accepted.items():
            if results.completion.statuses.get(job_id) != 'successful':
                continue
            records.append(ades.job_record(session, url, job_id))
            text = ades.job_result(session, url, job_id)
            if text is None or text.strip() != message:
                results.wrong_results.append(f'{job_id}: {text!r:.80}, expected {message!r}')
    created = [ades.stamp(r.get('created')) for r in records if r.get('created')]
    started = [(ades.stamp(r['started']) - ades.stamp(r['created'])).total_seconds()
               for r in records if r.get('started') and r.get('created')]
    finished = [ades.stamp(r.get('finished')) for r in records if r.get('finished')]
    if created and finished:
        results.makespan = (max(finished) - min(created)).total_seconds()
    if started:
        results.queue_max = max(started)


def measure(results: Results, args: argparse.Namespace, workdir: Path, engine,
            sandbox: ades.Sandbox, token: str, prefix: str) -> None:
    """Start a fresh `eoorder serve`, measure everything, and stop it whatever happens."""
    server = servers.ours(workdir / 'eoorder', servers.free_port(), args.workers,
                          args.threads, args.job_workers)
    data_dir = workdir / 'eoorder' / 'data'
    say(f'starting eoorder serve on {server.url} ({args.job_workers} job workers)')
    try:
        server.start()
        server.wait_ready()
        ades.deploy(server.url)
        say(f'deployed {ades.PACKAGE_FILE.name}')
        kinds = direct_kinds(workdir / 'direct', engine, sandbox, token, prefix)
        session = requests.Session()
        kinds[EXECUTE] = lambda _: ades.execute_sync(session, server.url)
        try:
            measure_sequential(results, args, kinds)
        finally:
            session.close()
        add_job_timings(results, server.url, data_dir)
        measure_concurrent(results, args, server.url)
        server.mark_logs()
    finally:
        say('stopping the server')
        results.leftovers = server.stop()
    results.problem_count, results.problem_lines = server.problems()


# -- report ------------------------------------------------------------------------
def ms(seconds: float) -> str:
    return 'n/a' if math.isnan(seconds) else f'{seconds * 1000:.1f}'


def stat(values: list[float], pct: float) -> float:
    return load.percentile(values, pct)


def overhead(execute: float, base: float) -> float:
    return (execute - base) / base if base and not math.isnan(base) else math.nan


def pct(value: float) -> str:
    return 'n/a' if math.isnan(value) else f'{value * 100:+.1f} %'


def print_wall_table(results: Results) -> None:
    names = [*DIRECT, EXECUTE]
    cli_p50 = stat(results.ok_seconds(DIRECT[0]), 50)

    def row(label, get):
        return (label, *(get(results.ok_seconds(n), n) for n in names))

    rows = [
        row('runs ok / measured', lambda v, n: f'{len(v)}/{len(results.runs.get(n, []))}'),
        row('wall p50 (ms)', lambda v, n: ms(stat(v, 50))),
        row('wall p95 (ms)', lambda v, n: ms(stat(v, 95))),
        row('wall min (ms)', lambda v, n: ms(min(v) if v else math.nan)),
        row('wall max (ms)', lambda v, n: ms(max(v) if v else math.nan)),
        row('p50 vs docker run', lambda v, n: pct(overhead(stat(v, 50), cli_p50))),
    ]
    print_table(rows, names)


def print_phase_table(results: Results) -> None:
    runs = [r for r in results.runs.get(EXECUTE, []) if r.ok and r.phases]
    if not runs:
        print('\n(no job timings could be read)')
        return
    print(f'\n{EXECUTE}: where the time goes ({len(runs)} executions; job record '
          f'timestamps in us, job log in ms)\n')
    rows = [('wall (client)', ms(stat([r.seconds for r in runs], 50)),
             ms(stat([r.seconds for r in runs], 95)))]
    for key, label in PHASES:
        values = [r.phases[key] for r in runs if key in r.phases]
        rows.append((label, ms(stat(values, 50)), ms(stat(values, 95))))
    print_table(rows, ['p50 (ms)', 'p95 (ms)'])


def print_concurrent(results: Results, args: argparse.Namespace) -> None:
    completion = results.completion
    print(f'\n{args.concurrent} concurrent asynchronous executions '
          f'({args.job_workers} job workers)\n')
    submitted = len(results.submissions)
    accepted = sum(1 for s in results.submissions if s.ok)
    latencies = [s.seconds for s in results.submissions]
    rows = [
        ('submitted / accepted (201)', f'{submitted}/{accepted}'),
        ('submit latency p50 / max (ms)',
         f'{ms(stat(latencies, 50))} / {ms(max(latencies, default=math.nan))}'),
        ('successful', str(completion.count('successful') if completion else 0)),
        ('failed or dismissed', str(completion.count('failed', 'dismissed') if completion else 0)),
        ('missing (404)', str(completion.count(load.MISSING) if completion else 0)),
        (f'not final after {args.wait:g} s', str(completion.not_final if completion else 0)),
        ('lost (not successful)', str(results.lost)),
        ('wrong result content', str(len(results.wrong_results))),
        ('wall, first submit -> all seen final (s)', f'{results.concurrent_seconds:.2f}'),
        ('makespan, first created -> last finished (s)', f'{results.makespan:.2f}'),
        ('longest queue wait (s)', f'{results.queue_max:.2f}'),
    ]
    print_table(rows, ['value'])


def print_problems(results: Results) -> None:
    failures = results.failures()
    for name, run in failures[:10]:
        print(f'  {name}: {run.error}')
    for submission in [s for s in results.submissions if not s.ok][:5]:
        print(f'  async submission: {submission.error}')
    if results.completion:
        for status, example in results.completion.examples().items():
            print(f'  {results.completion.count(status)} jobs {status}, e.g. {example}')
    for line in results.wrong_results[:5]:
        print(f'  wrong result: {line}')
    if results.problem_count:
        print(f'  {results.problem_count} problem lines in the server logs, first ones:')
        for line in results.problem_lines:
            print(f'    {line[:300]}')
    if results.leftovers:
        print(f'  processes left after stopping (killed): {results.leftovers}')


def print_verdict(results: Results, args: argparse.Namespace) -> bool:
    cli_p50 = stat(results.ok_seconds(DIRECT[0]), 50)
    sdk_p50 = stat(results.ok_seconds(DIRECT[1]), 50)
    exec_p50 = stat(results.ok_seconds(EXECUTE), 50)
    value = overhead(exec_p50, cli_p50)
    overhead_ok = not math.isnan(value) and value <= TARGET_OVERHEAD
    successful = results.completion.count('successful') if results.completion else 0
    concurrent_ok = (successful == args.concurrent and results.lost == 0
                     and not results.wrong_results)
    print(f'\noverhead (execute p50 - docker run p50) / docker run p50 = ({ms(exec_p50)} - '
          f'{ms(cli_p50)}) / {ms(cli_p50)} ms = {pct(value)} '
          f'(target <= {TARGET_OVERHEAD * 100:g} %: {"met" if overhead_ok else "MISSED"})')
    print(f'  against the docker SDK p50 ({ms(sdk_p50)} ms): {pct(overhead(exec_p50, sdk_p50))}')
    print(f'concurrent: {successful} of {args.concurrent} successful, {results.lost} lost, '
          f'{len(results.wrong_results)} wrong results in {results.concurrent_seconds:.2f} s '
          f'(target {args.concurrent} of {args.concurrent}, none lost: '
          f'{"met" if concurrent_ok else "MISSED"})')
    return overhead_ok and concurrent_ok


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)
    load_at_start = os.getloadavg()[0]
    workdir = Path(tempfile.mkdtemp(prefix='eoorder-overhead-'))
    print(f'work directory: {workdir}', flush=True)
    results = Results()
    token, prefix = ades.new_job_prefix()
    engine = None
    try:
        import docker
        engine = docker.from_env()
        version = engine.version().get('Version', '?')
        sandbox = ades.Sandbox.from_package()
        engine.images.get(sandbox.image)
        measure(results, args, workdir, engine, sandbox, token, prefix)
    except KeyboardInterrupt:
        print(f'interrupted; server stopped; files kept in {workdir}', file=sys.stderr)
        return 130
    except Exception as err:  # docker, HTTP or server start-up failures
        print(f'error: {type(err).__name__}: {err}\nfiles kept in {workdir}', file=sys.stderr)
        return 2
    finally:
        if engine is not None:
            removed = ades.remove_leftovers(engine, token, prefix)
            if removed:
                print(f'removed {removed} leftover container(s)', file=sys.stderr)
            engine.close()
    print(f'\n{sandbox.image}, Docker engine {version}; {args.runs} sequential runs of each '
          f'kind after {args.warmup} warm-up; gunicorn {args.workers} x {args.threads}; '
          f'{os.cpu_count()} CPUs, load average at start {load_at_start:.2f}\n')
    print_wall_table(results)
    print_phase_table(results)
    print_concurrent(results, args)
    problems = bool(results.failures() or results.lost or results.wrong_results
                    or results.problem_count or results.leftovers)
    if problems:
        print('\nproblems:')
        print_problems(results)
    met = print_verdict(results, args)
    if problems or args.keep:
        print(f'\nfiles kept in {workdir}')
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0 if met else 1


if __name__ == '__main__':
    sys.exit(main())
