"""Catalogue benchmark: bbox + datetime (+ CQL2) queries over synthetic EO records, side by
side in one run, all over HTTP on loopback:

  - this package's SQL record provider on SQLite (R*Tree) ............ 100,000 records
  - pycsw (latest on PyPI, in its own venv; CSW GetRecords + OGC Filter) same records, SQLite
  - pygeoapi's TinyDBCatalogue ........................................ same records
  - this package's SQL record provider on PostgreSQL/PostGIS ........ 1,000,000 records

Every backend gets the same queries; the number of matches is printed next to the timings
so that it is visible that they answer the same question. Prints p50/p95 in ms and ratios.

    scripts/catalogue-services          # PostGIS, pycsw venv
    .venv/bin/python benchmarks/catalogue_bench.py [--records 100000] [--pg-records 1000000]
        [--stac-items 100000]   # + STAC API vs stac-fastapi-pgstac (benchmarks/stac_bench.py)
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from datetime import datetime, timedelta
from pathlib import Path

import requests
from lxml import etree

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from pygeoapi_eoorder.store.record_tables import Record  # noqa: E402
from pygeoapi_eoorder.store import get_store  # noqa: E402
from tests.conftest import Server, free_port  # noqa: E402

TOOLS = Path(os.environ.get('EOORDER_CATALOGUE_TOOLS',
                            Path.home() / '.cache' / 'eoorder-catalogue'))
PG_URL = 'postgresql+psycopg://postgres@127.0.0.1:5432/eoorder_bench'  # its own database
PROVIDER = 'pygeoapi_eoorder.catalogue.sql_provider.SQLRecordProvider'
T0 = datetime(2020, 1, 1)
PLATFORMS = ['S1A', 'S1B', 'S2A', 'S2B', 'L8', 'L9']


# -- data ---------------------------------------------------------------------------------------
def synthetic(count: int, seed: int = 42):
    """EO records: ~1x1 degree footprints over land-ish latitudes, 4 years of acquisitions."""
    rng = random.Random(seed)
    for index in range(count):
        x, y = rng.uniform(-179, 178), rng.uniform(-70, 69)
        w, h = rng.uniform(0.3, 1.5), rng.uniform(0.3, 1.5)
        start = T0 + timedelta(seconds=rng.randrange(4 * 365 * 86400))
        end = start + timedelta(seconds=rng.randrange(10, 120))
        platform = rng.choice(PLATFORMS)
        cloud = round(rng.uniform(0, 100), 1)
        yield {
            'id': f'rec-{index:07d}', 'type': 'Feature',
            'geometry': {'type': 'Polygon', 'coordinates': [[[x, y], [x + w, y],
                                                             [x + w, y + h], [x, y + h],
                                                             [x, y]]]},
            'time': {'interval': [start.strftime('%Y-%m-%dT%H:%M:%SZ'),
                                  end.strftime('%Y-%m-%dT%H:%M:%SZ')]},
            'properties': {'type': 'product', 'title': f'{platform} scene {index} cc {cloud}',
                           'platform': platform, 'cloudCover': cloud,
                           'productType': 'GRD' if platform.startswith('S1') else 'L1C',
                           'orbitNumber': rng.randrange(1, 50000)},
            'links': [{'rel': 'enclosure', 'href': f'https://data.invalid/{index}.zip'}],
        }


def queries(count: int, seed: int = 7) -> list[dict]:
    rng = random.Random(seed)
    found = []
    for _ in range(count):
        x, y = rng.uniform(-170, 160), rng.uniform(-60, 50)
        start = T0 + timedelta(days=rng.randrange(4 * 365 - 120))
        found.append({'bbox': [round(x, 3), round(y, 3), round(x + 10, 3), round(y + 10, 3)],
                      'start': start, 'end': start + timedelta(days=90),
                      'platform': rng.choice(PLATFORMS)})
    return found


def iso(value: datetime) -> str:
    return value.strftime('%Y-%m-%dT%H:%M:%SZ')


def ensure_database(url: str) -> None:
    """Create the benchmark's PostgreSQL database (with PostGIS) if it is missing."""
    from sqlalchemy import create_engine, text
    name = url.rsplit('/', 1)[1]
    admin = create_engine(url.rsplit('/', 1)[0] + '/postgres', isolation_level='AUTOCOMMIT')
    with admin.connect() as conn:
        if not conn.execute(text('SELECT 1 FROM pg_database WHERE datname = :n'),
                            {'n': name}).first():
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    engine = create_engine(url, isolation_level='AUTOCOMMIT')
    with engine.connect() as conn:
        conn.execute(text('CREATE EXTENSION IF NOT EXISTS postgis'))
    engine.dispose()


def load_sql(url: str, collection: str, count: int) -> float:
    """Bulk load through the catalogue's loader (`RecordRepository.load`: batched rows,
    COPY on PostgreSQL) from an NDJSON file written first; returns the seconds the load
    took (0 when the records were there already)."""
    from sqlalchemy import delete, func, select
    from pygeoapi_eoorder.catalogue.repository import RecordRepository
    store = get_store(url)
    with store.read() as session:  # the same synthetic records from an earlier run: reuse
        present = session.execute(select(func.count()).select_from(Record).where(
            Record.collection == collection)).scalar_one()
    if present == count:
        print(f'  reusing {count} records already in {url.split("://")[0]}', flush=True)
        return 0.0
    with store.write() as session:
        session.execute(delete(Record).where(Record.collection == collection))
    with tempfile.TemporaryDirectory(prefix='catalogue-load-') as tmp:
        path = Path(tmp) / 'records.ndjson'  # from a file, as `pypgstac load` is timed
        with path.open('w') as out:
            for document in synthetic(count):
                out.write(json.dumps(document) + '\n')
        started = time.monotonic()
        with path.open('rb') as lines:
            RecordRepository(url, collection).load((parse_json(line) for line in lines),
                                                   owned=True)
        took = time.monotonic() - started
    print(f'  loaded {count} records into {url.split("://")[0]} in {took:.1f} s '
          f'({count / took:.0f} records/s)', flush=True)
    return took


def parse_json(text: bytes):
    """One JSON value: orjson when installed (as `pypgstac load` reads its file), else the
    standard library; what orjson refuses (NaN, huge integers...) json reads the same way."""
    try:
        import orjson
        return orjson.loads(text)
    except (ImportError, ValueError):
        return json.loads(text)


# -- timing -------------------------------------------------------------------------------------
def timed(function, qs) -> tuple[list[float], list[int]]:
    function(qs[0])  # warm-up
    times, matched = [], []
    for q in qs:
        started = time.perf_counter()
        matched.append(function(q))
        times.append((time.perf_counter() - started) * 1000)
    return times, matched


def summary(times: list[float]) -> tuple[float, float]:
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
    return statistics.median(ordered), p95


def records_query(session, base: str, collection: str, with_cql: bool):
    def run(q):
        params = {'bbox': ','.join(map(str, q['bbox'])),
                  'datetime': f'{iso(q["start"])}/{iso(q["end"])}', 'limit': 10}
        if with_cql:
            params['filter'] = f"title LIKE '{q['platform']} %'"
        reply = session.get(f'{base}/collections/{collection}/items', params=params,
                            timeout=600)
        reply.raise_for_status()
        return reply.json().get('numberMatched', -1)
    return run


# -- pycsw --------------------------------------------------------------------------------------
PYCSW_LOADER = textwrap.dedent('''
    import json, sys
    from datetime import datetime
    from sqlalchemy import create_engine, MetaData, Table
    from pycsw.core import admin
    database, home, path = sys.argv[1], sys.argv[2], sys.argv[3]
    admin.setup_db(database, 'records', home)
    engine = create_engine(database)
    table = Table('records', MetaData(), autoload_with=engine)
    ns = ('xmlns:csw="http://www.opengis.net/cat/csw/2.0.2" '
          'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:ows="http://www.opengis.net/ows"')
    rows, now = [], datetime.utcnow().strftime('%Y-%m-%dT%H:%M:%SZ')
    with engine.begin() as conn:
        for line in open(path):
            r = json.loads(line)
            minx, miny, maxx, maxy = r['bbox']
            xml = (f'<csw:Record {ns}><dc:identifier>{r["id"]}</dc:identifier>'
                   f'<dc:title>{r["title"]}</dc:title><dc:type>dataset</dc:type>'
                   f'<ows:BoundingBox crs="urn:ogc:def:crs:EPSG::4326"><ows:LowerCorner>'
                   f'{miny} {minx}</ows:LowerCorner><ows:UpperCorner>{maxy} {maxx}'
                   f'</ows:UpperCorner></ows:BoundingBox></csw:Record>')
            rows.append({'identifier': r['id'], 'typename': 'csw:Record',
                         'schema': 'http://www.opengis.net/cat/csw/2.0.2', 'mdsource': 'local',
                         'insert_date': now, 'xml': xml, 'anytext': r['title'],
                         'type': 'dataset', 'title': r['title'], 'time_begin': r['start'],
                         'time_end': r['end'], 'date': r['start'],
                         'wkt_geometry': (f'POLYGON(({minx} {miny},{maxx} {miny},{maxx} {maxy},'
                                          f'{minx} {maxy},{minx} {miny}))')})
            if len(rows) == 5000:
                conn.execute(table.insert(), rows)
                rows = []
        if rows:
            conn.execute(table.insert(), rows)
''')

PYCSW_CONFIG = '''[server]
home={home}
url=http://127.0.0.1:{port}/
mimetype=application/xml; charset=UTF-8
encoding=UTF-8
language=en-US
maxrecords=10
loglevel=ERROR
logfile={log}
pretty_print=false
gzip_compresslevel=0
domainquerytype=list
domaincounts=false
profiles=apiso

[manager]
transactions=false
allowed_ips=127.0.0.1

[metadata:main]
identification_title=bench
identification_abstract=bench
identification_keywords=bench
identification_keywords_type=theme
identification_fees=None
identification_accessconstraints=None
provider_name=bench
provider_url=http://127.0.0.1/
contact_name=bench
contact_position=bench
contact_address=bench
contact_city=bench
contact_stateorprovince=bench
contact_postalcode=0
contact_country=bench
contact_phone=0
contact_fax=0
contact_email=bench@invalid
contact_url=http://127.0.0.1/
contact_hours=0
contact_instructions=none
contact_role=pointOfContact

[repository]
database={database}
table=records
'''

GETRECORDS = '''<csw:GetRecords xmlns:csw="http://www.opengis.net/cat/csw/2.0.2"
 xmlns:ogc="http://www.opengis.net/ogc" xmlns:gml="http://www.opengis.net/gml"
 service="CSW" version="2.0.2" resultType="results" maxRecords="10">
 <csw:Query typeNames="csw:Record"><csw:ElementSetName>summary</csw:ElementSetName>
 <csw:Constraint version="1.1.0"><ogc:Filter><ogc:And>
  <ogc:BBOX><ogc:PropertyName>ows:BoundingBox</ogc:PropertyName>
   <gml:Envelope srsName="urn:ogc:def:crs:EPSG::4326">
   <gml:lowerCorner>{miny} {minx}</gml:lowerCorner>
   <gml:upperCorner>{maxy} {maxx}</gml:upperCorner></gml:Envelope></ogc:BBOX>
  <ogc:PropertyIsLessThanOrEqualTo><ogc:PropertyName>apiso:TempExtent_begin</ogc:PropertyName>
   <ogc:Literal>{end}</ogc:Literal></ogc:PropertyIsLessThanOrEqualTo>
  <ogc:PropertyIsGreaterThanOrEqualTo><ogc:PropertyName>apiso:TempExtent_end</ogc:PropertyName>
   <ogc:Literal>{start}</ogc:Literal></ogc:PropertyIsGreaterThanOrEqualTo>{extra}
 </ogc:And></ogc:Filter></csw:Constraint></csw:Query></csw:GetRecords>'''
TITLE_LIKE = '''
  <ogc:PropertyIsLike wildCard="%" singleChar="_" escapeChar="\\\\">
   <ogc:PropertyName>dc:title</ogc:PropertyName><ogc:Literal>{platform} %</ogc:Literal>
  </ogc:PropertyIsLike>'''


class Pycsw:
    """pycsw from its own venv, under gunicorn, on its own SQLite copy of the records."""

    def __init__(self, directory: Path, count: int):
        venv = TOOLS / 'pycsw'
        python = venv / 'bin' / 'python'
        if not python.exists():
            raise RuntimeError(f'no pycsw venv at {venv}: run scripts/catalogue-services')
        home = subprocess.check_output([str(python), '-c', 'import pycsw, os; '
                                        'print(os.path.dirname(pycsw.__file__))'],
                                       text=True).strip()
        data = directory / 'records.jsonl'
        with data.open('w') as fh:
            for r in synthetic(count):
                coords = r['geometry']['coordinates'][0]
                fh.write(json.dumps({'id': r['id'], 'title': r['properties']['title'],
                                     'start': r['time']['interval'][0],
                                     'end': r['time']['interval'][1],
                                     'bbox': [coords[0][0], coords[0][1], coords[2][0],
                                              coords[2][1]]}) + '\n')
        database = f'sqlite:///{directory / "pycsw.db"}'
        loader = directory / 'load.py'
        loader.write_text(PYCSW_LOADER)
        started = time.monotonic()
        subprocess.run([str(python), str(loader), database, home, str(data)], check=True)
        print(f'  loaded {count} records into pycsw in {time.monotonic() - started:.0f} s',
              flush=True)
        self.port = free_port()
        config = directory / 'pycsw.cfg'
        config.write_text(PYCSW_CONFIG.format(home=home, port=self.port, database=database,
                                              log=directory / 'pycsw.log'))
        self.url = f'http://127.0.0.1:{self.port}/'
        self.process = subprocess.Popen(
            [str(venv / 'bin' / 'gunicorn'), '-w', '2', '-b', f'127.0.0.1:{self.port}',
             'pycsw.wsgi:application'], env={**os.environ, 'PYCSW_CONFIG': str(config)},
            stdout=open(directory / 'gunicorn.log', 'ab'), stderr=subprocess.STDOUT,
            start_new_session=True)
        for _ in range(100):
            try:
                requests.get(self.url, params={'service': 'CSW', 'request': 'GetCapabilities'},
                             timeout=2)
                break
            except requests.RequestException:
                time.sleep(0.2)

    def query(self, session, with_cql: bool):
        def run(q):
            minx, miny, maxx, maxy = q['bbox']
            body = GETRECORDS.format(minx=minx, miny=miny, maxx=maxx, maxy=maxy,
                                     start=iso(q['start']), end=iso(q['end']),
                                     extra=TITLE_LIKE.format(platform=q['platform'])
                                     if with_cql else '')
            reply = session.post(self.url, data=body, timeout=600,
                                 headers={'Content-Type': 'application/xml'})
            reply.raise_for_status()
            # pycsw 2.6's WSGI app sends a Content-Length a few bytes short of its body
            root = etree.fromstring(reply.content, etree.XMLParser(recover=True))
            results = root.find('{http://www.opengis.net/cat/csw/2.0.2}SearchResults')
            if results is None:
                raise RuntimeError(reply.text[:500])
            return int(results.get('numberOfRecordsMatched'))
        return run

    def stop(self):
        os.killpg(self.process.pid, 15)
        self.process.wait(20)


def tinydb_file(directory: Path, count: int) -> Path:
    """The records in TinyDB's JSON layout, with `datetime` (the start) for its time filter."""
    path = directory / 'tinydb.json'
    table = {}
    for index, r in enumerate(synthetic(count), start=1):
        r = dict(r)
        r['properties'] = {**r['properties'], 'datetime': r['time']['interval'][0],
                           'description': ''}
        table[str(index)] = r
    path.write_text(json.dumps({'_default': table}))
    return path


# -- main ---------------------------------------------------------------------------------------
def report(name: str, times, matched, reference=None) -> float:
    p50, p95 = summary(times)
    ratio = f'  {p50 / reference:7.1f}x ours' if reference else ''
    print(f'  {name:<52} p50 {p50:9.1f} ms  p95 {p95:9.1f} ms  '
          f'matches {statistics.mean(matched):8.1f}{ratio}')
    return p50


def resources(collection: str, tinydb: Path | None = None) -> dict:
    base = {'type': 'collection', 'title': collection, 'description': collection,
            'keywords': [], 'links': [], 'extents': {'spatial': {'bbox': [-180, -90, 180, 90]}}}
    found = {collection: {**base, 'providers': [{'type': 'record', 'name': PROVIDER,
                                                 'data': 'eoorder', 'collection': collection}]}}
    if tinydb:
        found['tinydb'] = {**base, 'providers': [{'type': 'record', 'name': 'TinyDBCatalogue',
                                                  'data': str(tinydb), 'id_field': 'id',
                                                  'time_field': 'datetime',
                                                  'title_field': 'title'}]}
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--records', type=int, default=100_000)
    parser.add_argument('--pg-records', type=int, default=1_000_000)
    parser.add_argument('--queries', type=int, default=50)
    parser.add_argument('--slow-queries', type=int, default=10,
                        help='queries for the slow backends (pycsw, TinyDB)')
    parser.add_argument('--pg-url', default=PG_URL, help='SQLAlchemy URL of the database')
    parser.add_argument('--skip', action='append', default=[],
                        choices=['pycsw', 'tinydb', 'postgresql'])
    parser.add_argument('--sqlite-db', type=Path,
                        help='SQLite database file kept between runs (records loaded once)')
    parser.add_argument('--stac-items', type=int, default=0,
                        help='then the STAC API against stac-fastapi-pgstac with N items '
                             '(benchmarks/stac_bench.py)')
    args = parser.parse_args()
    qs = queries(args.queries)
    slow = qs[:args.slow_queries]
    session = requests.Session()
    with tempfile.TemporaryDirectory(prefix='catalogue-bench-') as tmp:
        tmp = Path(tmp)
        print(f'SQLite, {args.records} records', flush=True)
        sqlite_url = f'sqlite:///{(args.sqlite_db or tmp / "eoorder.db").resolve()}'
        load_sql(sqlite_url, 'bench', args.records)
        tinydb = None if 'tinydb' in args.skip else tinydb_file(tmp, args.records)
        (tmp / 's1').mkdir()
        server = Server(tmp / 's1', {'jobs': {'workers': 1}, 'store': {'url': sqlite_url}},
                        resources('bench', tinydb)).start()
        try:
            report('eoorder SQLite   bbox+datetime',
                            *timed(records_query(session, server.url, 'bench', False), qs))
            report('eoorder SQLite   bbox+datetime+CQL2',
                            *timed(records_query(session, server.url, 'bench', True), qs))
            ours_slow = report('eoorder SQLite   bbox+datetime (slow-backend subset)',
                               *timed(records_query(session, server.url, 'bench', False),
                                      slow))
            ours_slow_cql = report('eoorder SQLite   bbox+datetime+CQL2 (same subset)',
                                   *timed(records_query(session, server.url, 'bench', True),
                                          slow))
            if tinydb:
                report('TinyDBCatalogue  bbox+datetime(start only)',
                       *timed(records_query(session, server.url, 'tinydb', False), slow),
                       reference=ours_slow)
        finally:
            server.stop()
        if 'pycsw' not in args.skip:
            (tmp / 'pycsw').mkdir()
            pycsw = Pycsw(tmp / 'pycsw', args.records)
            try:
                report('pycsw SQLite     bbox+datetime',
                       *timed(pycsw.query(session, False), slow), reference=ours_slow)
                report('pycsw SQLite     bbox+datetime+title LIKE',
                       *timed(pycsw.query(session, True), slow), reference=ours_slow_cql)
            finally:
                pycsw.stop()
        if 'postgresql' not in args.skip:
            print(f'PostgreSQL/PostGIS, {args.pg_records} records', flush=True)
            ensure_database(args.pg_url)
            load_sql(args.pg_url, 'bench-pg', args.pg_records)
            (tmp / 's2').mkdir()
            server = Server(tmp / 's2', {'jobs': {'workers': 1}, 'store': {'url': args.pg_url}},
                            resources('bench-pg')).start()
            try:
                report('eoorder PostGIS  bbox+datetime',
                       *timed(records_query(session, server.url, 'bench-pg', False), qs))
                _, p95 = summary(timed(records_query(session, server.url, 'bench-pg', True),
                                       qs)[0])
                report('eoorder PostGIS  bbox+datetime+CQL2',
                       *timed(records_query(session, server.url, 'bench-pg', True), qs))
                print(f'  target p95 <= 50 ms at {args.pg_records}: '
                      f'{"met" if p95 <= 50 else "NOT met"} ({p95:.1f} ms)')
            finally:
                server.stop()
    if args.stac_items:
        from stac_bench import run as stac_run
        stac_run(args.stac_items, args.queries)


if __name__ == '__main__':
    main()
