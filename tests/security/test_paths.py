"""Findings 3, 4, 5, 6 and 13 of issue 13: names from outside never build a path outside the
job directory, files a container wrote are never followed through links (results, literal
outputs, order deliveries), and result files cannot run script on the API origin.

Every test performs the attack against a running server and real containers (the
`eoorder-test/probe` image, docker/test-apps/probe: actions `symlinks`, `link`, `html`), then
asserts a refusal and no trace on the host: nothing new in the `canary` directory, its
0600 secret and the host's /etc/passwd in no answer, no archive and no delivered file."""

from __future__ import annotations

import io
import json
import subprocess
import tarfile
import time
import zipfile
from pathlib import Path

import pytest
import requests

from ..support import oseo
from ..support.auth import as_
from .conftest import call, deploy_package, run_sync, start_secure_server

REPO = Path(__file__).resolve().parents[2]
PROBE = 'eoorder-test/probe:1.0'
SECRET = 'HOST-SECRET-CONTENT'
PASSWD = 'root:x:0:0'  # the host's /etc/passwd (the probe image has none)
PROBLEM = 'application/problem+json'
TEXT_OUT = {'result': {'schema': {'type': 'string', 'contentMediaType': 'text/plain'}}}
PROCESSES = {  # id: outputs; no declared inputs (so any input name reaches the server)
    'paths-probe': TEXT_OUT,
    'paths-literal': {'result': {'schema': {'type': 'string'}}},
    'paths-html': {'result': {'schema': {'type': 'string', 'contentMediaType': 'text/html'}}},
    'paths-deliver': TEXT_OUT,
}


@pytest.fixture(scope='module', autouse=True)
def probe_image():
    """The probe image with the actions these tests use, built from its recipe if needed."""
    check = subprocess.run(['docker', 'run', '--rm', '--network', 'none', '-e',
                            'WPS_OUTPUT_result=/tmp/r', '-e', 'WPS_INPUT_action=link', PROBE],
                           capture_output=True, text=True)
    if check.returncode != 0:
        subprocess.run([str(REPO / 'docker' / 'build-test-images'), 'probe'], check=True,
                       timeout=300)


@pytest.fixture(scope='module')
def products(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp('products')
    oseo.make_products(root, ['p1'])
    return root


@pytest.fixture(scope='module')
def server(tmp_path_factory, products):
    """Basic auth, loopback allowed for stage-in (the STAC documents of finding 3 come from
    a loopback service), ordering with an option that runs the `paths-deliver` process."""
    ordering = oseo.ordering_block(products)
    ordering['collections'][0]['options'].append(
        {'name': 'LinkTarget', 'process': 'paths-deliver', 'product_input': 'product',
         'value_input': 'target', 'process_inputs': {'action': 'symlinks'}})
    server = start_secure_server(
        tmp_path_factory.mktemp('paths'), {}, jobs={'workers': 2}, ordering=ordering,
        egress={'allowed_hosts': ['127.0.0.1']},
        execution={'stage_in': {'allowed_file_roots': [str(products)]}})
    try:
        for process_id, outputs in PROCESSES.items():
            body = {'processDescription': {'id': process_id, 'outputs': outputs},
                    'executionUnit': {'type': 'docker', 'image': PROBE,
                                      'config': {'memory': '64m', 'timeout': 60}}}
            reply = deploy_package(server, 'admin' if process_id == 'paths-deliver' else 'dev',
                                   body)
            assert reply.status_code == 201, reply.text
        yield server
    finally:
        server.stop()


def _no_trace(canary: Path, *answers) -> None:
    """Nothing was written into the canary directory and no host content was answered."""
    assert sorted(p.name for p in canary.iterdir()) == ['secret.txt']
    assert (canary / 'secret.txt').read_text() == f'{SECRET}\n'
    for answer in answers:
        text = answer if isinstance(answer, (str, bytes)) else answer.content
        text = text.decode('latin-1') if isinstance(text, bytes) else text
        assert SECRET not in text and PASSWD not in text, text[:500]


def _links_under(directory: Path) -> list[Path]:
    return [p for p in directory.rglob('*') if p.is_symlink()]


# -- finding 3 ---------------------------------------------------------------------------
def _stac_item(item_id: str, assets: dict) -> bytes:
    return json.dumps({
        'type': 'Feature', 'stac_version': '1.0.0', 'id': item_id,
        'geometry': {'type': 'Point', 'coordinates': [5, 50]}, 'bbox': [5, 50, 5, 50],
        'properties': {'datetime': '2026-01-01T00:00:00Z'}, 'links': [],
        'assets': assets}).encode()


@pytest.mark.parametrize('attack', ['relative-item-id', 'absolute-item-id',
                                    'asset-key', 'catalog-child-item-id'])
def test_finding_3_stac_names_do_not_write_outside_the_job(server, canary, internal_service,
                                                            attack):
    """A STAC item id (or asset key) such as `../../…/canary/pwned` given to stage-in is
    refused: the job fails saying which name, and nothing is written into the canary."""
    climb = '../' * 30 + str(canary).lstrip('/') + '/pwned'
    asset = {'data': {'href': 'asset.bin', 'type': 'application/octet-stream'}}
    internal_service.files['/asset.bin'] = b'ATTACKER-CHOSEN-BYTES'
    if attack == 'relative-item-id':
        internal_service.files['/item.json'] = _stac_item(climb, asset)
    elif attack == 'absolute-item-id':
        internal_service.files['/item.json'] = _stac_item(str(canary / 'pwned'), asset)
    elif attack == 'asset-key':  # an href with no file name: the key names the file
        internal_service.files['/item.json'] = _stac_item('scene', {
            climb: {'href': f'{internal_service.url}/assets/', 'type': 'text/plain'}})
        internal_service.files['/assets/'] = b'ATTACKER-CHOSEN-BYTES'
    else:  # a catalog whose child item has the hostile id
        internal_service.files['/child.json'] = _stac_item(climb, asset)
        internal_service.files['/item.json'] = json.dumps({
            'type': 'Catalog', 'stac_version': '1.0.0', 'id': 'cat', 'description': 'c',
            'links': [{'rel': 'item', 'href': './child.json'}]}).encode()
    reply = run_sync(server, 'alice', 'paths-probe',
                     {'scene': {'href': f'{internal_service.url}/item.json'}})
    assert reply.status_code == 400 and reply.headers['Content-Type'] == PROBLEM, reply.text
    detail = reply.json()['detail']
    if attack == 'asset-key':
        assert 'STAC asset key' in detail and 'pwned' in detail, detail
    else:
        assert 'STAC item id' in detail and 'pwned' in detail, detail
    _no_trace(canary, reply)
    assert not Path('/pwned').exists() and not (canary.parent / 'pwned').exists()


# -- finding 4 ---------------------------------------------------------------------------
@pytest.mark.parametrize('name', ['../../../../../../../../{canary}/pwned', '{canary}/pwned',
                                  '..', '.', 'a/../../b', 'back\\slash', 'nul\x00byte', ''])
def test_finding_4_input_id_with_dot_dot_is_refused(server, canary, internal_service, name):
    """An input id with `../` (or `/`, `\\`, NUL, `.`, `..`) is answered 400 problem+json
    naming it, for a process that declares no inputs; nothing reaches the canary."""
    name = name.replace('{canary}', str(canary).lstrip('/'))
    internal_service.files['/payload'] = b'ATTACKER-CHOSEN-BYTES'
    jobs_before = call(server, 'GET', '/jobs', 'alice').json()['numberMatched']
    reply = run_sync(server, 'alice', 'paths-probe',
                     {name: {'href': f'{internal_service.url}/payload'}})
    assert reply.status_code == 400 and reply.headers['Content-Type'] == PROBLEM, reply.text
    body = reply.json()
    assert body['type'].endswith('invalid-parameter') and 'input' in body['detail'], body
    assert repr(name) in body['detail'], body
    assert '/payload' not in internal_service.hits
    _no_trace(canary, reply)
    assert call(server, 'GET', '/jobs', 'alice').json()['numberMatched'] == jobs_before


def test_finding_4_output_id_with_dot_dot_is_refused(server, canary):
    """The same for output ids in `outputs` (they name files of the results too)."""
    reply = run_sync(server, 'alice', 'paths-probe', {'action': 'identity'},
                     outputs={'../../../etc': {}})
    assert reply.status_code == 400 and reply.headers['Content-Type'] == PROBLEM, reply.text
    assert "'../../../etc'" in reply.json()['detail']
    _no_trace(canary, reply)


@pytest.mark.parametrize('where', ['inputs', 'outputs', 'id'])
def test_finding_4_deployed_ids_must_be_safe_names(server, where):
    """Input, output and process ids of a deployed description name files and directories:
    one with `../` (or a trailing newline) is refused at deploy, 400 naming the member."""
    description = {'id': 'paths-bad', 'inputs': {},
                   'outputs': {'result': {'schema': {'type': 'string'}}}}
    if where == 'id':
        description['id'] = 'paths-bad\n'
    else:
        description[where]['../../../tmp/x'] = {'schema': {'type': 'string'}}
    reply = deploy_package(server, 'dev', {
        'processDescription': description,
        'executionUnit': {'type': 'docker', 'image': PROBE}})
    assert reply.status_code == 400 and reply.headers['Content-Type'] == PROBLEM, reply.text
    assert f'processDescription.{where}' in reply.json()['detail'], reply.text
    assert call(server, 'GET', '/processes/paths-bad', 'dev').status_code == 404


# -- finding 5 ---------------------------------------------------------------------------
def test_finding_5_result_symlink_to_host_file_is_not_served(server, canary):
    """A container writes `leak.txt -> secret`, `rootfs -> /`, a link to the canary's
    directory, a relative `../..` link and a fifo: only its plain file is served; every
    link path answers 404 and the job directory keeps no link."""
    secret = canary / 'secret.txt'
    reply = run_sync(server, 'alice', 'paths-probe', {'action': 'symlinks',
                                                      'target': str(secret)},
                     response='document')
    assert reply.status_code == 200, reply.text
    href = reply.json()['result']['href']
    base = href[len(server.url):]
    answers = [reply]
    ok = call(server, 'GET', f'{base}/ok.txt', 'alice')
    assert ok.status_code == 200 and ok.text == 'plain=ok\n', ok.text
    for path in ('leak.txt', 'rootfs/etc/passwd', 'rootfs/' + str(secret).lstrip('/'),
                 'sub/hostdir/secret.txt', 'sub/relative.txt', 'fifo', 'rootfs',
                 'sub/hostdir', '../../../../../../../etc/passwd'):
        answer = call(server, 'GET', f'{base}/{path}', 'alice', timeout=10)
        assert answer.status_code == 404, (path, answer.status_code, answer.text[:200])
        answers.append(answer)
    assert not _links_under(server.data_dir), _links_under(server.data_dir)
    _no_trace(canary, *answers)


@pytest.mark.parametrize('process_id', ['paths-literal', 'paths-probe'])
def test_finding_5_output_that_is_a_link_is_not_read(server, canary, process_id):
    """An output that is itself a link to a host file (a literal read back into the results,
    or a file served by reference) fails the job with a clear message; the file is not read."""
    reply = run_sync(server, 'alice', process_id, {'action': 'link',
                                                   'target': str(canary / 'secret.txt')})
    assert reply.status_code == 500 and reply.headers['Content-Type'] == PROBLEM, reply.text
    assert 'output result is missing (a symbolic link' in reply.json()['detail'], reply.text
    _no_trace(canary, reply)


# -- finding 6 ---------------------------------------------------------------------------
def _order(server, packaging: str | None, target: str) -> tuple[str, str]:
    option = f'<LinkTarget>{target}</LinkTarget>'
    body = oseo.submit(oseo.item('leak', 'p1', options=option), packaging=packaging)
    order_id = oseo.order_id(server, body, auth=as_('alice'))
    end = time.monotonic() + 120
    while time.monotonic() < end:
        reply = oseo.post(server, oseo.get_status(order_id), auth=as_('alice'))
        root = oseo.payload(reply)
        status = root.findtext('.//oseo:orderStatusInfo/oseo:status', namespaces=oseo.NS)
        if status in ('Completed', 'Failed'):
            return order_id, status
        time.sleep(0.2)
    raise AssertionError(f'order {order_id} did not end')


@pytest.mark.parametrize('packaging', ['zip', 'tar', 'tgz', None])
def test_finding_6_order_delivery_does_not_follow_container_links(server, canary, packaging):
    """An order option runs a container that writes links to a host secret, to `/` and a
    fifo: the delivery (zip, tar, tgz or unpackaged) holds the plain file only, no link
    entry, no absolute or `..` name, nothing of the host."""
    secret = canary / 'secret.txt'
    order_id, status = _order(server, packaging, str(secret))
    assert status == 'Completed', call(server, 'GET', f'/orders/{order_id}', 'alice').text
    access = oseo.payload(oseo.post(server, oseo.describe(order_id), auth=as_('alice')))
    urls = [u.findtext('oseo:itemAddress/oseo:ResourceAddress/oseo:URL', namespaces=oseo.NS)
            for u in access.findall('oseo:URLs', oseo.NS)]
    assert len(urls) == 1, urls
    download = requests.get(urls[0], auth=as_('alice'), timeout=30)
    answers = [download]
    if packaging == 'zip':
        assert download.status_code == 200, download.text
        archive = zipfile.ZipFile(io.BytesIO(download.content))
        names = archive.namelist()
        for info in archive.infolist():
            assert (info.external_attr >> 16) & 0o170000 in (0, 0o100000, 0o040000), info
        contents = [archive.read(n) for n in names if not n.endswith('/')]
    elif packaging in ('tar', 'tgz'):
        assert download.status_code == 200, download.text
        archive = tarfile.open(fileobj=io.BytesIO(download.content))
        members = archive.getmembers()
        assert all(m.isreg() or m.isdir() for m in members), [(m.name, m.type) for m in members]
        names = [m.name for m in members]
        contents = [archive.extractfile(m).read() for m in members if m.isreg()]
    else:  # a directory is delivered as is: check what landed in the downloads directory
        token = urls[0].split('/oseo/downloads/', 1)[1].split('/')[0]
        delivered = server.data_dir / 'orders' / token
        assert delivered.is_dir() and not _links_under(delivered)
        names = [p.relative_to(delivered).as_posix() for p in delivered.rglob('*')]
        contents = [p.read_bytes() for p in delivered.rglob('*') if p.is_file()]
    assert any(n.endswith('ok.txt') for n in names), names
    for name in names:
        assert not name.startswith('/') and '..' not in name.split('/'), names
        assert not any(part in ('leak.txt', 'rootfs', 'fifo', 'hostdir', 'relative.txt')
                       for part in name.split('/')), names
    assert b'plain=ok\n' in contents
    _no_trace(canary, *answers, *contents)


# -- finding 13 --------------------------------------------------------------------------
@pytest.mark.parametrize('name', ['x.html', 'x.svg'])
def test_finding_13_html_and_svg_results_are_attachments(server, canary, name):
    """HTML and SVG a container wrote are served as sandboxed attachments (never inline on
    the API origin); plain text stays inline as text/plain; both carry nosniff."""
    reply = run_sync(server, 'alice', 'paths-probe', {'action': 'html'}, response='document')
    assert reply.status_code == 200, reply.text
    base = reply.json()['result']['href'][len(server.url):]
    page = call(server, 'GET', f'{base}/{name}', 'admin')
    assert page.status_code == 200 and b'<script>' in page.content
    assert page.headers['Content-Disposition'].startswith('attachment'), page.headers
    assert page.headers['X-Content-Type-Options'] == 'nosniff'
    assert 'sandbox' in page.headers['Content-Security-Policy']
    text = call(server, 'GET', f'{base}/notes.txt', 'alice')
    assert text.status_code == 200 and text.headers['Content-Type'].startswith('text/plain')
    assert text.headers['Content-Disposition'].startswith('inline')
    assert text.headers['X-Content-Type-Options'] == 'nosniff'
    _no_trace(canary, reply, page, text)


def test_finding_13_raw_result_declared_html_is_an_attachment(server, canary):
    """A raw single-output result whose process declares text/html is an attachment too."""
    reply = run_sync(server, 'alice', 'paths-html', {'action': 'identity'})
    assert reply.status_code == 200, reply.text
    assert reply.headers['Content-Disposition'].startswith('attachment'), reply.headers
    assert reply.headers['X-Content-Type-Options'] == 'nosniff'
    assert 'sandbox' in reply.headers['Content-Security-Policy']
    assert 'uid=' in reply.text
    _no_trace(canary, reply)
