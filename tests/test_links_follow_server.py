"""Links follow the server (issue 20, items 3 and 5), against real `eoorder serve` processes.

With `server.url` unset (the embedded default) every link, `Location`, result href,
OpenAPI `servers` entry, OSEO/OpenSearch URL and HTML page is built from the URL the
client used: two servers on two ports, each reached as 127.0.0.1 and as localhost.
`X-Forwarded-*` count only behind a trusted proxy; a configured `server.url` is kept. The
landing page links every service, and a record's order link opens a working order form.
"""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
import yaml
from lxml import etree

from .conftest import REPO, TEST_PROCESSES, Server, eoorder_cmd, free_port, server_env
from .support import oseo
from .support.catalogue import eo_record, records_resource
from .test_ui_browser import Browsing, browser  # noqa: F401 - the Chromium fixture

PACKAGES = Path(__file__).parent / 'data' / 'packages'
PKG = 'application/ogcapppkg+json'
HOSTS = ('127.0.0.1', 'localhost')
ABSOLUTE = re.compile(r'''(?:href|src|action|data-base)="(https?://[^"]*)"''')


def start(directory: Path, eoorder: dict, resources: dict, url: str | None = None) -> Server:
    """A server whose config has no `server.url` (or the given one)."""
    server = Server(directory, eoorder, resources)
    config = yaml.safe_load(server.config.read_text())
    config['server'].pop('url')
    if url:
        config['server']['url'] = url
    server.config.write_text(yaml.safe_dump(config))
    return server.start()


def shop_block(root: Path, **extra) -> dict:
    oseo.make_products(root, ['p1', 'p2', 'p3'])
    block = oseo.eoorder_block(root, jobs={'workers': 2})
    block['ordering']['collections'][0]['packaging'] = ['zip']
    block.update(extra)
    return block


def shop_resources() -> dict:
    return {'test-collection': records_resource('Test products'), **TEST_PROCESSES}


def seed(base: str, root: Path, names=('p1', 'p2', 'p3')) -> None:
    for index, name in enumerate(names, 1):
        record = eo_record(index, id=name)
        record['links'] = [{'rel': 'enclosure', 'href': f'file://{root}/{name}.dat',
                            'type': 'application/octet-stream'}]
        reply = requests.post(f'{base}/collections/test-collection/items', json=record,
                              headers={'Content-Type': 'application/geo+json'}, timeout=10)
        assert reply.status_code == 201, reply.text
        assert reply.headers['Location'] == \
            f'{base}/collections/test-collection/items/{name}'


@pytest.fixture(scope='module')
def shops(tmp_path_factory):
    """Two servers (two ports) without server.url, with ordering and a catalogue."""
    servers = []
    try:
        for index in range(2):
            root = tmp_path_factory.mktemp(f'products{index}')
            server = start(tmp_path_factory.mktemp(f'shop{index}'), shop_block(root),
                           shop_resources())
            servers.append(server)
            seed(server.url, root)
        assert servers[0].port != servers[1].port
        yield servers
    finally:
        for server in servers:
            server.stop()


def own_hrefs(document, base_netloc_port: int) -> list[str]:
    """Every http(s) URL in a JSON document that points at a loopback server of this port."""
    found = []

    def walk(value):
        if isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)
        elif isinstance(value, str) and value.startswith(('http://', 'https://')):
            parts = urlsplit(value)
            if parts.hostname in HOSTS or parts.port == base_netloc_port:
                found.append(value)
    walk(document)
    return found


def assert_all_start_with(urls: list[str], base: str) -> None:
    assert urls, 'no link to check'
    wrong = [url for url in urls if not (url == base or url.startswith((base + '/',
                                                                        base + '?')))]
    assert not wrong, f'links not at {base}: {wrong[:5]}'


def other_origin(host: str, port: int) -> str:
    return f'{HOSTS[1] if host == HOSTS[0] else HOSTS[0]}:{port}'


# -- links follow the host and port the client used ---------------------------------------
@pytest.mark.parametrize('index', [0, 1])
@pytest.mark.parametrize('host', HOSTS)
def test_links_follow_the_host_and_port_the_client_used(shops, index, host):
    server = shops[index]
    base = f'http://{host}:{server.port}'
    other = other_origin(host, server.port)
    # landing page, OpenAPI servers, collections and records (with their order links)
    landing = requests.get(f'{base}/?f=json', timeout=10).json()
    assert_all_start_with(own_hrefs(landing, server.port), base)
    assert requests.get(f'{base}/openapi?f=json', timeout=10).json()['servers'][0]['url'] \
        == base
    items = requests.get(f'{base}/collections/test-collection/items', timeout=10).json()
    assert_all_start_with(own_hrefs(items, server.port), base)
    # a job: Location, status links; read from the other host name, links follow the reader
    reply = requests.post(f'{base}/processes/countdown/execution', json={'inputs': {}},
                          headers={'Prefer': 'respond-async'}, timeout=30)
    assert reply.status_code == 201, reply.text
    job_id = reply.json()['jobID']
    assert reply.headers['Location'] == f'{base}/jobs/{job_id}'
    assert_all_start_with(own_hrefs(reply.json(), server.port), base)
    listing = requests.get(f'{base}/jobs', timeout=10).json()
    assert_all_start_with(own_hrefs(listing, server.port), base)
    elsewhere = requests.get(f'http://{other}/jobs/{job_id}', timeout=10).json()
    assert_all_start_with(own_hrefs(elsewhere, server.port), f'http://{other}')
    # OSEO capabilities and OpenSearch descriptions name the URL the client used
    capabilities = requests.get(f'{base}/oseo', timeout=10,
                                params={'service': 'OS', 'request': 'GetCapabilities'})
    assert capabilities.status_code == 200, capabilities.text
    hrefs = etree.fromstring(capabilities.content).xpath(
        '//@*[local-name()="href"]')
    assert_all_start_with([str(h) for h in hrefs], base)
    assert other not in capabilities.text
    description = requests.get(f'{base}/opensearch', timeout=10)
    assert description.status_code == 200
    templates = etree.fromstring(description.content).xpath('//@template')
    assert_all_start_with([str(t) for t in templates], base)
    assert other not in description.text
    # HTML pages: links relative to the site, or at the origin the browser used
    for path in ('/', '/ui', '/ui/search', '/jobs?f=html', '/orders?f=html',
                 '/collections?f=html', '/processes?f=html', '/conformance?f=html',
                 '/collections/test-collection/items/p1?f=html',
                 '/ui/order?collection=test-collection&identifier=p1'):
        page = requests.get(base + path, headers={'Accept': 'text/html'}, timeout=10)
        assert page.status_code == 200, (path, page.text[:300])
        assert other not in page.text, path
        mine = [url for url in ABSOLUTE.findall(page.text)
                if urlsplit(url).hostname in HOSTS]
        assert all(url.startswith(base) for url in mine), (path, mine)
    ui = requests.get(f'{base}/ui', timeout=10).text
    assert 'data-base=""' in ui  # the pages' scripts call the API relative to the site


def test_job_result_hrefs_follow_the_request_that_created_the_job(tmp_path):
    """A job runs in a worker outside any request: its result hrefs start with the URL of
    the request that submitted it, and are shown at the reader's URL."""
    server = start(tmp_path, {'jobs': {'workers': 1}}, dict(TEST_PROCESSES))
    try:
        reply = requests.post(f'{server.url}/processes', timeout=60, headers={
            'Content-Type': PKG}, data=(PACKAGES / 'echo.ogcapppkg.json').read_bytes())
        assert reply.status_code == 201, reply.text
        creator = f'http://localhost:{server.port}'
        reply = requests.post(f'{creator}/processes/echo/execution', timeout=120,
                              json={'inputs': {'message': 'hello links'}})
        assert reply.status_code == 200, reply.text
        assert reply.text.strip() == 'hello links'  # raw: the file behind the stored href
        job_id = reply.headers['Location'].rsplit('/', 1)[-1]
        assert reply.headers['Location'] == f'{creator}/jobs/{job_id}'
        for base in (creator, f'http://127.0.0.1:{server.port}'):
            document = requests.get(f'{base}/jobs/{job_id}/results',
                                    params={'response': 'document'}, timeout=10).json()
            assert document['result']['href'] == f'{base}/jobs/{job_id}/results/result'
            assert requests.get(document['result']['href'],
                                timeout=10).text.strip() == 'hello links'
    finally:
        server.stop()


# -- eoorder serve --port N, PORT ------------------------------------------------------------
def test_serve_on_any_port_from_option_or_PORT(tmp_path):
    """`--port` and $PORT both set where the server listens, and links follow."""
    for how in ('option', 'env'):
        directory = tmp_path / how
        directory.mkdir()
        server = Server(directory, {'jobs': {'workers': 1}}, dict(TEST_PROCESSES))
        config = yaml.safe_load(server.config.read_text())
        config['server'].pop('url')
        config['server']['bind'] = {'host': '127.0.0.1', 'port': 5000}  # not used: the CLI
        server.config.write_text(yaml.safe_dump(config))
        port = free_port()
        env = server_env()
        args = ['serve', '--config', str(server.config), '--workers', '1', '--threads', '4']
        if how == 'option':
            args += ['--port', str(port)]
        else:
            env['PORT'] = str(port)
        log = open(directory / 'server.log', 'ab')
        server.process = subprocess.Popen(eoorder_cmd(*args), stdout=log, stderr=log,
                                          env=env, start_new_session=True, cwd=REPO)
        try:
            base = f'http://localhost:{port}'
            deadline = time.monotonic() + 60
            while True:
                assert server.process.poll() is None, server.log()[-2000:]
                try:
                    reply = requests.get(f'{base}/?f=json', timeout=2)
                    break
                except requests.RequestException:
                    assert time.monotonic() < deadline, server.log()[-2000:]
                    time.sleep(0.2)
            assert reply.status_code == 200
            assert_all_start_with(own_hrefs(reply.json(), port), base)
            created = requests.post(f'{base}/processes/countdown/execution', timeout=30,
                                    json={'inputs': {}}, headers={'Prefer': 'respond-async'})
            assert created.headers['Location'].startswith(f'{base}/jobs/')
        finally:
            server.stop()


# -- X-Forwarded-* only from a trusted proxy; a configured server.url is kept ----------------
FORWARDED = {'X-Forwarded-Proto': 'https', 'X-Forwarded-Host': 'eo.example.org',
             'X-Forwarded-Port': '8443', 'X-Forwarded-Prefix': '/eo',
             'X-Forwarded-For': '203.0.113.9'}


def _links_with(base: str, headers: dict) -> tuple[list[str], str, str]:
    landing = requests.get(f'{base}/?f=json', headers=headers, timeout=10).json()
    created = requests.post(f'{base}/processes/countdown/execution', json={'inputs': {}},
                            headers={'Prefer': 'respond-async', **headers}, timeout=30)
    assert created.status_code == 201, created.text
    servers = requests.get(f'{base}/openapi?f=json', headers=headers,
                           timeout=10).json()['servers'][0]['url']
    hrefs = [link['href'] for link in landing['links'] if link['rel'] != 'about']
    return hrefs, created.headers['Location'], servers


@pytest.mark.parametrize('trusted', [0, 1])
def test_forwarded_headers_are_used_only_behind_a_trusted_proxy(tmp_path, trusted):
    server = start(tmp_path, {'jobs': {'workers': 1}, 'web': {'trusted_proxies': trusted}},
                   dict(TEST_PROCESSES))
    try:
        hrefs, location, servers = _links_with(server.url, FORWARDED)
        expected = 'https://eo.example.org:8443/eo' if trusted else server.url
        assert_all_start_with(hrefs + [location, servers], expected)
        if not trusted:
            assert 'eo.example.org' not in ' '.join(hrefs + [location, servers])
        # without the headers, the direct URL (the proxy's own requests, health checks)
        hrefs, location, servers = _links_with(server.url, {})
        assert_all_start_with(hrefs + [location, servers], server.url)
    finally:
        server.stop()


def test_configured_server_url_is_kept_whatever_the_request(tmp_path):
    public = 'https://public.example.org/eo'
    server = start(tmp_path, {'jobs': {'workers': 1}}, dict(TEST_PROCESSES), url=public)
    try:
        for base in (server.url, f'http://localhost:{server.port}'):
            hrefs, location, servers = _links_with(base, FORWARDED)
            assert_all_start_with(hrefs + [location, servers], public)
    finally:
        server.stop()


# -- the landing page links every service; each link resolves --------------------------------
SERVICES = {'/ui', '/oseo?service=OS&request=GetCapabilities', '/opensearch', '/orders',
            '/jobs', '/processes', '/collections'}


@pytest.mark.parametrize('host', HOSTS)
def test_landing_page_links_every_service_and_each_resolves(shops, host):
    base = f'http://{host}:{shops[0].port}'
    links = requests.get(f'{base}/?f=json', timeout=10).json()['links']
    services = {link['href'][len(base):]: link for link in links
                if link['href'].startswith(base)}
    assert SERVICES <= set(services), sorted(services)
    for path in SERVICES:
        link = services[path]
        assert link['rel'] and link['title'] and link['type'], link
        reply = requests.get(link['href'], timeout=10)
        assert reply.status_code == 200, (path, reply.status_code, reply.text[:200])
    html = requests.get(f'{base}/', headers={'Accept': 'text/html'}, timeout=10)
    assert html.status_code == 200 and html.headers['Content-Type'].startswith('text/html')
    shown = set(re.findall(r'data-service="([^"]+)"', html.text))
    assert {base + path for path in SERVICES} <= {h.replace('&amp;', '&') for h in shown}
    for href in shown:
        assert requests.get(href.replace('&amp;', '&'), timeout=10).status_code == 200, href


def test_landing_page_links_only_enabled_services(tmp_path):
    server = start(tmp_path, {'jobs': {'workers': 1},
                              'catalogue': {'opensearch': {'enabled': False}}},
                   dict(TEST_PROCESSES))
    try:
        hrefs = {link['href'] for link in
                 requests.get(f'{server.url}/?f=json', timeout=10).json()['links']}
        assert f'{server.url}/ui' in hrefs and f'{server.url}/jobs' in hrefs
        for path in ('/oseo?service=OS&request=GetCapabilities', '/orders', '/opensearch'):
            assert server.url + path not in hrefs
            assert requests.get(server.url + path.split('?')[0], timeout=10).status_code \
                == 404
    finally:
        server.stop()


# -- a record's order link opens the order form, which places the order (in Chromium) --------
@pytest.mark.parametrize('host, product', [('127.0.0.1', 'p1'), ('localhost', 'p2')])
def test_record_order_link_opens_a_form_that_places_the_order(shops, browser,  # noqa: F811
                                                               tmp_path, host, product):
    base = f'http://{host}:{shops[1].port}'
    record = requests.get(f'{base}/collections/test-collection/items/{product}',
                          timeout=10).json()
    order = [link for link in record['links'] if link['rel'] == 'order']
    assert len(order) == 1 and order[0]['href'].startswith(f'{base}/ui/order?'), order
    assert requests.get(order[0]['href'], timeout=10).status_code == 200
    browsing = Browsing(browser, tmp_path)
    try:
        page = browsing.page
        page.goto(order[0]['href'])
        page.wait_for_selector('#order-form[data-ready="true"]')
        assert page.input_value('#order-identifier') == product
        page.fill('#order-reference', f'order at {host}')
        page.click('#order-submit')
        page.wait_for_url(f'{base}/ui/orders/*')
        order_id = page.url.rsplit('/', 1)[-1]
        page.wait_for_selector('#order[data-status="Completed"] #order-downloads '
                               'a.download-link', timeout=60_000)
        placed = requests.get(f'{base}/orders/{order_id}', timeout=10).json()
        assert placed['reference'] == f'order at {host}'
        assert [item['identifier'] for item in placed['items']] == [product]
        link = page.get_attribute('#order-downloads a.download-link', 'href')
        assert urlsplit(page.url).netloc == urlsplit(base).netloc
        assert not link.startswith('http') or link.startswith(base), link
        browsing.check_clean()
    finally:
        browsing.close()


@pytest.mark.parametrize('host', HOSTS)
def test_landing_page_json_ld_names_the_url_the_client_used(shops, host):
    base = f'http://{host}:{shops[0].port}'
    reply = requests.get(f'{base}/', params={'f': 'jsonld'}, timeout=10)
    assert reply.status_code == 200
    assert reply.json()['@id'] == base and reply.json()['url'] == base


@pytest.mark.parametrize('host', ['x"><script>alert(1)</script>', 'a b', 'evil.example/path',
                                  'user@evil.example'])
def test_a_host_header_that_is_no_host_is_refused_not_reflected(shops, host):
    for path in ('/', '/?f=json', '/ui', '/jobs?f=html'):
        reply = requests.get(shops[0].url + path, headers={'Host': host}, timeout=10)
        assert reply.status_code == 400, (path, reply.status_code)
        assert reply.headers['Content-Type'].startswith('application/problem+json')
        assert host not in reply.text and 'script' not in reply.text
    assert requests.get(shops[0].url + '/', timeout=10).status_code == 200
