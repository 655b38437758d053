"""Authentication over real HTTP: authenticators (basic, API keys, JWT, plugins), 401s,
configuration errors, public download paths. Who may see and do what is the matrix of
test_auth_matrix.py."""

import json
import time

import jwt
import pytest
import requests
import yaml
from cryptography.hazmat.primitives.asymmetric import rsa

from .conftest import TEST_PROCESSES, Server
from .support import oseo
from .support.auth import as_, package, write_users

USERS = {'alice': ['user'], 'bob': ['user'], 'dev': ['developer'], 'root': ['admin']}
PUBLIC_PATHS = ['/', '/conformance', '/openapi', '/static', '/collections', '/opensearch',
                '/oseo/downloads']
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
    write_users(directory / 'users.yml', USERS)
    oseo.make_products(directory / 'products', ['p1'])
    import hashlib
    (directory / 'keys.yml').write_text(yaml.safe_dump({'keys': [
        {'sha256': hashlib.sha256(b'alice-key').hexdigest(), 'user': 'alice',
         'roles': ['user']}]}))
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(SIGNING_KEY.public_key()))
    jwk.update(kid='k1', use='sig', alg='RS256')
    (directory / 'jwks.json').write_text(json.dumps({'keys': [jwk]}))
    auth = {'public_paths': PUBLIC_PATHS, 'authenticators': [
        {'name': 'basic', 'users_file': str(directory / 'users.yml')},
        {'name': 'apikey', 'keys_file': str(directory / 'keys.yml')},
        {'name': 'jwt', 'jwks_file': str(directory / 'jwks.json'), 'issuer': ISSUER,
         'audience': AUDIENCE, 'roles_claim': 'realm_access.roles'}]}
    server = Server(directory, oseo.eoorder_block(directory / 'products', auth=auth),
                    TEST_PROCESSES).start()
    yield server
    server.stop()


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


def test_public_download_path_makes_the_token_the_credential(secured):
    """With /oseo/downloads in auth.public_paths, whoever has the URL downloads (else only
    the order's owner or an admin: see test_auth_matrix.py)."""
    order_id = oseo.payload(oseo.post(secured, oseo.submit(oseo.item('a', 'p1')),
                                      auth=as_('alice'))).findtext('oseo:orderId',
                                                                   namespaces=oseo.NS)
    deadline = time.monotonic() + 30
    while requests.get(f'{secured.url}/orders/{order_id}', auth=as_('alice'),
                       timeout=10).json()['status'] != 'Completed':
        assert time.monotonic() < deadline
        time.sleep(0.1)
    url = oseo.payload(oseo.post(secured, oseo.describe(order_id), auth=as_('alice'))) \
        .findtext('.//oseo:URL', namespaces=oseo.NS)
    assert requests.get(url, timeout=10).status_code == 200
    assert requests.get(url, auth=as_('bob'), timeout=10).status_code == 200
    assert requests.get(url, auth=('bob', 'nope'), timeout=10).status_code == 401
