"""Orders beyond the plain product order, over HTTP against a real `eoorder serve`:
products found through the catalogue, subscriptions served as products arrive, massive
orders in batches, sequential collections, a deployed process run on ordered products,
and notifications sent as jobs of the engine."""

from __future__ import annotations

import csv
import io
import os
import signal
import time
import zipfile
from pathlib import Path

import pytest
import requests

from .conftest import Server, free_port
from .support import oseo
from .support.catalogue import records_resource
from .support.oseo import NS, OSEO


PACKAGES = Path(__file__).parent / 'data' / 'packages'
SLOW = 'tests.support.slow_items.SlowItemProcessor'


@pytest.fixture(scope='module')
def products(tmp_path_factory):
    root = tmp_path_factory.mktemp('products')
    oseo.make_products(root, ['p1', 'p2', 'p3', 'arrival-1', 'arrival-2', 'late'])
    return root


@pytest.fixture(scope='module')
def server(tmp_path_factory, products):
    block = oseo.eoorder_block(products, jobs={'workers': 4},
                               massive={'threshold': 3, 'batch_size': 2})
    block['ordering']['collections'][1]['processor'] = SLOW
    block['ordering']['collections'].append(
        {'id': 'batched', 'enclosure': f'file://{products}/{{identifier}}.dat',
         'processor': SLOW})
    block['ordering']['collections'][0]['options'].append(
        {'name': 'LandCover', 'values': ['10', '20'], 'process': 'landcover',
         'product_input': 'source', 'value_input': 'resolution',
         'process_inputs': {'aoi': '0,0,1,1'}})
    resources = {'test-collection': records_resource('test-collection'),
                 'sequential': records_resource('sequential')}
    server = Server(tmp_path_factory.mktemp('lifecycle'), block, resources).start()
    yield server
    server.stop()




def _add_record(server, collection: str, identifier: str, href: str) -> None:
    record = {'id': identifier, 'type': 'Feature', 'geometry': None,
              'properties': {'type': 'product', 'title': identifier},
              'links': [{'rel': 'enclosure', 'href': href}]}
    reply = requests.post(f'{server.url}/collections/{collection}/items', json=record,
                          headers={'Content-Type': 'application/geo+json'}, timeout=10)
    assert reply.status_code == 201, reply.text


def _urls(server, order_id: str, sub: str = 'allReady') -> list[str]:
    access = oseo.payload(oseo.post(server, oseo.describe(order_id, sub)))
    return [u.findtext('oseo:itemAddress/oseo:ResourceAddress/oseo:URL', namespaces=NS)
            for u in access.findall('oseo:URLs', NS)]


def _most_at_once(server, order_id: str) -> int:
    """How many of the order's items were in production at the same time, at most (from
    the order's history: an item's InProduction and its next change)."""
    history = requests.get(f'{server.url}/orders/{order_id}', timeout=10).json()['history']
    events = []
    for entry in history:
        if entry['item'] is None:
            continue
        if entry['to'] == 'InProduction':
            events.append((entry['at'], 1))
        elif entry['from'] == 'InProduction':
            events.append((entry['at'], -1))
    running = most = 0
    for _, step in sorted(events, key=lambda e: (e[0], e[1])):  # an end before a start
        running += step
        most = max(most, running)
    return most


def test_product_found_through_the_catalogue(server, products):
    _add_record(server, 'test-collection', 'catalogued-1', (products / 'p3.dat').as_uri())
    # no collectionId and two collections: only the catalogue knows where it belongs
    order_id = oseo.order_id(server, oseo.submit(oseo.item('a', 'catalogued-1', collection=None)))
    status, items = oseo.wait_status(server, order_id, ('Completed', 'Failed'))
    assert (status, items) == ('Completed', {'a': 'Completed'})
    order = requests.get(f'{server.url}/orders/{order_id}', timeout=10).json()
    assert order['items'][0]['collection'] == 'test-collection'
    [url] = _urls(server, order_id)
    assert requests.get(url, timeout=10).content.startswith(b'product p3')


def test_subscription_delivers_products_as_they_arrive(server, products, receiver):
    _add_record(server, 'test-collection', 'before-subscription', (products / 'p1.dat').as_uri())
    subscription = ('<orderItem><itemId>sub</itemId><subscriptionId><collectionId>'
                    'test-collection</collectionId></subscriptionId></orderItem>')
    headers = (f'<wsa:MessageID>urn:uuid:sub-1</wsa:MessageID><wsa:ReplyTo><wsa:Address>'
               f'{receiver.url}</wsa:Address></wsa:ReplyTo>')
    order_id = oseo.order_id(server, oseo.soap12(oseo.submit(subscription, notification='All',
                                                       order_type='SUBSCRIPTION_ORDER'),
                                           headers), 'application/soap+xml')
    assert oseo.order_status(server, order_id) == ('Accepted', {'sub': 'Accepted'})
    for name in ('arrival-1', 'arrival-2'):
        _add_record(server, 'test-collection', name, (products / f'{name}.dat').as_uri())
    _add_record(server, 'sequential', 'elsewhere', (products / 'p2.dat').as_uri())
    status, items = oseo.wait_status(
        server, order_id, ('InProduction',), timeout=30)
    deadline = time.monotonic() + 30
    while sorted(items.values()) != ['Accepted', 'Completed', 'Completed'] and \
            time.monotonic() < deadline:
        time.sleep(0.2)
        status, items = oseo.order_status(server, order_id)
    assert items == {'sub': 'Accepted', 'sub-1': 'Completed', 'sub-2': 'Completed'}, items
    assert status == 'InProduction'  # the subscription stands until it is cancelled
    full = oseo.payload(oseo.post(server, oseo.get_status(order_id)))
    identifiers = sorted(i.findtext('oseo:productId/oseo:identifier', namespaces=NS)
                         for i in full.findall('.//oseo:orderItem', NS)
                         if i.find('oseo:productId', NS) is not None)
    assert identifiers == ['arrival-1', 'arrival-2']  # not the record that was there before
    urls = _urls(server, order_id, 'nextReady')
    assert len(urls) == 2 and _urls(server, order_id, 'nextReady') == []
    contents = sorted(requests.get(u, timeout=10).content[:17] for u in urls)
    assert contents == [b'product arrival-1', b'product arrival-2']
    receiver.wait_for(lambda e: e.tag == f'{{{OSEO}}}SubmitResponse' and
                      e.find('.//oseo:orderItem/oseo:productId', NS) is not None)
    cancelled = oseo.post(server, oseo.cancel(order_id))
    assert cancelled.status_code == 200, cancelled.text
    _add_record(server, 'test-collection', 'late', (products / 'late.dat').as_uri())
    status, items = oseo.order_status(server, order_id)
    assert status == 'Cancelled' and 'sub-3' not in items
    assert items['sub'] == 'Cancelled'


def test_massive_order_runs_in_batches_after_approval(server):
    items = ''.join(oseo.item(f'm{n}', 'p1', collection='batched') for n in range(5))
    order_id = oseo.order_id(server, oseo.submit(items))
    order = requests.get(f'{server.url}/orders/{order_id}', timeout=10).json()
    assert order['massive'] is True and order['status'] == 'Submitted'  # manual by default
    assert requests.post(f'{server.url}/orders/{order_id}/approve',
                         timeout=10).status_code == 200
    status, states = oseo.wait_status(server, order_id, ('Completed', 'Failed'), timeout=60)
    assert status == 'Completed' and set(states.values()) == {'Completed'}
    assert _most_at_once(server, order_id) == 2  # batch_size, with 4 job workers free


def test_sequential_collection_runs_items_one_after_another(server):
    items = ''.join(oseo.item(f's{n}', 'p1', collection='sequential') for n in range(3))
    order_id = oseo.order_id(server, oseo.submit(items, packaging='zip'))
    status, _ = oseo.wait_status(server, order_id, ('Completed', 'Failed'), timeout=60)
    assert status == 'Completed'
    assert _most_at_once(server, order_id) == 1


def test_parallel_collection_runs_items_at_once(server):
    items = ''.join(oseo.item(f'b{n}', 'p1', collection='batched') for n in range(3))
    order_id = oseo.order_id(server, oseo.submit(items))
    assert oseo.wait_status(server, order_id, ('Completed',), timeout=60)[0] == 'Completed'
    assert _most_at_once(server, order_id) >= 2  # the check above can tell the difference


def test_option_runs_a_deployed_process_on_the_product(server, products):
    package = (PACKAGES / 'landcover.ogcapppkg.json').read_bytes()
    reply = requests.post(f'{server.url}/processes', data=package,
                          headers={'Content-Type': 'application/ogcapppkg+json'}, timeout=30)
    assert reply.status_code in (201, 409), reply.text
    option = '<LandCover>20</LandCover>'
    order_id = oseo.order_id(server, oseo.submit(oseo.item('lc', 'p2', options=option),
                                           packaging='zip'))
    status, items = oseo.wait_status(server, order_id, ('Completed', 'Failed'), timeout=90)
    assert (status, items) == ('Completed', {'lc': 'Completed'}), \
        requests.get(f'{server.url}/orders/{order_id}', timeout=10).json()
    [url] = _urls(server, order_id)
    archive = zipfile.ZipFile(io.BytesIO(requests.get(url, timeout=10).content))
    assert 'classification' in archive.namelist()
    rows = dict(csv.reader(io.StringIO(archive.read('classification').decode())))
    assert rows['resolution'] == '20' and rows['minx'] == '0'
    assert rows['source_bytes'] == str((products / 'p2.dat').stat().st_size)


def test_option_with_a_missing_process_fails_the_item(make_server, products):
    block = oseo.eoorder_block(products)
    block['ordering']['collections'][0]['options'].append(
        {'name': 'Classify', 'process': 'not-deployed'})
    server = make_server(block, {})
    order_id = oseo.order_id(server, oseo.submit(oseo.item('x', 'p1',
                                                     options='<Classify>yes</Classify>')))
    status, items = oseo.wait_status(server, order_id, ('Completed', 'Failed'))
    assert items == {'x': 'Failed'}
    full = oseo.payload(oseo.post(server, oseo.get_status(order_id)))
    info = full.findtext('.//oseo:orderItemStatusInfo/oseo:additionalStatusInfo',
                         namespaces=NS)
    assert 'not-deployed' in info and 'not deployed' in info


def test_cancel_response_is_a_job_that_survives_a_crash(make_server, products, receiver):
    """The CancelResponse is committed as a job before CancelAck is sent: with the job
    engine frozen, then the whole server killed, it is still sent once the server is back."""
    block = oseo.eoorder_block(products, moderation={'product': 'manual'})
    server = make_server(block, {})
    order_id = oseo.order_id(server, oseo.submit(oseo.item('a', 'p1')))
    supervisor = int((server.data_dir / 'run' / 'supervisor.lock').read_text().split()[0])
    os.kill(supervisor, signal.SIGSTOP)
    try:
        headers = (f'<wsa:MessageID>urn:uuid:c-1</wsa:MessageID><wsa:ReplyTo><wsa:Address>'
                   f'{receiver.url}</wsa:Address></wsa:ReplyTo>')
        reply = oseo.post(server, oseo.soap12(oseo.cancel(order_id, 'All'), headers),
                          'application/soap+xml')
        assert reply.status_code == 200, reply.text
        [job] = requests.get(f'{server.url}/jobs', params={'type': 'notification'},
                             timeout=10).json()['jobs']
        assert job['status'] == 'accepted' and receiver.messages == []
    finally:
        os.kill(supervisor, signal.SIGKILL)
        server.kill()
    server.start()
    message = receiver.wait_for(lambda e: e.tag == f'{{{OSEO}}}CancelResponse')
    oseo.validate(message)
    assert message.findtext('.//oseo:orderId', namespaces=NS) == order_id
    assert server.wait_for(job['jobID'])['status'] == 'successful'
    assert len(receiver.messages) == 1


def test_async_quotation_response_is_sent_by_a_job(server, receiver):
    headers = (f'<wsa:MessageID>urn:uuid:q-1</wsa:MessageID><wsa:ReplyTo><wsa:Address>'
               f'{receiver.url}</wsa:Address></wsa:ReplyTo>')
    body = oseo.get_quotation(oseo.item('a', 'p1'))
    reply = oseo.post(server, oseo.soap12(body, headers), 'application/soap+xml')
    assert reply.status_code == 200, reply.text
    quotation_id = oseo.payload(reply).findtext('oseo:quotationId', namespaces=NS)
    message = receiver.wait_for(lambda e: e.tag == f'{{{OSEO}}}GetQuotationResponse')
    oseo.validate(message)
    assert message.findtext('.//oseo:quotationId', namespaces=NS) == quotation_id
    jobs = requests.get(f'{server.url}/jobs', params={'type': 'notification'},
                        timeout=10).json()['jobs']
    assert any(j['status'] == 'successful' for j in jobs)


def test_undeliverable_notification_fails_its_job_with_the_reason(server):
    """Nothing listens at the ReplyTo address: the client still gets its GetQuotationAck,
    and the notification's job fails saying what was not delivered where."""
    def notification_jobs() -> set[str]:
        return {j['jobID'] for j in requests.get(
            f'{server.url}/jobs', params={'type': 'notification', 'limit': 1000},
            timeout=10).json()['jobs']}

    before = notification_jobs()
    nowhere = f'http://127.0.0.1:{free_port()}/notify'
    headers = (f'<wsa:MessageID>urn:uuid:q-2</wsa:MessageID><wsa:ReplyTo><wsa:Address>'
               f'{nowhere}</wsa:Address></wsa:ReplyTo>')
    reply = oseo.post(server, oseo.soap12(oseo.get_quotation(oseo.item('a', 'p1')), headers),
                      'application/soap+xml')
    assert reply.status_code == 200, reply.text
    [job_id] = notification_jobs() - before
    job = server.wait_for(job_id)
    assert job['status'] == 'failed'
    assert f'GetQuotationResponse to {nowhere} was not delivered' in job['message']


def test_expired_deliveries_are_gone_then_removed(make_server, products):
    block = oseo.eoorder_block(products, delivery={'expiration_seconds': 6,
                                                   'cleanup_interval_seconds': 0.2})
    server = make_server(block, {})
    order_id = oseo.order_id(server, oseo.submit(oseo.item('a', 'p1')))
    assert oseo.wait_status(server, order_id, ('Completed',))[0] == 'Completed'
    [url] = _urls(server, order_id)
    token = url.split('/oseo/downloads/')[1].split('/')[0]
    published = server.data_dir / 'orders' / token
    assert published.is_dir() and requests.get(url, timeout=10).status_code == 200
    time.sleep(6.1)
    gone = requests.get(url, timeout=10)
    assert gone.status_code == 410 and 'expired' in gone.json()['detail']
    assert _urls(server, order_id) == []  # no longer offered
    deadline = time.monotonic() + 10
    while published.exists() and time.monotonic() < deadline:
        oseo.post(server, oseo.get_status(order_id))  # request traffic runs the cleanup
        time.sleep(0.3)
    assert not published.exists()
    assert oseo.order_status(server, order_id) == ('Downloaded', {'a': 'Downloaded'})
