"""OSEO Submit and GetStatus against the floor of parsing + XSD-validating the request.

In one run, on loopback, with N orders in the store (default 10,000, one item each):

- floor (in process): `oseo_floor.floor` - the server's safe parser and its OSEO schema
  set - on the request bytes, in this process;
- floor (HTTP): the same, served by gunicorn exactly like `eoorder serve` (gthread,
  same workers, threads, timeout and access log) from `oseo_floor:app`;
- Submit and GetStatus (orderId, full) POSTed to `eoorder serve` (plain XML binding,
  responses schema-validated: `ordering.validate_responses`, the default).

The four HTTP series run in rounds, one request of each per round in a rotating order,
so that whatever else the machine does weighs on all of them alike. A Submit is
automatically approved by default (`--moderation auto`: the order is committed with its
item job before the SubmitAck); after each Submit the round waits, untimed, until the job
engine has no queued or running job, so that item processing weighs on no measurement.

Targets: Submit median <= 3x the HTTP floor's median; GetStatus p95 <= 20 ms.
Exit status: 0 targets met, 1 a target missed, 2 a request or server failed.

    .venv/bin/python benchmarks/oseo_bench.py [--orders 10000] [--requests 300]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import requests

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path[:0] = [str(REPO), str(BENCH)]

from tests.conftest import Server  # noqa: E402
from tests.support import oseo  # noqa: E402

os.environ['EOORDER_OSEO_SCHEMAS'] = str(oseo.SCHEMAS)  # the floor's schema set
import bench_servers  # noqa: E402
import oseo_floor  # noqa: E402

SUBMIT_TARGET, STATUS_P95_TARGET = 3.0, 20.0
WORKERS, THREADS = 2, 8  # as tests.conftest.Server starts `eoorder serve`
HEADERS = {'Content-Type': 'application/xml'}
ACCESS_FORMAT = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms'  # as pygeoapi_eoorder.serve


def _ms(values: list[float], q: float | None = None) -> float:
    """Median (q None) or the q-quantile of `values` (seconds), in milliseconds."""
    if q is None:
        return statistics.median(values) * 1e3
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1e3


def _seed(server: Server, count: int) -> list[str]:
    """Insert completed orders through the repository, as Submit stores them."""
    from pygeoapi_eoorder import config
    from pygeoapi_eoorder.ordering.repository import OrderRepository
    from pygeoapi_eoorder.store import get_store
    _, settings = config.load(server.config)
    repo = OrderRepository(get_store(settings.store_url))
    item_xml = oseo.item('a', 'p1').replace('<orderItem>', f'<orderItem xmlns="{oseo.OSEO}">')
    spec = (f'<orderSpecification xmlns="{oseo.OSEO}"><orderReference>seed</orderReference>'
            f'<orderType>PRODUCT_ORDER</orderType></orderSpecification>')
    ids = []
    for _ in range(count):
        order_id = str(uuid.uuid4())
        repo.create({'id': order_id, 'reference': 'seed', 'order_type': 'PRODUCT_ORDER',
                     'massive': False, 'status': 'Completed', 'owner': 'anonymous',
                     'status_notification': 'None', 'binding': 'xml', 'request_xml': spec},
                    [{'id': str(uuid.uuid4()), 'position': 0, 'item_id': 'a',
                      'kind': 'product', 'collection_id': 'test-collection',
                      'identifier': 'p1', 'status': 'Completed', 'item_xml': item_xml}],
                    'seeded')
        ids.append(order_id)
    return ids


def _floor_server(directory: Path, workers: int, threads: int) -> bench_servers.Server:
    """gunicorn serving oseo_floor:app with the options `eoorder serve` uses."""
    directory.mkdir()
    port = bench_servers.free_port()
    env = {**os.environ, 'PYTHONPATH': os.pathsep.join([str(BENCH), str(REPO)])}
    cmd = [sys.executable, '-m', 'gunicorn', '--bind', f'127.0.0.1:{port}',
           '--workers', str(workers), '--threads', str(threads), '--worker-class', 'gthread',
           '--timeout', '0', '--graceful-timeout', '10', '--access-logfile', '-',
           '--error-logfile', '-', '--log-level', 'info', '--access-logformat',
           ACCESS_FORMAT, 'oseo_floor:app']
    return bench_servers.Server('floor', f'http://127.0.0.1:{port}', cmd, env, directory)


class Engine:
    """Reads the job table of the server's store (to wait until item jobs are done)."""

    def __init__(self, database: Path):
        self.connection = sqlite3.connect(f'file:{database}?mode=ro', uri=True, timeout=30)

    def busy(self) -> int:
        return self.connection.execute(
            "SELECT count(*) FROM eoorder_job WHERE status IN ('accepted', 'running')"
        ).fetchone()[0]

    def wait_idle(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while self.busy():
            if time.monotonic() > deadline:
                raise RuntimeError(f'job engine still busy after {timeout:.0f} s')
            time.sleep(0.005)

    def statuses(self, order_ids: list[str]) -> dict[str, int]:
        counts: dict[str, int] = {}
        for start in range(0, len(order_ids), 500):
            chunk = order_ids[start:start + 500]
            rows = self.connection.execute(
                f'SELECT status, count(*) FROM eoorder_order WHERE id IN '
                f'({",".join("?" * len(chunk))}) GROUP BY status', chunk)
            for status, count in rows:
                counts[status] = counts.get(status, 0) + count
        return counts


def _post(session: requests.Session, url: str, body: bytes, expect: bytes) -> float:
    start = time.perf_counter()
    reply = session.post(url, data=body, headers=HEADERS, timeout=60)
    seconds = time.perf_counter() - start
    if reply.status_code != 200 or expect not in reply.content:
        raise RuntimeError(f'{url}: {reply.status_code} {reply.text[:2000]}')
    return seconds


def _table(results: dict[str, list[float]], inproc: dict[str, list[float]]) -> None:
    print(f'{"":22}{"Submit request":>22}{"GetStatus request":>22}')
    print(f'{"ms":22}{"median":>11}{"p95":>11}{"median":>11}{"p95":>11}')
    rows = [('floor (in process)', inproc['submit'], inproc['status']),
            ('floor (HTTP)', results['floor-submit'], results['floor-status']),
            ('eoorder', results['submit'], results['status'])]
    for name, submit, status in rows:
        print(f'{name:22}{_ms(submit):11.3f}{_ms(submit, .95):11.3f}'
              f'{_ms(status):11.3f}{_ms(status, .95):11.3f}')


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--orders', type=int, default=10000, help='orders seeded in the store')
    parser.add_argument('--requests', type=int, default=300, help='measured rounds')
    parser.add_argument('--warmup', type=int, default=20, help='unmeasured rounds first')
    parser.add_argument('--moderation', choices=('auto', 'manual'), default='auto',
                        help='product orders approved automatically (item jobs run) or not')
    parser.add_argument('--keep', action='store_true', help='keep the work directory')
    args = parser.parse_args()

    directory = Path(tempfile.mkdtemp(prefix='oseo-bench-'))
    root = directory / 'products'
    oseo.make_products(root, ['p1'])
    block = oseo.eoorder_block(root, moderation={'product': args.moderation},
                               limits={'max_active_items_per_user': 10 ** 9},
                               validate_responses=True)
    server = Server(directory, block, {})
    floor_server = _floor_server(directory / 'floor', WORKERS, THREADS)
    failed = False
    try:
        server.start()
        floor_server.start()
        floor_server.wait_ready()
        print(f'seeding {args.orders} orders ...', flush=True)
        started = time.perf_counter()
        ids = _seed(server, args.orders)
        print(f'seeded in {time.perf_counter() - started:.1f} s', flush=True)
        engine = Engine(server.data_dir / 'eoorder.db')
        submit = oseo.submit(oseo.item('a', 'p1')).encode()
        sessions = {'eoorder': requests.Session(), 'floor': requests.Session()}
        urls = {'eoorder': f'{server.url}/oseo', 'floor': f'{floor_server.url}/oseo'}

        def run(series: str, body: bytes) -> float:
            if series.startswith('floor'):
                return _post(sessions['floor'], urls['floor'], body, b'<valid/>')
            expect = b'SubmitAck' if series == 'submit' else b'GetStatusResponse'
            seconds = _post(sessions['eoorder'], urls['eoorder'], body, expect)
            if series == 'submit':
                engine.wait_idle()  # untimed: item processing weighs on no measurement
            return seconds

        names = ['floor-submit', 'submit', 'floor-status', 'status']
        results: dict[str, list[float]] = {name: [] for name in names}
        for n in range(-args.warmup, args.requests):
            status = oseo.get_status(ids[(n * 7919) % len(ids)]).encode()
            bodies = {'floor-submit': submit, 'submit': submit, 'floor-status': status,
                      'status': status}
            for k in range(len(names)):
                name = names[(n + k) % len(names)]
                seconds = run(name, bodies[name])
                if n >= 0:
                    results[name].append(seconds)
        inproc = {}
        for name, body in (('submit', submit), ('status', status)):
            assert oseo_floor.floor(body), f'the {name} request is not schema-valid'
            times = []
            for _ in range(args.requests):
                start = time.perf_counter()
                oseo_floor.floor(body)
                times.append(time.perf_counter() - start)
            inproc[name] = times
        engine.wait_idle()
        submitted = [o for o, in engine.connection.execute(
            "SELECT id FROM eoorder_order WHERE reference = 'ref-1'")]
        final = engine.statuses(submitted)
    except (RuntimeError, AssertionError, requests.RequestException) as err:
        print(f'oseo_bench: {err}', file=sys.stderr)
        failed = True
    finally:
        server.stop()
        floor_server.stop()
    if failed:
        print(f'work directory kept: {directory}', file=sys.stderr)
        return 2

    print(f'{args.orders} orders in the store; {args.requests} rounds after {args.warmup} '
          f'warm-up; gunicorn gthread {WORKERS} workers x {THREADS} threads for '
          f'both servers; {os.cpu_count()} CPUs, load average '
          f'{", ".join(f"{x:.2f}" for x in os.getloadavg())}')
    print(f'Submit: moderation {args.moderation}; responses schema-validated; '
          f'submitted orders by status: {final}')
    _table(results, inproc)
    ratio = _ms(results['submit']) / _ms(results['floor-submit'])
    p95 = _ms(results['status'], .95)
    submit_ok, status_ok = ratio <= SUBMIT_TARGET, p95 <= STATUS_P95_TARGET
    print(f'Submit median / floor (HTTP) median: {ratio:.2f}x (target <= {SUBMIT_TARGET:g}x: '
          f'{"met" if submit_ok else "MISSED"})')
    print(f'GetStatus p95: {p95:.2f} ms (target <= {STATUS_P95_TARGET:g} ms: '
          f'{"met" if status_ok else "MISSED"})')
    if args.keep:
        print(f'work directory kept: {directory}')
    else:
        shutil.rmtree(directory, ignore_errors=True)
    return 0 if submit_ok and status_ok else 1


if __name__ == '__main__':
    sys.exit(main())
