"""Orders end to end over HTTP: items as jobs, status, downloads, cancel, notifications,
quotations, moderation, options and limits, REST views."""

from __future__ import annotations

import io
import zipfile

import pytest
import requests

from .conftest import Server
from .support import oseo
from .support.oseo import NS, OSEO
from .support.slow_items import HOLD_FILE

GATED = 'tests.support.slow_items.GatedItemProcessor'


@pytest.fixture(scope='module')
def products(tmp_path_factory):
    root = tmp_path_factory.mktemp('products')
    oseo.make_products(root, ['p1', 'p2', 'p3'])
    return root


@pytest.fixture(scope='module')
def server(tmp_path_factory, products):
    block = oseo.eoorder_block(products, limits={'max_items_per_order': 4,
                                                 'max_active_items_per_user': 5000})
    server = Server(tmp_path_factory.mktemp('orders'), block, {}).start()
    yield server
    server.stop()


def test_order_items_run_as_jobs_and_are_downloaded(server):
    order_id = oseo.order_id(server, oseo.submit(oseo.item('a', 'p1') + oseo.item('b', 'p2'),
                                           packaging='zip'))
    status, items = oseo.wait_status(server, order_id, ('Completed', 'Failed'))
    assert (status, items) == ('Completed', {'a': 'Completed', 'b': 'Completed'})
    jobs = requests.get(f'{server.url}/jobs', params={'type': 'order'}, timeout=10).json()
    order = requests.get(f'{server.url}/orders/{order_id}', timeout=10).json()
    job_ids = {i['jobID'] for i in order['items']}
    assert job_ids <= {j['jobID'] for j in jobs['jobs']}
    assert all(server.job(j)['status'] == 'successful' for j in job_ids)
    access = oseo.payload(oseo.post(server, oseo.describe(order_id)))
    urls = [u.findtext('oseo:itemAddress/oseo:ResourceAddress/oseo:URL', namespaces=NS)
            for u in access.findall('oseo:URLs', NS)]
    assert len(urls) == 2 and all(u.endswith('.zip') for u in urls)
    assert all(u.findtext('oseo:expirationDate', namespaces=NS)
               for u in access.findall('oseo:URLs', NS))
    archive = requests.get(urls[0], timeout=10)
    assert archive.status_code == 200
    assert zipfile.ZipFile(io.BytesIO(archive.content)).read('p1.dat').startswith(b'product p1')
    status, items = oseo.order_status(server, order_id)
    assert items['a'] == 'Downloaded' and items['b'] == 'Completed' and status == 'Completed'
    requests.get(urls[1], timeout=10)
    assert oseo.order_status(server, order_id)[0] == 'Downloaded'
    history = requests.get(f'{server.url}/orders/{order_id}', timeout=10).json()['history']
    assert [h['to'] for h in history if h['item'] is None][:2] == ['Submitted', 'Accepted']
    assert any(h['to'] == 'Downloaded' for h in history)


def test_next_ready_and_brief(server):
    order_id = oseo.order_id(server, oseo.submit(oseo.item('a', 'p1')))
    oseo.wait_status(server, order_id, ('Completed',))
    first = oseo.payload(oseo.post(server, oseo.describe(order_id, 'nextReady')))
    assert len(first.findall('oseo:URLs', NS)) == 1
    again = oseo.payload(oseo.post(server, oseo.describe(order_id, 'nextReady')))
    assert again.findall('oseo:URLs', NS) == []
    brief = oseo.payload(oseo.post(server, oseo.get_status(order_id, 'brief')))
    spec = brief.find('oseo:orderMonitorSpecification', NS)
    assert spec.findall('oseo:orderItem', NS) == []
    assert spec.findtext('oseo:orderStatusInfo/oseo:status', namespaces=NS) == 'Completed'


def test_missing_product_fails_item_with_reason(server):
    order_id = oseo.order_id(server, oseo.submit(oseo.item('ok', 'p1') +
                                                 oseo.item('gone', 'nope')))
    status, items = oseo.wait_status(server, order_id, ('Completed', 'Failed'))
    assert items == {'ok': 'Completed', 'gone': 'Failed'}
    assert status == 'Completed'
    full = oseo.payload(oseo.post(server, oseo.get_status(order_id)))
    info = full.findtext('.//oseo:orderStatusInfo/oseo:additionalStatusInfo', namespaces=NS)
    assert '1 of 2 items completed' in info


def test_get_status_filtering_criteria(server):
    order_id = oseo.order_id(server, oseo.submit(oseo.item('a', 'p1'), reference='findme'))
    body = (f'<GetStatus xmlns="{OSEO}" service="OS" version="1.0.0"><filteringCriteria>'
            f'<lastUpdate>2000-01-01T00:00:00Z</lastUpdate><orderReference>findme'
            f'</orderReference></filteringCriteria><presentation>brief</presentation></GetStatus>')
    found = oseo.payload(oseo.post(server, body)).findall('.//oseo:orderId', NS)
    assert [f.text for f in found] == [order_id]
    none = body.replace('2000-01-01', '2999-01-01')
    assert oseo.payload(oseo.post(server, none)).findall('.//oseo:orderId', NS) == []


def test_cancel_dismisses_item_jobs(make_server, products, receiver):
    block = oseo.eoorder_block(products)
    # the items are held (a gate file) until the Cancel has been answered
    block['ordering']['collections'][1]['processor'] = GATED
    server = make_server(block, {})
    gate = products / HOLD_FILE
    gate.touch()
    try:
        items = ''.join(oseo.item(f'i{n}', 'p1', collection='sequential') for n in range(4))
        headers = (f'<wsa:MessageID>urn:uuid:1</wsa:MessageID><wsa:ReplyTo><wsa:Address>'
                   f'{receiver.url}</wsa:Address></wsa:ReplyTo>')
        order_id = oseo.order_id(server, oseo.soap12(oseo.submit(items, packaging='zip'),
                                                     headers),
                                 content_type='application/soap+xml')
        reply = oseo.post(server, oseo.soap12(oseo.cancel(order_id, 'All'), headers),
                          'application/soap+xml')
    finally:
        gate.unlink()
    assert oseo.payload(reply).tag == f'{{{OSEO}}}CancelAck'
    status, items = oseo.order_status(server, order_id)
    assert status == 'Cancelled'
    assert 'Cancelled' in items.values()
    order = requests.get(f'{server.url}/orders/{order_id}', timeout=10).json()
    for item in order['items']:
        if item['status'] == 'Cancelled' and item['jobID']:
            assert server.job(item['jobID'])['status'] in ('dismissed', 'successful')
    message = receiver.wait_for(lambda e: e.tag == f'{{{OSEO}}}CancelResponse')
    oseo.validate(message)
    assert message.findtext('.//oseo:orderId', namespaces=NS) == order_id
    again = oseo.post(server, oseo.cancel(order_id))
    assert oseo.exception(again) == ('InvalidParameterValue', 'orderId')


def test_submit_response_notifications(server, receiver):
    headers = (f'<wsa:MessageID>urn:uuid:2</wsa:MessageID><wsa:ReplyTo><wsa:Address>'
               f'{receiver.url}</wsa:Address></wsa:ReplyTo>')
    order_id = oseo.order_id(server, oseo.soap12(oseo.submit(oseo.item('a', 'p1'),
                                                       notification='Final'), headers),
                       content_type='application/soap+xml')
    final = receiver.wait_for(lambda e: e.findtext(
        'oseo:orderMonitorSpecification/oseo:orderStatusInfo/oseo:status',
        namespaces=NS) == 'Completed')
    oseo.validate(final)
    assert final.tag == f'{{{OSEO}}}SubmitResponse'
    assert final.findtext('.//oseo:orderId', namespaces=NS) == order_id
    statuses = [e.findtext('.//oseo:orderStatusInfo/oseo:status', namespaces=NS)
                for e in receiver.payloads()]
    assert statuses == ['Completed']  # Final: only the final status
    headers, _ = receiver.messages[0]
    assert headers['Content-Type'].startswith('application/soap+xml')


def test_quotation_sync_async_and_submit_by_quotation(server, receiver):
    spec = oseo.get_quotation(oseo.item('a', 'p1'))
    ack = oseo.payload(oseo.post(server, spec))
    assert ack.tag == f'{{{OSEO}}}GetQuotationAck'
    quotation_id = ack.findtext('oseo:quotation/oseo:quotationId', namespaces=NS)
    assert ack.findtext('oseo:quotation/oseo:price/oseo:currency', namespaces=NS) == 'EUR'
    headers = (f'<wsa:MessageID>urn:uuid:3</wsa:MessageID><wsa:ReplyTo><wsa:Address>'
               f'{receiver.url}</wsa:Address></wsa:ReplyTo>')
    later = oseo.payload(oseo.post(server, oseo.soap12(spec, headers), 'application/soap+xml'))
    async_id = later.findtext('oseo:quotationId', namespaces=NS)
    response = receiver.wait_for(lambda e: e.tag == f'{{{OSEO}}}GetQuotationResponse')
    oseo.validate(response)
    assert response.findtext('oseo:quotation/oseo:quotationId', namespaces=NS) == async_id
    by_quotation = (f'<Submit xmlns="{OSEO}" service="OS" version="1.0.0"><quotationId>'
                    f'{quotation_id}</quotationId><statusNotification>None</statusNotification>'
                    f'</Submit>')
    order_id = oseo.order_id(server, by_quotation)
    assert oseo.wait_status(server, order_id, ('Completed',))[0] == 'Completed'
    assert oseo.exception(oseo.post(server, by_quotation)) == ('InvalidParameterValue',
                                                               'quotationId')


def test_get_options(server):
    body = (f'<GetOptions xmlns="{OSEO}" service="OS" version="1.0.0"><collectionId>'
            f'test-collection</collectionId></GetOptions>')
    answer = oseo.payload(oseo.post(server, body))
    kinds = [o.findtext('oseo:orderType', namespaces=NS) for o in answer.findall('oseo:orderOptions', NS)]
    assert kinds == ['PRODUCT_ORDER', 'SUBSCRIPTION_ORDER']
    names = [f.get('name') for f in answer.iterfind('.//{http://www.opengis.net/swe/2.0}field')]
    assert {'Format', 'RegionOfInterest', 'packaging', 'priority'} <= set(names)
    by_id = body.replace('<collectionId>test-collection</collectionId>',
                         '<identifier>p1</identifier>')
    # two collections and no catalogue record: p1's collection cannot be told
    assert oseo.exception(oseo.post(server, by_id)) == ('InvalidParameterValue', 'identifier')
    by_prefix = by_id.replace('<identifier>p1', '<identifier>sequential-p1')
    options = oseo.payload(oseo.post(server, by_prefix)).findall('oseo:orderOptions', NS)
    assert [o.findtext('oseo:identifier', namespaces=NS) for o in options] == ['sequential-p1']
    unknown = body.replace('test-collection', 'nope')
    assert oseo.exception(oseo.post(server, unknown)) == ('UnsupportedCollection', 'collectionId')


@pytest.mark.parametrize('body, locator', [
    (oseo.submit(oseo.item('a', 'p1', options='<Colour>red</Colour>')), 'Colour'),
    (oseo.submit(oseo.item('a', 'p1'), order_options='<Format>BMP</Format>'), 'Format'),
    (oseo.submit(oseo.item('a', 'p1', collection='sequential'), packaging='tgz'), 'packaging'),
    (oseo.submit(oseo.item('a', 'p1'), delivery='ftp'), 'protocol'),
    (oseo.submit(''.join(oseo.item(f'i{n}', 'p1') for n in range(5))), 'orderItem'),
    (oseo.submit(oseo.item('a', 'p1') + oseo.item('a', 'p2')), 'itemId'),
])
def test_options_checked(server, body, locator):
    assert oseo.exception(oseo.post(server, body)) == ('InvalidParameterValue', locator)


def test_internal_process_hidden(server):
    listing = requests.get(f'{server.url}/processes', timeout=10).json()
    assert not any(p['id'].startswith('_') for p in listing['processes'])
    assert requests.get(f'{server.url}/processes/_oseo_order_item', timeout=10).status_code == 404
    run = requests.post(f'{server.url}/processes/_oseo_order_item/execution',
                        json={'inputs': {}}, timeout=10)
    assert run.status_code == 404
    assert '/oseo' in requests.get(f'{server.url}/openapi?f=json', timeout=10).json()['paths']


def test_orders_views(server):
    order_id = oseo.order_id(server, oseo.submit(oseo.item('a', 'p1')))
    listing = requests.get(f'{server.url}/orders', timeout=10).json()
    assert order_id in [o['id'] for o in listing['orders']]
    page = requests.get(f'{server.url}/orders/{order_id}?f=html', timeout=10)
    assert page.headers['Content-Type'].startswith('text/html') and order_id in page.text
    assert 'id="items"' in page.text and 'id="history"' in page.text
    assert 'eoorder-nav' in page.text and '/static/' in page.text  # pygeoapi's layout
    listing_page = requests.get(f'{server.url}/orders?f=html', timeout=10)
    assert f'/orders/{order_id}?f=html' in listing_page.text and 'eoorder-nav' in \
        listing_page.text
    assert requests.get(f'{server.url}/orders/nope', timeout=10).status_code == 404


def test_manual_moderation(make_server, products):
    block = oseo.eoorder_block(products, moderation={'product': 'manual'})
    server = make_server(block, {})
    order_id = oseo.order_id(server, oseo.submit(oseo.item('a', 'p1')))
    # Submit has decided (in its transaction): the order waits for a moderator, and no item
    # has a job that could run
    held = requests.get(f'{server.url}/orders/{order_id}', timeout=10).json()
    assert held['statusInfo'] == 'awaiting approval', held
    assert [(i['itemId'], i['status'], i['jobID']) for i in held['items']] == \
        [('a', 'Submitted', None)]
    status, items = oseo.order_status(server, order_id)
    assert (status, items) == ('Submitted', {'a': 'Submitted'})
    reply = requests.post(f'{server.url}/orders/{order_id}/approve', timeout=10)
    assert reply.status_code == 200, reply.text
    assert oseo.wait_status(server, order_id, ('Completed',))[0] == 'Completed'
    assert requests.post(f'{server.url}/orders/{order_id}/approve', timeout=10).status_code == 409
    other = oseo.order_id(server, oseo.submit(oseo.item('a', 'p1')))
    assert requests.post(f'{server.url}/orders/{other}/reject', json={'reason': 'no quota'},
                         timeout=10).status_code == 200
    status, items = oseo.order_status(server, other)
    assert status == 'Terminated' and items == {'a': 'Terminated'}


def test_foreign_order_is_invalid_identifier(make_server, products, tmp_path):
    from werkzeug.security import generate_password_hash
    users = tmp_path / 'users.yml'
    users.write_text(
        'users:\n'
        f'  alice: {{password: "{generate_password_hash("a")}", roles: [user]}}\n'
        f'  bob: {{password: "{generate_password_hash("b")}", roles: [user]}}\n')
    auth = {'authenticators': [{'name': 'basic', 'users_file': str(users)}]}
    server = make_server(oseo.eoorder_block(products, auth=auth), {})
    order_id = oseo.order_id(server, oseo.submit(oseo.item('a', 'p1')), auth=('alice', 'a'))
    mine = oseo.post(server, oseo.get_status(order_id, 'brief'), auth=('alice', 'a'))
    assert mine.status_code == 200
    theirs = oseo.post(server, oseo.get_status(order_id, 'brief'), auth=('bob', 'b'))
    assert oseo.exception(theirs) == ('InvalidOrderIdentifier', 'orderId')
    wrong = oseo.post(server, oseo.get_status(order_id, 'brief'), auth=('bob', 'x'))
    assert oseo.exception(wrong)[0] == 'AuthenticationFailed' and wrong.status_code == 401
    token = ('<wsse:Security xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-'
             'wss-wssecurity-secext-1.0.xsd"><wsse:UsernameToken><wsse:Username>alice'
             '</wsse:Username><wsse:Password>{}</wsse:Password></wsse:UsernameToken>'
             '</wsse:Security>')
    ok = oseo.post(server, oseo.soap11(oseo.get_status(order_id, 'brief'),
                                       token.format('a')), 'text/xml')
    assert ok.status_code == 200
    bad = oseo.post(server, oseo.soap11(oseo.get_status(order_id, 'brief'),
                                        token.format('zz')), 'text/xml')
    assert oseo.exception(bad) == ('AuthenticationFailed', 'UsernameToken')


def test_failed_submit_leaves_its_quotation_usable(make_server, products):
    """A Submit by quotation refused after its quotation is checked (LimitExceeded: another
    order holds the user's only active item) neither places an order nor uses the quotation
    up: once that order is cancelled, the same quotation is submitted, once."""
    block = oseo.eoorder_block(products, limits={'max_active_items_per_user': 1},
                               moderation={'product': 'manual'})
    server = make_server(block, {})
    ack = oseo.payload(oseo.post(server, oseo.get_quotation(oseo.item('a', 'p1'))))
    quotation_id = ack.findtext('oseo:quotation/oseo:quotationId', namespaces=NS)
    held = oseo.order_id(server, oseo.submit(oseo.item('h', 'p2')))  # awaits approval
    by_quotation = (f'<Submit xmlns="{OSEO}" service="OS" version="1.0.0"><quotationId>'
                    f'{quotation_id}</quotationId><statusNotification>None</statusNotification>'
                    f'</Submit>')
    assert oseo.exception(oseo.post(server, by_quotation)) == ('LimitExceeded', 'orderItem')
    orders = requests.get(f'{server.url}/orders', timeout=10).json()
    assert [o['id'] for o in orders['orders']] == [held]
    assert oseo.payload(oseo.post(server, oseo.cancel(held))).tag == f'{{{OSEO}}}CancelAck'
    order_id = oseo.order_id(server, by_quotation)
    assert oseo.order_status(server, order_id) == ('Submitted', {'a': 'Submitted'})
    assert oseo.exception(oseo.post(server, by_quotation)) == ('InvalidParameterValue',
                                                               'quotationId')
