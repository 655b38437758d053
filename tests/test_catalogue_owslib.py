"""OWSLib's OGC API - Records client, unchanged, against our endpoints."""

from __future__ import annotations

import pytest
from owslib.ogcapi.records import Records

from tests.conftest import Server
from tests.support.catalogue import eo_record, records_resource


@pytest.fixture(scope='module')
def client(tmp_path_factory):
    server = Server(tmp_path_factory.mktemp('owslib'), {'jobs': {'workers': 1}},
                    {'products': records_resource('Products')}).start()
    client = Records(server.url)
    for index in range(8):
        assert client.collection_item_create('products', eo_record(index))
    yield client
    server.stop()


def ids(result) -> list[str]:
    return sorted(f['id'] for f in result['features'])


def test_discovery(client):
    assert 'products' in client.records()
    assert client.collection('products')['itemType'] == 'record'
    assert 'cloudCover' in client.collection_queryables('products')['properties']
    conforms = client.conformance()['conformsTo']
    assert 'http://www.opengis.net/spec/ogcapi-records-1/1.0/conf/record-core' in conforms


def test_searches(client):
    assert client.collection_items('products', limit=100)['numberMatched'] == 8
    assert ids(client.collection_items('products', q='radar tile-2')) == ['scene-2']
    assert ids(client.collection_items('products', bbox=[2.5, 2.5, 3.5, 3.5])) == [
        'scene-2', 'scene-3']
    assert ids(client.collection_items(
        'products', datetime_='2021-01-04T06:00:00Z/2021-01-05T06:00:00Z')) == [
        'scene-3', 'scene-4']
    assert ids(client.collection_items('products', filter="cloudCover > 55")) == [
        'scene-6', 'scene-7']
    cql = {'op': 'and', 'args': [
        {'op': '=', 'args': [{'property': 'platform'}, 'SENTINEL-2A']},
        {'op': '<', 'args': [{'property': 'cloudCover'}, 40]}]}
    assert ids(client.collection_items('products', cql=cql)) == ['scene-1', 'scene-3']
    page = client.collection_items('products', sortby=('cloudCover', 'desc'), limit=2,
                                   offset=1)
    assert [f['id'] for f in page['features']] == ['scene-6', 'scene-5']


def test_item_lifecycle(client):
    assert client.collection_item('products', 'scene-4')['properties']['orbitNumber'] == 1004
    record = eo_record(40, id='owslib-1')
    assert client.collection_item_create('products', record)
    record['properties']['title'] = 'changed'
    assert client.collection_item_update('products', 'owslib-1', record)
    assert client.collection_item('products', 'owslib-1')['properties']['title'] == 'changed'
    assert client.collection_item_delete('products', 'owslib-1')
    assert client.collection_items('products', ids='owslib-1')['numberMatched'] == 0
