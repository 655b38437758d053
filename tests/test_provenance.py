"""Jobs started over WPS and openEO and the jobs of OSEO order items have W3C PROV-JSON
provenance at `GET /jobs/{id}/prov` (OGC API - Processes Part 4) like OGC API jobs: valid
against the PROV-JSON schema of the W3C submission (tests/data/prov-json), holding the job's
real inputs, owner and times; their Part 4 `/inputs` (valid against the draft's inputs.yaml)
and `/definition` answer too. And `GET /jobs` listing jobs of every kind (process, WPS,
openEO, order item, notification, harvest) is a valid Part 1 1.0 jobList (issue 15)."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import jsonschema
import openeo
import pytest
import requests
import yaml
from lxml import etree

from .conftest import REPO, TEST_PROCESSES, Server, server_env
from .support import oseo
from .support.auth import as_, write_users
from .support.catalogue import make_catalog
from .support.ogcapi import validate, validate_part4

PROV_SCHEMA = json.loads((Path(__file__).parent / 'data' / 'prov-json' / 'schema.json')
                         .read_text())
LOCAL = yaml.safe_load((REPO / 'config' / 'local.yml').read_text())
PARIS = 'DEMO_S2A_MSIL2A_20240601T104021_T31UDQ'
WPS = 'http://www.opengis.net/wps/2.0'
OWS = 'http://www.opengis.net/ows/2.0'
HARVEST = {'type': 'process', 'processor': {
    'name': 'pygeoapi_eoorder.catalogue.harvest.job.HarvestProcessor'}}


@pytest.fixture(scope='module')
def receiver():
    receiver = oseo.Receiver()
    yield receiver
    receiver.close()


@pytest.fixture(scope='module')
def server(tmp_path_factory):
    directory = tmp_path_factory.mktemp('provenance')
    block = copy.deepcopy(LOCAL['eoorder'])
    block['data_dir'] = str(directory / 'data')
    block['jobs'] = {'workers': 2}
    block['ordering']['notifications'] = {'allow_internal_addresses': True,
                                          'timeout_seconds': 5}
    users = write_users(directory / 'users.yml', {'alice': ['user', 'developer'],
                                                  'root': ['admin']})
    block['auth'] = {'authenticators': [{'name': 'basic', 'users_file': str(users)}]}
    make_catalog(directory / 'catalog', count=2)  # the harvest source
    resources = {**LOCAL['resources'], **TEST_PROCESSES, 'harvest': HARVEST}
    running = Server(directory, block, resources).start()
    yield running
    running.stop()


def _get(server: Server, path: str, who: str = 'alice', **params) -> dict:
    reply = requests.get(f'{server.url}{path}', params=params, auth=as_(who), timeout=30)
    assert reply.status_code == 200, (path, reply.text[:1000])
    return reply.json()


def _wait(server: Server, job_id: str, timeout: float = 120, who: str = 'alice') -> dict:
    deadline = time.monotonic() + timeout
    while (job := _get(server, f'/jobs/{job_id}', who))['status'] not in \
            ('successful', 'failed', 'dismissed'):
        assert time.monotonic() < deadline, job
        time.sleep(0.1)
    return job


def _instant(text: str) -> datetime:
    value = datetime.fromisoformat(text.replace('Z', '+00:00'))
    assert value.tzinfo is not None, f'{text!r}: a PROV time has its UTC offset'
    return value.astimezone(timezone.utc)


def _provenance(server: Server, job_id: str) -> dict:
    """The job's PROV-JSON, checked against the W3C schema and against its statusInfo: one
    run activity with the job's start and end, associated with alice, using the process."""
    status = _wait(server, job_id)
    assert status['status'] == 'successful', status
    validate(status, 'statusInfo.yaml')  # GET /jobs/{id} of every kind: a 1.0 statusInfo
    inputs = _get(server, f'/jobs/{job_id}/inputs')  # Part 4 /inputs and /definition too
    validate_part4(inputs, 'inputs.yaml')
    definition = _get(server, f'/jobs/{job_id}/definition')
    assert definition['inputs'] == inputs['inputs'] and definition['process'].endswith(
        f"/processes/{status['processID']}")
    document = _get(server, f'/jobs/{job_id}/prov')
    jsonschema.Draft4Validator(PROV_SCHEMA).validate(document)
    [(run_id, run)] = document['activity'].items()
    assert _instant(run['prov:startTime']) == _instant(status['started'])
    assert _instant(run['prov:endTime']) == _instant(status['finished'])
    agents = {name: agent['prov:label'] for name, agent in document['agent'].items()}
    assert list(agents.values()) == ['alice']
    [association] = document['wasAssociatedWith'].values()
    assert association == {'prov:activity': run_id, 'prov:agent': next(iter(agents))}
    used = {use['prov:entity'] for use in document['used'].values()
            if use['prov:activity'] == run_id}
    [plan] = [name for name, entity in document['entity'].items()
              if entity['prov:type'] == 'prov:Plan']
    assert plan in used and document['entity'][plan]['prov:label'] == status['processID']
    return document


def _values(document: dict, kind: str) -> dict:
    """{name: value} of the entities of `kind` (eoorder:Input or eoorder:Output)."""
    def literal(value):
        value = value['$'] if isinstance(value, dict) else value
        try:
            return json.loads(value)
        except ValueError:
            return value
    return {entity['prov:label']: literal(entity['prov:value'])
            for entity in document['entity'].values()
            if entity['prov:type'] in (f'eoorder:{kind}', {'$': f'eoorder:{kind}',
                                                           'type': 'prov:QUALIFIED_NAME'})}


def _wps_job(server: Server) -> str:
    execute = (f'<wps:Execute xmlns:wps="{WPS}" xmlns:ows="{OWS}" service="WPS" '
               f'version="2.0.0" mode="sync" response="document"><ows:Identifier>countdown'
               f'</ows:Identifier><wps:Input id="steps"><wps:Data>3</wps:Data></wps:Input>'
               f'<wps:Input id="delay"><wps:Data>0.01</wps:Data></wps:Input></wps:Execute>')
    reply = requests.post(f'{server.url}/wps', data=execute.encode(), auth=as_('alice'),
                          headers={'Content-Type': 'application/xml'}, timeout=60)
    assert reply.status_code == 200, reply.text
    return etree.fromstring(reply.content).findtext(f'{{{WPS}}}JobID')


def test_wps_job_provenance(server):
    job_id = _wps_job(server)
    document = _provenance(server, job_id)
    assert _values(document, 'Input') == {'steps': 3, 'delay': 0.01}
    assert _values(document, 'Output') == {'count': 3}


def _openeo_job(server: Server) -> tuple[str, dict]:
    """A finished openEO batch job of alice's and the flat process graph it ran."""
    connection = openeo.connect(f'{server.url}/openeo/1.2/')
    connection.authenticate_basic(*as_('alice'))
    cube = connection.load_collection('products', spatial_extent={
        'west': 4.75, 'south': 45.70, 'east': 4.95, 'north': 45.85},
        temporal_extent=['2024-06-01', '2024-07-01'], bands=['red', 'nir'])
    graph = cube.ndvi(red='red', nir='nir').save_result(format='GTiff')
    job = graph.create_job(title='provenance')
    job.start_and_wait(max_poll_interval=1, connection_retry_interval=1)
    assert job.status() == 'finished'
    return job.job_id, graph.flat_graph()


def _order_job(server: Server, receiver) -> tuple[str, str]:
    """alice's order of the Paris demo product, notified to `receiver`, once completed:
    (order id, the item's job id)."""
    headers = (f'<wsa:MessageID>urn:uuid:{time.time_ns()}</wsa:MessageID><wsa:ReplyTo>'
               f'<wsa:Address>{receiver.url}</wsa:Address></wsa:ReplyTo>')
    body = oseo.soap12(oseo.submit(oseo.item('a', PARIS, collection='products'),
                                   notification='All'), headers)
    reply = oseo.post(server, body, content_type='application/soap+xml', auth=as_('alice'))
    assert reply.status_code == 200, reply.text
    order_id = oseo.payload(reply).findtext('oseo:orderId', namespaces=oseo.NS)
    deadline = time.monotonic() + 60
    while (order := _get(server, f'/orders/{order_id}'))['status'] not in \
            ('Completed', 'Failed'):
        assert time.monotonic() < deadline, order
        time.sleep(0.1)
    assert order['status'] == 'Completed', order
    [item] = order['items']
    return order_id, item['jobID']


def test_openeo_batch_job_provenance(server):
    job_id, graph = _openeo_job(server)
    document = _provenance(server, job_id)
    stored = json.dumps(_values(document, 'Input'), sort_keys=True)
    for node in graph.values():  # every node of the graph sent is among the job's inputs
        assert json.dumps(node['arguments'], sort_keys=True)[1:-1] in stored, (node, stored)
    assert _values(document, 'Output'), document['entity']


def test_order_item_job_provenance(server, receiver):
    order_id, job_id = _order_job(server, receiver)
    document = _provenance(server, job_id)
    inputs = _values(document, 'Input')
    assert inputs['order'] == order_id, inputs
    [(product_id, product)] = [(name, entity) for name, entity in document['entity'].items()
                               if entity['prov:type'] == 'eoorder:Product']
    assert product['prov:label'] == PARIS and product['eoorder:collection'] == 'products'
    assert product['eoorder:itemId'] == 'a'
    run_id = next(iter(document['activity']))
    assert {'prov:activity': run_id, 'prov:entity': product_id} in document['used'].values()
    delivered = {entity['prov:label'] for entity in document['entity'].values()
                 if entity['prov:type'] == 'eoorder:DeliveredFile'}
    access = oseo.payload(oseo.post(server, oseo.describe(order_id), auth=as_('alice')))
    urls = [u.findtext('oseo:itemAddress/oseo:ResourceAddress/oseo:URL', namespaces=oseo.NS)
            for u in access.findall('oseo:URLs', oseo.NS)]
    assert delivered and {url.rsplit('/', 1)[1] for url in urls} == delivered
    assert _values(document, 'Output') == {'delivery': {'item': 'a', 'status': 'Completed'}}


def test_job_list_with_every_kind_of_job_is_a_valid_job_list(server, receiver):
    """Process, WPS, openEO, order item, notification and harvest jobs, listed together:
    each a valid 1.0 statusInfo (`type: process`), its kind in `jobType`."""
    harvest = subprocess.run(
        [sys.executable, '-m', 'pygeoapi_eoorder.cli', 'harvest',
         str(server.directory / 'catalog'), '--into', 'results', '--config', str(server.config),
         '--as-job'], capture_output=True, text=True, timeout=120, env=server_env(), cwd=REPO)
    assert harvest.returncode == 0, harvest.stderr
    ogc = requests.post(f'{server.url}/processes/countdown/execution', auth=as_('alice'),
                        json={'inputs': {'steps': 1}}, timeout=30)
    assert ogc.status_code == 200, ogc.text
    _wps_job(server)
    _openeo_job(server)
    _order_job(server, receiver)  # an order item job and its notification jobs
    _wait(server, harvest.stdout.split()[2], who='root')
    listing = _get(server, '/jobs', who='root', limit=1000)  # an admin sees every job
    kinds = {job.get('jobType', job['type']) for job in listing['jobs']}
    assert {'process', 'harvest', 'order', 'notification', 'openeo'} <= kinds
    validate(listing, 'jobList.yaml')
    for job in listing['jobs']:
        validate(job, 'statusInfo.yaml')
        assert job['type'] == 'process'
    for kind in ('harvest', 'order', 'notification', 'openeo'):
        selected = _get(server, '/jobs', who='root', type=kind, limit=1000)
        assert selected['jobs'] and {job['jobType'] for job in selected['jobs']} == {kind}
        validate(selected, 'jobList.yaml')
    for kind in ('process', 'harvest', 'order', 'notification', 'openeo'):  # dismiss answers
        job = next(job for job in listing['jobs'] if job.get('jobType', 'process') == kind)
        dismissed = requests.delete(f"{server.url}/jobs/{job['jobID']}", auth=as_('root'),
                                    timeout=30)
        assert dismissed.status_code == 200, (kind, dismissed.text)
        validate(dismissed.json(), 'statusInfo.yaml')
        assert dismissed.json()['status'] == 'dismissed', (kind, dismissed.json())
