"""Offline HTML: the embedded default's pages in headless Chromium with every request off
loopback refused. Bootstrap, Leaflet and Swagger UI come from the server (/ui/vendor, from
their PyPI packages); no template we serve (ours, or pygeoapi's as rewritten at start in
`<data_dir>/run/templates/`) loads anything from a CDN; the search map draws the demo
footprints without tiles."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import pytest
import requests
from pygeoapi.util import TEMPLATESDIR

from pygeoapi_eoorder.ui import offline_templates, vendor

from .conftest import embedded_default
from .test_ui_browser import Browsing, browser  # noqa: F401 - the browser fixture

# a tag that makes the browser load something: a script, a stylesheet or an icon
PARIS = 'DEMO_S2A_MSIL2A_20240601T104021_T31UDQ'
REMOTE_ASSET = re.compile(r'<(script|link)\b[^>]*\b(src|href)\s*=\s*["\']?(https?:)?//',
                          re.IGNORECASE)


def effective_templates(generated: Path) -> dict[str, Path]:
    """Every template pygeoapi may render, as the server finds it (the generated folder
    first, then pygeoapi's own)."""
    found = {p.relative_to(TEMPLATESDIR).as_posix(): p for p in Path(TEMPLATESDIR).rglob('*')
             if p.suffix in ('.html', '.j2')}
    found.update({p.relative_to(generated).as_posix(): p for p in generated.rglob('*.html')})
    return found


def test_no_served_template_loads_assets_from_a_cdn(tmp_path):
    """A scan of EVERY template pygeoapi may render: none loads a non-local asset, and the
    rewrite table covers every CDN reference of the installed pygeoapi (a new one fails
    here instead of loading from the internet)."""
    assert offline_templates.leftovers() == {}
    generated = offline_templates.build(tmp_path / 'run')
    templates = effective_templates(generated)
    assert templates['_base.html'].is_relative_to(generated)
    assert templates['eoorder/home.html'].is_relative_to(generated)
    remote = {name: REMOTE_ASSET.findall(path.read_text())
              for name, path in templates.items() if REMOTE_ASSET.search(path.read_text())}
    assert remote == {}
    local = {m.groups() for path in generated.rglob('*.html')
             for m in re.finditer(r'/ui/vendor/([\w-]+)/([^"\'\s]+)', path.read_text())}
    assert {'bootstrap', 'leaflet', 'swagger-ui'} <= {library for library, _ in local}
    missing = [f'{library}/{name}' for library, name in local
               if not (vendor.folder(library) / name).is_file()]
    assert missing == []


def test_the_rewrite_table_leaves_no_cdn_reference_and_fails_on_a_new_one():
    page = ('<link rel="stylesheet" href="https://unpkg.com/leaflet@1.9.4/dist/leaflet.css"/>'
            '<script src="https://cdn.example.org/new-plugin.js"></script>')
    pages = {'new.html': offline_templates.rewrite(page)}
    assert "/ui/vendor/leaflet/leaflet.css" in pages['new.html']
    assert offline_templates.leftovers(pages) == {
        'new.html': ['<script src="https://cdn.example.org/new-plugin.js">']}


def test_a_second_start_does_not_rewrite_the_templates(make_server):
    server = make_server()
    folder = server.data_dir / 'run' / 'templates'
    before = {p: p.stat().st_mtime_ns for p in folder.rglob('*')}
    assert folder / '.stamp' in before and folder / '_base.html' in before
    assert requests.get(server.url + '/collections?f=html', timeout=10).status_code == 200
    inode = folder.stat().st_ino
    server.stop()
    server.start()
    assert folder.stat().st_ino == inode
    assert {p: p.stat().st_mtime_ns for p in folder.rglob('*')} == before
    page = requests.get(server.url + '/openapi?f=html', timeout=10).text
    assert '/ui/vendor/swagger-ui/swagger-ui-bundle.js' in page and 'unpkg' not in page


@pytest.fixture(scope='module')
def embedded(tmp_path_factory):
    """A server on the embedded default (config/local.yml: demo products, ordering)."""
    server = embedded_default(tmp_path_factory.mktemp('offline')).start()
    yield server
    server.stop()


@pytest.fixture
def offline(browser, tmp_path):  # noqa: F811 - pytest injects the imported fixture
    session = Browsing(browser, tmp_path)
    yield session
    session.close()


def _styled(page) -> None:
    """Bootstrap's stylesheet applies: `.container` gets its max-width and Bootstrap's
    reboot sets the body font (without the stylesheet: 'none' and the browser's serif)."""
    width = page.evaluate("getComputedStyle(document.querySelector('.container')).maxWidth")
    assert width.endswith('px'), f'Bootstrap .container has no max-width: {width}'
    font = page.evaluate("getComputedStyle(document.body).fontFamily")
    assert 'system-ui' in font, font


def test_pages_are_styled_and_the_search_map_draws_demo_footprints_offline(embedded,
                                                                           offline):
    page = offline.page
    for path in ('/ui', '/collections?f=html', '/processes?f=html', '/jobs?f=html'):
        page.goto(embedded.url + path)
        _styled(page)
    page.goto(embedded.url + '/ui/search?collection=products')
    _styled(page)
    assert page.evaluate("typeof L") == 'object'
    page.wait_for_selector('#search-results tbody tr')
    assert 'DEMO' in page.inner_text('#search-results')
    page.locator('#search-map .leaflet-overlay-pane path').nth(3).wait_for(state='attached')
    offline.screenshot('offline-search')
    page.goto(embedded.url + '/collections/products/items?f=html')
    _styled(page)
    assert page.evaluate("typeof L") == 'object'
    page.locator('#items-map .leaflet-overlay-pane path').nth(3).wait_for(state='attached')
    page.goto(embedded.url + '/openapi?f=html')
    page.wait_for_selector('.swagger-ui .info')
    offline.check_clean()


def test_a_newcomer_orders_a_demo_product_in_the_browser_and_downloads_it(embedded,
                                                                          offline):
    page = offline.page
    page.goto(embedded.url + '/ui/search?collection=products')
    page.wait_for_selector('#search-form[data-done]')
    page.click(f'#search-results tr[data-record="{PARIS}"] a.order-product')
    page.wait_for_selector('#order-form[data-ready="true"]')
    assert page.input_value('#order-identifier') == PARIS
    page.select_option('#opt-packaging', 'zip')
    page.fill('#order-reference', 'first order')
    page.click('#order-submit')
    page.wait_for_url('**/ui/orders/*')
    page.wait_for_selector('#order[data-status="Completed"] #order-downloads a.download-link',
                           timeout=60_000)
    _styled(page)
    with page.expect_download() as download_info:
        page.click('#order-downloads a.download-link')
    saved = offline.downloads / download_info.value.suggested_filename
    download_info.value.save_as(saved)
    with zipfile.ZipFile(saved) as archive:
        delivered = archive.read(f'{PARIS}.tif')
    assert delivered == (embedded.data_dir / 'demo' / f'{PARIS}.tif').read_bytes()
    offline.check_clean()
