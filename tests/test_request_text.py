"""Request bodies and queries no route can use are refused up front in each protocol's
error format (found by a fuzz of the catalogue): a JSON body that is not UTF-8 or holds a
lone UTF-16 surrogate, a CQL2 JSON property named by something other than a string, a
free-text search of more words than a query may hold. Each was a 500."""

from __future__ import annotations

import json

import pytest
import requests

from .conftest import embedded_default

PROBLEM = 'application/problem+json'
LONE = b'{"op": "=", "args": [{"property": "title"}, "\\ud800"]}'


@pytest.fixture(scope='module')
def server(tmp_path_factory):
    running = embedded_default(tmp_path_factory.mktemp('request-text')).start()
    yield running
    running.stop()


def post(server, path: str, body: bytes, media: str) -> requests.Response:
    return requests.post(f'{server.url}{path}', data=body, timeout=30,
                         headers={'Content-Type': media})


@pytest.mark.parametrize('body, says', [
    (LONE, 'lone UTF-16 surrogate'),
    (b'{"op": "=", "args": [{"property": "title"}, "\\udc00\\ud800"]}', 'surrogate'),
    (b'\xff\xfe', 'not UTF-8'),
    ('{"op": "=", "args": [{"property": "title"}, "é"]}'.encode('latin-1'), 'not UTF-8'),
])
def test_json_bodies_that_are_no_text_are_refused(server, body, says):
    for path, media in (('/collections/products/items', 'application/query-cql-json'),
                        ('/processes/hello-world/execution', 'application/json')):
        reply = post(server, path, body, media)
        assert reply.status_code == 400 and reply.headers['Content-Type'] == PROBLEM
        assert says in reply.json()['detail']
    openeo = post(server, '/openeo/1.2/result', body, 'application/json')
    assert openeo.status_code == 400 and openeo.json()['code'] == 'BadRequest'
    assert says in openeo.json()['message']


def test_a_pair_of_surrogates_is_a_character(server):
    body = {'op': 'like', 'args': [{'property': 'title'}, '%\U0001F600%']}
    encoded = json.dumps(body).encode()  # (ensure_ascii: the emoji as a pair of escapes)
    assert b'\\ud83d\\ude00' in encoded
    reply = post(server, '/collections/products/items', encoded, 'application/query-cql-json')
    assert reply.status_code == 200, reply.text
    assert reply.json()['numberMatched'] == 0


@pytest.mark.parametrize('name', [{'a': 1}, 5, None, ['title']])
def test_a_cql2_json_property_is_named_by_a_string(server, name):
    text = json.dumps({'op': '=', 'args': [{'property': name}, 1]})
    reply = requests.get(f'{server.url}/collections/products/items', timeout=30,
                         params={'filter': text, 'filter-lang': 'cql2-json'})
    assert reply.status_code == 400 and reply.headers['Content-Type'] == PROBLEM
    assert 'property is named by a string' in reply.json()['detail']
    stac = requests.post(f'{server.url}/stac/search', timeout=30, json={
        'filter': json.loads(text), 'filter-lang': 'cql2-json'})
    assert stac.status_code == 400 and 'property is named by a string' in stac.text


@pytest.mark.parametrize('lang, text', [
    ('cql2-text', 'cloudCover < 1e400'), ('cql2-text', 'cloudCover BETWEEN -1e999 AND 5'),
    ('cql2-json', '{"op": "<", "args": [{"property": "cloudCover"}, 1e400]}')])
def test_a_cql2_number_beyond_a_double_is_refused(server, lang, text):
    """(it was read as infinity, and answered as if given)"""
    reply = requests.get(f'{server.url}/collections/products/items', timeout=30,
                         params={'filter': text, 'filter-lang': lang})
    assert reply.status_code == 400 and reply.headers['Content-Type'] == PROBLEM
    assert 'out of range' in reply.json()['detail']
    stac = requests.get(f'{server.url}/stac/search', timeout=30,
                        params={'filter': text, 'filter-lang': lang})
    assert stac.status_code == 400 and 'out of range' in stac.json()['description']


def test_free_text_searches_hold_at_most_100_words(server):
    def search(path, words):
        return requests.get(f'{server.url}{path}', params={'q': words}, timeout=30)
    hundred = ' '.join(['demo'] * 100)
    assert search('/collections/products/items', hundred).json()['numberMatched'] == 7
    for words in (' '.join(['demo'] * 101), ','.join(['d'] * 1000)):
        reply = search('/collections/products/items', words)
        assert reply.status_code == 400 and 'at most 100 words' in reply.json()['detail']
        opensearch = search('/opensearch/collections/products/search', words)
        assert opensearch.status_code == 400 and 'at most 100 words' in opensearch.text
