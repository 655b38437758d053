"""Issue 13 again, as the pentester: variants of the findings that the first wave's tests
did not cover, and the known gaps (the disk quota and ResourceRequirement of CWL runs, the
database result store's link guard, the stage-in size cap, harvest's XML parser). Each test
performs the attack against a running server and the real Docker engine (the result store's
guard against a real store) and asserts the refusal and that nothing reached the host."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import pytest
import requests

from ..conftest import TEST_PROCESSES
from ..support import oseo
from ..support.auth import as_
from ..support.catalogue import records_resource
from .conftest import InternalService, call, deploy_package, run_async, start_secure_server

PACKAGES = Path(__file__).parent.parent / 'data' / 'packages'
CWL = 'application/cwl+yaml'
PROBE = 'eoorder-test/probe:1.0'
AOI = '5.5,50.1,6.25,51'
HOST_SECRET = 'HOST-SECRET-CONTENT'
MAX_BYTES = 4096
HARVEST = {'type': 'process', 'processor': {
    'name': 'pygeoapi_eoorder.catalogue.harvest.job.HarvestProcessor'}}


@pytest.fixture
def origin():
    service = InternalService(host='localhost')  # a host the deployer allowed by name
    yield service
    service.close()


@pytest.fixture(scope='module')
def allowed_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp('variants-root')
    (root / 'inside.txt').write_text('inside\n')
    return root


@pytest.fixture(scope='module')
def site(tmp_path_factory, allowed_root):
    """Defaults, except: a small disk quota, a small stage-in cap, `localhost` allowed for
    egress, an allowed file root, job STAC outputs registered in `results`, harvest."""
    resources = {**TEST_PROCESSES, 'harvest': HARVEST,
                 'results': records_resource('Results'),
                 'harvested': records_resource('Harvested')}
    server = start_secure_server(
        tmp_path_factory.mktemp('variants'), resources,
        execution={'docker': {'disk_quota': '8m', 'disk_check_seconds': 0.2},
                   'stage_in': {'allowed_file_roots': [str(allowed_root)],
                                'max_bytes': MAX_BYTES}},
        egress={'allowed_hosts': ['localhost']},
        catalogue={'results_collection': 'results'})
    reply = deploy_package(server, 'dev', (PACKAGES / 'landcover.ogcapppkg.json').read_bytes())
    assert reply.status_code == 201, reply.text
    yield server
    server.stop()


def cwl_tool(pid: str, command: str, *, requirements: str = '', outputs: str = '') -> str:
    return (f'cwlVersion: v1.2\nclass: CommandLineTool\nid: {pid}\n'
            f'requirements:\n  DockerRequirement: {{dockerPull: {PROBE}}}\n{requirements}'
            f'baseCommand: [sh, -c, {json.dumps(command)}]\ninputs: []\n'
            f'outputs:\n{outputs or "  report: {type: stdout}"}\n')


def deploy_cwl(server, text: str) -> None:
    reply = deploy_package(server, 'dev', text, content_type=CWL)
    assert reply.status_code == 201, reply.text


def report(server, job: dict, user: str = 'alice') -> str:
    assert job['status'] == 'successful', job
    document = call(server, 'GET', f"/jobs/{job['jobID']}/results", user,
                    params={'response': 'document'}).json()
    return call(server, 'GET', document['report']['href'][len(server.url):], user).text


def everything_said(server, job: dict, user: str = 'alice') -> str:
    job_id = job['jobID']
    return ''.join(call(server, 'GET', path, user).text for path in (
        f'/jobs/{job_id}', f'/jobs/{job_id}/results?response=document', f'/jobs/{job_id}/log'))


def files_under(directory: Path) -> list[str]:
    return [str(p.relative_to(directory)) for p in directory.rglob('*')]


# -- known gap: the disk quota of CWL runs ----------------------------------------------------
def test_gap_cwl_run_is_held_to_the_disk_quota(site):
    """A CWL tool writes 40 MB into its output directory; the quota is 8m: the job fails
    saying so, and what it wrote is gone from the host."""
    deploy_cwl(site, cwl_tool('filler', 'dd if=/dev/zero of=big bs=1048576 count=40; echo done',
                              outputs='  big: {type: File, outputBinding: {glob: big}}'))
    job = run_async(site, 'alice', 'filler', {})
    assert job['status'] == 'failed', job
    assert 'disk quota of 8m exceeded' in job['message'], job['message']
    job_dir = site.data_dir / 'jobs' / job['jobID']
    assert not [p for p in job_dir.rglob('*') if p.is_file() and p.stat().st_size > 1 << 20]


# -- known gap: a ResourceRequirement below the ceilings gets less ---------------------------
def test_gap_cwl_resource_requirement_below_the_ceilings_is_granted(site):
    command = ('echo mem=$(cat /sys/fs/cgroup/memory.max 2>/dev/null '
               '|| cat /sys/fs/cgroup/memory/memory.limit_in_bytes); '
               'echo cpu=$(cut -d" " -f1 /sys/fs/cgroup/cpu.max 2>/dev/null '
               '|| cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us)')
    deploy_cwl(site, cwl_tool('frugal', command, requirements=(
        '  ResourceRequirement: {ramMin: 64, ramMax: 64, coresMin: 0.5, coresMax: 0.5}\n')))
    said = dict(item.split('=', 1) for item in report(site, run_async(
        site, 'alice', 'frugal', {})).split())
    assert said['mem'] == str(64 * 1024 ** 2)
    assert said['cpu'] == '50000'  # of a 100000 µs period
    # and asking for more than the ceiling gets the ceiling (the operator's 1 GiB at most)
    deploy_cwl(site, cwl_tool('greedy-cwl', command, requirements=(
        '  ResourceRequirement: {ramMin: 999999, coresMin: 64}\n')))
    said = dict(item.split('=', 1) for item in report(site, run_async(
        site, 'alice', 'greedy-cwl', {})).split())
    assert said['mem'] != 'max' and int(said['mem']) < 999999 * 1024 ** 2


# -- known gap: the database result store follows no link ----------------------------------
def test_gap_database_result_store_publishes_no_linked_host_file(tmp_path, canary):
    """A results tree holding links to a host file and to `/` (as a container could leave
    them) is published into a real store: only the regular files are stored."""
    from pygeoapi_eoorder.config import build_settings
    from pygeoapi_eoorder.jobs.result_store import DatabaseResults
    from pygeoapi_eoorder.store import get_store

    settings = build_settings({'eoorder': {'data_dir': str(tmp_path / 'data'),
                                           'jobs': {'result_store': 'database'}},
                               'server': {'url': 'http://localhost'}},
                              tmp_path / 'pygeoapi.yml')
    store = get_store(settings.store_url)
    job_dir = tmp_path / 'job'
    results = job_dir / 'results'
    (results / 'sub').mkdir(parents=True)
    (results / 'ok.txt').write_text('fine')
    (results / 'leak.txt').symlink_to(canary / 'secret.txt')
    (results / 'rootfs').symlink_to('/')
    (results / 'sub' / 'deep').symlink_to(canary)
    results_store = DatabaseResults(settings, store)
    results_store.publish('job-1', job_dir)
    assert results_store.read('job-1', 'results/ok.txt') == b'fine'
    for name in ('results/leak.txt', 'results/rootfs/etc/passwd',
                 'results/sub/deep/secret.txt'):
        with pytest.raises(FileNotFoundError):
            results_store.read('job-1', name)
    cached = results_store.results_dir('job-1')
    assert sorted(files_under(cached)) == ['ok.txt']


# -- known gap: a stage-in download has a size cap -------------------------------------------
@pytest.mark.parametrize('sized', [True, False], ids=['content-length', 'close-delimited'])
def test_gap_stage_in_download_from_an_allowed_host_is_capped(site, origin, sized):
    origin.files['/big.tif'] = b'x' * (MAX_BYTES * 8)
    if not sized:
        origin.unsized.add('/big.tif')
    job = run_async(site, 'alice', 'landcover',
                    {'source': {'href': f'{origin.url}/big.tif'}, 'aoi': AOI})
    assert job['status'] == 'failed', job
    assert f'larger than {MAX_BYTES} bytes' in job['message'], job['message']
    assert 'execution.stage_in.max_bytes' in job['message']
    job_dir = site.data_dir / 'jobs' / job['jobID']
    assert not [p for p in job_dir.rglob('big.tif')]


# -- known gap: harvest parses XML with the safe parser --------------------------------------
OSDD = """<?xml version="1.0"?>
<OpenSearchDescription xmlns="http://a9.com/-/spec/opensearch/1.1/">
  <ShortName>x</ShortName>
  <Url type="application/atom+xml" template="{base}/feed?start={{startIndex?}}&amp;n={{count?}}"/>
</OpenSearchDescription>"""
FEED = """<?xml version="1.0"?>
<!DOCTYPE feed [<!ENTITY who "INJECTED-BY-DTD">]>
<feed xmlns="http://www.w3.org/2005/Atom" xmlns:os="http://a9.com/-/spec/opensearch/1.1/"
      xmlns:dc="http://purl.org/dc/elements/1.1/">
  <os:totalResults>1</os:totalResults>
  <entry><id>dtd-entry</id><dc:identifier>dtd-entry</dc:identifier>
    <title>from a document with a DTD</title><updated>2021-01-01T00:00:00Z</updated>
  </entry>
</feed>"""


def test_gap_harvest_refuses_xml_with_a_document_type_declaration(site, origin):
    origin.files['/osdd.xml'] = OSDD.format(base=origin.url).encode()
    origin.files['/feed'] = FEED.encode()
    job = run_async(site, 'curator', 'harvest', {'source': f'{origin.url}/osdd.xml',
                                                 'type': 'opensearch',
                                                 'collection': 'harvested'})
    assert job['status'] == 'failed', job
    assert 'document type declaration' in job['message'], job['message']
    items = call(site, 'GET', '/collections/harvested/items', 'curator').json()
    assert items['numberMatched'] == 0


# -- variants of finding 11: other spellings of internal addresses --------------------------
@pytest.mark.parametrize('host', ['2130706433', '0x7f.1', '0177.0.0.1', '127.1',
                                  '[::ffff:127.0.0.1]', '[::ffff:7f00:1]', '[::]', '0.0.0.0',
                                  '127.0.0.1.nip.io'])
def test_variant_11_stage_in_of_internal_address_spellings_is_refused(site, internal_service,
                                                                       host):
    job = run_async(site, 'alice', 'landcover', {
        'source': {'href': f'http://{host}:{internal_service.port}/secret'}, 'aoi': AOI})
    assert job['status'] == 'failed', job
    assert 'TOP-SECRET-VALUE' not in everything_said(site, job)
    assert internal_service.hits == []


@pytest.mark.parametrize('form', ['file:{secret}', 'file://localhost{secret}', 'FILE://{secret}',
                                  'file://{root}/../canary/secret.txt',
                                  'file://{root}/%2e%2e/canary/secret.txt', '{secret}',
                                  'file://{root}/link'])
def test_variant_11_file_url_spellings_outside_the_roots_are_refused(site, allowed_root,
                                                                     canary, form):
    link = allowed_root / 'link'
    if not link.is_symlink():
        link.symlink_to(canary / 'secret.txt')
    (allowed_root.parent / 'canary').mkdir(exist_ok=True)
    (allowed_root.parent / 'canary' / 'secret.txt').write_text(HOST_SECRET)
    href = form.format(secret=canary / 'secret.txt', root=allowed_root)
    job = run_async(site, 'alice', 'landcover', {'source': {'href': href}, 'aoi': AOI})
    assert job['status'] == 'failed', job
    assert HOST_SECRET not in everything_said(site, job)
    assert sorted(p.name for p in canary.iterdir()) == ['secret.txt']


# -- variants of finding 5/16: a STAC output naming host files or internal URLs ------------
def test_variant_5_registered_stac_output_keeps_no_host_path(site, canary, internal_service):
    """A container writes a catalog whose item and asset hrefs point at a host file, a
    path out of its results and an internal URL; the registered records point only
    into the job's results (or nowhere), never at the host."""
    secret = canary / 'secret.txt'
    item = {'type': 'Feature', 'stac_version': '1.0.0', 'id': 'scene', 'geometry': None,
            'properties': {'datetime': '2021-01-01T00:00:00Z'}, 'links': [],
            'assets': {'host': {'href': secret.as_uri()},
                       'abs': {'href': str(secret)},
                       'up': {'href': '../../../../../../../../../' + str(secret)},
                       'ok': {'href': 'data.txt'}}}
    catalog = {'type': 'Catalog', 'stac_version': '1.0.0', 'id': 'c', 'description': 'c',
               'links': [{'rel': 'item', 'href': './scene/scene.json'}]}
    command = ('mkdir -p out/scene && echo data > out/scene/data.txt && '
               f"printf '%s' {json.dumps(json.dumps(catalog))} > out/catalog.json && "
               f"printf '%s' {json.dumps(json.dumps(item))} > out/scene/scene.json")
    deploy_cwl(site, cwl_tool('stac-out', command,
                              outputs='  report: {type: Directory, outputBinding: {glob: out}}'))
    job = run_async(site, 'alice', 'stac-out', {})
    assert job['status'] == 'successful', job
    record = call(site, 'GET', f"/collections/results/items/{job['jobID']}/scene",
                  'alice')
    assert record.status_code == 200, record.text
    text = record.text
    assert str(canary) not in text and 'file:' not in text
    assert HOST_SECRET not in everything_said(site, job)
    hrefs = [link['href'] for link in record.json().get('links', [])
             if link.get('rel') in ('enclosure', 'data', None)]
    assert any(h.endswith('/scene/data.txt') for h in hrefs), record.json()


# -- variants of finding 13: results and logs never rendered as HTML -------------------------
def test_variant_13_results_and_log_are_not_rendered_as_html(site):
    page = '<html><script>alert(document.domain)</script></html>'
    command = (f"printf '%s' '{page}' > x.json; printf '%s' '{page}' > x.txt; "
               f"echo '{page}'")
    deploy_cwl(site, cwl_tool('html-out', command, outputs=(
        '  json: {type: File, outputBinding: {glob: x.json}, format: "text/html"}\n'
        '  txt: {type: File, outputBinding: {glob: x.txt}}')))
    job = run_async(site, 'alice', 'html-out', {})
    assert job['status'] == 'successful', job
    document = call(site, 'GET', f"/jobs/{job['jobID']}/results", 'alice',
                    params={'response': 'document'}).json()
    for output in ('json', 'txt'):
        href = document[output]['href'][len(site.url):]
        for params in ({}, {'f': 'html'}, {'f': 'raw'}):
            reply = call(site, 'GET', href, 'alice', params=params)
            assert reply.status_code < 500, reply.text
            if reply.status_code == 200 and '<script>' in reply.text:
                kind = reply.headers.get('Content-Type', '')
                assert reply.headers.get('X-Content-Type-Options') == 'nosniff'
                assert 'sandbox' in reply.headers.get('Content-Security-Policy', '')
                assert not any(t in kind for t in ('html', 'svg', 'xml')) or \
                    reply.headers.get('Content-Disposition', '').startswith('attachment'), \
                    (href, params, dict(reply.headers))
    for params in ({}, {'f': 'html'}):
        log = call(site, 'GET', f"/jobs/{job['jobID']}/log", 'alice', params=params)
        assert log.headers.get('X-Content-Type-Options') == 'nosniff'
        if '<script>' in log.text:
            assert 'html' not in log.headers.get('Content-Type', ''), dict(log.headers)


# -- variants of finding 20: the throttle is not bypassed by a forwarded address ------------
def test_variant_20_throttle_ignores_x_forwarded_for(tmp_path):
    server = start_secure_server(tmp_path / 'throttle', dict(TEST_PROCESSES), auth={
        'throttle': {'max_failures': 50, 'max_failures_per_address': 3,
                     'window_seconds': 30}})
    try:
        for index in range(6):
            requests.get(f'{server.url}/jobs', auth=(f'nobody{index}', 'wrong'),
                         headers={'X-Forwarded-For': f'203.0.113.{index}',
                                  'X-Real-IP': f'203.0.113.{index}'}, timeout=30)
        reply = requests.get(f'{server.url}/jobs', auth=as_('alice'),
                             headers={'X-Forwarded-For': '198.51.100.7'}, timeout=30)
        assert reply.status_code in (401, 429), reply.status_code
    finally:
        server.stop()


# -- variants of finding 18: cross-site requests in other clothes ---------------------------
@pytest.mark.parametrize('headers', [
    {'Content-Type': 'text/plain;charset=utf-8'},
    {'Content-Type': 'TEXT/PLAIN; charset=UTF-8'},
    {'Content-Type': 'application/x-www-form-urlencoded'},
    {'Content-Type': 'multipart/form-data; boundary=x'},
    {'Content-Type': 'application/json', 'Origin': 'null'},
    {'Content-Type': 'application/json', 'Sec-Fetch-Site': 'cross-site'},
    {'Content-Type': 'application/json', 'Origin': 'http://127.0.0.1.evil.example'},
], ids=['text-plain-charset', 'text-plain-upper', 'form', 'multipart', 'origin-null',
        'sec-fetch-cross-site', 'origin-lookalike'])
def test_variant_18_cross_site_job_creation_is_refused(site, headers):
    before = call(site, 'GET', '/jobs', 'alice').json().get('jobs', [])
    body = json.dumps({'inputs': {'text': 'csrf'}})
    reply = call(site, 'POST', '/processes/text/execution', 'alice', data=body,
                 headers=headers)
    assert reply.status_code in (403, 415), reply.text
    assert reply.headers['Content-Type'].startswith('application/problem+json')
    after = call(site, 'GET', '/jobs', 'alice').json().get('jobs', [])
    assert len(after) == len(before)


# -- variants of finding 4: input ids with unicode tricks -----------------------------------
@pytest.mark.parametrize('input_id', ['\u2025/x', '..\u2215..\u2215pwned', '.\u200b./x',
                                      'a\u0000b', '..%2f..%2fpwned', '\uff0e\uff0e/pwned'])
def test_variant_4_input_ids_with_unicode_tricks_stay_confined(site, canary, input_id):
    reply = call(site, 'POST', '/processes/text/execution', 'alice',
                 json={'inputs': {'text': 'x', input_id: {'href': (canary / 'secret.txt'
                                                                        ).as_uri()}}})
    assert reply.status_code < 500, reply.text
    assert HOST_SECRET not in reply.text
    assert sorted(p.name for p in canary.iterdir()) == ['secret.txt']
    assert not list(site.data_dir.glob('**/pwned'))


@pytest.mark.parametrize('kind', ['host-file', 'file-url', 'up-and-out', 'internal-url'])
def test_variant_5_stac_output_links_out_of_the_job_are_not_followed(site, tmp_path,
                                                                     internal_service, kind):
    """The catalog a container wrote links an item on the host or on an internal service:
    the server never reads it (the job fails saying so, or registers nothing of it)."""
    host_item = {'type': 'Feature', 'stac_version': '1.0.0', 'id': 'host-item',
                 'geometry': None, 'properties': {'datetime': '2021-01-01T00:00:00Z'},
                 'links': [], 'assets': {}}
    (tmp_path / 'item.json').write_text(json.dumps(host_item))
    internal_service.files['/item.json'] = json.dumps(host_item).encode()
    href = {'host-file': str(tmp_path / 'item.json'),
            'file-url': (tmp_path / 'item.json').as_uri(),
            'up-and-out': '../' * 30 + str(tmp_path / 'item.json').lstrip('/'),
            'internal-url': f'{internal_service.url}/item.json'}[kind]
    catalog = {'type': 'Catalog', 'stac_version': '1.0.0', 'id': 'c', 'description': 'c',
               'links': [{'rel': 'item', 'href': href}]}
    pid = f'stac-link-{kind}'
    deploy_cwl(site, cwl_tool(pid, (f"mkdir -p out && printf '%s' "
                                    f"{json.dumps(json.dumps(catalog))} > out/catalog.json"),
                              outputs='  report: {type: Directory, outputBinding: {glob: out}}'))
    job = run_async(site, 'alice', pid, {})
    record = call(site, 'GET', f"/collections/results/items/{job['jobID']}/host-item", 'admin')
    assert record.status_code == 404
    assert internal_service.hits == []
    if job['status'] == 'failed':
        assert 'registering the STAC output' in job['message'], job['message']


# -- variants of findings 1, 5 and 8: other ways a package names host paths -----------------
def _package_variants(canary: Path) -> dict[str, str]:
    secret = canary / 'secret.txt'
    file_out = '  out: {type: "File?", outputBinding: {glob: %s}}\n  report: {type: stdout}'
    return {
        'entryname up': cwl_tool('v-entry-up', 'echo done', requirements=(
            '  InitialWorkDirRequirement:\n    listing:\n'
            f'      - {{entryname: "../../../../../../../../..{canary}/pwned", entry: x}}\n')),
        'entryname absolute': cwl_tool('v-entry-abs', 'echo done', requirements=(
            '  InitialWorkDirRequirement:\n    listing:\n'
            f'      - {{entryname: "{canary}/pwned", entry: x, writable: true}}\n')),
        'glob up': cwl_tool('v-glob-up', 'echo done',
                            outputs=file_out % json.dumps('../../../../../../../../..' +
                                                          str(secret))),
        'glob absolute': cwl_tool('v-glob-abs', 'echo done', outputs=file_out % json.dumps(
            str(secret))),
        'glob star up': cwl_tool('v-glob-star', 'echo done', outputs=(
            '  out: {type: "File[]", outputBinding: {glob: "../../../../*/*/*/*"}}\n'
            '  report: {type: stdout}')),
        'loadContents absolute': cwl_tool('v-load', 'echo done', outputs=(
            '  out: {type: string, outputBinding: {glob: %s, loadContents: true, '
            'outputEval: "$(self[0].contents)"}}\n  report: {type: stdout}'
            % json.dumps(str(secret)))),
        'outputEval host file': cwl_tool('v-eval', 'echo done', requirements=(
            '  InlineJavascriptRequirement: {}\n'), outputs=(
            '  out: {type: File, outputBinding: {outputEval: '
            f'\'$({{"class": "File", "location": "{secret.as_uri()}"}})\'}}}}\n'
            '  report: {type: stdout}')),
        'hint to a missing image': f"""cwlVersion: v1.2
class: Workflow
id: v-hint
hints: {{DockerRequirement: {{dockerPull: "eoorder-test/absent:9.9"}}}}
inputs: []
outputs: {{r: {{type: File, outputSource: s/r}}}}
steps:
  s:
    in: []
    out: [r]
    run:
      class: CommandLineTool
      baseCommand: [sh, -c, "id > {canary}/pwned"]
      inputs: []
      outputs: {{r: {{type: stdout}}}}
""",
        'graph step without docker': f"""cwlVersion: v1.2
$graph:
  - class: Workflow
    id: main
    inputs: []
    outputs: {{r: {{type: File, outputSource: s/r}}}}
    steps:
      s: {{run: '#bare', in: [], out: [r]}}
  - class: CommandLineTool
    id: bare
    baseCommand: [sh, -c, "id > {canary}/pwned"]
    inputs: []
    outputs: {{r: {{type: stdout}}}}
""",
    }


PACKAGE_VARIANTS = ['entryname up', 'entryname absolute', 'glob up', 'glob absolute',
                    'glob star up', 'loadContents absolute', 'outputEval host file',
                    'hint to a missing image', 'graph step without docker']


@pytest.mark.parametrize('kind', PACKAGE_VARIANTS)
def test_variant_8_package_paths_out_of_the_job_reach_nothing(site, canary, kind):
    text = _package_variants(canary)[kind]
    reply = deploy_package(site, 'dev', text, content_type=CWL)
    assert reply.status_code in (201, 400), reply.text
    if reply.status_code == 201:
        pid = reply.json().get('id') or next(
            line.split(': ', 1)[1] for line in text.splitlines() if line.startswith('id: '))
        pid = 'main' if kind == 'graph step without docker' and pid is None else pid
        job = run_async(site, 'alice', pid, {})
        assert HOST_SECRET not in everything_said(site, job)
        for path in (site.data_dir / 'jobs' / job['jobID']).rglob('*'):
            assert not path.is_file() or HOST_SECRET not in path.read_text(errors='replace')
        if kind in ('entryname up', 'entryname absolute', 'hint to a missing image',
                    'graph step without docker'):
            assert job['status'] == 'failed' or 'uid=0' not in everything_said(site, job)
    else:
        assert reply.headers['Content-Type'].startswith('application/problem+json')
    assert sorted(p.name for p in canary.iterdir()) == ['secret.txt']
    assert (canary / 'secret.txt').read_text() == HOST_SECRET + '\n'


# -- variants of finding 16: a private registered result seen through other doors ----------
def test_variant_16_private_results_stay_hidden_on_every_search_route(site):
    marker = f'alicesecret{uuid.uuid4().hex[:8]}'
    item = {'type': 'Feature', 'stac_version': '1.0.0', 'id': marker,
            'geometry': {'type': 'Point', 'coordinates': [7, 45]}, 'bbox': [7, 45, 7, 45],
            'properties': {'datetime': '2021-01-01T00:00:00Z', 'title': marker,
                           'platform': marker, 'instruments': [marker],
                           'processing:level': marker},
            'links': [], 'assets': {}}
    catalog = {'type': 'Catalog', 'stac_version': '1.0.0', 'id': 'c', 'description': 'c',
               'links': [{'rel': 'item', 'href': './item.json'}]}
    command = (f"mkdir -p out && printf '%s' {json.dumps(json.dumps(catalog))} > "
               f"out/catalog.json && printf '%s' {json.dumps(json.dumps(item))} > out/item.json")
    deploy_cwl(site, cwl_tool('private-out', command,
                              outputs='  report: {type: Directory, outputBinding: {glob: out}}'))
    job = run_async(site, 'alice', 'private-out', {})
    assert job['status'] == 'successful', job
    record_id = f"{job['jobID']}/{marker}"
    mine = call(site, 'GET', f'/collections/results/items/{record_id}', 'alice')
    assert mine.status_code == 200 and marker in mine.text  # the attack's target exists
    def doors(word: str, rid: str) -> list[tuple[str, dict]]:
        return [
            ('/collections/results/items', {'q': word}),
            ('/collections/results/items', {'filter': f"platform = '{word}'"}),
            ('/collections/results/items', {'filter': f"title LIKE '{word[:12]}%'"}),
            ('/collections/results/items', {'platform': word}),
            ('/collections/results/items', {'ids': rid}),
            ('/collections/results/items', {'bbox': '6.9,44.9,7.1,45.1'}),
            ('/collections/results/items', {'sortby': '-datetime', 'limit': 1000}),
            ('/collections/results/items', {'datetime': '2021-01-01T00:00:00Z'}),
            ('/collections/results', {}),
            ('/collections/results/queryables', {}),
            ('/collections/results/sortables', {}),
            ('/opensearch/collections/results', {}),
            ('/opensearch/collections/results/search', {
                'q': word, 'httpAccept': 'application/geo+json'}),
            ('/opensearch/collections/results/search', {'uid': rid}),
            ('/opensearch/collections/results/search', {'platform': word}),
            ('/opensearch/collections/results/search', {'lat': 45, 'lon': 7, 'radius': 1000}),
            ('/opensearch/search', {'q': word}),
            ('/opensearch/search', {'parentIdentifier': 'results', 'q': word}),
            ('/ui/search', {'collection': 'results', 'q': word}),
        ]

    # what a query for a word that exists nowhere answers is what the private one must answer
    absent = f'alicesecret{uuid.uuid4().hex[:8]}'
    absent_job = str(uuid.uuid4())
    absent_id = f'{absent_job}/{absent}'
    for user in (None, 'bob', 'curator', 'dev'):
        for (path, params), (_, control) in zip(doors(marker, record_id),
                                                doors(absent, absent_id)):
            reply = call(site, 'GET', path, user, params=params)
            expected = call(site, 'GET', path, user, params=control)
            assert reply.status_code == expected.status_code, (user, path, params)
            assert reply.status_code < 500, (path, params, reply.text)
            assert reply.text.count(marker) == expected.text.count(absent), \
                (user, path, params)
            assert reply.text.count(job['jobID']) == expected.text.count(absent_job), \
                (user, path, params)


# -- variants of findings 4 and 6: OSEO item ids and product ids with `../` ----------------
@pytest.fixture(scope='module')
def shop(tmp_path_factory):
    directory = tmp_path_factory.mktemp('variants-shop')
    products = directory / 'products'
    oseo.make_products(products, ['p1'])
    (directory / 'outside').mkdir()
    (directory / 'outside' / 'secret.dat').write_text('SECRET-PRODUCT\n')
    block = oseo.eoorder_block(products, jobs={'workers': 2})
    server = start_secure_server(directory, {}, ordering=block['ordering'],
                                 execution=block['execution'], jobs=block['jobs'])
    server.products = products
    yield server
    server.stop()


@pytest.mark.parametrize('packaging', [None, 'zip', 'tar'])
def test_variant_6_oseo_item_and_product_ids_with_dot_dot_stay_confined(shop, packaging):
    items = ''.join(oseo.item(item_id, identifier) for item_id, identifier in (
        ('../../../../../../pwned-item', 'p1'),
        ('..', 'p1'),
        ('evil', '../outside/secret'),
        ('evil2', '..%2Foutside%2Fsecret'),
        ('evil3', f'file://{shop.directory}/outside/secret.dat')))
    reply = oseo.post(shop, oseo.submit(items, packaging=packaging), auth=as_('alice'))
    assert reply.status_code in (200, 400), reply.text
    if reply.status_code == 200:
        order_id = oseo.payload(reply).findtext('oseo:orderId', namespaces=oseo.NS)
        end = time.monotonic() + 120
        while time.monotonic() < end:
            order = call(shop, 'GET', f'/orders/{order_id}', 'alice').json()
            if order['status'] in ('Completed', 'Failed', 'Cancelled'):
                break
            time.sleep(0.2)
        described = oseo.post(shop, oseo.describe(order_id), auth=as_('alice'))
        assert described.status_code == 200, described.text
        for url in oseo.payload(described).iter('{*}URL'):
            href = (url.text or '').strip()
            if href.startswith(shop.url):
                data = requests.get(href, auth=as_('alice'), timeout=30).content
                assert b'SECRET-PRODUCT' not in data
    for path in shop.directory.parent.glob('**/pwned-item*'):  # only as a confined name
        assert path.parent.parent == shop.data_dir / 'orders', path
    for path in shop.data_dir.rglob('*'):
        if path.is_file():
            assert b'SECRET-PRODUCT' not in path.read_bytes(), path


# -- variants of finding 18: no GET changes state --------------------------------------------
@pytest.mark.parametrize('operation', ['Submit', 'Cancel', 'GetQuotation', 'GetStatus',
                                       'DescribeResultAccess'])
def test_variant_18_oseo_kvp_get_changes_nothing(shop, operation):
    before = call(shop, 'GET', '/orders', 'admin').text
    reply = call(shop, 'GET', '/oseo', 'alice', params={
        'service': 'OS', 'version': '1.0.0', 'request': operation, 'orderId': 'x',
        'orderReference': 'csrf', 'identifier': 'p1', 'collectionId': 'test-collection'},
        headers={'Sec-Fetch-Site': 'cross-site', 'Origin': 'https://evil.example'})
    # OWS Common 2.0 answers OperationNotSupported with 501 (as tests/test_oseo_endpoint.py)
    assert reply.status_code in (400, 403, 501), reply.text
    assert oseo.exception(reply)[0] in ('OperationNotSupported', 'InvalidParameterValue',
                                        'MissingParameterValue'), reply.text
    assert call(shop, 'GET', '/orders', 'admin').text == before
