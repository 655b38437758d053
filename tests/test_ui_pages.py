"""The HTML pages without a browser: form generation, page rendering, docs kept in step."""

import subprocess
import sys
from pathlib import Path

import pytest
import requests

from pygeoapi_eoorder.ui import forms

REPO = Path(__file__).resolve().parent.parent


def by_id(description):
    return {f.id: f for f in forms.fields(description)}


def test_form_fields_follow_the_input_schemas():
    fields = by_id({'inputs': {
        'mode': {'schema': {'type': 'string', 'enum': ['a', 'b'], 'default': 'b'}},
        'flag': {'minOccurs': 0, 'schema': {'type': 'boolean', 'default': True}},
        'count': {'schema': {'type': 'integer', 'minimum': 1, 'maximum': 5}},
        'res': {'schema': {'type': 'number', 'exclusiveMinimum': 0}},
        'image': {'schema': {'type': 'string', 'contentEncoding': 'binary',
                             'contentMediaType': 'image/tiff'}},
        'ref': {'schema': {'oneOf': [{'type': 'string', 'format': 'uri'},
                                     {'type': 'object'}]}},
        'area': {'schema': {'format': 'ogc-bbox', 'type': 'object'}},
        'names': {'maxOccurs': 'unbounded', 'schema': {'type': 'string'}},
        'levels': {'schema': {'type': 'array', 'items': {'type': 'integer'}}},
        'blob': {'schema': {'type': 'object', 'properties': {'a': {'type': 'string'}}}},
    }})
    assert (fields['mode'].kind, fields['mode'].values, fields['mode'].default) == \
        ('enum', ['a', 'b'], 'b')
    assert (fields['flag'].kind, fields['flag'].required) == ('boolean', False)
    assert (fields['count'].kind, fields['count'].type, fields['count'].minimum,
            fields['count'].maximum, fields['count'].step) == ('literal', 'integer', 1, 5, '1')
    assert (fields['res'].minimum, fields['res'].exclusive_minimum, fields['res'].step) == \
        (0, True, 'any')
    assert (fields['image'].kind, fields['image'].media_type) == ('file', 'image/tiff')
    assert fields['ref'].kind == 'file'
    assert fields['area'].kind == 'bbox'
    assert (fields['names'].kind, fields['names'].multiple) == ('literal', True)
    assert (fields['levels'].type, fields['levels'].multiple) == ('integer', True)
    assert fields['blob'].kind == 'json'
    assert list(fields) == ['mode', 'flag', 'count', 'res', 'image', 'ref', 'area', 'names',
                            'levels', 'blob']


def test_pages_render_in_pygeoapis_layout(server):
    for path in ('/ui', '/ui/search', '/ui/deploy', '/ui/processes/countdown/execute'):
        reply = requests.get(server.url + path, timeout=10)
        assert reply.status_code == 200, (path, reply.text[:500])
        assert reply.headers['Content-Type'].startswith('text/html')
        page = reply.text
        assert '/static/css/default.css' in page and 'Powered by' in page   # pygeoapi's _base
        assert 'src="/ui/static/eoorder.js"' in page  # relative: works at any host name
        assert 'data-nav="deploy"' in page
    execute = requests.get(f'{server.url}/ui/processes/countdown/execute', timeout=10).text
    assert 'data-input="steps"' in execute
    script = requests.get(f'{server.url}/ui/static/eoorder.js', timeout=10)
    assert script.status_code == 200 and 'EOOrder' in script.text


@pytest.mark.parametrize('path', ['/ui/processes/nope/execute', '/ui/jobs/nope',
                                  '/ui/order?collection=c&identifier=i', '/ui/orders/x'])
def test_unknown_things_are_404_pages(server, path):
    reply = requests.get(server.url + path, timeout=10)
    assert reply.status_code == 404
    assert 'id="missing"' in reply.text


def test_job_page_for_a_real_job(server):
    job_id = server.submit('countdown', {'steps': 1})
    reply = requests.get(f'{server.url}/ui/jobs/{job_id}', timeout=10)
    assert reply.status_code == 200 and f'data-job="{job_id}"' in reply.text


def test_deployer_key_table_matches_the_schema():
    result = subprocess.run([sys.executable, str(REPO / 'scripts' / 'config-docs'), '--check'],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
