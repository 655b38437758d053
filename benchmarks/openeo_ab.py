"""openEO overhead, before and after a change: the servers of two source trees measured
side by side in one run, rounds interleaved.

Single runs of `openeo_overhead.py` drift with the machine (the same code: ±3 ms on a
40 ms graph between runs minutes apart, one small request 1.0 to 2.3 ms), more than most
changes to the path move it. Here both servers run at once and each round measures both
(which one goes first alternates), so a drift hits both alike; the paired per-round
differences (after − before) give the change.

  python benchmarks/openeo_ab.py --before REV [--after REV] [--runs N]

`--before`/`--after`: git revisions of this repository (exported to a temporary tree);
`--after` defaults to the working tree. The direct run (the graph in this process) is the
same code for both, measured in each round beside them: only `ready − direct` of each
side and the paired differences mean anything. Prints per side the p50 of results ready
(NDVI batch job), of the floor (a graph computing nothing) and of its claim, and the
paired differences' median; then the CPU each server spent per round (its NDVI and floor
jobs, by kind of process, `bench_cpu.py`); the latencies move by about ±1 ms by
themselves.

Measure a change both ways: on 2026-12-06 an A/A run (the same code on both sides) gave
−1.2 to −1.4 ms on results ready and −1.7 to −2.5 ms of server CPU a round in favour of
`after`, the server started second, and a change swapped favoured its old code by as much
(benchmarks/README, stop 37). The change is then (its `after − before` − the swapped
run's) / 2, for the CPU as for the latencies.
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
from openeo_overhead import (GRAPH, NOTHING, REPO, direct_runner, phases, settle,
                             start_server, through_api)


def source_tree(revision: str | None, into: Path) -> Path:
    """The repository at `revision` exported under `into` (None: the working tree)."""
    if revision is None:
        return REPO
    target = into / revision.replace('/', '_')
    target.mkdir()
    archive = subprocess.run(['git', '-C', str(REPO), 'archive', revision],
                             check=True, capture_output=True).stdout
    subprocess.run(['tar', '-x', '-C', str(target)], input=archive, check=True)
    return target


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--before', required=True)
    parser.add_argument('--after', default=None)
    parser.add_argument('--runs', type=int, default=40)
    parser.add_argument('--warmup', type=int, default=2)
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix='openeo-ab-'))
    sides: dict[str, dict] = {}
    try:
        for name, revision in (('before', args.before), ('after', args.after)):
            code = source_tree(revision, scratch)
            workdir = scratch / f'{name}-run'
            workdir.mkdir()
            process, url, config = start_server(workdir, code)
            sides[name] = {'process': process, 'url': url, 'session': requests.Session(),
                           'config': config, 'workdir': workdir,
                           'ready': [], 'floor': [], 'direct': [], 'floors': []}
        for side in sides.values():
            settle(side['process'], side['url'])
            side['meter'] = CpuMeter(side['process'].pid)
        direct = direct_runner(sides['after']['config'], sides['after']['workdir'])
        order = list(sides.values())
        for round_ in range(args.warmup + args.runs):
            for side in order if round_ % 2 == 0 else order[::-1]:
                metering = side['meter'] if round_ >= args.warmup else None
                if metering is not None:
                    metering.start()
                ready = through_api(side['session'], side['url'], GRAPH)['ready']
                alone = direct()
                floor = through_api(side['session'], side['url'], NOTHING)
                if metering is not None:
                    metering.stop()
                if round_ >= args.warmup:
                    side['ready'].append(ready * 1000)
                    side['direct'].append(alone * 1000)
                    side['floor'].append(floor['ready'] * 1000)
                    side['floors'].append(floor)
        for side in sides.values():
            side['claimed'] = phases(side['session'], side['url'], side['floors'])['claimed']
    finally:
        for side in sides.values():
            os.killpg(side['process'].pid, signal.SIGTERM)
            side['process'].wait(30)
        shutil.rmtree(scratch, ignore_errors=True)
    p50 = statistics.median
    print(f'runs: {args.runs} rounds (after {args.warmup} warm-up rounds), '
          f'before {args.before}, after {args.after or "the working tree"}')
    for name, side in sides.items():
        excess = p50(r - d for r, d in zip(side['ready'], side['direct']))
        print(f'{name:6s} results ready p50 {p50(side["ready"]):6.1f} ms, direct '
              f'{p50(side["direct"]):6.1f}, ready - direct {excess:5.1f}; floor '
              f'{p50(side["floor"]):5.1f} (claimed at {side["claimed"]:.2f})')
    for what in ('ready', 'floor'):
        paired = [a - b for a, b in zip(sides['after'][what], sides['before'][what])]
        print(f'after - before, {what}: median of the paired differences '
              f'{p50(paired):+.2f} ms')
    print('server CPU per round (an NDVI job and a floor job), ms:')
    totals = {}
    for name, side in sides.items():
        spent = {role: seconds * 1000 / args.runs
                 for role, seconds in sorted(side['meter'].spent.items())}
        totals[name] = sum(spent.values())
        print(f'  {name:6s} total {totals[name]:6.1f}  ' + ', '.join(
            f'{role} {ms:.1f}' for role, ms in spent.items()))
    print(f'after - before, CPU per round: {totals["after"] - totals["before"]:+.2f} ms')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
