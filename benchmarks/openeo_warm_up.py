"""openEO worker warm-up: how long the first batch job of a fresh server takes with and
without the job workers importing the data-cube libraries when they start
(`openeo.warm_up_workers`).

For each setting: a fresh `eoorder serve` (the embedded default), an idle pause (the
warm-up runs in the background meanwhile), then the NDVI graph of `openeo_overhead.py`
as a batch job, submit to results ready, twice (first and second job).
Run with the virtualenv's Python:  python benchmarks/openeo_warm_up.py [--pause S]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import requests  # noqa: E402
from openeo_overhead import GRAPH, start_server, through_api  # noqa: E402


def first_jobs(warm_up: bool, pause: float) -> tuple[float, float]:
    workdir = Path(tempfile.mkdtemp(prefix='openeo-warm-'))
    process, url, _ = start_server(workdir, openeo={'warm_up_workers': warm_up})
    try:
        time.sleep(pause)
        session = requests.Session()
        return (through_api(session, url, GRAPH)['ready'],
                through_api(session, url, GRAPH)['ready'])
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(30)
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--pause', type=float, default=20.0,
                        help='seconds between the server answering and the first job')
    args = parser.parse_args()
    for warm_up in (False, True):
        first, second = first_jobs(warm_up, args.pause)
        print(f'warm_up_workers={str(warm_up).lower():5}  first job {first * 1000:8.1f} ms  '
              f'second job {second * 1000:8.1f} ms')
    return 0


if __name__ == '__main__':
    sys.exit(main())
