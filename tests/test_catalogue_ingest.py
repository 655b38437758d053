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
