"""The HTML pages in a real headless Chromium (Debian's), driven by Playwright.

Set-up: `scripts/browser` (Debian's chromium and the `playwright` Python package; no
browser is downloaded). Every request the browser makes stays on loopback: the server
serves Bootstrap and Leaflet itself (/ui/vendor); any outside request is refused (and
counted: a page that needs one fails the test; map tiles are refused without counting, the
map works without them). Screenshots go to tests/screenshots/.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from urllib.parse import urlparse

import pytest
import requests

from .conftest import Server
from .support import oseo
from .support.catalogue import eo_record, records_resource

CHROMIUM = Path('/usr/bin/chromium')
SCREENSHOTS = Path(__file__).parent / 'screenshots'
PACKAGES = Path(__file__).parent / 'data' / 'packages'
LOOPBACK = {'127.0.0.1', 'localhost', '::1'}
FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
         '--disable-background-networking', '--disable-component-update', '--disable-sync',
         '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost']
TIMEOUT_MS = 60_000


@pytest.fixture(scope='module')
def browser():
    if not CHROMIUM.exists():
        pytest.fail('Chromium is missing: run scripts/browser (installs Debian chromium)')
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail('the playwright package is missing: run scripts/browser')
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        yield chromium
        chromium.close()


class Browsing:
    """A browser page whose traffic stays on loopback; screenshots by name."""

    def __init__(self, browser, downloads: Path):
        self.refused: list[str] = []
        self.errors: list[str] = []
        self.context = browser.new_context(viewport={'width': 1280, 'height': 900},
                                           accept_downloads=True)
        self.context.set_default_timeout(TIMEOUT_MS)
        self.context.route('**/*', self._route)
        self.page = self.context.new_page()
        self.page.on('pageerror', lambda err: self.errors.append(str(err)))
        self.downloads = downloads

    def _route(self, route):
        url = route.request.url
        host = urlparse(url).hostname or ''
        if host in LOOPBACK or url.startswith(('data:', 'blob:')):
            return route.continue_()
        if '{z}' not in url and 'tile' in host:   # map tiles: none offline, the map still works
            return route.abort()
        self.refused.append(url)
        return route.abort()

    def screenshot(self, name: str) -> Path:
        SCREENSHOTS.mkdir(exist_ok=True)
        path = SCREENSHOTS / f'{name}.png'
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def close(self):
        self.context.close()

    def check_clean(self):
        assert not self.errors, f'script errors on the page: {self.errors}'
        assert not self.refused, f'the page asked for outside resources: {self.refused}'


@pytest.fixture
def browsing(browser, tmp_path):
    session = Browsing(browser, tmp_path)
    yield session
    session.close()


def _seed(server: Server, collection: str, records: list[dict]) -> None:
    for record in records:
        reply = requests.post(f'{server.url}/collections/{collection}/items', json=record,
                              headers={'Content-Type': 'application/geo+json'}, timeout=10)
        assert reply.status_code == 201, reply.text


def _product_record(index: int, identifier: str, href: str, title: str) -> dict:
    record = eo_record(index, id=identifier)
    record['properties']['title'] = title
    record['links'] = [{'rel': 'enclosure', 'href': href, 'type': 'application/octet-stream'}]
    return record


# -- ordering: search, order from a record, watch it complete, download ------------------
@pytest.fixture(scope='module')
def shop(tmp_path_factory):
    root = tmp_path_factory.mktemp('products')
    oseo.make_products(root, ['p1', 'p2', 'p3'])
    block = oseo.eoorder_block(root)
    block['ordering']['collections'][0]['packaging'] = ['zip']
    server = Server(tmp_path_factory.mktemp('shop'), block,
                    {'test-collection': records_resource('Test products')}).start()
    _seed(server, 'test-collection', [
        _product_record(1, 'p1', f'file://{root}/p1.dat', 'Optical scene over Brussels'),
        _product_record(2, 'p2', f'file://{root}/p2.dat', 'Radar scene over Liège'),
        _product_record(3, 'p3', f'file://{root}/p3.dat', 'Optical scene over Namur')])
    yield server
    server.stop()


def test_order_a_product_from_a_record_and_download_it(shop, browsing):
    page = browsing.page
    page.goto(f'{shop.url}/ui/search?collection=test-collection')
    page.wait_for_selector('#search-form[data-done]')
    assert page.locator('#search-results tbody tr').count() == 3
    page.fill('#search-q', 'optical')
    page.click('#search-submit')
    page.wait_for_selector('#search-form[data-done="2"]')
    rows = page.locator('#search-results tbody tr')
    assert sorted(rows.nth(i).get_attribute('data-record') for i in range(rows.count())) == \
        ['p1', 'p3']
    # the footprints are drawn on the Leaflet map
    assert page.locator('#search-map path.leaflet-interactive').count() == 2
    assert page.locator('#search-summary').inner_text().startswith('2 products')
    page.locator('#search-results tr[data-record="p1"]').hover()
    browsing.screenshot('catalogue-search')

    page.click('#search-results tr[data-record="p1"] a.order-product')
    page.wait_for_selector('#order-form[data-ready="true"]')
    assert page.input_value('#order-identifier') == 'p1'
    # the form is what GetOptions offers for the collection
    formats = page.locator('#opt-Format option').all_inner_texts()
    assert 'GeoTiff' in formats and 'NetCDF' in formats
    assert page.locator('#opt-packaging option[value="zip"]').count() == 1
    page.select_option('#opt-Format', 'NetCDF')
    page.select_option('#opt-packaging', 'zip')
    page.fill('#order-reference', 'browser order')
    browsing.screenshot('order-form')
    page.click('#order-submit')

    page.wait_for_url('**/ui/orders/*')
    order_id = page.url.rsplit('/', 1)[-1]
    page.wait_for_selector('#order[data-status="Completed"] #order-downloads a.download-link',
                           timeout=60_000)
    assert page.inner_text('#order-status') == 'Completed'
    assert page.inner_text('#order-progress') == '1 / 1'
    assert 'Completed' in page.inner_text('#order-items')
    browsing.screenshot('order-completed')

    # the order really is what the page says, with the options chosen in the form
    order = requests.get(f'{shop.url}/orders/{order_id}', timeout=10).json()
    assert order['reference'] == 'browser order' and order['status'] == 'Completed'
    assert [i['identifier'] for i in order['items']] == ['p1']
    with page.expect_download() as download_info:
        page.click('#order-downloads a.download-link')
    download = download_info.value
    saved = browsing.downloads / download.suggested_filename
    download.save_as(saved)
    assert saved.suffix == '.zip'
    import zipfile
    assert zipfile.ZipFile(saved).read('p1.dat').startswith(b'product p1')
    after = requests.get(f'{shop.url}/orders/{order_id}', timeout=10).json()
    assert after['items'][0]['status'] == 'Downloaded'
    # the job page of the order item shows its progress and log
    page.click('#order-items a')
    page.wait_for_selector('#job[data-status="successful"]')
    assert page.inner_text('#job-progress') == '100%'
    browsing.check_clean()


def test_order_form_shows_oseo_errors(shop, browsing):
    page = browsing.page
    page.goto(f'{shop.url}/ui/order?collection=no-such-collection&identifier=p1')
    page.wait_for_selector('#order-error:not([hidden])')
    assert 'UnsupportedCollection' in page.inner_text('#order-error')
    assert page.is_disabled('#order-submit')
    browsing.check_clean()


# -- processing: deploy packages, execute with generated forms, watch the job ------------
CHOICES = {
    'processDescription': {
        'id': 'echo-choices', 'version': '1.0.0', 'title': 'Echo with choices',
        'description': 'The echo application with typed inputs of every kind.',
        'jobControlOptions': ['async-execute', 'sync-execute'],
        'inputs': {
            'message': {'title': 'Message', 'schema': {'type': 'string'}},
            'mode': {'title': 'Mode', 'schema': {'type': 'string', 'enum': ['fast', 'exact'],
                                                 'default': 'exact'}},
            'loud': {'title': 'Loud', 'minOccurs': 0, 'schema': {'type': 'boolean'}},
            'repeat': {'title': 'Repeat', 'minOccurs': 0,
                       'schema': {'type': 'integer', 'minimum': 1, 'maximum': 5}}},
        'outputs': {'result': {'schema': {'type': 'string', 'contentMediaType': 'text/plain'}}}},
    'executionUnit': {'type': 'docker', 'image': 'eoorder-test/echo:1.0'}}


@pytest.fixture(scope='module')
def ades(tmp_path_factory):
    if shutil.which('docker') is None:
        pytest.fail('docker is missing: run scripts/docker-engine and docker/build-test-images')
    root = tmp_path_factory.mktemp('scenes')
    (root / 'scene.tif').write_bytes(bytes(range(256)) * 40)
    block = {'jobs': {'workers': 2},
             'execution': {'stage_in': {'allowed_file_roots': [str(root)]}}}
    server = Server(tmp_path_factory.mktemp('ades-ui'), block,
                    {'scenes': records_resource('Scenes')}).start()
    _seed(server, 'scenes', [
        _product_record(4, 'scene-a', f'file://{root}/scene.tif', 'Scene A for land cover'),
        _product_record(5, 'scene-b', 'https://data.invalid/scene-b.tif', 'Scene B')])
    yield server
    server.stop()


def _deploy(page, *, upload: Path | None = None, text: str | None = None) -> str:
    page.click('#deploy-text')
    page.fill('#deploy-text', '')
    if upload is not None:
        page.set_input_files('#deploy-file', str(upload))
        from playwright.sync_api import expect   # the page's CSP refuses string predicates
        expect(page.locator('#deploy-text')).not_to_have_value('', timeout=TIMEOUT_MS)
    else:
        page.fill('#deploy-text', text)
    page.click('#deploy-submit')
    page.wait_for_selector('#deployed-process, #deploy-error')
    assert page.locator('#deploy-error').count() == 0, page.inner_text('#deploy-error')
    return page.inner_text('#deploy-sent-type')


def test_deploy_packages_and_run_one_with_a_product_from_the_catalogue(ades, browsing):
    page = browsing.page
    page.goto(f'{ades.url}/ui/deploy')
    sent = _deploy(page, upload=PACKAGES / 'landcover.ogcapppkg.json')
    assert sent == 'Content-Type: application/ogcapppkg+json'
    assert page.get_attribute('#deployed-process', 'data-process') == 'landcover'
    assert page.locator('#deployed-inputs tbody tr').count() == 4
    browsing.screenshot('deploy')
    # the other package formats: Testbed-13 Atom and CWL YAML, detected from their content
    page.goto(f'{ades.url}/ui/deploy')
    assert _deploy(page, text=(PACKAGES / 'echo.tb13.xml').read_text()) == \
        'Content-Type: application/atom+xml'
    page.goto(f'{ades.url}/ui/deploy')
    cwl = (PACKAGES / 'echo.cwl').read_text().replace('\nid: echo\n', '\nid: echo-cwl\n')
    assert _deploy(page, text=cwl) == 'Content-Type: application/cwl+yaml'
    assert page.get_attribute('#deployed-process', 'data-process') == 'echo-cwl'
    listed = {p['id'] for p in requests.get(f'{ades.url}/processes', timeout=10).json()[
        'processes']}
    assert {'landcover', 'echo', 'echo-cwl'} <= listed

    # execute landcover: the form comes from its description
    page.goto(f'{ades.url}/ui/processes/landcover/execute')
    assert page.get_attribute('#in-epsg', 'type') == 'number'
    assert page.get_attribute('#in-epsg', 'min') == '1'
    assert page.get_attribute('#in-epsg', 'step') == '1'
    assert page.get_attribute('#in-resolution', 'data-exclusive-min') == 'true'
    assert page.get_attribute('#in-aoi', 'pattern')
    page.click('.eoorder-pick[data-for="source"]')
    picker = '.eoorder-picker[data-for="source"]'
    page.fill(f'{picker} .picker-q', 'land cover')
    page.click(f'{picker} .picker-search')
    page.wait_for_selector(f'{picker} .picker-use[data-record="scene-a"]')
    assert page.locator(f'{picker} .picker-use').count() == 1
    page.click(f'{picker} .picker-use[data-record="scene-a"]')
    assert page.input_value('#in-source').endswith('/scene.tif')
    page.fill('#in-aoi', '4,50,5,51')
    page.fill('#in-resolution', '20')
    browsing.screenshot('execute')
    page.click('#execute-submit')
    page.wait_for_url('**/ui/jobs/*')
    job_id = page.url.rsplit('/', 1)[-1]
    page.wait_for_selector('#job[data-status="successful"], #job[data-status="failed"]',
                           timeout=90_000)
    assert page.get_attribute('#job', 'data-status') == 'successful', \
        page.inner_text('#job-message') + page.inner_text('#job-log')
    page.wait_for_selector('#job-results li[data-output="classification"] a')
    assert 'landcover: reading' in page.inner_text('#job-log')
    assert page.inner_text('#job-progress') == '100%'
    browsing.screenshot('job')
    job = requests.get(f'{ades.url}/jobs/{job_id}', timeout=10).json()
    assert job['status'] == 'successful' and job['processID'] == 'landcover'
    href = page.get_attribute('#job-results li[data-output="classification"] a', 'href')
    csv = page.request.get(href).text()
    assert f'source_bytes,{256 * 40}' in csv and 'resolution,20' in csv
    browsing.check_clean()


def test_product_picker_shows_only_the_last_search_when_answers_come_out_of_order(
        ades, browsing):
    """The picker's first (unfiltered) search is answered after the user's own search: the
    late answer must not be added to the list."""
    listed = {p['id'] for p in requests.get(f'{ades.url}/processes', timeout=10).json()[
        'processes']}
    if 'landcover' not in listed:
        reply = requests.post(f'{ades.url}/processes', timeout=30,
                              data=(PACKAGES / 'landcover.ogcapppkg.json').read_bytes(),
                              headers={'Content-Type': 'application/ogcapppkg+json'})
        assert reply.status_code == 201, reply.text
    page = browsing.page
    held = []

    def hold_unfiltered(route):
        if 'q=' in route.request.url:
            route.continue_()
        else:
            held.append(route)

    page.route('**/collections/*/items?*', hold_unfiltered)
    page.goto(f'{ades.url}/ui/processes/landcover/execute')
    picker = '.eoorder-picker[data-for="source"]'
    page.click('.eoorder-pick[data-for="source"]')
    for _ in range(200):
        if held:
            break
        page.wait_for_timeout(50)
    assert held, 'the picker did not search when opened'
    page.fill(f'{picker} .picker-q', 'land cover')
    page.click(f'{picker} .picker-search')
    page.wait_for_selector(f'{picker} .picker-use[data-record="scene-a"]')
    with page.expect_response(lambda r: '/items?' in r.url and 'q=' not in r.url) as late:
        held[0].continue_()
    late.value.finished()
    page.evaluate('() => new Promise(done => setTimeout(done, 200))')
    uses = page.locator(f'{picker} .picker-use')
    assert [uses.nth(i).get_attribute('data-record') for i in range(uses.count())] == \
        ['scene-a']
    browsing.check_clean()


def test_generated_form_types_and_checks_inputs(ades, browsing):
    reply = requests.post(f'{ades.url}/processes', data=json.dumps(CHOICES), timeout=30,
                          headers={'Content-Type': 'application/ogcapppkg+json'})
    assert reply.status_code == 201, reply.text
    page = browsing.page
    page.goto(f'{ades.url}/ui/processes/echo-choices/execute')
    assert page.evaluate("document.getElementById('in-mode').tagName") == 'SELECT'
    assert page.locator('#in-mode option').all_inner_texts() == ['fast', 'exact']
    assert page.input_value('#in-mode') == 'exact'
    assert page.get_attribute('#in-loud', 'type') == 'checkbox'
    assert (page.get_attribute('#in-repeat', 'min'), page.get_attribute('#in-repeat', 'max')) \
        == ('1', '5')
    page.fill('#in-message', 'hello from the browser')
    page.fill('#in-repeat', '9')
    page.click('#execute-submit')
    feedback = '.eoorder-input[data-input="repeat"] .invalid-feedback'
    assert page.inner_text(feedback) == 'must be ≤ 5'
    assert page.url.endswith('/execute')          # nothing was sent
    page.fill('#in-repeat', '2')
    page.check('#in-loud')
    page.select_option('#in-mode', 'fast')
    with page.expect_request('**/processes/echo-choices/execution') as request_info:
        page.click('#execute-submit')
    assert request_info.value.post_data_json == {'inputs': {
        'message': 'hello from the browser', 'mode': 'fast', 'loud': True, 'repeat': 2}}
    assert request_info.value.headers['prefer'] == 'respond-async'
    page.wait_for_url('**/ui/jobs/*')
    page.wait_for_selector('#job[data-status="successful"], #job[data-status="failed"]',
                           timeout=60_000)
    assert page.get_attribute('#job', 'data-status') == 'successful', page.inner_text('#job-log')
    job_id = page.url.rsplit('/', 1)[-1]
    result = requests.get(f'{ades.url}/jobs/{job_id}/results/result', timeout=10)
    assert result.text == 'hello from the browser'
    browsing.check_clean()
