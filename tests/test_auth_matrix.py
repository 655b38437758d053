"""Users × resources × actions against one real server on loopback.

alice and bob are ordinary users (role `user`), guest has no permission, root is an admin,
dev/dev2 deploy, mod moderates, cora curates the catalogue, vip may order from the
`premium` collection. alice's jobs, order, download, quotation and dev's private process are
the resources; each is tried by its owner, an admin and others. An owner or admin is served;
anyone else is refused exactly as if the resource did not exist (same status and error type
as for an unknown id), so a refusal tells nothing about someone else's resources.
"""

from __future__ import annotations

import time
import uuid

import pytest
import requests

from .conftest import TEST_PROCESSES, Server
from .support import oseo
from .support.auth import deploy, password, username_token, write_users
from .support.catalogue import eo_record, records_resource
from .support.oseo import NS, OSEO, OWS


USERS = {'alice': ['user'], 'bob': ['user'], 'guest': ['viewer'], 'root': ['admin'],
         'dev': ['developer'], 'dev2': ['developer'], 'mod': ['operator'],
         'cora': ['curator'], 'vip': ['user', 'premium']}
OWNER_OR_ADMIN, OTHERS = ('alice', 'root'), ('bob', 'guest')
WRONG_PASSWORD = 'wrong-password'


class World:
    """The server and the resources made by the fixture, addressed by placeholders."""

    def __init__(self, server: Server):
        self.server = server
        self.ids: dict[str, str] = {}

    def unknown(self) -> dict[str, str]:
        """Ids of the same shapes that name nothing."""
        ids = {key: str(uuid.uuid4()) for key in self.ids}
        token = self.ids['download'].split('/')[3]
        ids['download'] = self.ids['download'].replace(token, uuid.uuid4().hex)
        return ids

    def request(self, method: str, path: str, user: str | None = None, *,
                unknown: bool = False, secret: str | None = None, **kwargs):
        """`path` with its placeholders filled in, as `user` (None: no credentials)."""
        url = self.server.url + path.format(**(self.unknown() if unknown else self.ids))
        auth = (user, secret or password(user)) if user else None
        return requests.request(method, url, auth=auth, timeout=30, **kwargs)

    def oseo(self, body: str, user: str | None, binding: str, secret: str | None = None):
        """An OSEO request in SOAP 1.2 with a UsernameToken, or plain XML with HTTP Basic."""
        if binding == 'soap':
            header = username_token(user, secret) if user else ''
            return oseo.post(self.server, oseo.soap12(body, header), 'application/soap+xml')
        auth = (user, secret or password(user)) if user else None
        return oseo.post(self.server, body, auth=auth)

    def wait(self, path: str, field: str, done: tuple, timeout: float = 30) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            body = self.request('GET', path, 'root').json()
            if body[field] in done:
                return body
            assert time.monotonic() < deadline, body
            time.sleep(0.1)


def outcome(reply: requests.Response):
    """'ok' for an OSEO response, else the exception's (code, locator)."""
    element = oseo.payload(reply)
    if element.tag != f'{{{OWS}}}ExceptionReport':
        return 'ok'
    exception = element.find('ows:Exception', NS)
    return exception.get('exceptionCode'), exception.get('locator')


def fingerprint(reply: requests.Response) -> tuple:
    """What a refusal shows: status, media type and (problem+json) error type."""
    mime = reply.headers.get('Content-Type', '').split(';')[0]
    kind = reply.json().get('type') if mime.endswith('json') else None
    return reply.status_code, mime, kind


def quotation_request(quotation_id: str) -> str:
    return (f'<GetQuotation xmlns="{OSEO}" service="OS" version="1.0.0"><quotationId>'
            f'{quotation_id}</quotationId></GetQuotation>')


def status_by_criteria() -> str:
    return (f'<GetStatus xmlns="{OSEO}" service="OS" version="1.0.0"><filteringCriteria>'
            f'<lastUpdate>2000-01-01T00:00:00Z</lastUpdate></filteringCriteria>'
            f'<presentation>brief</presentation></GetStatus>')


def _order(world: World, user: str, binding: str, collection: str = 'test-collection'):
    return world.oseo(oseo.submit(oseo.item('a', 'p1', collection=collection)), user, binding)


def _job(world: World, user: str) -> str:
    reply = world.request('POST', '/processes/countdown/execution', user,
                          json={'inputs': {'steps': 0}}, headers={'Prefer': 'respond-async'})
    assert reply.status_code == 201, reply.text
    return reply.json()['jobID']


@pytest.fixture(scope='module')
def world(tmp_path_factory):
    directory = tmp_path_factory.mktemp('matrix')
    oseo.make_products(directory / 'products', ['p1'])
    users = write_users(directory / 'users.yml', USERS)
    auth = {'authenticators': [{'name': 'basic', 'users_file': str(users)}],
            'order_collections': {'sequential': ['premium']},
            # wrong passwords are tried on every route: not a guessing attack to throttle
            'throttle': {'max_failures': 100000, 'max_failures_per_address': 100000}}
    block = oseo.eoorder_block(directory / 'products', auth=auth,
                               moderation={'product': 'manual'})
    resources = {'countdown': TEST_PROCESSES['countdown'],
                 'products': records_resource('products')}
    server = Server(directory, block, resources).start()
    world = World(server)
    try:
        ids = world.ids
        # one order each: alice over SOAP with a UsernameToken, bob over XML with Basic
        for user, binding, key in (('alice', 'soap', 'order'), ('bob', 'xml', 'bob_order')):
            ids[key] = oseo.payload(_order(world, user, binding)).findtext(
                'oseo:orderId', namespaces=NS)
            assert world.request('POST', f'/orders/{ids[key]}/approve', 'mod').status_code == 200
        ids.update(job=_job(world, 'alice'), doomed=_job(world, 'alice'),
                   bob_job=_job(world, 'bob'))
        for key in ('job', 'doomed', 'bob_job'):
            world.wait(f'/jobs/{ids[key]}', 'status', ('successful',))
        for key in ('order', 'bob_order'):
            world.wait(f'/orders/{ids[key]}', 'status', ('Completed',))
        ids['item_job'] = world.request('GET', '/orders/{order}', 'alice').json()['items'][0][
            'jobID']  # the job that made the order's item: alice's too
        access = oseo.payload(world.oseo(oseo.describe(ids['order']), 'alice', 'xml'))
        url = access.findtext('.//oseo:URL', namespaces=NS)
        ids['download'] = url[len(server.url):]
        spec = oseo.get_quotation(oseo.item('a', 'p1'))
        ids['quotation'] = oseo.payload(world.oseo(spec, 'alice', 'xml')).findtext(
            'oseo:quotation/oseo:quotationId', namespaces=NS)
        assert deploy(server, 'dev', 'secret', 'private').status_code == 201
        assert deploy(server, 'dev', 'shared').status_code == 201
        yield world
    finally:
        server.stop()


# -- jobs, orders, downloads: the owner and admins, nobody else -------------------------
def _json(field: str, key: str):
    """The reply is JSON whose `field` is the id of the world's `key` resource."""
    return lambda reply, ids: reply.json()[field] == ids[key]


def _names(key: str):
    """The reply (HTML) names the world's `key` resource."""
    return lambda reply, ids: ids[key] in reply.text


OWNED = [  # method, path, status for alice (the owner) and root (an admin), body check
    ('GET', '/jobs/{job}', 200, _json('jobID', 'job')),
    ('GET', '/jobs/{job}?f=html', 200, _names('job')),
    ('GET', '/jobs/{job}/results', 200,
     lambda reply, ids: reply.json() == {'id': 'count', 'value': 0}),
    ('GET', '/jobs/{job}/results/result.json', 200,
     lambda reply, ids: reply.json() == {'id': 'count', 'value': 0}),
    ('GET', '/jobs/{job}/log', 200, lambda reply, ids: 'countdown: 0 steps' in reply.text),
    ('GET', '/jobs/{item_job}', 200, _json('jobID', 'item_job')),
    ('GET', '/ui/jobs/{job}', 200, _names('job')),
    ('DELETE', '/jobs/{doomed}', 200, _json('jobID', 'doomed')),
    ('GET', '/orders/{order}', 200,
     lambda reply, ids: (reply.json()['id'], reply.json()['owner']) == (ids['order'], 'alice')),
    ('GET', '/orders/{order}?f=html', 200, _names('order')),
    ('GET', '/ui/orders/{order}', 200, _names('order')),
    ('GET', '{download}', 200, lambda reply, ids: reply.content == b'product p1\n' * 100),
]


@pytest.mark.parametrize('user', OWNER_OR_ADMIN + OTHERS)
@pytest.mark.parametrize('method, path, allowed, right_body', OWNED,
                         ids=[f'{m} {p}' for m, p, _, _ in OWNED])
def test_owned_resources(world, method, path, allowed, right_body, user):
    reply = world.request(method, path, user)
    if user in OWNER_OR_ADMIN:
        assert reply.status_code == allowed, reply.text[:300]
        assert right_body(reply, world.ids), reply.text[:300]
    else:
        assert reply.status_code == 404, reply.text[:300]
        assert fingerprint(reply) == fingerprint(world.request(method, path, user,
                                                               unknown=True))


@pytest.mark.parametrize('method, path', [(m, p) for m, p, _, _ in OWNED] + [
    ('GET', '/jobs'), ('GET', '/orders')], ids=lambda v: v)
def test_no_or_wrong_credentials_are_401(world, method, path):
    for secret in (None, WRONG_PASSWORD):
        reply = world.request(method, path, 'alice' if secret else None, secret=secret)
        assert reply.status_code == 401, (secret, reply.text[:300])
        assert reply.headers['Content-Type'] == 'application/problem+json'
        assert 'Basic' in reply.headers['WWW-Authenticate']


LISTINGS = [  # path, placeholder of alice's resource, of bob's
    ('/jobs?limit=1000', 'job', 'bob_job'),
    ('/jobs?limit=1000&f=html', 'job', 'bob_job'),
    ('/orders?limit=1000', 'order', 'bob_order'),
    ('/orders?limit=1000&f=html', 'order', 'bob_order'),
]


@pytest.mark.parametrize('path, alices, bobs', LISTINGS, ids=[p for p, _, _ in LISTINGS])
@pytest.mark.parametrize('user, sees', [('alice', {'alice'}), ('bob', {'bob'}),
                                        ('guest', set()), ('root', {'alice', 'bob'})])
def test_listings_show_only_own(world, path, alices, bobs, user, sees):
    reply = world.request('GET', path, user)
    assert reply.status_code == 200
    shown = {owner for owner, key in (('alice', alices), ('bob', bobs))
             if world.ids[key] in reply.text}
    assert shown == sees


@pytest.mark.parametrize('path', ['/orders?limit=1000', '/orders/{order}', '/orders/{bob_order}',
                                  '/orders/{order}?f=html', '/ui/orders/{order}'])
def test_moderators_see_every_order_but_no_job(world, path):
    """Moderators must find the orders awaiting approval: they read all orders (not the
    orders' jobs, results or downloads, which stay their owners')."""
    reply = world.request('GET', path, 'mod')
    assert reply.status_code == 200, reply.text[:300]
    if path.startswith('/orders?'):
        assert world.ids['order'] in reply.text and world.ids['bob_order'] in reply.text
    assert world.request('GET', '{download}', 'mod').status_code == 404
    assert world.request('GET', '/jobs/{item_job}', 'mod').status_code == 404


@pytest.mark.parametrize('decision', ['approve', 'reject'])
@pytest.mark.parametrize('user, status', [('alice', 403), ('bob', 403), ('guest', 403),
                                          ('mod', 409), ('root', 409)])
def test_moderation_needs_the_moderate_permission(world, decision, user, status):
    path = f'/orders/{{order}}/{decision}'
    reply = world.request('POST', path, user)
    assert reply.status_code == status, reply.text  # 409: alice's order is past moderation
    unknown = world.request('POST', path, user, unknown=True).status_code
    assert unknown == (403 if status == 403 else 404)


# -- OSEO, in both bindings ---------------------------------------------------------------
BINDINGS = ['soap', 'xml']
OSEO_OWNED = [  # operation on alice's resources, outcome for alice and root
    ('GetStatus', lambda ids: oseo.get_status(ids['order'], 'brief'), 'ok'),
    ('DescribeResultAccess', lambda ids: oseo.describe(ids['order']), 'ok'),
    ('Cancel', lambda ids: oseo.cancel(ids['order']), ('InvalidParameterValue', 'orderId')),
    ('GetQuotation', lambda ids: quotation_request(ids['quotation']), 'ok'),
]


@pytest.mark.parametrize('binding', BINDINGS)
@pytest.mark.parametrize('user', OWNER_OR_ADMIN + OTHERS)
@pytest.mark.parametrize('name, body, allowed', OSEO_OWNED, ids=[n for n, _, _ in OSEO_OWNED])
def test_oseo_on_owned_orders(world, name, body, allowed, user, binding):
    """Cancel of a Completed order is InvalidParameterValue for its owner: past cancelling."""
    reply = world.oseo(body(world.ids), user, binding)
    got = outcome(reply)
    if user in OWNER_OR_ADMIN:
        assert got == allowed
        if allowed == 'ok':  # and the answer is about alice's order (or quotation)
            ids = world.ids
            expected = {'GetQuotation': ids['quotation'],
                        'DescribeResultAccess': world.server.url + ids['download']}
            named = {e.text for e in oseo.payload(reply).iter()}
            assert expected.get(name, ids['order']) in named, reply.text[:300]
    else:
        assert got != 'ok'
        assert got == outcome(world.oseo(body(world.unknown()), user, binding))


@pytest.mark.parametrize('binding', BINDINGS)
@pytest.mark.parametrize('user, collection, expected', [
    ('guest', 'test-collection', ('AuthorizationFailed', 'order')),
    ('alice', 'sequential', ('AuthorizationFailed', 'collectionId')),
    ('vip', 'sequential', 'ok'),
    ('alice', 'test-collection', 'ok'),
])
def test_submit_needs_the_order_permission_and_the_collections_role(
        world, user, collection, expected, binding):
    assert outcome(_order(world, user, collection=collection, binding=binding)) == expected


@pytest.mark.parametrize('binding', BINDINGS)
@pytest.mark.parametrize('body', [lambda ids: oseo.get_status(ids['order']),
                                  lambda ids: oseo.submit(oseo.item('a', 'p1'))],
                         ids=['GetStatus', 'Submit'])
def test_oseo_bad_or_missing_credentials(world, body, binding):
    wrong = world.oseo(body(world.ids), 'alice', binding, WRONG_PASSWORD)
    assert outcome(wrong)[0] == 'AuthenticationFailed'
    assert outcome(world.oseo(body(world.ids), None, binding))[0] == 'AuthenticationFailed'
    if binding == 'xml':
        assert wrong.status_code == 401 and 'Basic' in wrong.headers['WWW-Authenticate']


@pytest.mark.parametrize('binding', BINDINGS)
@pytest.mark.parametrize('user, sees', [('alice', {'order'}), ('bob', {'bob_order'}),
                                        ('guest', set()), ('root', {'order', 'bob_order'})])
def test_get_status_by_criteria_lists_only_own(world, user, sees, binding):
    found = {e.text for e in oseo.payload(world.oseo(status_by_criteria(), user, binding))
             .findall('.//oseo:orderId', NS)}
    assert {key for key in ('order', 'bob_order') if world.ids[key] in found} == sees


# -- processes -------------------------------------------------------------------------
PROCESSES = [  # method, path, {user: status}; dev owns the private `secret`, public `shared`
    ('GET', '/processes/secret', {'dev': 200, 'root': 200, 'dev2': 404, 'alice': 404}),
    ('GET', '/processes/secret?f=html', {'dev': 200, 'root': 200, 'alice': 404, 'dev2': 404}),
    ('GET', '/processes/secret/package', {'dev': 200, 'root': 200, 'dev2': 404, 'alice': 404}),
    ('GET', '/ui/processes/secret/execute', {'dev': 200, 'root': 200, 'alice': 404}),
    # an invalid execute request: 400 once the process is found, 404 when it is invisible
    ('POST', '/processes/secret/execution', {'dev': 400, 'root': 400, 'dev2': 404,
                                             'alice': 404}),
    ('PUT', '/processes/secret', {'dev': 204, 'root': 204, 'dev2': 404, 'alice': 404}),
    ('DELETE', '/processes/secret', {'dev2': 404, 'alice': 404, 'guest': 404}),
    ('PUT', '/processes/shared', {'dev': 204, 'root': 204, 'dev2': 403, 'alice': 403}),
    ('DELETE', '/processes/shared', {'dev2': 403, 'alice': 403, 'guest': 403}),
    ('POST', '/processes', {'alice': 403, 'bob': 403, 'guest': 403}),
]
PROCESS_CASES = [(m, p, u, s) for m, p, table in PROCESSES for u, s in table.items()]


@pytest.mark.parametrize('method, path, user, status', [
    pytest.param(*case, id=f'{case[0]} {case[1]} as {case[2]}') for case in PROCESS_CASES])
def test_processes(world, method, path, user, status):
    pid = path.split('/')[2] if path.count('/') >= 2 else 'by-' + user
    body = {'inputs': 5} if path.endswith('/execution') else None
    if method in ('PUT', 'POST') and not path.endswith('/execution'):
        reply = deploy(world.server, user, pid, method=method.lower())
    else:
        reply = world.request(method, path, user, json=body)
    assert reply.status_code == status, reply.text[:300]
    if status == 404:
        unknown = world.request(method, path.replace('secret', 'no-such-thing'), user,
                                json=body)
        assert fingerprint(reply) == fingerprint(unknown)
    if status == 403 and method == 'POST':
        assert 'permission deploy' in reply.json()['detail']


@pytest.mark.parametrize('user, visible', [('dev', True), ('root', True), ('dev2', False),
                                           ('alice', False), (None, False)])
def test_private_process_listed_only_for_owner_and_admin(world, user, visible):
    if user is not None:
        ids = {p['id'] for p in world.request('GET', '/processes?limit=1000', user)
               .json()['processes']}
        assert ('secret' in ids) == visible and 'shared' in ids
    # the OpenAPI document is one for everybody, whoever asked for it first
    assert ('/processes/secret' in world.request('GET', '/openapi?f=json', user).text) is False


def test_only_the_owner_or_an_admin_undeploys(world):
    for pid in ('gone-1', 'gone-2'):
        assert deploy(world.server, 'dev', pid).status_code == 201
    assert world.request('DELETE', '/processes/gone-1', 'dev2').status_code == 403
    assert world.request('DELETE', '/processes/gone-1', 'dev').status_code == 204
    assert world.request('DELETE', '/processes/gone-2', 'root').status_code == 204
    assert world.request('GET', '/processes/gone-2', 'dev').status_code == 404


# -- catalogue transactions --------------------------------------------------------------
CATALOGUE = [  # action, user, status
    ('create', 'alice', 403), ('create', 'guest', 403), ('create', 'cora', 201),
    ('create', 'root', 201),
    ('update', 'alice', 403), ('update', 'dev', 403), ('update', 'cora', 204),
    ('delete', 'alice', 403), ('delete', 'bob', 403), ('delete', 'cora', 200),
    ('delete', 'root', 200),
    ('read', None, 200), ('read', 'guest', 200),
]


@pytest.mark.parametrize('action, user, status', CATALOGUE,
                         ids=[f'{a} as {u}' for a, u, _ in CATALOGUE])
def test_catalogue_transactions_need_edit_catalogue(world, action, user, status):
    items = '/collections/products/items'
    record = eo_record(1, id=f'{action}-{user}')
    geojson = {'Content-Type': 'application/geo+json'}
    if action != 'create':
        assert world.request('POST', items, 'cora', json=record,
                             headers=geojson).status_code == 201
    method = {'create': 'POST', 'update': 'PUT', 'delete': 'DELETE', 'read': 'GET'}[action]
    path = items if action == 'create' else f'{items}/{record["id"]}'
    reply = world.request(method, path, user, json=record if method in ('POST', 'PUT') else None,
                          headers=geojson)
    assert reply.status_code == status, reply.text[:300]
    if status == 403:
        assert 'edit_catalogue' in reply.json()['detail']


@pytest.mark.parametrize('user', ['bob', 'root'])
def test_only_the_owner_orders_by_a_quotation(world, user):
    """An admin may look at anyone's quotation, but nobody orders by another's."""
    body = (f'<Submit xmlns="{OSEO}" service="OS" version="1.0.0"><quotationId>'
            f'{world.ids["quotation"]}</quotationId><statusNotification>None'
            f'</statusNotification></Submit>')
    assert outcome(world.oseo(body, user, 'xml')) == ('InvalidParameterValue', 'quotationId')
