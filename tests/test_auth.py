"""Users, authentication and ownership over real HTTP: who may see and do what."""

import json
import time

import jwt
import pytest
import requests
import yaml
from cryptography.hazmat.primitives.asymmetric import rsa
from werkzeug.security import generate_password_hash

from .conftest import Server

USERS = {'alice': ['user'], 'bob': ['user'], 'dev': ['developer'], 'root': ['admin']}
ISSUER, AUDIENCE = 'https://idp.example/realms/eo', 'eoorder'


def rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


SIGNING_KEY, OTHER_KEY = rsa_key(), rsa_key()


def token(sub='carol', roles=('user',), key=SIGNING_KEY, kid='k1', **claims):
    body = {'sub': sub, 'iss': ISSUER, 'aud': AUDIENCE, 'exp': int(time.time()) + 300,
            'realm_access': {'roles': list(roles)}, **claims}
    return jwt.encode(body, key, algorithm='RS256', headers={'kid': kid})


@pytest.fixture(scope='module')
def secured(tmp_path_factory):
    directory = tmp_path_factory.mktemp('auth')
    (directory / 'users.yml').write_text(yaml.safe_dump({'users': {
        name: {'password': generate_password_hash(f'{name}-pw'), 'roles': roles}
        for name, roles in USERS.items()}}))
    import hashlib
    (directory / 'keys.yml').write_text(yaml.safe_dump({'keys': [
        {'sha256': hashlib.sha256(b'alice-key').hexdigest(), 'user': 'alice',
         'roles': ['user']}]}))
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(SIGNING_KEY.public_key()))
    jwk.update(kid='k1', use='sig', alg='RS256')
    (directory / 'jwks.json').write_text(json.dumps({'keys': [jwk]}))
    server = Server(directory, {'auth': {'authenticators': [
        {'name': 'basic', 'users_file': str(directory / 'users.yml')},
        {'name': 'apikey', 'keys_file': str(directory / 'keys.yml')},
        {'name': 'jwt', 'jwks_file': str(directory / 'jwks.json'), 'issuer': ISSUER,
         'audience': AUDIENCE, 'roles_claim': 'realm_access.roles'}]}}).start()
    yield server
    server.stop()


def as_(name):
    return (name, f'{name}-pw')


def submit(server, user, steps=1):
    reply = requests.post(f'{server.url}/processes/countdown/execution', auth=as_(user),
                          json={'inputs': {'steps': steps}},
                          headers={'Prefer': 'respond-async'}, timeout=10)
    assert reply.status_code == 201, reply.text
    job_id = reply.json()['jobID']
    deadline = time.monotonic() + 30
    while requests.get(f'{server.url}/jobs/{job_id}', auth=as_(user),
                       timeout=10).json()['status'] not in ('successful', 'failed'):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    return job_id


def test_public_paths_and_401_with_challenge(secured):
    assert requests.get(f'{secured.url}/', timeout=10).status_code == 200
    assert requests.get(f'{secured.url}/conformance', timeout=10).status_code == 200
    for path in ('/jobs', '/processes', '/processes/countdown'):
        reply = requests.get(secured.url + path, timeout=10)
        assert reply.status_code == 401, path
        assert reply.headers['Content-Type'] == 'application/problem+json'
        challenge = reply.headers['WWW-Authenticate']
        assert 'Basic' in challenge and 'Bearer' in challenge
    reply = requests.get(f'{secured.url}/jobs', auth=('alice', 'wrong'), timeout=10)
    assert reply.status_code == 401 and 'wrong user name or password' in reply.json()['detail']


JOB_ROUTES = [('get', ''), ('delete', ''), ('get', '/results'), ('get', '/log'),
              ('get', '/results/result.json')]


def test_jobs_are_private_to_their_owner(secured):
    job_id = submit(secured, 'alice')
    for method, suffix in JOB_ROUTES:
        url = f'{secured.url}/jobs/{job_id}{suffix}'
        reply = getattr(requests, method)(url, auth=as_('bob'), timeout=10)
        assert reply.status_code == 404, (method, suffix, reply.text)
        assert 'does not exist' in reply.json()['detail']
    assert job_id not in {j['jobID'] for j in requests.get(
        f'{secured.url}/jobs?limit=1000', auth=as_('bob'), timeout=10).json()['jobs']}
    assert job_id in {j['jobID'] for j in requests.get(
        f'{secured.url}/jobs?limit=1000', auth=as_('alice'), timeout=10).json()['jobs']}
    assert job_id in {j['jobID'] for j in requests.get(
        f'{secured.url}/jobs?limit=1000', auth=as_('root'), timeout=10).json()['jobs']}
    for user in ('alice', 'root'):
        reply = requests.get(f'{secured.url}/jobs/{job_id}/results', auth=as_(user),
                             timeout=10)
        assert reply.status_code == 200, user
    assert requests.delete(f'{secured.url}/jobs/{job_id}', auth=as_('alice'),
                           timeout=10).json()['status'] == 'dismissed'


def package(pid):
    return {'processDescription': {'id': pid, 'outputs': {'r': {'schema': {'type': 'string'}}}},
            'executionUnit': {'type': 'docker', 'image': 'eoorder-test/echo:1.0'}}


def deploy(server, user, pid, visibility='public'):
    return requests.post(f'{server.url}/processes', params={'visibility': visibility},
                         auth=as_(user), json=package(pid), timeout=30,
                         headers={'Content-Type': 'application/ogcapppkg+json'})


def test_deploy_needs_the_deploy_role(secured):
    reply = deploy(secured, 'alice', 'by-alice')
    assert reply.status_code == 403 and 'permission deploy' in reply.json()['detail']
    assert deploy(secured, 'dev', 'by-dev').status_code == 201
    assert deploy(secured, 'root', 'by-root').status_code == 201


def test_private_processes_are_invisible_to_others(secured):
    assert deploy(secured, 'dev', 'secret', 'private').status_code == 201
    for user, visible in (('dev', True), ('root', True), ('alice', False)):
        ids = {p['id'] for p in requests.get(f'{secured.url}/processes?limit=100', auth=as_(user),
                                             timeout=10).json()['processes']}
        assert ('secret' in ids) == visible, user
        status = requests.get(f'{secured.url}/processes/secret', auth=as_(user),
                              timeout=10).status_code
        assert status == (200 if visible else 404), user
    reply = requests.post(f'{secured.url}/processes/secret/execution', auth=as_('alice'),
                          json={}, timeout=10)
    assert reply.status_code == 404
    assert requests.get(f'{secured.url}/processes/secret/package', auth=as_('alice'),
                        timeout=10).status_code == 404
    assert requests.delete(f'{secured.url}/processes/secret', auth=as_('alice'),
                           timeout=10).status_code == 404


def test_only_the_owner_or_admin_changes_a_process(secured):
    assert deploy(secured, 'dev', 'shared').status_code == 201
    replace = requests.put(f'{secured.url}/processes/shared', auth=as_('alice'),
                           json=package('shared'), timeout=10,
                           headers={'Content-Type': 'application/ogcapppkg+json'})
    assert replace.status_code == 403
    assert requests.delete(f'{secured.url}/processes/shared', auth=as_('alice'),
                           timeout=10).status_code == 403
    assert requests.delete(f'{secured.url}/processes/shared', auth=as_('root'),
                           timeout=10).status_code == 204


def test_api_key(secured):
    assert requests.get(f'{secured.url}/jobs', headers={'X-API-Key': 'alice-key'},
                        timeout=10).status_code == 200
    reply = requests.get(f'{secured.url}/jobs', headers={'X-API-Key': 'stolen'}, timeout=10)
    assert reply.status_code == 401 and 'unknown API key' in reply.json()['detail']


def bearer(value):
    return {'Authorization': f'Bearer {value}'}


def test_jwt_tokens(secured):
    reply = requests.post(f'{secured.url}/processes/countdown/execution', json={},
                          headers={**bearer(token()), 'Prefer': 'respond-async'}, timeout=10)
    assert reply.status_code == 201
    job_id = reply.json()['jobID']
    assert requests.get(f'{secured.url}/jobs/{job_id}', headers=bearer(token()),
                        timeout=10).status_code == 200
    assert requests.get(f'{secured.url}/jobs/{job_id}', headers=bearer(token('dave')),
                        timeout=10).status_code == 404


@pytest.mark.parametrize('bad, reason', [
    (lambda: token(exp=int(time.time()) - 3600), 'expired'),
    (lambda: token(key=OTHER_KEY), 'invalid token'),
    (lambda: token(aud='someone-else'), 'audience'),
    (lambda: token(iss='https://evil.example'), 'issuer'),
    (lambda: token(kid='unknown'), 'unknown key'),
    (lambda: 'not.a.jwt', 'invalid token'),
])
def test_bad_tokens_are_refused(secured, bad, reason):
    reply = requests.get(f'{secured.url}/jobs', headers=bearer(bad()), timeout=10)
    assert reply.status_code == 401
    assert reason in reply.json()['detail']
    assert 'WWW-Authenticate' in reply.headers


def test_cli_writes_users_and_keys_that_authenticate(tmp_path, make_server):
    import subprocess
    from .conftest import eoorder_cmd, server_env
    users, keys = tmp_path / 'u.yml', tmp_path / 'k.yml'
    done = subprocess.run(eoorder_cmd('users', 'add', str(users), 'erin', '--role', 'user',
                                      '--password', 's3cret'),
                          capture_output=True, text=True, env=server_env(), timeout=60)
    assert done.returncode == 0, done.stderr
    assert 's3cret' not in users.read_text()
    key = subprocess.run(eoorder_cmd('apikey', str(keys), 'erin', '--role', 'user'),
                         capture_output=True, text=True, env=server_env(),
                         timeout=60).stdout.strip()
    assert key and key not in keys.read_text()
    server = make_server({'auth': {'authenticators': [
        {'name': 'basic', 'users_file': str(users)},
        {'name': 'apikey', 'keys_file': str(keys)}]}})
    assert requests.get(f'{server.url}/jobs', auth=('erin', 's3cret'),
                        timeout=10).status_code == 200
    assert requests.get(f'{server.url}/jobs', headers={'X-API-Key': key},
                        timeout=10).status_code == 200
    assert requests.get(f'{server.url}/jobs', auth=('erin', 'nope'),
                        timeout=10).status_code == 401


def test_broken_auth_config_stops_start_up_in_one_line(tmp_path):
    import subprocess
    from .conftest import eoorder_cmd, make_config, server_env
    path = make_config(tmp_path, 5000, {'auth': {'authenticators': [
        {'name': 'jwt', 'jwks_file': str(tmp_path / 'missing.json')}]}})
    done = subprocess.run(eoorder_cmd('config', 'validate', str(path)), capture_output=True,
                          text=True, env=server_env(), timeout=60)
    assert done.returncode == 2 and 'Traceback' not in done.stderr
    assert 'eoorder.auth.authenticators' in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_custom_authenticator_from_plugins(make_server, monkeypatch):
    from .conftest import REPO
    monkeypatch.setenv('PYTHONPATH', str(REPO / 'plugins'))
    server = make_server({'auth': {'authenticators': [
        {'name': 'eoorder_examples.proxy_auth.ProxyHeaderAuthenticator',
         'trusted_proxies': ['127.0.0.1']}]}})
    assert requests.get(f'{server.url}/jobs', timeout=10).status_code == 401
    headers = {'X-Forwarded-User': 'frank', 'X-Forwarded-Roles': 'user'}
    reply = requests.post(f'{server.url}/processes/countdown/execution', json={},
                          headers={**headers, 'Prefer': 'respond-async'}, timeout=10)
    assert reply.status_code == 201
    job_id = reply.json()['jobID']
    assert requests.get(f'{server.url}/jobs/{job_id}', headers=headers,
                        timeout=10).status_code == 200
    assert requests.get(f'{server.url}/jobs/{job_id}', timeout=10,
                        headers={'X-Forwarded-User': 'grace'}).status_code == 404
    deploy = requests.post(f'{server.url}/processes', json=package('by-frank'), timeout=10,
                           headers={**headers, 'Content-Type': 'application/ogcapppkg+json'})
    assert deploy.status_code == 403


def test_catalogue_editing_needs_the_curator_role(tmp_path, make_server):
    from .support.catalogue import eo_record
    (tmp_path / 'users.yml').write_text(yaml.safe_dump({'users': {
        name: {'password': generate_password_hash(f'{name}-pw'), 'roles': roles}
        for name, roles in {'alice': ['user'], 'cora': ['curator']}.items()}}))
    collection = {'type': 'collection', 'title': 'products', 'description': 'EO products',
                  'keywords': ['eo'], 'links': [],
                  'extents': {'spatial': {'bbox': [-180, -90, 180, 90]}},
                  'providers': [{'type': 'record', 'editable': True, 'data': 'eoorder',
                                 'name': 'pygeoapi_eoorder.catalogue.sql_provider.'
                                         'SQLRecordProvider'}]}
    server = make_server({'auth': {'authenticators': [
        {'name': 'basic', 'users_file': str(tmp_path / 'users.yml')}]}},
        {'products': collection})
    items = f'{server.url}/collections/products/items'
    record = json.dumps(eo_record(1))
    geojson = {'Content-Type': 'application/geo+json'}
    refused = requests.post(items, data=record, headers=geojson, auth=as_('alice'), timeout=10)
    assert refused.status_code == 403 and 'edit_catalogue' in refused.json()['detail']
    assert requests.post(items, data=record, headers=geojson, auth=as_('cora'),
                         timeout=10).status_code == 201
    assert requests.get(f'{items}/scene-1', timeout=10).status_code == 200  # public read
    assert requests.delete(f'{items}/scene-1', auth=as_('alice'),
                           timeout=10).status_code == 403
    assert requests.put(f'{items}/scene-1', data=record, headers=geojson, auth=as_('alice'),
                        timeout=10).status_code == 403
    assert requests.delete(f'{items}/scene-1', auth=as_('cora'), timeout=10).status_code == 200
