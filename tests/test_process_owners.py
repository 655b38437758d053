"""Private processes of different users never meet (issue 18): a user's private process is
kept per owner, so two users may each deploy a private process of one id (no 409 that
would reveal the other's), each gets their own under that id, a public one of that id is
what everyone else gets; another user's private process answers as one that does not
exist on describe, execute, replace, undeploy and package, over OGC API - Processes and
WPS. Workspace processes (`<workspace>:<id>`) work through WPS and appear in openEO as
`^\\w+$` ids. On SQLite and PostgreSQL; the store migration moves old rows.

Oracles: the store's rows, the SHA-256 of the package each user sent (the job's PROV
`packageDigest`), and the answer for an id that nobody deployed."""

from __future__ import annotations

import hashlib
import json
import re
import uuid

import pytest
import requests
from sqlalchemy import text

from tests.support.auth import as_
from tests.support.cluster import Database
from tests.support.workspaces import (PACKAGES, STORES, packages, query, start_site, stop_site,
                                      wait_job)
from tests.support.wps_schemas import assert_valid

__all__ = ['packages']
USERS = {name: ['user', 'developer'] for name in ('alice', 'bob', 'carol', 'dave')}
USERS.update(erin=['user'], root=['admin'])
PKG = 'application/ogcapppkg+json'
WPS, OWS = 'http://www.opengis.net/wps/2.0', 'http://www.opengis.net/ows/2.0'
NS = {'wps': WPS, 'ows': OWS}


@pytest.fixture(scope='module', params=STORES)
def site(request, tmp_path_factory):
    server = start_site(tmp_path_factory.mktemp(f'owners-{request.param}'), USERS, {},
                        store=request.param)
    yield server
    stop_site(server)


def call(site, method: str, user: str, path: str, **kwargs) -> requests.Response:
    return requests.request(method, f'{site.url}{path}', auth=as_(user), timeout=60,
                            **kwargs)


def echo_package(pid: str, title: str) -> bytes:
    document = json.loads((PACKAGES / 'echo.ogcapppkg.json').read_text())
    document['processDescription'].update(id=pid, title=title)
    return json.dumps(document).encode()


def deploy(site, user: str, body: bytes, visibility: str = 'private',
           pid: str | None = None) -> requests.Response:
    """POST /processes (PUT /processes/{pid} when `pid` is given)."""
    return call(site, 'PUT' if pid else 'POST', user, f'/processes/{pid}' if pid
                else '/processes', params={'visibility': visibility}, data=body,
                headers={'Content-Type': PKG})


def rows(site, pid: str) -> dict[str, str]:
    """{row key: owner} of the stored processes of id `pid`."""
    return {key: owner for key, owner in query(site.store_url, 'SELECT id, owner FROM '
                                               'eoorder_process')
            if key.rpartition('/')[2] == pid}


def title(site, user: str, pid: str) -> str | None:
    reply = call(site, 'GET', user, f'/processes/{pid}')
    return reply.json()['title'] if reply.status_code == 200 else None


def run(site, user: str, pid: str, message: str) -> dict:
    started = call(site, 'POST', user, f'/processes/{pid}/execution',
                   json={'inputs': {'message': message}}, headers={'Prefer': 'respond-async'})
    assert started.status_code == 201, started.text
    job = wait_job(site, user, started.json()['jobID'])
    assert job['status'] == 'successful', job
    return job


def digest_run(site, user: str, pid: str) -> str:
    """The package digest the job of `user` ran (its PROV document)."""
    job = run(site, user, pid, f'from {user}')
    results = call(site, 'GET', user, f"/jobs/{job['jobID']}/results")
    assert f'from {user}' in results.text
    prov = call(site, 'GET', user, f"/jobs/{job['jobID']}/prov").text
    return re.search(r'sha256:[0-9a-f]{64}', prov).group(0)


def sha(body: bytes) -> str:
    return 'sha256:' + hashlib.sha256(body).hexdigest()


def test_two_users_each_own_a_private_process_of_one_id(site):
    pid = f'echo-{uuid.uuid4().hex[:6]}'
    carols, alices, bobs = (echo_package(pid, f"{who}'s echo") for who in ('carol', 'alice',
                                                                             'bob'))
    first = deploy(site, 'carol', carols)
    assert first.status_code == 201, first.text
    second = deploy(site, 'alice', alices)  # carol's is not hers to see: no 409
    assert second.status_code == 201, second.text
    assert second.headers['Location'] == first.headers['Location']
    assert second.json() == json.loads(first.text.replace("carol's", "alice's"))
    assert title(site, 'erin', pid) is None
    public = deploy(site, 'bob', bobs, 'public')
    assert public.status_code == 201, public.text
    assert rows(site, pid) == {pid: 'bob', f'alice/{pid}': 'alice', f'carol/{pid}': 'carol'}
    assert {user: title(site, user, pid) for user in ('alice', 'bob', 'carol', 'erin')} == {
        'alice': "alice's echo", 'bob': "bob's echo", 'carol': "carol's echo",
        'erin': "bob's echo"}
    listed = call(site, 'GET', 'alice', '/processes', params={'limit': 1000}).json()
    assert [p['title'] for p in listed['processes'] if p['id'] == pid] == ["alice's echo"]
    assert digest_run(site, 'alice', pid) == sha(alices)
    assert digest_run(site, 'erin', pid) == sha(bobs)
    again = deploy(site, 'alice', alices)  # her own: seen, so 409
    assert again.status_code == 409 and again.json()['type'].endswith('duplicated-process')
    check_replace_and_undeploy(site, pid, carols)


def check_replace_and_undeploy(site, pid: str, carols: bytes) -> None:
    """Replace and undeploy act on the process the caller gets under that id."""
    newer = carols.replace(b"carol's echo", b"carol's echo v2")
    assert deploy(site, 'carol', newer, pid=pid).status_code == 204
    assert [title(site, u, pid) for u in ('carol', 'alice', 'bob')] == [
        "carol's echo v2", "alice's echo", "bob's echo"]
    foreign = deploy(site, 'dave', newer, pid=pid)  # bob's public one: seen, not his
    assert foreign.status_code == 403 and title(site, 'bob', pid) == "bob's echo"
    assert call(site, 'DELETE', 'carol', f'/processes/{pid}').status_code == 204
    assert rows(site, pid) == {pid: 'bob', f'alice/{pid}': 'alice'}
    assert title(site, 'carol', pid) == "bob's echo"
    assert call(site, 'DELETE', 'alice', f'/processes/{pid}').status_code == 204
    assert rows(site, pid) == {pid: 'bob'} and title(site, 'alice', pid) == "bob's echo"


def absent_alike(reply: requests.Response, absent: requests.Response, pid: str,
                 missing: str) -> None:
    assert reply.status_code == absent.status_code == 404, reply.text
    assert reply.text.replace(pid, missing) == absent.text


def test_another_users_private_process_answers_as_absent(site):
    pid, missing = f'mine-{uuid.uuid4().hex[:6]}', f'none-{uuid.uuid4().hex[:6]}'
    body = echo_package(pid, 'private echo')
    assert deploy(site, 'alice', body).status_code == 201
    for user in ('bob', 'erin'):
        for method, suffix, kwargs in (
                ('GET', '', {}), ('GET', '/package', {}), ('DELETE', '', {}),
                ('POST', '/execution', {'json': {'inputs': {'message': 'x'}}})):
            absent_alike(call(site, method, user, f'/processes/{pid}{suffix}', **kwargs),
                         call(site, method, user, f'/processes/{missing}{suffix}', **kwargs),
                         pid, missing)
    absent_alike(deploy(site, 'bob', body, pid=pid),
                 deploy(site, 'bob', body.replace(pid.encode(), missing.encode()),
                        pid=missing), pid, missing)
    assert title(site, 'root', pid) == 'private echo'  # admins see every process
    assert rows(site, pid) == {f'alice/{pid}': 'alice'}
    assert call(site, 'GET', 'alice', f'/processes/{pid}/package').content == body


# -- WPS ----------------------------------------------------------------------------------
def wps_get(site, user: str, **params) -> requests.Response:
    return call(site, 'GET', user, '/wps', params={'service': 'WPS', 'version': '2.0.0',
                                                   **params})


def wps_execute(site, user: str, pid: str, inputs: str) -> requests.Response:
    body = (f'<wps:Execute xmlns:wps="{WPS}" xmlns:ows="{OWS}" service="WPS" version="2.0.0" '
            f'mode="sync" response="document"><ows:Identifier>{pid}</ows:Identifier>'
            f'{inputs}</wps:Execute>')
    return call(site, 'POST', user, '/wps', data=body.encode(),
                headers={'Content-Type': 'application/xml'})


def data_input(name: str, value: str) -> str:
    return f'<wps:Input id="{name}"><wps:Data>{value}</wps:Data></wps:Input>'


def wps_title(site, user: str, pid: str) -> str:
    root = assert_valid(wps_get(site, user, request='DescribeProcess', identifier=pid).content)
    return root.findtext(f'{{{WPS}}}ProcessOffering/{{{WPS}}}Process/{{{OWS}}}Title')


def exception_of(reply: requests.Response) -> tuple[str, str]:
    root = assert_valid(reply.content)
    assert root.tag == f'{{{OWS}}}ExceptionReport', reply.text
    found = root.find(f'{{{OWS}}}Exception')
    return found.get('exceptionCode'), ''.join(found.itertext()).strip()


def test_wps_deploy_and_undeploy_keep_private_processes_apart(site):
    hidden = echo_package('echo', "carol's echo")  # the Testbed-13 package's id
    assert deploy(site, 'carol', hidden).status_code == 201
    package = re.sub(r'<\?xml[^>]*\?>|<!--.*?-->', '',
                     (PACKAGES / 'echo.tb13.xml').read_text(), flags=re.S)
    deployed = wps_execute(site, 'alice', 'DeployProcess', (
        '<wps:Input id="applicationPackage"><wps:Data mimeType="application/atom+xml">'
        f'{package}</wps:Data></wps:Input>'))
    assert assert_valid(deployed.content).xpath('//wps:DeploymentDone/text()',
                                                namespaces=NS) == ['true'], deployed.text
    assert rows(site, 'echo') == {'echo': 'alice', 'carol/echo': 'carol'}
    assert (wps_title(site, 'carol', 'echo'), wps_title(site, 'bob', 'echo')) == (
        "carol's echo", 'Echo')
    secret, missing = f'secret-{uuid.uuid4().hex[:6]}', f'none-{uuid.uuid4().hex[:6]}'
    assert deploy(site, 'alice', echo_package(secret, 'secret')).status_code == 201
    refused, absent = (wps_execute(site, 'bob', 'UndeployProcess',
                                   data_input('processIdentifier', pid))
                       for pid in (secret, missing))
    assert refused.status_code == absent.status_code
    assert exception_of(refused)[0] == exception_of(absent)[0]
    assert exception_of(refused)[1].replace(secret, missing) == exception_of(absent)[1]
    described = (wps_get(site, 'bob', request='DescribeProcess', identifier=pid)
                 for pid in (secret, missing))
    assert [exception_of(r)[0] for r in described] == ['NoSuchProcess'] * 2
    undeployed = wps_execute(site, 'alice', 'UndeployProcess',
                             data_input('processIdentifier', 'echo'))
    assert b'UndeploymentDone>true<' in undeployed.content, undeployed.text
    assert rows(site, 'echo') == {'carol/echo': 'carol'} and rows(site, secret)


# -- workspace processes through WPS and openEO --------------------------------------------
def test_workspace_process_ids_work_through_wps_and_openeo(site, packages):
    name = f'w-{uuid.uuid4().hex[:8]}'
    assert call(site, 'POST', 'alice', '/workspaces', json={'id': name}).status_code == 201
    registered = call(site, 'POST', 'alice', f'/workspaces/{name}/register', json={
        'type': 'application-package', 'url': f'{packages}/echo.ogcapppkg.json'})
    assert registered.status_code == 201, registered.text
    pid = f'{name}:echo'
    root = assert_valid(wps_get(site, 'alice', request='DescribeProcess',
                                identifier=pid).content)
    assert root.xpath('//wps:ProcessOffering/wps:Process/ows:Identifier/text()',
                      namespaces=NS) == [pid]
    listed = assert_valid(wps_get(site, 'alice', request='GetCapabilities').content)
    assert pid in listed.xpath('//wps:ProcessSummary/ows:Identifier/text()', namespaces=NS)
    assert exception_of(wps_get(site, 'bob', request='DescribeProcess',
                                identifier=pid))[0] == 'NoSuchProcess'
    ran = assert_valid(wps_execute(site, 'alice', pid, data_input('message', 'via WPS'))
                       .content)
    assert ran.tag == f'{{{WPS}}}Result', ran
    openeo_id = re.sub(r'\W', '_', pid, flags=re.ASCII)  # the documented mapping
    found = call(site, 'GET', 'alice', '/openeo/1.2/processes/ogc').json()['processes']
    mine = [p for p in found if p['id'] == openeo_id]
    assert len(mine) == 1 and re.fullmatch(r'\w+', openeo_id, flags=re.ASCII)
    assert all(re.fullmatch(r'\w+', p['id'], flags=re.ASCII) for p in found)
    others = call(site, 'GET', 'bob', '/openeo/1.2/processes/ogc').json()['processes']
    assert openeo_id not in {p['id'] for p in others}
    assert call(site, 'GET', 'bob', f'/openeo/1.2/processes/ogc/{openeo_id}'
                ).status_code == 404
    assert call(site, 'GET', 'alice', f'/openeo/1.2/processes/ogc/{openeo_id}'
                ).json()['id'] == openeo_id


# -- the store migration ------------------------------------------------------------------
def old_rows(store) -> None:
    """Rows as revision 0010 kept them: every process keyed by its bare id."""
    from pygeoapi_eoorder.store import DeployedProcess, utcnow
    now = utcnow()
    with store.write() as session:
        for key, owner, visibility in (('old', 'alice', 'private'), ('pub', 'bob', 'public'),
                                       ('ws:old', 'workspace:ws', 'private')):
            session.add(DeployedProcess(id=key, owner=owner, created=now, updated=now,
                                        definition={'visibility': visibility}))


@pytest.mark.parametrize('store', STORES)
def test_migration_keys_private_processes_by_owner(store, tmp_path):
    from pygeoapi_eoorder.store import Store, migrate
    database = Database('eoorder_keys').create() if store == 'postgresql' else None
    url = database.url if database else f'sqlite:///{tmp_path}/eoorder.db'
    opened = Store(url)  # at the newest revision
    try:
        old_rows(opened)
        engine = opened.write_engine
        for _ in range(2):  # and again: idempotent
            with engine.begin() as connection:
                connection.execute(text("UPDATE alembic_version SET version_num = '0010'"))
            assert migrate.upgrade(engine) == ('0010', migrate.head())
            assert dict(query(url, 'SELECT id, owner FROM eoorder_process')) == {
                'alice/old': 'alice', 'pub': 'bob', 'ws:old': 'workspace:ws'}
    finally:
        opened.write_engine.dispose()
        opened.read_engine.dispose()
        if database:
            database.drop()
