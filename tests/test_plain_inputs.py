"""Qualified and by-reference inputs of a plain pygeoapi processor (pygeoapi's HelloWorld,
which takes a value): OGC API - Processes lets a client give an input as `{"value": ...}`
or `{"href": ...}`; the processor gets the value, a reference fetched with the stage-in
rules (allowed file roots, the egress policy) like a container's inputs."""

import requests

HELLO = {'hello-world': {'type': 'process', 'processor': {'name': 'HelloWorld'}},
         'link-echo': {'type': 'process',
                       'processor': {'name': 'tests.support.processes.LinkEcho'}}}


def result_of(server, inputs: dict, process: str = 'hello-world') -> tuple[dict, str]:
    job_id = server.submit(process, inputs)
    job = server.wait_for(job_id)
    reply = requests.get(f'{server.url}/jobs/{job_id}/results', timeout=10)
    return job, reply.text


def test_qualified_and_referenced_inputs_reach_the_processor_as_values(make_server, tmp_path):
    files = tmp_path / 'inputs'
    files.mkdir()
    (files / 'name.txt').write_text('Ada\n')
    (tmp_path / 'secret.txt').write_text('top secret')
    server = make_server({'execution': {'stage_in': {'allowed_file_roots': [str(files)]}}},
                         resources=HELLO)
    for given, name in (({'value': 'EO'}, 'EO'),
                        ({'value': 'EO', 'mediaType': 'text/plain'}, 'EO'),
                        ({'href': (files / 'name.txt').as_uri()}, 'Ada')):
        job, answer = result_of(server, {'name': given, 'message': {'value': 'hi'}})
        assert job['status'] == 'successful', job
        assert requests.get(f"{server.url}/jobs/{job['jobID']}/results",
                            timeout=10).json()['value'] == f'Hello {name}! hi'
    for refused, why in (((tmp_path / 'secret.txt').as_uri(), 'outside the allowed file roots'),
                         ('http://127.0.0.1:9/name.txt', 'internal')):
        job, answer = result_of(server, {'name': {'href': refused}})
        assert job['status'] == 'failed', job
        assert 'top secret' not in answer and 'top secret' not in job['message']
        assert why in job['message'], job['message']
    # an input whose schema is a link object is the processor's to read: passed as it is
    link = {'href': (tmp_path / 'secret.txt').as_uri(), 'rel': 'data'}
    job, answer = result_of(server, {'link': link}, 'link-echo')
    assert job['status'] == 'successful', job
    assert requests.get(f"{server.url}/jobs/{job['jobID']}/results",
                        timeout=10).json()['value'] == link
