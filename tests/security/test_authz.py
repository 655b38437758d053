"""Authorization of built-in processes, reserved process ids and owned results (issue 13,
findings 12, 14 and 16), attacked over HTTP against a running server and the real Docker
engine, as the pentest's users."""

from __future__ import annotations

import csv
import io
import json
import time
import uuid
import zipfile
from pathlib import Path

import pytest
import requests

from pygeoapi_eoorder.jobs.repository import JobRepository
from pygeoapi_eoorder.processes import deployed
from pygeoapi_eoorder.processes.parsing import parse_package
from pygeoapi_eoorder.processes.registry import ProcessRegistry
from pygeoapi_eoorder.store import get_store

from ..support import oseo
from ..support.auth import as_
from ..support.catalogue import records_resource
from .conftest import PKG, call, deploy_package, run_async, start_secure_server

PACKAGES = Path(__file__).resolve().parents[1] / 'data' / 'packages'
HARVEST = {'type': 'process', 'processor': {
    'name': 'pygeoapi_eoorder.catalogue.harvest.job.HarvestProcessor'}}
ORDERABLE = 'test-collection'  # the ordering collection, also a records collection
LANDCOVER_OPTION = {'name': 'LandCover', 'values': ['10', '20'], 'process': 'landcover',
                    'product_input': 'source', 'value_input': 'resolution',
                    'process_inputs': {'aoi': '0,0,1,1'}}


@pytest.fixture(scope='module')
def site(tmp_path_factory):
    """A secure server: ordering (an option runs process `landcover`), records collections
    (the orderable one and the job results), harvest, and products on the host."""
    directory = tmp_path_factory.mktemp('authz')
    products = directory / 'products'
    oseo.make_products(products, ['p1', 'p2', 'scene-a', 'scene-b'])
    block = oseo.eoorder_block(products, jobs={'workers': 3})
    block['ordering']['collections'][0]['options'].append(dict(LANDCOVER_OPTION))
    resources = {'harvest': HARVEST, ORDERABLE: records_resource(ORDERABLE),
                 'results': records_resource('results')}
    server = start_secure_server(directory, resources, ordering=block['ordering'],
                                 execution=block['execution'], jobs=block['jobs'],
                                 catalogue={'results_collection': 'results'})
    server.products = products
    yield server
    server.stop()


def _package(process_id: str, source: str = 'landcover.ogcapppkg.json') -> dict:
    body = json.loads((PACKAGES / source).read_text())
    body['processDescription']['id'] = process_id
    return body


def _record(identifier: str, href: str, title: str) -> dict:
    return {'id': identifier, 'type': 'Feature', 'geometry': None,
            'properties': {'type': 'product', 'title': title},
            'links': [{'rel': 'enclosure', 'href': href}]}


def _stac_catalog(directory: Path, item_id: str, href: str) -> Path:
    """A static STAC catalog with one item whose asset is `href`."""
    (directory / 'items').mkdir(parents=True)
    (directory / 'catalog.json').write_text(json.dumps({
        'type': 'Catalog', 'stac_version': '1.0.0', 'id': 'attack', 'description': 'x',
        'links': [{'rel': 'item', 'href': './items/item.json'}]}))
    (directory / 'items' / 'item.json').write_text(json.dumps({
        'type': 'Feature', 'stac_version': '1.0.0', 'id': item_id,
        'geometry': {'type': 'Point', 'coordinates': [1, 1]}, 'bbox': [1, 1, 1, 1],
        'properties': {'datetime': '2026-01-01T00:00:00Z', 'title': 'HARVESTED'},
        'links': [], 'assets': {'data': {'href': href, 'roles': ['data']}}}))
    return directory


def _jobs_of(server, user: str, process_id: str) -> list[dict]:
    reply = call(server, 'GET', '/jobs', user, params={'processID': process_id, 'limit': 100})
    assert reply.status_code == 200, reply.text
    return reply.json()['jobs']


def _wait_job(server, job_id: str, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = call(server, 'GET', f'/jobs/{job_id}', 'admin').json()
        if job['status'] in ('successful', 'failed', 'dismissed'):
            return job
        time.sleep(0.1)
    raise AssertionError(f'job {job_id} did not end')


def _problem(reply: requests.Response, status: int) -> dict:
    assert reply.status_code == status, reply.text
    assert reply.headers['Content-Type'].startswith('application/problem+json')
    return reply.json()


def test_finding_12_plain_user_cannot_run_harvest_or_other_builtins(site, tmp_path, canary,
                                                                     internal_service):
    """alice (user) runs `harvest` into the orderable collection from an internal URL and
    from a host path: refused with 403, nothing queued, the collection unchanged; a job
    that reaches the engine without the request check is refused in the worker (checks
    outside requests act as the job's owner, never default to allowed). A curator may
    harvest. DeployProcess / UndeployProcess need `deploy` and ownership."""
    product = (site.products / 'p1.dat').as_uri()
    reply = call(site, 'POST', f'/collections/{ORDERABLE}/items', 'curator',
                 json=_record('scene-a', product, 'ORIGINAL'),
                 headers={'Content-Type': 'application/geo+json'})
    assert reply.status_code == 201, reply.text
    original = call(site, 'GET', f'/collections/{ORDERABLE}/items/scene-a', 'alice').json()
    secret = (canary / 'secret.txt').as_uri()
    host_catalog = _stac_catalog(tmp_path / 'host-catalog', 'scene-a', secret)
    internal_service.files['/catalog.json'] = (host_catalog / 'catalog.json').read_bytes()
    attacks = [{'source': f'{internal_service.url}/catalog.json', 'collection': ORDERABLE},
               {'source': str(host_catalog), 'collection': ORDERABLE,
                'type': 'stac-static', 'restart': True}]
    for inputs in attacks:
        for prefer in ({}, {'Prefer': 'respond-async'}):
            reply = call(site, 'POST', '/processes/harvest/execution', 'alice',
                         json={'inputs': inputs}, headers=prefer)
            assert 'edit_catalogue' in _problem(reply, 403)['detail']
    assert _jobs_of(site, 'alice', 'harvest') == []
    assert internal_service.hits == []

    # a harvest job of alice's that got to the engine another way: refused in the worker
    store = get_store(f"sqlite:///{site.data_dir / 'eoorder.db'}")
    job = JobRepository(store).add('harvest', inputs=attacks[1], owner='alice',
                                   owner_roles=['user'], job_type='harvest')
    ended = _wait_job(site, job['id'])
    assert ended['status'] == 'failed' and 'edit_catalogue' in ended['message'], ended
    after = call(site, 'GET', f'/collections/{ORDERABLE}/items/scene-a', 'alice').json()
    assert after['properties']['title'] == 'ORIGINAL' and after['links'] == original['links']
    listing = call(site, 'GET', f'/collections/{ORDERABLE}/items', 'alice').text
    assert 'HARVESTED' not in listing and 'secret.txt' not in listing
    assert 'HOST-SECRET-CONTENT' not in listing

    # a curator may harvest into it, from a host path under the allowed file roots only
    allowed = _stac_catalog(site.products / 'curated', 'scene-b',
                            (site.products / 'p2.dat').as_uri())
    reply = call(site, 'POST', '/processes/harvest/execution', 'curator',
                 json={'inputs': {'source': str(host_catalog), 'collection': ORDERABLE}})
    assert 'allowed_file_roots' in _problem(reply, 403)['detail']
    job = run_async(site, 'curator', 'harvest', {'source': str(allowed),
                                                 'collection': ORDERABLE})
    assert job['status'] == 'successful', job
    harvested = call(site, 'GET', f'/collections/{ORDERABLE}/items/scene-b', 'alice')
    assert harvested.status_code == 200 and \
        harvested.json()['properties']['title'] == 'HARVESTED'

    # the Testbed-13 transactions: `deploy` needed, and only one's own process
    package = (PACKAGES / 'echo.tb13.xml').read_text()
    reply = call(site, 'POST', '/processes/DeployProcess/execution', 'alice',
                 json={'inputs': {'applicationPackage': package}})
    assert 'permission deploy' in _problem(reply, 403)['detail']
    assert call(site, 'GET', '/processes/echo', 'alice').status_code == 404
    reply = call(site, 'POST', '/processes/DeployProcess/execution', 'dev',
                 json={'inputs': {'applicationPackage': package}})
    assert reply.status_code == 200, reply.text
    for user, status in (('alice', 403), ('dev2', 403)):
        reply = call(site, 'POST', '/processes/UndeployProcess/execution', user,
                     json={'inputs': {'processIdentifier': 'echo'}})
        _problem(reply, status)
    assert call(site, 'GET', '/processes/echo', 'alice').status_code == 200
    reply = call(site, 'PUT', '/processes/echo', 'dev2', data=json.dumps(
        _package('echo', 'echo.ogcapppkg.json')), headers={'Content-Type': PKG})
    _problem(reply, 403)  # dev's process, deployed through DeployProcess, is dev's
    reply = call(site, 'POST', '/processes/UndeployProcess/execution', 'dev',
                 json={'inputs': {'processIdentifier': 'echo'}})
    assert reply.status_code == 200, reply.text


def _order_landcover(site, user: str, identifier: str) -> tuple[str, dict]:
    """alice orders `identifier` with the LandCover option; the order's final status."""
    body = oseo.submit(oseo.item('lc', identifier,
                                 options='<LandCover>20</LandCover>'), packaging='zip')
    reply = oseo.post(site, body, auth=as_(user))
    assert reply.status_code == 200, reply.text
    order_id = oseo.payload(reply).findtext('oseo:orderId', namespaces=oseo.NS)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        order = call(site, 'GET', f'/orders/{order_id}', user).json()
        if order['status'] in ('Completed', 'Failed', 'Cancelled'):
            return order_id, order
        time.sleep(0.2)
    raise AssertionError(f'order {order_id} did not end')


def test_finding_14_order_option_process_id_is_reserved(site):
    """dev2 cannot deploy (or replace) the process an order option runs; a user's process
    of that id (left from before the fix) is never run for alice's order; the admin's
    process is."""
    squat = _package('landcover', 'echo.ogcapppkg.json')
    for visibility in ('public', 'private'):
        reply = deploy_package(site, 'dev2', squat, visibility=visibility)
        assert 'reserved' in _problem(reply, 403)['detail']
    assert call(site, 'GET', '/processes/landcover', 'dev2').status_code == 404
    package = (PACKAGES / 'echo.tb13.xml').read_text().replace('>echo<', '>landcover<')
    reply = call(site, 'POST', '/processes/DeployProcess/execution', 'dev2',
                 json={'inputs': {'applicationPackage': package}})
    assert 'reserved' in _problem(reply, 403)['detail']
    assert call(site, 'GET', '/processes/landcover', 'dev2').status_code == 404

    # dev2's process of that id, deployed before ids were reserved
    store = get_store(f"sqlite:///{site.data_dir / 'eoorder.db'}")
    parsed = parse_package(json.dumps(squat).encode(), PKG, None)
    ProcessRegistry(store).put('landcover', deployed.resource(parsed, 'dev2'),
                               package=parsed.raw, owner='dev2', media_type=PKG)
    reply = call(site, 'PUT', '/processes/landcover', 'dev2', data=json.dumps(squat),
                 headers={'Content-Type': PKG})
    assert 'reserved' in _problem(reply, 403)['detail']
    _, order = _order_landcover(site, 'alice', 'p1')
    assert order['status'] == 'Failed', order
    assert 'not deployed' in json.dumps(order), order

    # the deployer's process: the admin replaces the squatter's
    assert call(site, 'DELETE', '/processes/landcover', 'admin').status_code == 204
    reply = deploy_package(site, 'admin', _package('landcover'))
    assert reply.status_code == 201, reply.text
    reply = call(site, 'PUT', '/processes/landcover', 'dev2', data=json.dumps(squat),
                 headers={'Content-Type': PKG})
    _problem(reply, 403)
    order_id, order = _order_landcover(site, 'alice', 'p2')
    assert order['status'] == 'Completed', order
    access = oseo.payload(oseo.post(site, oseo.describe(order_id), auth=as_('alice')))
    [url] = [u.findtext('oseo:itemAddress/oseo:ResourceAddress/oseo:URL', namespaces=oseo.NS)
             for u in access.findall('oseo:URLs', oseo.NS)]
    archive = zipfile.ZipFile(io.BytesIO(requests.get(url, auth=as_('alice'),
                                                      timeout=30).content))
    rows = dict(csv.reader(io.StringIO(archive.read('classification').decode())))
    assert rows['resolution'] == '20'  # the landcover application ran, not dev2's echo
    assert rows['source_bytes'] == str((site.products / 'p2.dat').stat().st_size)


def _results(site, user: str | None, **params) -> dict:
    reply = call(site, 'GET', '/collections/results/items', user,
                 params={'limit': 100, **params})
    assert reply.status_code == 200, reply.text
    return reply.json()


def _opensearch(site, user: str | None) -> dict:
    reply = call(site, 'GET', '/opensearch/collections/results/search', user,
                 params={'httpAccept': 'application/geo+json', 'count': 50})
    assert reply.status_code == 200, reply.text
    return reply.json()


def test_finding_16_job_stac_results_are_owned_and_private(site):
    """alice's and bob's landcover runs write a STAC item of the same id: each is
    registered under its job, bob's never replaces alice's, and only the owner (and
    admins) see it: anonymous and bob get what they would get if it did not exist."""
    if call(site, 'GET', '/processes/landcover', 'admin').status_code != 200:
        assert deploy_package(site, 'admin', _package('landcover')).status_code == 201
    runs = {}
    for user, product in (('alice', 'scene-a'), ('bob', 'p1')):
        job = run_async(site, user, 'landcover', {
            'source': {'href': (site.products / f'{product}.dat').as_uri()},
            'aoi': '5.5,50.1,6.25,51'})
        assert job['status'] == 'successful', job
        runs[user] = (job['jobID'], (site.products / f'{product}.dat').stat().st_size)
    alice_job, alice_bytes = runs['alice']
    alice_item = f'{alice_job}/landcover'

    bob_item = f'{runs["bob"][0]}/landcover'
    mine = _results(site, 'alice')  # (alice's order of finding 14 registered one too)
    ids = [f['id'] for f in mine['features']]
    assert alice_item in ids and bob_item not in ids and mine['numberMatched'] == len(ids)
    mine = {f['id']: f for f in mine['features']}
    assert mine[alice_item]['properties']['stac']['landcover:source_bytes'] == alice_bytes
    record = call(site, 'GET', f'/collections/results/items/{alice_item}', 'alice')
    assert record.status_code == 200, record.text
    assert record.json()['properties']['stac']['landcover:source_bytes'] == alice_bytes

    bobs = _results(site, 'bob')
    assert [f['id'] for f in bobs['features']] == [bob_item]
    for user in (None, 'bob'):
        reply = call(site, 'GET', f'/collections/results/items/{alice_item}', user)
        absent = call(site, 'GET', f'/collections/results/items/{uuid.uuid4()}/landcover',
                      user)
        assert reply.status_code == absent.status_code == 404, reply.text
        assert reply.json()['code'] == absent.json()['code']
        listing = call(site, 'GET', '/collections/results/items', user,
                       params={'limit': 100})
        assert alice_job not in listing.text
        hits = _results(site, user, resulttype='hits')
        assert hits['numberMatched'] == (0 if user is None else 1)
        assert alice_job not in json.dumps(_opensearch(site, user))
    assert _results(site, None)['numberMatched'] == 0
    everything = _results(site, 'admin')
    assert {alice_item, bob_item} <= {f['id'] for f in everything['features']}
    assert everything['numberMatched'] == len(ids) + 1
    assert alice_job in json.dumps(_opensearch(site, 'admin'))
    assert alice_job in json.dumps(_opensearch(site, 'alice'))
    # a curator can neither see nor overwrite it
    reply = call(site, 'PUT', f'/collections/results/items/{alice_item}', 'curator',
                 json=_record(alice_item, 'https://example.org/x', 'CURATED'),
                 headers={'Content-Type': 'application/geo+json'})
    assert reply.status_code == 404, reply.text
    reply = call(site, 'DELETE', f'/collections/results/items/{alice_item}', 'curator')
    assert reply.status_code == 404, reply.text
    again = call(site, 'GET', f'/collections/results/items/{alice_item}', 'alice').json()
    assert again['properties']['stac']['landcover:source_bytes'] == alice_bytes
