"""The same SQL record provider on PostgreSQL/PostGIS (the shared store), over HTTP."""

from __future__ import annotations

import uuid

import pytest
import requests

from pygeoapi_eoorder.catalogue.repository import RecordRepository, has_postgis
from tests.conftest import Server
from tests.support.catalogue import eo_record, records_resource
from tests.support.cluster import Database



@pytest.fixture(scope='module')
def pg_url():
    """A PostGIS database of this module's own (the store migrates it from scratch)."""
    database = Database('eoorder_catalogue').create(postgis=True)
    yield database.url
    database.drop()


@pytest.fixture(scope='module')
def pg_catalogue(tmp_path_factory, pg_url):
    name = f'pg-{uuid.uuid4().hex[:8]}'
    repository = RecordRepository(pg_url, name)
    repository.upsert([eo_record(i) for i in range(10)])
    server = Server(tmp_path_factory.mktemp('pgcat'),
                    {'jobs': {'workers': 1}, 'store': {'url': pg_url}},
                    {'products': records_resource('products', collection=name)}).start()
    yield server
    server.stop()
    repository.clear()


def get(server, **params):
    reply = requests.get(f'{server.url}/collections/products/items', params=params, timeout=10)
    assert reply.status_code == 200, reply.text
    return reply.json()


def test_postgis_is_used(pg_url):
    assert has_postgis(pg_url), 'PostGIS missing: run scripts/catalogue-services'


def test_checking_for_postgis_creates_nothing_and_opening_the_store_adds_the_index(pg_url):
    """`has_postgis` only looks; a table made before the footprint-and-time index existed
    gets it when a process opens the store (`store.migrate.upgrade`)."""
    from sqlalchemy import create_engine, text

    from pygeoapi_eoorder.store import Store

    engine = create_engine(pg_url)
    index = "SELECT 1 FROM pg_indexes WHERE indexname = 'ix_eoorder_record_geom_time'"
    try:
        with engine.begin() as connection:
            connection.execute(text('DROP INDEX IF EXISTS ix_eoorder_record_geom_time'))
        has_postgis.cache_clear()
        assert has_postgis(pg_url)
        with engine.connect() as connection:
            assert connection.execute(text(index)).first() is None
        Store(pg_url).dispose()
        with engine.connect() as connection:
            assert connection.execute(text(index)).first() is not None
    finally:
        engine.dispose()


def test_queries_on_postgresql(pg_catalogue):
    assert get(pg_catalogue)['numberMatched'] == 10
    assert [f['id'] for f in get(pg_catalogue, bbox='2.5,2.5,3.5,3.5',
                                 sortby='id')['features']] == ['scene-2', 'scene-3']
    assert [f['id'] for f in get(pg_catalogue, datetime='2021-01-03T06:00:00Z')['features']] \
        == ['scene-2']
    assert get(pg_catalogue, q='optical,tile-2')['numberMatched'] == 6
    body = get(pg_catalogue, filter="S_INTERSECTS(geometry, POLYGON((6.2 6.2, 6.8 6.2, 6.8 6.8, "
                                    "6.2 6.8, 6.2 6.2))) AND T_AFTER(datetime, "
                                    "DATE('2021-01-02'))")
    assert [f['id'] for f in body['features']] == ['scene-6']
    body = get(pg_catalogue, sortby='-orbitNumber', limit=2, offset=1)
    assert [f['id'] for f in body['features']] == ['scene-8', 'scene-7']
    assert body['numberMatched'] == 10


def test_transaction_on_postgresql(pg_catalogue):
    url = f'{pg_catalogue.url}/collections/products/items'
    reply = requests.post(url, json=eo_record(77, id='pg-tx'),
                          headers={'Content-Type': 'application/geo+json'}, timeout=10)
    assert reply.status_code == 201, reply.text
    assert get(pg_catalogue, bbox='77.2,77.2,77.4,77.4')['features'][0]['id'] == 'pg-tx'
    assert requests.delete(f'{url}/pg-tx', timeout=10).status_code == 200


def test_concurrent_starts_bring_the_footprint_function_up_to_date_once():
    """Every web worker and the job engine upgrade the store at start: on a database whose
    footprint trigger function predates 2D footprints, simultaneous starts must all succeed
    (two CREATE OR REPLACE of one function at once fail in PostgreSQL) and leave it current."""
    from concurrent.futures import ThreadPoolExecutor

    import sqlalchemy as sa

    from pygeoapi_eoorder.store import migrate, record_tables

    database = Database('eoorder_geomfn').create(postgis=True)
    try:
        engine = sa.create_engine(database.url, poolclass=sa.pool.NullPool)
        migrate.upgrade(engine)
        old = record_tables.GEOM_FUNCTION.replace('ST_Force2D(', '(')
        with engine.begin() as connection:
            connection.execute(sa.text(old))

        def start(_):
            with engine.begin() as connection:
                record_tables.add_geom_time_index(connection)

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(start, range(8)))
        source = database.query("SELECT prosrc FROM pg_proc WHERE proname = 'eoorder_record_geom'")
        assert len(source) == 1 and 'ST_Force2D' in source[0][0]
        engine.dispose()
    finally:
        database.drop()
