"""STAC round trip: the demo products served by this server's STAC API, harvested back
through that STAC API into another collection, are served again as the same STAC Items."""

from __future__ import annotations

import copy

import pystac
import pytest
import requests
import yaml

from pygeoapi_eoorder.catalogue.harvest import harvest
from pygeoapi_eoorder.egress import EgressPolicy
from tests.conftest import REPO, Server
from tests.support.catalogue import records_resource

STRUCTURAL = {'self', 'parent', 'collection', 'root'}


@pytest.fixture(scope='module')
def demo(tmp_path_factory):
    """The embedded default configuration (demo products on), plus an empty collection."""
    local = yaml.safe_load((REPO / 'config' / 'local.yml').read_text())
    directory = tmp_path_factory.mktemp('stac-roundtrip')
    block = copy.deepcopy(local['eoorder'])
    block['data_dir'] = str(directory / 'data')
    block['store'] = {'url': f"sqlite:///{directory / 'catalogue.db'}"}
    resources = {**local['resources'], 'demo-copy': records_resource('Demo copy')}
    server = Server(directory, block, resources).start()
    server.store_url = block['store']['url']
    yield server
    server.stop()


def items(server, collection: str) -> dict[str, dict]:
    body = requests.get(f'{server.url}/stac/collections/{collection}/items',
                        params={'limit': 1000}, timeout=30).json()
    assert body['numberMatched'] == len(body['features'])
    return {item['id']: item for item in body['features']}


def comparable(item: dict) -> dict:
    """The item without what names where it is served (collection and its own URLs)."""
    item = {k: v for k, v in item.items() if k != 'collection'}
    item['links'] = [link for link in item['links'] if link['rel'] not in STRUCTURAL]
    return item


def test_demo_data_round_trips_through_a_stac_harvest(demo):
    originals = items(demo, 'products')
    assert originals
    for item in originals.values():
        pystac.Item.from_dict(item).validate()
    result = harvest(demo.store_url, f'{demo.url}/stac', 'demo-copy', kind='stac-api',
                     remote_collections=['products'], page_size=2,
                     policy=EgressPolicy(allowed_hosts=('127.0.0.1',)))
    assert result.kind == 'stac-api'
    copies = items(demo, 'demo-copy')
    assert set(copies) == set(originals)
    for identifier, original in originals.items():
        assert comparable(copies[identifier]) == comparable(original), identifier
        assert copies[identifier]['collection'] == 'demo-copy'
    # a second harvest finds nothing new: the copies are the same documents
    again = harvest(demo.store_url, f'{demo.url}/stac', 'demo-copy', kind='stac-api',
                    remote_collections=['products'], restart=True,
                    policy=EgressPolicy(allowed_hosts=('127.0.0.1',)))
    assert again.counts.inserted == 0 and again.counts.updated == 0
