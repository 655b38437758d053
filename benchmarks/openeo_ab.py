"""openEO overhead, before and after a change: the servers of two source trees measured
side by side in one run, rounds interleaved.

Single runs of `openeo_overhead.py` drift with the machine (the same code: ±3 ms on a
40 ms graph between runs minutes apart, one small request 1.0 to 2.3 ms), more than most
changes to the path move it. Here both servers run at once and each round measures both
(which one goes first alternates), so a drift hits both alike; the paired per-round
differences (after − before) give the change.

  python benchmarks/openeo_ab.py --before REV [--after REV] [--runs N] [--pairs K]

`--before`/`--after`: git revisions of this repository (exported to a temporary tree);
`--after` defaults to the working tree. Each side's direct run (the graph in a process of
its own, `DirectProcess`, with that side's code, data and store) is measured in each round
beside its server: only `ready − direct` of each side and the paired differences mean
anything. Prints per side the p50 of results ready
(NDVI batch job), of the floor (a graph computing nothing) and of its claim, and the
paired differences' median; then the CPU each server spent per round (its NDVI and floor
jobs, by kind of process, `bench_cpu.py`); the latencies move by about ±1 ms by
themselves.

Servers differ among themselves: pairs of fresh servers of the same code differ by
about ±1 ms on results ready (A/A runs on 2026-12-06, benchmarks/README stop 38; the
≈ 1 ms favour of `after` seen until then is within that spread). So each side's direct
run reads its own data and store (not the `after` side's for both), and the rounds run
on `--pairs` pairs of fresh servers one after the other (default 2; the side started
first alternates): each pair's figures are printed, then the paired differences of all
pairs, and the mean paired median by the side started first. A change under ≈ 0.6 ms is
not resolved even by four pairs.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import tempfile
from pathlib import Path

import requests

from bench_cpu import CpuMeter
from openeo_overhead import (GRAPH, NOTHING, REPO, DirectProcess, phases, settle,
                             start_server, through_api)


def source_tree(revision: str | None, into: Path) -> Path:
    """The repository at `revision` exported into the new folder `into` (None: the
    working tree)."""
    if revision is None:
        return REPO
    target = into
    target.mkdir()
    archive = subprocess.run(['git', '-C', str(REPO), 'archive', revision],
                             check=True, capture_output=True).stdout
    subprocess.run(['tar', '-x', '-C', str(target)], input=archive, check=True)
    return target


def _start_side(name: str, code: Path, scratch: Path, pair: int) -> dict:
    workdir = scratch / f'{name}-run-{pair}'
    workdir.mkdir()
    process, url, config = start_server(workdir, code)
    return {'process': process, 'url': url, 'session': requests.Session(), 'config': config,
            'workdir': workdir, 'code': code}


def _measure_pair(sides: dict[str, dict], runs: int, warmup: int) -> dict[str, dict]:
    """`runs` rounds on both running servers (which one goes first alternates); each
    side's times, its floor jobs and the CPU its processes spent."""
    found = {name: {'ready': [], 'floor': [], 'direct': [], 'floors': []} for name in sides}
    for side in sides.values():
        settle(side['process'], side['url'])
        side['meter'] = CpuMeter(side['process'].pid)
        side['direct'] = DirectProcess(side['config'], side['workdir'], code=side['code'])
    order = list(sides)
    for round_ in range(warmup + runs):
        for name in order if round_ % 2 == 0 else order[::-1]:
            side, times = sides[name], found[name]
            metering = side['meter'] if round_ >= warmup else None
            if metering is not None:
                metering.start()
            ready = through_api(side['session'], side['url'], GRAPH)['ready']
            alone = side['direct']()  # (each side's own data and store)
            floor = through_api(side['session'], side['url'], NOTHING)
            if metering is not None:
                metering.stop()
            if round_ >= warmup:
                times['ready'].append(ready * 1000)
                times['direct'].append(alone * 1000)
                times['floor'].append(floor['ready'] * 1000)
                times['floors'].append(floor)
    for name, side in sides.items():
        found[name]['claimed'] = phases(side['session'], side['url'],
                                        found[name]['floors'])['claimed']
        found[name]['cpu'] = dict(side['meter'].spent)
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--before', required=True)
    parser.add_argument('--after', default=None)
    parser.add_argument('--runs', type=int, default=40, help='rounds of each pair')
    parser.add_argument('--pairs', type=int, default=2,
                        help='pairs of fresh servers; the first of each pair to start '
                             'alternates (an even number balances the start order)')
    parser.add_argument('--warmup', type=int, default=2)
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix='openeo-ab-'))
    codes = {name: source_tree(revision, scratch / f'{name}-code')
             for name, revision in (('before', args.before), ('after', args.after))}
    pairs: list[tuple[str, dict]] = []
    try:
        for pair in range(args.pairs):
            first = ('before', 'after') if pair % 2 == 0 else ('after', 'before')
            sides: dict[str, dict] = {}
            try:
                for name in first:
                    sides[name] = _start_side(name, codes[name], scratch, pair)
                pairs.append((first[0], _measure_pair(sides, args.runs, args.warmup)))
            finally:
                for side in sides.values():
                    if 'direct' in side:
                        side['direct'].close()
                    os.killpg(side['process'].pid, signal.SIGTERM)
                    side['process'].wait(30)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    _report(args, pairs)
    return 0


def _paired(found: dict, what: str) -> list[float]:
    return [a - b for a, b in zip(found['after'][what], found['before'][what])]


def _report(args, pairs: list[tuple[str, dict]]) -> None:
    p50 = statistics.median
    print(f'{args.pairs} pair(s) of servers x {args.runs} rounds (after {args.warmup} '
          f'warm-up rounds), before {args.before}, after {args.after or "the working tree"}')
    for index, (first, found) in enumerate(pairs):
        print(f'pair {index + 1} ({first} started first):')
        for name in ('before', 'after'):
            side = found[name]
            excess = p50(r - d for r, d in zip(side['ready'], side['direct']))
            print(f'  {name:6s} results ready p50 {p50(side["ready"]):6.1f} ms, direct '
                  f'{p50(side["direct"]):6.1f}, ready - direct {excess:5.1f}; floor '
                  f'{p50(side["floor"]):5.1f} (claimed at {side["claimed"]:.2f})')
        cpu = _cpu(found['after'], args.runs) - _cpu(found['before'], args.runs)
        print(f'  after - before, ready: {p50(_paired(found, "ready")):+.2f} ms (paired '
              f'median), CPU a round: {cpu:+.2f} ms')
    for what in ('ready', 'floor'):
        every = [d for _, found in pairs for d in _paired(found, what)]
        print(f'after - before, {what}, all pairs: median of the paired differences '
              f'{p50(every):+.2f} ms')
    if len(pairs) > 1:
        by_first: dict[str, list[float]] = {}
        for first, found in pairs:
            by_first.setdefault(first, []).append(p50(_paired(found, 'ready')))
        print('pairs by the side started first (ready, paired medians): ' + ', '.join(
            f'{first} first {statistics.mean(values):+.2f}' for first, values in by_first.items()))
    print('server CPU a round (an NDVI job and a floor job), ms, all pairs:')
    for name in ('before', 'after'):
        roles: dict[str, float] = {}
        for _, found in pairs:
            for role, seconds in found[name]['cpu'].items():
                roles[role] = roles.get(role, 0.0) + seconds * 1000 / (args.runs * len(pairs))
        print(f'  {name:6s} total {sum(roles.values()):6.1f}  ' + ', '.join(
            f'{role} {ms:.1f}' for role, ms in sorted(roles.items())))


def _cpu(side: dict, runs: int) -> float:
    return sum(side['cpu'].values()) * 1000 / runs


if __name__ == '__main__':
    raise SystemExit(main())
