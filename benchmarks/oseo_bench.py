"""OSEO Submit and GetStatus against the floor of lxml parse + XSD validation.

Starts `eoorder serve` on loopback with ordering enabled (manual moderation, so the
measured Submits commit orders but queue no work), seeds the store with N orders
(default 10,000; each with one item), then times, in one run:

- floor: lxml parse + XSD validation of the same Submit / GetStatus request, in process;
- Submit over HTTP (plain XML POST), and GetStatus (orderId, full) over HTTP.

Prints medians, p95 and the ratios to the floor. Targets: Submit <= 3x floor (median),
GetStatus p95 <= 20 ms.

    /work/venv/bin/python benchmarks/oseo_bench.py [--orders 10000] [--requests 300]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import requests
from lxml import etree

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.conftest import Server  # noqa: E402
from tests.support import oseo  # noqa: E402


def _p(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] * 1e3


def _floor(body: bytes, n: int) -> list[float]:
    schemas = oseo._SCHEMAS
    times = []
    for _ in range(n):
        start = time.perf_counter()
        schemas.errors(etree.fromstring(body))
        times.append(time.perf_counter() - start)
    return times


def _seed(server: Server, count: int) -> list[str]:
    """Insert orders straight through the repository (as Submit would store them)."""
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument('--orders', type=int, default=10000)
    parser.add_argument('--requests', type=int, default=300)
    args = parser.parse_args()
    directory = Path(tempfile.mkdtemp(prefix='oseo-bench-'))
    root = directory / 'products'
    oseo.make_products(root, ['p1'])
    block = oseo.eoorder_block(root, moderation={'product': 'manual'},
                               limits={'max_active_items_per_user': 10 ** 9},
                               validate_responses=True)
    server = Server(directory, block, {}).start()
    try:
        print(f'seeding {args.orders} orders ...', flush=True)
        ids = _seed(server, args.orders)
        submit = oseo.submit(oseo.item('a', 'p1')).encode()
        status = oseo.get_status(ids[len(ids) // 2]).encode()
        session = requests.Session()
        for body in (submit, status):  # warm-up
            for _ in range(20):
                session.post(f'{server.url}/oseo', data=body, timeout=30)
        results = {}
        for name, body in (('Submit', submit), ('GetStatus', status)):
            floor = _floor(body, args.requests)
            times = []
            for n in range(args.requests):
                if name == 'GetStatus':
                    body = oseo.get_status(ids[(n * 7919) % len(ids)]).encode()
                start = time.perf_counter()
                reply = session.post(f'{server.url}/oseo', data=body, timeout=30)
                times.append(time.perf_counter() - start)
                assert reply.status_code == 200, reply.text
            results[name] = (floor, times)
        print(f'{args.orders} orders in the store, {args.requests} requests each, HTTP on '
              'loopback (gunicorn, 2 workers x 8 threads), responses schema-validated')
        print(f'{"":10} {"floor med":>10} {"med ms":>8} {"p95 ms":>8} {"x floor":>8}')
        for name, (floor, times) in results.items():
            f_med, med = statistics.median(floor) * 1e3, statistics.median(times) * 1e3
            print(f'{name:10} {f_med:10.3f} {med:8.2f} {_p(times, .95):8.2f} '
                  f'{med / f_med:8.1f}')
    finally:
        server.stop()


if __name__ == '__main__':
    main()
