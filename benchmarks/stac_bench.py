"""STAC API benchmark: this package's STAC API (`/stac`) against stac-fastapi-pgstac, side
by side in one run, on the same PostgreSQL/PostGIS server, the same synthetic items and the
same STAC searches (POST /search, over HTTP on loopback):

  - bbox + datetime
  - bbox + datetime + CQL2 on a property (platform)
  - bbox + datetime sorted by datetime (descending)
  - bbox + datetime, following `next` links to page 10 (time to reach page 10)

Bulk loads are timed too (ours: the catalogue's bulk insert; pgSTAC: `pypgstac load`).
Each side has its own database. Prints p50/p95 in ms, matches, and ratios ours/pgSTAC.

    scripts/catalogue-services      # PostGIS, and stac-fastapi-pgstac + pypgstac in a venv
    .venv/bin/python benchmarks/stac_bench.py [--items 100000] [--queries 30]
(also run by `benchmarks/catalogue_bench.py --stac-items N`)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / 'benchmarks'))

from catalogue_bench import (TOOLS, ensure_database, iso, load_sql, queries,  # noqa: E402
                             summary, synthetic, timed)
from tests.conftest import Server, free_port  # noqa: E402

OURS_URL = 'postgresql+psycopg://postgres@127.0.0.1:5432/eoorder_bench_stac'
PGSTAC_DB = 'eoorder_bench_pgstac'
COLLECTION = 'bench'
PROVIDER = 'pygeoapi_eoorder.catalogue.sql_provider.SQLRecordProvider'


def stac_item(document: dict) -> dict:
    """The synthetic record as the STAC item our API serves for it (same fields)."""
    from shapely.geometry import shape
    start, end = document['time']['interval']
    props = document['properties']
    return {'type': 'Feature', 'stac_version': '1.1.0', 'stac_extensions': [],
            'id': document['id'], 'collection': COLLECTION, 'geometry': document['geometry'],
            'bbox': list(shape(document['geometry']).bounds),
            'properties': {'datetime': start, 'start_datetime': start, 'end_datetime': end,
                           'title': props['title'], 'platform': props['platform'],
                           'eo:cloud_cover': props['cloudCover'],
                           'product:type': props['productType'],
                           'sat:absolute_orbit': props['orbitNumber']},
            'links': [], 'assets': {'data': {'href': document['links'][0]['href'],
                                             'roles': ['data']}}}


def pg_env() -> dict:
    return dict(os.environ, PGUSER='postgres', PGPASSWORD='postgres', PGHOST='127.0.0.1',
                PGPORT='5432', PGDATABASE=PGSTAC_DB)


def load_pgstac(directory: Path, count: int) -> float:
    """A fresh pgSTAC database with the items; returns the load time in seconds."""
    import psycopg
    with psycopg.connect('postgresql://postgres@127.0.0.1:5432/postgres',
                         autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{PGSTAC_DB}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{PGSTAC_DB}"')
    pypgstac = str(TOOLS / 'stac' / 'bin' / 'pypgstac')
    subprocess.run([pypgstac, 'migrate'], env=pg_env(), check=True, capture_output=True)
    collection = directory / 'collection.json'
    collection.write_text(json.dumps({
        'type': 'Collection', 'stac_version': '1.1.0', 'id': COLLECTION, 'license': 'other',
        'description': 'benchmark items', 'links': [],
        'extent': {'spatial': {'bbox': [[-180, -90, 180, 90]]},
                   'temporal': {'interval': [['2020-01-01T00:00:00Z', None]]}}}))
    subprocess.run([pypgstac, 'load', 'collections', str(collection), '--method', 'upsert'],
                   env=pg_env(), check=True, capture_output=True)
    items = directory / 'items.ndjson'
    with items.open('w') as out:
        for document in synthetic(count):
            out.write(json.dumps(stac_item(document)) + '\n')
    started = time.monotonic()
    subprocess.run([pypgstac, 'load', 'items', str(items), '--method', 'insert'],
                   env=pg_env(), check=True, capture_output=True)
    return time.monotonic() - started


class PgstacServer:
    """stac-fastapi-pgstac under uvicorn on the benchmark's pgSTAC database."""

    def __init__(self, directory: Path):
        self.url = f'http://127.0.0.1:{free_port()}'
        log = (directory / 'pgstac.log').open('ab')
        self.process = subprocess.Popen(
            [str(TOOLS / 'stac' / 'bin' / 'uvicorn'), 'stac_fastapi.pgstac.app:create_app',
             '--factory', '--host', '127.0.0.1', '--port', self.url.rsplit(':', 1)[1],
             '--log-level', 'warning', '--workers', '2'],
            stdout=log, stderr=subprocess.STDOUT, env=pg_env(), start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(self.url + '/', timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                time.sleep(0.3)
        raise RuntimeError('stac-fastapi-pgstac did not start')

    def stop(self) -> None:
        os.killpg(self.process.pid, 15)
        self.process.wait(20)


def body(q: dict, kind: str) -> dict:
    bbox, end = q['bbox'], q['end']
    if kind == 'page10':  # a wider area and a year: enough matches for ten pages
        bbox = [max(-180, bbox[0] - 15), max(-90, bbox[1] - 15), min(180, bbox[2] + 15),
                min(90, bbox[3] + 15)]
        end = q['start'] + timedelta(days=365)
    search = {'collections': [COLLECTION], 'bbox': bbox, 'limit': 10,
              'datetime': f'{iso(q["start"])}/{iso(end)}'}
    if kind == 'cql2':
        search.update({'filter-lang': 'cql2-json', 'filter': {
            'op': '=', 'args': [{'property': 'platform'}, q['platform']]}})
    if kind == 'sorted':
        search['sortby'] = [{'field': 'properties.datetime', 'direction': 'desc'}]
    return search


def searcher(session: requests.Session, root: str, kind: str):
    def run(q: dict) -> int:
        reply = session.post(f'{root}/search', json=body(q, kind), timeout=120)
        reply.raise_for_status()
        page, pages = reply.json(), 1
        while kind == 'page10' and pages < 10:
            following = [link for link in page['links'] if link['rel'] == 'next']
            if not following:
                break
            link = following[0]
            payload = ({**body(q, kind), **link['body']} if link.get('merge')
                       else link.get('body'))
            reply = session.request(link.get('method', 'GET'), link['href'], json=payload,
                                    timeout=120)
            reply.raise_for_status()
            page, pages = reply.json(), pages + 1
        return pages if kind == 'page10' else len(page['features'])
    return run


def compare(session, ours: str, theirs: str, qs: list[dict]) -> None:
    for root in (ours, theirs):  # both warm (caches, connections) before any timing
        for kind in ('plain', 'cql2', 'sorted'):
            for q in qs:
                searcher(session, root, kind)(q)
    for kind, title in (('plain', 'bbox+datetime'), ('cql2', 'bbox+datetime+CQL2'),
                        ('sorted', 'bbox+datetime sorted by datetime'),
                        ('page10', 'bbox+datetime to page 10 (pages reached)')):
        results = {}
        for name, root in (('eoorder', ours), ('pgSTAC', theirs)):
            times, matched = timed(searcher(session, root, kind), qs)
            results[name] = summary(times)
            print(f'  {name:<8} {title:<42} p50 {results[name][0]:8.1f} ms  '
                  f'p95 {results[name][1]:8.1f} ms  returned/pages '
                  f'{sum(matched) / len(matched):8.1f}', flush=True)
        ratio = results['eoorder'][1] / results['pgSTAC'][1]
        print(f'  {"":<8} p95 ratio ours/pgSTAC {ratio:5.2f}  '
              f'({"target met" if ratio <= 1 else "target NOT met"})', flush=True)


def fresh_database(url: str) -> None:
    """Our side starts from a new database too, as pgSTAC's does (no dead rows of earlier
    runs in the table and its indexes); before this process opens the store there."""
    import psycopg
    name = url.rsplit('/', 1)[1]
    with psycopg.connect('postgresql://postgres@127.0.0.1:5432/postgres',
                         autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    ensure_database(url)


def load_both(tmp: Path, count: int, ours_url: str) -> None:
    """Fresh loads of the same items on both sides (new databases), timed."""
    fresh_database(ours_url)
    ours_load = load_sql(ours_url, f'stacbench-{count}', count)
    theirs_load = load_pgstac(tmp, count)
    print(f'  bulk load: eoorder {count / ours_load:8.0f} items/s, pgSTAC '
          f'{count / theirs_load:8.0f} items/s, ratio {theirs_load / ours_load:5.2f} '
          f'({"target met" if ours_load <= theirs_load else "target NOT met"}; load average '
          f'{os.getloadavg()[0]:.1f})', flush=True)


def run(count: int, query_count: int, ours_url: str = OURS_URL, reuse: bool = False) -> None:
    qs = queries(query_count)
    session = requests.Session()
    with tempfile.TemporaryDirectory(prefix='stac-bench-') as tmp:
        tmp = Path(tmp)
        print(f'STAC API vs stac-fastapi-pgstac, {count} items, PostgreSQL/PostGIS '
              f'(load average {os.getloadavg()[0]:.1f})', flush=True)
        ensure_database(ours_url)
        if reuse:  # the items of an earlier run (same count): queries only
            load_sql(ours_url, f'stacbench-{count}', count)
        else:
            load_both(tmp, count, ours_url)
        resource = {'type': 'collection', 'title': COLLECTION, 'description': COLLECTION,
                    'keywords': [], 'links': [],
                    'extents': {'spatial': {'bbox': [-180, -90, 180, 90]}},
                    'providers': [{'type': 'record', 'name': PROVIDER, 'data': 'eoorder',
                                   'collection': f'stacbench-{count}'}]}
        (tmp / 'ours').mkdir()
        server = Server(tmp / 'ours', {'jobs': {'workers': 1}, 'store': {'url': ours_url}},
                        {COLLECTION: resource}).start()
        pgstac = PgstacServer(tmp)
        try:
            compare(session, f'{server.url}/stac', pgstac.url, qs)
        finally:
            pgstac.stop()
            server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--items', type=int, default=100_000)
    parser.add_argument('--queries', type=int, default=30)
    parser.add_argument('--pg-url', default=OURS_URL)
    parser.add_argument('--reuse', action='store_true',
                        help='keep the items of an earlier run with the same --items')
    args = parser.parse_args()
    run(args.items, args.queries, args.pg_url, args.reuse)


if __name__ == '__main__':
    main()
