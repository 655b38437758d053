"""Web safety (findings 17-21 of issue 13), attacked over HTTP against a running server:
unsafe hrefs on HTML pages, cross-site requests, security headers, Basic-auth user
enumeration and guessing, hostile nesting and encodings."""

from __future__ import annotations

import json
import statistics
import time
from html.parser import HTMLParser

import pytest
import requests
from werkzeug.security import generate_password_hash

from ..support import oseo
from ..support.auth import as_, username_token
from ..support.catalogue import eo_record, records_resource
from .conftest import TEST_PROCESSES, USERS, call, start_secure_server

EVIL = 'http://evil.example'
PORTAL = 'https://portal.example'  # in web.trusted_origins
UNSAFE_HREFS = ['javascript:alert(document.domain)', ' JaVa\tScRiPt:alert(1)',
                'data:text/html,<script>alert(1)</script>', 'vbscript:msgbox(1)']


@pytest.fixture(scope='module')
def products(tmp_path_factory):
    root = tmp_path_factory.mktemp('products')
    oseo.make_products(root, ['p1', 'p2'])
    return root


@pytest.fixture(scope='module')
def server(tmp_path_factory, products):
    """Basic auth; an editable record collection; ordering with manual moderation."""
    resources = {**TEST_PROCESSES, 'products': records_resource('products')}
    server = start_secure_server(tmp_path_factory.mktemp('web'), resources,
                                 **oseo.eoorder_block(products, moderation={'product': 'manual'}),
                                 web={'trusted_origins': [PORTAL]})
    yield server
    server.stop()


class Anchors(HTMLParser):
    """The href of every <a>/<area> in a page, and the page's text."""

    def __init__(self):
        super().__init__()
        self.hrefs: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in ('a', 'area'):
            self.hrefs += [value or '' for name, value in attrs if name == 'href']

    def handle_data(self, data):
        self.text.append(data)


def anchors(page: str) -> Anchors:
    parser = Anchors()
    parser.feed(page)
    return parser


def is_web_link(href: str) -> bool:
    cleaned = ''.join(c for c in href if c > ' ' and c != '\x7f').lower()
    return ':' not in cleaned.split('/')[0] or cleaned.startswith(('http:', 'https:'))


def orders_of(server, user: str) -> list[str]:
    reply = call(server, 'GET', '/orders', user, headers={'Accept': 'application/json'})
    assert reply.status_code == 200, reply.text
    return [o['id'] for o in reply.json()['orders']]


def jobs_of(server, user: str) -> list[str]:
    reply = call(server, 'GET', '/jobs', user, params={'f': 'json', 'limit': 1000})
    assert reply.status_code == 200, reply.text
    return [j['jobID'] for j in reply.json()['jobs']]


def submit_xml() -> bytes:
    return oseo.submit(oseo.item('a', 'p1')).encode()


def assert_ows_refusal(reply: requests.Response, status: int) -> None:
    assert reply.status_code == status, reply.text
    assert b'ExceptionReport' in reply.content, reply.text


# -- finding 17 ---------------------------------------------------------------------------
def test_finding_17_javascript_href_is_not_rendered_as_a_link(server):
    record = eo_record(1)
    record['id'] = 'xss-record'
    record['links'] = [{'rel': 'related', 'href': href, 'title': f'bad {index}'}
                       for index, href in enumerate(UNSAFE_HREFS)]
    record['links'].append({'rel': 'related', 'href': 'https://example.org/fine',
                            'title': 'fine'})
    record['properties']['externalIds'] = [{'scheme': 'url', 'value': UNSAFE_HREFS[0]}]
    reply = call(server, 'POST', '/collections/products/items', 'curator', json=record,
                 headers={'Content-Type': 'application/geo+json'})
    assert reply.status_code == 201, reply.text
    stored = call(server, 'GET', '/collections/products/items/xss-record', 'alice',
                  params={'f': 'json'}).json()
    assert UNSAFE_HREFS[0] in {link['href'] for link in stored['links']}  # the attack landed

    for path in ('/collections/products/items/xss-record', '/collections/products/items'):
        reply = call(server, 'GET', path, 'alice', params={'f': 'html'})
        assert reply.status_code == 200, reply.text
        page = anchors(reply.text)
        unsafe = [href for href in page.hrefs if not is_web_link(href)]
        assert unsafe == [], f'{path}: unsafe links {unsafe}'
        if path.endswith('xss-record'):
            assert 'https://example.org/fine' in page.hrefs  # safe links stay links
            assert 'bad 0' in ''.join(page.text)  # the unsafe one is shown as text
            assert '<script>alert(1)' not in reply.text  # escaping stays


# -- finding 18 ---------------------------------------------------------------------------
def test_finding_18_cross_site_oseo_order_is_refused(server):
    before = orders_of(server, 'alice')
    # a cross-site form/fetch: text/plain body (no preflight), the victim's credentials
    for headers in ({'Content-Type': 'text/plain', 'Origin': EVIL,
                     'Sec-Fetch-Site': 'cross-site'},
                    {'Content-Type': 'text/plain'},
                    {'Content-Type': 'application/xml', 'Origin': EVIL},
                    {'Content-Type': 'application/xml', 'Origin': 'null'},
                    {'Content-Type': 'application/xml', 'Sec-Fetch-Site': 'cross-site'}):
        reply = call(server, 'POST', '/oseo', 'alice', data=submit_xml(), headers=headers)
        assert_ows_refusal(reply, 415 if 'Origin' not in headers and
                           'Sec-Fetch-Site' not in headers else 403)
    assert orders_of(server, 'alice') == before
    # the same order from a client outside a browser, or from our own pages, is placed
    for headers in ({'Content-Type': 'application/xml'},
                    {'Content-Type': 'application/xml', 'Origin': server.url,
                     'Sec-Fetch-Site': 'same-origin'}):
        reply = call(server, 'POST', '/oseo', 'alice', data=submit_xml(), headers=headers)
        assert reply.status_code == 200 and b'SubmitAck' in reply.content, reply.text
    assert len(orders_of(server, 'alice')) == len(before) + 2


def test_finding_18_cross_site_operator_reject_is_refused(server):
    reply = call(server, 'POST', '/oseo', 'bob', data=submit_xml(),
                 headers={'Content-Type': 'application/xml'})
    assert reply.status_code == 200, reply.text
    order_id = orders_of(server, 'bob')[0]

    def status() -> str:
        return call(server, 'GET', f'/orders/{order_id}', 'operator',
                    headers={'Accept': 'application/json'}).json()['status']

    assert status() == 'Submitted'
    for headers, body in (({'Origin': EVIL, 'Sec-Fetch-Site': 'cross-site'}, None),
                          ({'Sec-Fetch-Site': 'cross-site'}, None),
                          ({'Sec-Fetch-Site': 'same-site', 'Origin': 'http://x.127.0.0.1'},
                           None),
                          ({'Content-Type': 'application/x-www-form-urlencoded'},
                           'reason=csrf'),
                          ({'Content-Type': 'text/plain'}, '{"reason": "csrf"}')):
        reply = call(server, 'POST', f'/orders/{order_id}/reject', 'operator', data=body,
                     headers=headers)
        assert reply.status_code in (403, 415), reply.text
        assert reply.headers['Content-Type'].startswith('application/problem+json')
        assert status() == 'Submitted'
    reply = call(server, 'POST', f'/orders/{order_id}/reject', 'operator',
                 json={'reason': 'by hand'})
    assert reply.status_code == 200, reply.text
    assert status() == 'Terminated'


def test_finding_18_cross_site_job_creation_is_refused(server):
    before = jobs_of(server, 'alice')
    body = json.dumps({'inputs': {'text': 'csrf'}})
    attacks = ({'Content-Type': 'text/plain', 'Origin': EVIL, 'Sec-Fetch-Site': 'cross-site'},
               {'Content-Type': 'text/plain'},
               {'Content-Type': 'application/json', 'Origin': EVIL},
               {'Content-Type': 'application/json', 'Sec-Fetch-Site': 'cross-site'})
    for headers in attacks:
        reply = call(server, 'POST', '/processes/text/execution', 'alice', data=body,
                     headers={'Prefer': 'respond-async', **headers})
        assert reply.status_code in (403, 415), reply.text
        assert reply.json()['status'] == reply.status_code
    assert jobs_of(server, 'alice') == before
    for headers in ({'Content-Type': 'application/json'},
                    {'Content-Type': 'application/json', 'Origin': server.url,
                     'Sec-Fetch-Site': 'same-origin'},
                    {'Content-Type': 'application/json',  # another name of this host
                     'Origin': server.url.replace('127.0.0.1', 'localhost')},
                    {'Content-Type': 'application/json', 'Origin': PORTAL,
                     'Sec-Fetch-Site': 'cross-site'}):
        url = server.url.replace('127.0.0.1', 'localhost') \
            if 'localhost' in headers.get('Origin', '') else server.url
        reply = requests.post(f'{url}/processes/text/execution', data=body,
                              auth=as_('alice'), timeout=60,
                              headers={'Prefer': 'respond-async', **headers})
        assert reply.status_code == 201, reply.text
    assert len(jobs_of(server, 'alice')) == len(before) + 4


# -- finding 19 ---------------------------------------------------------------------------
@pytest.mark.parametrize('path', ['/ui', '/ui/search', '/ui/deploy', '/collections?f=html',
                                  '/processes?f=html', '/jobs?f=html', '/orders?f=html'])
def test_finding_19_pages_carry_frame_and_content_protection(server, path):
    reply = call(server, 'GET', path, 'alice')
    assert reply.status_code == 200 and reply.headers['Content-Type'].startswith('text/html')
    assert reply.headers['X-Content-Type-Options'] == 'nosniff'
    assert reply.headers['X-Frame-Options'] == 'DENY'
    csp = reply.headers['Content-Security-Policy']
    assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp
    assert reply.headers['Referrer-Policy']


@pytest.mark.parametrize('path', ['/processes', '/jobs', '/collections/products/items',
                                  '/oseo?service=OS&request=GetCapabilities',
                                  '/ui/static/eoorder.js', '/no-such-route'])
def test_finding_19_every_response_says_nosniff(server, path):
    reply = call(server, 'GET', path, 'alice')
    assert reply.headers['X-Content-Type-Options'] == 'nosniff', (reply.status_code,
                                                                  reply.headers)


# -- finding 20 ---------------------------------------------------------------------------
def test_finding_20_unknown_users_cost_the_same_and_guessing_is_throttled(tmp_path):
    # the users file as `eoorder users add` writes it: werkzeug's default (slow) hash
    users = tmp_path / 'real-users.yml'
    users.write_text(json.dumps({'users': {
        name: {'password': generate_password_hash(f'{name}-pw'), 'roles': roles}
        for name, roles in USERS.items()}}))
    server = start_secure_server(
        tmp_path / 'srv', {}, auth={'authenticators': [{'name': 'basic',
                                                         'users_file': str(users)}],
                                    'throttle': {'max_failures': 3,
                                                 'max_failures_per_address': 60,
                                                 'window_seconds': 6}})
    try:
        def attempt(user: str, password: str) -> tuple[int, float, requests.Response]:
            started = time.perf_counter()
            reply = requests.get(f'{server.url}/jobs', auth=(user, password), timeout=60)
            return reply.status_code, time.perf_counter() - started, reply

        # timing: a known user with a wrong password vs unknown users (alternating; a few
        # names so that no name reaches its limit: the address limit is 60)
        known, unknown = [], []
        for index in range(20):
            status, seconds, _ = attempt(['alice', 'bob', 'dev', 'dev2', 'admin',
                                          'operator', 'curator'][index % 7], 'wrong')
            assert status == 401
            known.append(seconds)
            status, seconds, _ = attempt(f'nobody{index}', 'wrong')
            assert status == 401
            unknown.append(seconds)
        fast, slow = statistics.median(unknown), statistics.median(known)
        assert abs(slow - fast) < 0.5 * slow, (fast, slow)
        time.sleep(6.5)  # forget those failures

        # throttle per user name: 3 wrong guesses, then even the right password waits
        for _ in range(3):
            assert attempt('alice', 'guess')[0] == 401
        status, _, reply = attempt('alice', 'alice-pw')
        assert status == 429, reply.text
        assert 1 <= int(reply.headers['Retry-After']) <= 6
        assert attempt('bob', 'bob-pw')[0] == 200  # other users are not affected
        time.sleep(int(reply.headers['Retry-After']) + 0.5)
        assert attempt('alice', 'alice-pw')[0] == 200  # not locked out for good
    finally:
        server.stop()


def test_finding_20_throttle_per_client_address(tmp_path, products):
    server = start_secure_server(tmp_path / 'srv', {}, **oseo.eoorder_block(products), auth={
        'throttle': {'max_failures': 50, 'max_failures_per_address': 5, 'window_seconds': 5}})
    try:
        for index in range(5):
            assert call(server, 'GET', '/jobs', f'nobody{index}').status_code == 401
        reply = call(server, 'GET', '/jobs', 'alice')
        assert reply.status_code == 429 and reply.headers['Retry-After'], reply.text
        # OSEO: HTTP credentials and a WS-Security UsernameToken are throttled too
        reply = requests.post(f'{server.url}/oseo', auth=as_('alice'), timeout=30,
                              data=oseo.get_status('x').encode(),
                              headers={'Content-Type': 'application/xml'})
        assert_ows_refusal(reply, 429)
        reply = requests.post(f'{server.url}/oseo', timeout=30,
                              data=oseo.soap12(oseo.get_status('x'), username_token('alice')),
                              headers={'Content-Type': 'application/soap+xml'})
        assert reply.status_code == 400 and b'too many failed logins' in reply.content, \
            reply.text
        time.sleep(int(call(server, 'GET', '/jobs', 'alice').headers.get('Retry-After', 5))
                   + 0.5)
        assert call(server, 'GET', '/jobs', 'alice').status_code == 200
    finally:
        server.stop()


# -- finding 21 (parsers) ------------------------------------------------------------------
def deep_cql_json(levels: int) -> str:
    """A CQL2-JSON filter `levels` brackets deep (NOT inside NOT ...)."""
    return ('{"op":"not","args":[' * (levels // 2)
            + '{"op":"=","args":[{"property":"title"},"x"]}' + ']}' * (levels // 2))


def deep_json(levels: int) -> str:
    return '{"a":' * levels + '1' + '}' * levels


def test_finding_21_deep_nesting_is_a_400(server):
    cql = deep_cql_json(900)
    # in a query string: as deep as a 4 KB request line (the server's limit) allows
    compact = '{"op":"in","args":[{"property":"title"},' + '[' * 400 + '"x"' + ']' * 401 + '}'
    items = '/collections/products/items?filter'
    attacks = [
        ('GET', f'{items}-lang=cql2-json&filter={compact}', 'alice', {}),
        ('GET', f'{items}={compact}', 'alice', {}),
        ('GET', f'{items}=' + '(' * 900 + "title='x'" + ')' * 900, 'alice', {}),
        ('POST', '/collections/products/items', 'alice',
         {'data': cql, 'headers': {'Content-Type': 'application/query-cql-json'}}),
        ('POST', '/collections/products/items', 'alice',
         {'data': cql, 'headers': {'Content-Type': 'application/json'}}),
        ('POST', '/collections/products/items', 'curator',
         {'data': deep_json(900), 'headers': {'Content-Type': 'application/geo+json'}}),
        ('POST', '/processes/text/execution', 'alice',
         {'data': '{"inputs": {"x": ' + deep_json(900) + '}}',
          'headers': {'Content-Type': 'application/json'}}),
        ('POST', '/processes', 'dev',
         {'data': deep_json(5000), 'headers': {'Content-Type': 'application/ogcapppkg+json'}}),
    ]
    for method, path, user, kwargs in attacks:
        reply = call(server, method, path, user, **kwargs)
        assert reply.status_code == 400, (method, path, reply.status_code, reply.text[:300])
        assert 'nested deeper than' in reply.json()['detail'], reply.text[:300]
    assert call(server, 'GET', '/collections/products/items', 'alice').status_code == 200


@pytest.mark.parametrize('encoding', ['utf-16', 'utf-16-be', 'utf-32'])
def test_finding_21_doctype_in_any_encoding_is_refused(server, canary, encoding):
    before = orders_of(server, 'alice')
    entities = ('<!DOCTYPE Submit [<!ENTITY leak SYSTEM "file://{}/secret.txt">'
                '<!ENTITY a "aaaaaaaaaaaaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>')
    name = encoding.upper()
    document = (f'<?xml version="1.0" encoding="{name}"?>'
                + entities.format(canary)
                + submit_xml().decode().replace('ref-1', '&leak;&b;'))
    for content_type in ('application/xml', 'application/soap+xml'):
        data = document.encode(encoding)
        if content_type == 'application/soap+xml':
            data = (f'<?xml version="1.0" encoding="{name}"?>' + entities.format(canary)
                    + oseo.soap12(submit_xml().decode().replace('ref-1', '&leak;'))
                    .decode()).encode(encoding)
        reply = call(server, 'POST', '/oseo', 'alice', data=data,
                     headers={'Content-Type': content_type})
        assert 400 <= reply.status_code < 500, reply.text
        assert b'HOST-SECRET' not in reply.content
        text = reply.content.decode('utf-8', 'replace')
        assert 'document type declaration' in text, text
    assert orders_of(server, 'alice') == before
    # the same in an application package (OGC Web Services Context, Atom)
    atom = (f'<?xml version="1.0" encoding="{name}"?>' + entities.format(canary)
            + '<feed xmlns="http://www.w3.org/2005/Atom"><title>&leak;</title></feed>')
    reply = call(server, 'POST', '/processes', 'dev', data=atom.encode(encoding),
                 headers={'Content-Type': 'application/atom+xml'})
    assert 400 <= reply.status_code < 500, reply.text
    assert 'HOST-SECRET' not in reply.text
