"""`ingest_stac`: the ADES registers a job's STAC output catalog as records."""

from __future__ import annotations

import pytest

from pygeoapi_eoorder.catalogue.ingest import ingest_stac
from pygeoapi_eoorder.catalogue.repository import RecordRepository
from tests.support.catalogue import make_catalog


def test_ingest_rewrites_asset_hrefs_and_maps_eo_properties(tmp_path):
    url = f"sqlite:///{tmp_path / 'store.db'}"
    root = make_catalog(tmp_path / 'results')
    count = ingest_stac(url, 'results', root, base_href='http://127.0.0.1:5000/jobs/j1/results')
    assert count == 3
    repo = RecordRepository(url, 'results')
    record = repo.get('result-1')
    enclosure = next(link for link in record['links'] if link['rel'] == 'enclosure')
    # the asset is ./result-1/ndvi.tif next to the item file result-1/result-1.json
    assert enclosure['href'] == ('http://127.0.0.1:5000/jobs/j1/results/'
                                 'result-1/result-1/ndvi.tif')
    props = record['properties']
    assert (props['platform'], props['instrument'], props['cloudCover'],
            props['orbitDirection']) == ('sentinel-2b', 'msi', 12.5, 'ASCENDING')
    assert record['time'] == {'timestamp': '2023-05-02T00:00:00Z'}


def test_ingest_twice_is_idempotent_and_accepts_catalog_json(tmp_path):
    url = f"sqlite:///{tmp_path / 'store.db'}"
    root = make_catalog(tmp_path / 'results', count=4)
    assert ingest_stac(url, 'results', root / 'catalog.json') == 4
    assert ingest_stac(url, 'results', root) == 4
    assert RecordRepository(url, 'results').count() == 4


def test_ingest_without_base_href_keeps_absolute_local_paths(tmp_path):
    url = f"sqlite:///{tmp_path / 'store.db'}"
    root = make_catalog(tmp_path / 'results', count=1)
    ingest_stac(url, 'results', root)
    record = RecordRepository(url, 'results').get('result-0')
    href = next(link['href'] for link in record['links'] if link['rel'] == 'enclosure')
    assert href.startswith(str(root)) and href.endswith('ndvi.tif')


def test_missing_catalog_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        ingest_stac(f"sqlite:///{tmp_path / 'store.db'}", 'results', tmp_path / 'nothing')


def _stat_rows(url: str) -> int:
    """The record count SQLite's planner statistics were taken at (sqlite_stat1)."""
    import sqlite3
    with sqlite3.connect(url.removeprefix('sqlite:///')) as connection:
        stats = connection.execute("SELECT stat FROM sqlite_stat1 WHERE tbl = 'eoorder_record'")
        return max(int(stat.split()[0]) for (stat,) in stats)


def test_items_in_memory_register_as_the_catalog_read_back(tmp_path):
    """A job's writer passes the items it holds: the records are those of the catalog
    file read back (the oracle), without reading it."""
    import pystac
    from datetime import datetime, timezone
    url, out = f"sqlite:///{tmp_path / 'store.db'}", tmp_path / 'results' / 'openeo'
    out.mkdir(parents=True)
    item = pystac.Item(id='job-9', geometry={'type': 'Point', 'coordinates': [4.8, 45.7]},
                       bbox=[4.8, 45.7, 4.8, 45.7], datetime=datetime.now(timezone.utc),
                       properties={'title': 'ndvi mean'})
    for name in ('result.tif', 'a b.json'):
        (out / name).write_bytes(b'1')
        item.add_asset(name, pystac.Asset(href=str(out / name), media_type='image/tiff',
                                          roles=['data']))
    catalog = pystac.Catalog(id='openeo-job-9', description='openEO job results')
    catalog.add_item(item)
    catalog.normalize_hrefs(str(out))
    catalog.save(pystac.CatalogType.SELF_CONTAINED)
    base = 'http://127.0.0.1:5000/jobs/job-9/results/openeo'
    assert ingest_stac(url, 'held', out, base_href=base, id_prefix='job-9/',
                       items=[item]) == 1
    assert ingest_stac(url, 'read', out, base_href=base, id_prefix='job-9/') == 1

    def served(collection):
        document = RecordRepository(url, collection).get('job-9/job-9')
        document['properties'] = {k: v for k, v in document['properties'].items()
                                  if k not in ('created', 'updated')}
        return document
    assert served('held') == served('read')
    assert f'{base}/a%20b.json' in [link['href'] for link in served('held')['links']]


def test_statistics_refreshed_only_when_the_table_doubled(tmp_path):
    """A small ingest (a job's results) does not analyse the whole table again; once as
    many rows were added as there were, whoever added them, it does."""
    from tests.support.catalogue import eo_record
    url = f"sqlite:///{tmp_path / 'store.db'}"
    records = RecordRepository(url, 'products')
    records.load([eo_record(index) for index in range(1200)])  # a bulk load analyses
    assert _stat_rows(url) == 1200
    root = make_catalog(tmp_path / 'results', count=2)
    for _ in range(3):
        ingest_stac(url, 'results', root)
    assert _stat_rows(url) == 1200  # the planner's figures are still good enough
    records.upsert([eo_record(index) for index in range(2000, 3300)])  # the table doubled
    ingest_stac(url, 'results', root)
    assert _stat_rows(url) == 1200 + 2 + 1300


def test_a_dismissed_or_deleted_job_registers_nothing(tmp_path):
    """The job's state is read in the inserting transaction: records of a job dismissed (or
    deleted) while it ran are never written, those of a running job are."""
    from pygeoapi_eoorder.jobs.repository import DISMISSED, JobRepository
    from pygeoapi_eoorder.store import get_store
    url = f"sqlite:///{tmp_path / 'store.db'}"
    jobs = JobRepository(get_store(url))
    running, dismissed = (jobs.add('echo', job_type='process', inputs={}) for _ in range(2))
    for job in (running, dismissed):
        assert jobs.claim_id(job['id'], 'w') is not None
    assert jobs.transition(dismissed['id'], DISMISSED)
    root = make_catalog(tmp_path / 'results', count=2)
    records = RecordRepository(url, 'results')

    def register(job_id: str) -> int:
        return ingest_stac(url, 'results', root, id_prefix=f'{job_id}/',
                           unless=jobs.ended_check(job_id))
    assert register(running['id']) == 2
    assert register(dismissed['id']) == 0
    assert register('no-such-job') == 0
    assert sorted(r['id'] for r in records.search(None, limit=10, count=False)[0]) == \
        sorted(f"{running['id']}/result-{i}" for i in (0, 1))


def test_small_inserts_look_at_the_statistics_every_hundred_rows(tmp_path, monkeypatch):
    """A job's one result record does not cost a statistics query: a process looks once
    it inserted 100 rows since it last looked (or a minute passed), then refreshes if
    the table doubled meanwhile, whoever grew it."""
    from pygeoapi_eoorder.catalogue import repository
    from pygeoapi_eoorder.store import get_store
    from tests.support.catalogue import eo_record
    url = f"sqlite:///{tmp_path / 'store.db'}"
    monkeypatch.setattr(repository, 'CHECK_EVERY_SECONDS', 3600.0)
    records = RecordRepository(url, 'products')
    records.load([eo_record(index) for index in range(1200)])  # a bulk load analyses
    records.upsert([eo_record(5000)])  # this process's first look: nothing grew
    with get_store(url).write_engine.begin() as connection:  # grown, not looked at
        records.upsert_on(connection, [eo_record(index) for index in range(2000, 3300)])
    records.upsert([eo_record(5001)])
    assert _stat_rows(url) == 1200  # one row since the last look
    records.upsert([eo_record(index) for index in range(6000, 6099)])  # 100 rows now
    assert _stat_rows(url) == 1200 + 1 + 1300 + 1 + 99
    monkeypatch.setattr(repository, 'CHECK_EVERY_SECONDS', 0.0)
    with get_store(url).write_engine.begin() as connection:
        records.upsert_on(connection, [eo_record(index) for index in range(7000, 9700)])
    records.upsert([eo_record(9999)])  # one row, but the time to look came
    assert _stat_rows(url) == 2601 + 2700 + 1
