"""CORS on the openEO API and the STAC API (openEO API 1.2, "Cross-Origin Resource
Sharing"; STAC API's implementation recommendations): a page of another origin, in a real
browser (Chromium enforces CORS: the oracle), signs in to openEO with a bearer token,
creates a job and reads its `OpenEO-Identifier`; the browser's own credentials are never
allowed, and every other path keeps refusing other sites."""

from __future__ import annotations

import base64
import http.server
import json
import os
import threading
from pathlib import Path

import pytest
import requests
import yaml

from .conftest import embedded_default
from .support.auth import as_, password, write_users
from .test_openeo_files import start
from .test_ui_browser import Browsing, browser  # noqa: F401 - the browser fixture

OTHER_SITE = 'https://editor.openeo.example'
EXPOSED = {'link', 'location', 'openeo-costs', 'openeo-identifier'}  # the spec's minimum
GRAPH = {'process': {'process_graph': {'sum': {'process_id': 'add', 'arguments': {
    'x': 1, 'y': 2}, 'result': True}}}}


@pytest.fixture(scope='module', params=['own', 'flask-cors'])
def server(request, tmp_path_factory):
    """The server, and the same with pygeoapi's `server.cors` on (flask-cors on every
    path: its headers must not double ours)."""
    running = start(tmp_path_factory.mktemp('cors'))
    running.flask_cors = request.param == 'flask-cors'
    if running.flask_cors:
        running.stop()
        config = yaml.safe_load(running.config.read_text())
        config['server']['cors'] = True
        running.config.write_text(yaml.safe_dump(config))
        running.start()
    yield running
    running.stop()


@pytest.fixture(scope='module')
def other_origin():
    """A site on another port (another origin): an empty page at `/`, and at
    `/client.html` one loading the openEO JavaScript client (scripts/openeo-js-client)."""
    scripts = Path(os.environ.get('EOORDER_OPENEO_JS',
                                  Path.home() / '.cache' / 'eoorder-openeo-js'))
    if not (scripts / 'openeo.min.js').is_file():
        pytest.fail('the openEO JavaScript client is missing: run scripts/openeo-js-client')
    pages = {'/': b'<!doctype html><title>another site</title>',
             '/client.html': b'<!doctype html><title>another site</title>'
                             b'<script src="axios.min.js"></script>'
                             b'<script src="openeo.min.js"></script>'}

    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path in pages:
                body, kind = pages[self.path], 'text/html'
            elif self.path in ('/axios.min.js', '/openeo.min.js'):
                body, kind = (scripts / self.path[1:]).read_bytes(), 'text/javascript'
            else:
                body, kind = b'', 'text/plain'
            self.send_response(200 if body else 404)
            self.send_header('Content-Type', kind)
            self.send_header('Content-Length', str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    site = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Page)
    threading.Thread(target=site.serve_forever, daemon=True).start()
    # (another host name: another site, so that the browser sends `Sec-Fetch-Site:
    # cross-site`; 127.0.0.1 on another port would be same-site)
    yield f'http://localhost:{site.server_port}/'
    site.shutdown()


def names(header: str | None) -> set[str]:
    return {part.strip().lower() for part in (header or '').split(',') if part.strip()}


def preflight(url: str, method: str) -> requests.Response:
    return requests.options(url, timeout=10, headers={
        'Origin': OTHER_SITE, 'Access-Control-Request-Method': method,
        'Access-Control-Request-Headers': 'Authorization, Content-Type'})


@pytest.mark.parametrize('path, methods', [
    ('/openeo/1.2/jobs', {'GET', 'POST', 'OPTIONS'}),
    ('/openeo/1.2/jobs/j-1', {'GET', 'PATCH', 'DELETE', 'OPTIONS'}),
    ('/openeo/1.2/jobs/j-1/results', {'GET', 'POST', 'DELETE', 'OPTIONS'}),
    ('/openeo/1.2/process_graphs/p', {'GET', 'PUT', 'DELETE', 'OPTIONS'}),
    ('/openeo/1.2/files/a/b.txt', {'GET', 'PUT', 'DELETE', 'OPTIONS'}),
    ('/openeo/1.2/', {'GET', 'OPTIONS'}),
    ('/.well-known/openeo', {'GET', 'OPTIONS'}),
    ('/stac/search', {'GET', 'POST', 'OPTIONS'}),
])
def test_a_preflight_is_answered_with_the_methods_of_the_path(server, path, methods):
    reply = preflight(server.url + path, 'POST')
    assert reply.status_code == 204, reply.text
    assert reply.content == b''
    assert names(reply.headers.get('Access-Control-Allow-Methods')) == \
        {m.lower() for m in methods}
    assert {'authorization', 'content-type'} <= \
        names(reply.headers.get('Access-Control-Allow-Headers'))
    assert reply.headers.get('Access-Control-Allow-Origin') == '*'
    assert 'Access-Control-Allow-Credentials' not in reply.headers
    exposed = names(reply.headers.get('Access-Control-Expose-Headers'))
    assert 'retry-after' in exposed  # (a 503 or 429 says when to come back)
    if path.startswith(('/openeo', '/.well-known')):
        assert EXPOSED <= exposed


def test_a_preflight_of_no_path_is_the_protocols_not_found(server):
    reply = preflight(server.url + '/openeo/1.2/nothing/here', 'GET')
    assert reply.status_code == 404
    assert reply.json()['code'] == 'NotFound'
    assert reply.headers.get('Access-Control-Allow-Origin') == '*'


def test_every_openeo_answer_carries_the_headers_errors_included(server):
    for reply in (requests.get(f'{server.url}/openeo/1.2/jobs', timeout=10),  # 401
                  requests.get(f'{server.url}/openeo/1.2/', timeout=10),
                  requests.get(f'{server.url}/openeo/1.2/jobs/none', auth=as_('alice'),
                               timeout=10)):
        assert reply.headers.get('Access-Control-Allow-Origin') == '*', reply.url
        assert EXPOSED <= names(reply.headers.get('Access-Control-Expose-Headers'))
        assert 'Access-Control-Allow-Credentials' not in reply.headers
    assert reply.status_code == 404 and reply.json()['code'] == 'JobNotFound'


def jobs_of(server, user: str) -> list[str]:
    reply = requests.get(f'{server.url}/openeo/1.2/jobs', auth=as_(user), timeout=10)
    assert reply.status_code == 200, reply.text
    return [job['id'] for job in reply.json()['jobs']]


def _bearer(server) -> str:
    token = requests.get(f'{server.url}/openeo/1.2/credentials/basic', auth=as_('alice'),
                         timeout=10).json()['access_token']
    return f'Bearer basic//{token}'


def test_a_cross_site_job_with_a_bearer_token_is_created(server):
    reply = requests.post(f'{server.url}/openeo/1.2/jobs', json=GRAPH, timeout=10, headers={
        'Origin': OTHER_SITE, 'Sec-Fetch-Site': 'cross-site',
        'Authorization': _bearer(server)})
    assert reply.status_code == 201, reply.text
    assert reply.headers['OpenEO-Identifier']
    assert reply.headers.get('Access-Control-Allow-Origin') == '*'


@pytest.mark.parametrize('content_type', ['text/plain', 'application/x-www-form-urlencoded'])
def test_a_cross_site_simple_post_is_still_refused(server, content_type):
    """A body a page may send without a preflight (refused even with a bearer token)."""
    before = jobs_of(server, 'alice')
    reply = requests.post(f'{server.url}/openeo/1.2/jobs', data='{}', timeout=10,
                          headers={'Origin': OTHER_SITE, 'Sec-Fetch-Site': 'cross-site',
                                   'Content-Type': content_type,
                                   'Authorization': _bearer(server)})
    assert reply.status_code == 415
    assert jobs_of(server, 'alice') == before


def test_a_cross_site_change_without_credentials_is_refused(server):
    """Only a bearer token opens a state change to another site (an anonymous caller may
    be someone by the network they are on)."""
    for reply in (requests.post(f'{server.url}/openeo/1.2/jobs', json=GRAPH, timeout=10,
                                headers={'Origin': OTHER_SITE}),
                  requests.post(f'{server.url}/stac/search', json={}, timeout=10,
                                headers={'Origin': OTHER_SITE,
                                         'Sec-Fetch-Site': 'cross-site'})):
        assert reply.status_code == 403, reply.text
        assert reply.headers.get('Access-Control-Allow-Origin') == '*'


def test_browser_credentials_from_another_site_change_nothing(server):
    """A simple request (no preflight: a body-less POST) carries the Basic credentials a
    browser remembers: refused from another site, whatever the path; the same request
    with the page's own bearer token is taken."""
    cross = {'Origin': OTHER_SITE, 'Sec-Fetch-Site': 'cross-site'}
    created = requests.post(f'{server.url}/openeo/1.2/jobs', json=GRAPH, auth=as_('alice'),
                            timeout=10)
    job = created.headers['OpenEO-Identifier']
    before = jobs_of(server, 'alice')
    start = f'{server.url}/openeo/1.2/jobs/{job}/results'
    assert requests.post(start, auth=as_('alice'), headers=cross, timeout=10).status_code \
        == 403
    assert requests.post(f'{server.url}/openeo/1.2/jobs', json=GRAPH, auth=as_('alice'),
                         headers=cross, timeout=10).status_code == 403
    assert requests.delete(f'{server.url}/openeo/1.2/jobs/{job}', auth=as_('alice'),
                           headers=cross, timeout=10).status_code == 403
    assert jobs_of(server, 'alice') == before
    status = requests.get(f'{server.url}/openeo/1.2/jobs/{job}', auth=as_('alice'),
                          timeout=10).json()['status']
    assert status == 'created'
    taken = requests.post(start, headers={**cross, 'Authorization': _bearer(server)},
                          timeout=10)
    assert taken.status_code == 202, taken.text


def test_other_paths_refuse_other_sites_with_server_cors_headers_alone(server):
    reply = requests.post(f'{server.url}/processes/echo/execution', json={'inputs': {}},
                          auth=as_('alice'), timeout=10,
                          headers={'Origin': OTHER_SITE, 'Sec-Fetch-Site': 'cross-site'})
    assert reply.status_code == 403
    options = preflight(f'{server.url}/processes', 'POST')
    ows = requests.post(f'{server.url}/wps', data=b'<x/>', auth=as_('alice'), timeout=10,
                        headers={'Origin': OTHER_SITE, 'Content-Type': 'application/xml'})
    assert ows.status_code == 403 and b'ExceptionReport' in ows.content
    for answer in (reply, options, ows):  # (flask-cors's, kept on converted refusals)
        assert ('Access-Control-Allow-Origin' in answer.headers) == server.flask_cors


def test_a_page_of_another_origin_uses_openeo_in_a_browser(server, other_origin, tmp_path,
                                                          browser):  # noqa: F811
    session = Browsing(browser, tmp_path)
    try:
        page = session.page
        page.goto(other_origin)
        basic = base64.b64encode(f'alice:{password("alice")}'.encode()).decode()
        outcome = page.evaluate('''async ([api, basic, graph]) => {
            const signIn = await fetch(api + '/credentials/basic',
                                       {headers: {Authorization: 'Basic ' + basic}});
            const token = (await signIn.json()).access_token;
            const bearer = {Authorization: 'Bearer basic//' + token};
            const created = await fetch(api + '/jobs', {method: 'POST', body: graph,
                headers: {...bearer, 'Content-Type': 'application/json'}});
            const id = created.headers.get('OpenEO-Identifier');
            const location = created.headers.get('Location');
            const listed = await (await fetch(api + '/jobs', {headers: bearer})).json();
            const removed = await fetch(api + '/jobs/' + id, {method: 'DELETE',
                                                              headers: bearer});
            let withCookies = 'answered';
            try {
                await fetch(api + '/jobs', {method: 'POST', body: graph,
                    credentials: 'include',
                    headers: {'Content-Type': 'application/json'}});
            } catch (err) { withCookies = 'blocked'; }
            return {status: created.status, id, location, removed: removed.status,
                    listed: listed.jobs.map(job => job.id), withCookies};
        }''', [f'{server.url}/openeo/1.2', basic, json.dumps(GRAPH)])
    finally:
        session.close()
    assert outcome['status'] == 201
    assert outcome['id'] and outcome['id'] in outcome['listed']
    assert outcome['location'].endswith('/jobs/' + outcome['id'])
    assert outcome['removed'] == 204
    # the browser may not send its own credentials where they are not allowed
    assert outcome['withCookies'] == 'blocked'
    assert outcome['id'] not in jobs_of(server, 'alice')


@pytest.mark.parametrize('blocks', [
    {},  # the embedded default: the `none` authenticator (everyone is the local admin)
    {'auth': {'authenticators': [{'name': 'basic', 'users_file': 'USERS'}]},
     'web': {'cross_origin_apis': False}},
], ids=['none-authenticator', 'turned-off'])
def test_no_other_site_gets_in_where_the_apis_are_not_opened(tmp_path, blocks):
    """With the `none` authenticator any page could act and read as the local admin:
    no CORS headers, no preflight, and other sites' changes refused (a bearer token made
    up by the page too); the same when the deployer turns it off."""
    users = write_users(tmp_path / 'users.yml', {'alice': ['user']})
    blocks = json.loads(json.dumps(blocks).replace('USERS', str(users)))
    running = embedded_default(tmp_path)
    config = yaml.safe_load(running.config.read_text())
    config['eoorder'].update(blocks)  # (`web` is also embedded_default's own argument)
    running.config.write_text(yaml.safe_dump(config))
    running.start()
    try:
        for path in ('/openeo/1.2/', '/openeo/1.2/jobs', '/stac/search'):
            answer = requests.get(running.url + path, auth=as_('alice'), timeout=10,
                                  headers={'Origin': OTHER_SITE})
            assert 'Access-Control-Allow-Origin' not in answer.headers, path
            assert preflight(running.url + path, 'POST').status_code != 204, path
        for headers in ({}, {'Authorization': 'Bearer made-up'}):
            reply = requests.post(f'{running.url}/openeo/1.2/jobs', json=GRAPH, timeout=10,
                                  headers={'Origin': OTHER_SITE, 'Sec-Fetch-Site': 'cross-site',
                                           **headers})
            assert reply.status_code == 403, reply.text
            stac = requests.delete(f'{running.url}/stac/collections/products/items/'
                                   'DEMO_LC09_L2SP_20240703_199026', timeout=10,
                                   headers={'Origin': OTHER_SITE, **headers})
            assert stac.status_code == 403, stac.text
    finally:
        running.stop()


def test_the_openeo_javascript_client_runs_a_job_from_another_origin(server, other_origin,
                                                                    tmp_path,
                                                                    browser):  # noqa: F811
    """The Web Editor's library, on a page of another site: discovery from the root,
    Basic sign-in (then its bearer token), a batch job created, started, polled, and its
    STAC results read."""
    session = Browsing(browser, tmp_path)
    try:
        page = session.page
        page.goto(other_origin + 'client.html')
        outcome = page.evaluate('''async ([root, user, secret, graph]) => {
            const con = await OpenEO.connect(root);
            await con.authenticateBasic(user, secret);
            const collections = await con.listCollections();
            const job = await con.createJob(graph, 'from another site');
            await job.startJob();
            for (let i = 0; i < 300 && !['finished', 'error'].includes(job.status); i++) {
                await new Promise(done => setTimeout(done, 200));
                await job.describeJob();
            }
            const results = job.status === 'finished' ? await job.getResultsAsStac() : null;
            return {url: con.getBaseUrl(), collections: collections.collections.map(c => c.id),
                    id: job.id, status: job.status, title: job.title,
                    assets: results ? Object.keys(results.assets || {}) : null};
        }''', [server.url, 'alice', password('alice'), GRAPH['process']])
    finally:
        session.close()
    assert outcome['url'].rstrip('/') == f'{server.url}/openeo/1.2'
    assert 'products' in outcome['collections']
    assert outcome['status'] == 'finished', outcome
    assert outcome['title'] == 'from another site' and outcome['assets']
    assert outcome['id'] in jobs_of(server, 'alice')


def test_a_made_up_bearer_token_from_another_site_changes_nothing(tmp_path):
    """Where anonymous callers are served, a bearer token no authenticator takes leaves
    the caller anonymous: refused from another site as without credentials."""
    users = write_users(tmp_path / 'users.yml', {'alice': ['user']})
    running = start(tmp_path, auth={'authenticators': [{'name': 'basic',
                                                          'users_file': str(users)}],
                                    'anonymous': True, 'anonymous_roles': ['user']})
    try:
        cross = {'Origin': OTHER_SITE, 'Sec-Fetch-Site': 'cross-site'}
        made_up = requests.post(f'{running.url}/openeo/1.2/jobs', json=GRAPH, timeout=10,
                                headers={**cross, 'Authorization': 'Bearer made-up'})
        assert made_up.status_code == 403, made_up.text
        assert made_up.headers.get('Access-Control-Allow-Origin') == '*'
        real = requests.post(f'{running.url}/openeo/1.2/jobs', json=GRAPH, timeout=10,
                             headers={**cross, 'Authorization': _bearer(running)})
        assert real.status_code == 201, real.text
        assert jobs_of(running, 'alice') == [real.headers['OpenEO-Identifier']]
    finally:
        running.stop()


def test_server_cors_with_the_none_authenticator_stops_start_up_in_one_line(tmp_path):
    running = embedded_default(tmp_path)
    config = yaml.safe_load(running.config.read_text())
    config['server']['cors'] = True
    running.config.write_text(yaml.safe_dump(config))
    with pytest.raises(RuntimeError, match='server exited'):
        running.start()
    log = running.log()
    assert 'server.cors: with the `none` authenticator' in log, log[-2000:]
    assert 'Traceback' not in log, log[-2000:]
