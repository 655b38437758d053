"""Workspace collections in the system-wide catalogue: the members of a workspace (and
admins) see its collection `workspace-<id>` and its records in `/collections`, Records
items, the STAC API and OpenSearch, as soon as it is created; a non-member and an
anonymous caller get exactly the answer for a collection that does not exist. What is
stored is checked in the store itself; the expected records come from the source
catalog's own items."""

from __future__ import annotations

import pytest
import requests

from tests.support.auth import as_
from tests.support.static_stac import StaticCatalog
from tests.support.workspaces import STORES, records, start_site, stop_site

USERS = {'alice': ['user'], 'bob': ['user'], 'carol': ['user'], 'root': ['admin']}
GEOJSON = {'httpAccept': 'application/geo+json'}


@pytest.fixture(scope='module')
def source(tmp_path_factory):
    catalog = StaticCatalog(tmp_path_factory.mktemp('stac-source'))
    yield catalog
    catalog.stop()


@pytest.fixture(scope='module', params=STORES)
def site(request, tmp_path_factory):
    """A server with the store on SQLite or on PostgreSQL/PostGIS."""
    server = start_site(tmp_path_factory.mktemp(f'ws-search-{request.param}'), USERS, {},
                        store=request.param)
    yield server
    stop_site(server)


def get(site, user: str | None, path: str, **params) -> requests.Response:
    return requests.get(f'{site.url}{path}', params=params, timeout=60,
                        auth=as_(user) if user else None)


def call(site, method: str, user: str, path: str, **kwargs) -> requests.Response:
    return requests.request(method, f'{site.url}{path}', auth=as_(user), timeout=60,
                            **kwargs)


def stored(site, collection: str) -> dict[str, tuple[str, str]]:
    """{identifier: (owner, visibility)} of a collection, read from the store itself."""
    return {identifier: (owner, visibility) for identifier, (owner, visibility, _)
            in records(site, collection).items()}


def workspace_with_records(site, source, workspace: str) -> set[str]:
    """A workspace of alice with the source catalog registered; the expected ids."""
    assert call(site, 'POST', 'alice', '/workspaces', json={'id': workspace}
                ).status_code == 201
    reply = call(site, 'POST', 'alice', f'/workspaces/{workspace}/register',
                 json={'url': source.url})
    assert reply.status_code == 200, reply.text
    expected = {item['id'] for item in source.items}
    assert stored(site, f'workspace-{workspace}') == {
        i: (f'workspace:{workspace}', 'private') for i in expected}
    return expected


def listed(site, user) -> set[str]:
    return {c['id'] for c in get(site, user, '/collections', f='json').json()['collections']}


def stac_ids(site, user, **params) -> set[tuple[str, str]]:
    reply = get(site, user, '/stac/search', limit=100, **params)
    assert reply.status_code == 200, reply.text
    return {(f['collection'], f['id']) for f in reply.json()['features']}


def opensearch_collections(site, user) -> set[str]:
    reply = get(site, user, '/opensearch/search', **GEOJSON)
    assert reply.status_code == 200, reply.text
    return {f['id'] for f in reply.json()['features']}


def test_members_see_the_collection_everywhere(site, source):
    expected = workspace_with_records(site, source, 'shared')
    cid = 'workspace-shared'
    assert call(site, 'POST', 'alice', '/workspaces/shared/members', json={'user': 'bob'}
                ).status_code == 200
    for user in ('alice', 'bob', 'root'):  # owner, member, admin
        assert cid in listed(site, user), user
        assert get(site, user, f'/collections/{cid}', f='json').status_code == 200
        for page in (f'/collections/{cid}', f'/collections/{cid}/items', '/collections'):
            shown = get(site, user, page, f='html')
            assert shown.status_code == 200 and 'Workspace shared' in shown.text, page
        items = get(site, user, f'/collections/{cid}/items', f='json', limit=50).json()
        assert {f['id'] for f in items['features']} == expected, user
        assert items['numberMatched'] == len(expected)
        assert get(site, user, f'/collections/{cid}/items/item-0', f='json'
                   ).status_code == 200
        assert {(cid, i) for i in expected} <= stac_ids(site, user), user
        assert stac_ids(site, user, collections=cid) == {(cid, i) for i in expected}
        assert cid in {c['id'] for c in get(site, user, '/stac/collections').json()[
            'collections']}
        assert cid in opensearch_collections(site, user), user
        found = get(site, user, f'/opensearch/collections/{cid}/search', **GEOJSON)
        assert {f['id'] for f in found.json()['features']} == expected, user


def _same_as_absent(site, user, path: str, cid: str, **params) -> None:
    """`path` about `cid` answers `user` exactly as about a collection that never was."""
    seen = get(site, user, path.format(cid), **params)
    absent = get(site, user, path.format('workspace-never'), **params)
    assert seen.status_code == absent.status_code == 404, (user, path, seen.text)
    assert seen.text.replace(cid, 'workspace-never') == absent.text, (user, path)


PATHS = ['/collections/{}', '/collections/{}/items', '/collections/{}/items/item-0',
         '/collections/{}/queryables', '/collections/{}/sortables', '/stac/collections/{}',
         '/stac/collections/{}/items', '/stac/collections/{}/items/item-0',
         '/opensearch/collections/{}', '/opensearch/collections/{}/search']


@pytest.mark.parametrize('user', ['carol', None])  # a signed-in non-member, anonymous
def test_others_get_the_absent_answer(site, source, user):
    workspace_with_records(site, source, f'private-{user or "anon"}')
    cid = f'workspace-private-{user or "anon"}'
    assert cid not in listed(site, user)
    assert cid not in {c['id'] for c in get(site, user, '/stac/collections').json()[
        'collections']}
    assert cid not in opensearch_collections(site, user)
    assert not {c for c, _ in stac_ids(site, user)} & {cid}
    assert stac_ids(site, user, ids='item-0,item-1') == set()
    for path in PATHS:
        _same_as_absent(site, user, path, cid, f='json')
    for path in PATHS[:3]:
        _same_as_absent(site, user, path, cid, f='html')
    assert cid not in get(site, user, '/collections', f='html').text
    search = get(site, user, '/stac/search', collections=cid)
    never = get(site, user, '/stac/search', collections='workspace-never')
    assert search.status_code == never.status_code
    assert search.text.replace(cid, 'workspace-never') == never.text


def test_membership_is_read_per_request(site, source):
    """A workspace created, a member added or removed while the server runs: the next
    request sees the change (no restart)."""
    cid = 'workspace-later'
    assert cid not in listed(site, 'carol')
    workspace_with_records(site, source, 'later')
    assert cid in listed(site, 'alice')
    assert cid not in listed(site, 'carol')
    call(site, 'POST', 'alice', '/workspaces/later/members', json={'user': 'carol'})
    assert cid in listed(site, 'carol')
    assert (cid, 'item-1') in stac_ids(site, 'carol')
    assert call(site, 'DELETE', 'alice', '/workspaces/later/members/carol'
                ).status_code == 204
    assert cid not in listed(site, 'carol')
    assert (cid, 'item-1') not in stac_ids(site, 'carol')
    _same_as_absent(site, 'carol', '/collections/{}/items/item-1', cid, f='json')
    assert call(site, 'DELETE', 'alice', '/workspaces/later', params={'force': 'true'}
                ).status_code == 204
    assert cid not in listed(site, 'alice') and stored(site, cid) == {}
