"""OGC API - Processes Part 2 (Deploy, Replace, Undeploy) with the draft's own schemas as the
oracle (issue 15): a package in the draft's `ogcapppkg.yaml` form (`processDescription`
holding its `process`) deploys, its answers are the draft's `staticIndicator.yaml` (a 1.0
processSummary with `mutable`), the package reads back as deployed, replace and undeploy
answer as Part 2 says. Local copies of the schemas: tests/data/ogcapi-processes-2."""

from __future__ import annotations

import json
from pathlib import Path

import requests

from .support.ogcapi import validate, validate_any_of, validate_part2

PKG = 'application/ogcapppkg+json'
PROBLEM = 'application/problem+json'
PACKAGES = Path(__file__).parent / 'data' / 'packages'


def _draft_package(pid: str, title: str) -> dict:
    """An echo application in the form of the draft's ogcapppkg.yaml."""
    return {'processDescription': {'process': {
                'id': pid, 'version': '1.0.0', 'title': title,
                'inputs': {'message': {'schema': {'type': 'string'}}},
                'outputs': {'result': {'schema': {'type': 'string'}}}}},
            'executionUnit': {'type': 'docker', 'image': 'eoorder-test/echo:1.0',
                              'config': {'cpuMax': 1, 'memoryMax': 0.5, 'jobTimeout': 120}}}


def test_draft_package_deploys_runs_replaces_and_undeploys(server):
    pid = 'echo-part2-draft'
    package = _draft_package(pid, 'Echo')
    validate_part2(package, 'ogcapppkg.yaml')  # the request itself is the draft's form
    deployed = requests.post(f'{server.url}/processes', data=json.dumps(package),
                             headers={'Content-Type': PKG}, timeout=60)
    assert deployed.status_code == 201, deployed.text
    assert deployed.headers['Location'] == f'{server.url}/processes/{pid}'
    validate_part2(deployed.json(), 'staticIndicator.yaml')
    assert deployed.json()['id'] == pid and deployed.json()['mutable'] is True

    described = requests.get(deployed.headers['Location'], timeout=10).json()
    validate_any_of(described, 'process.yaml')
    assert described['title'] == 'Echo' and set(described['inputs']) == {'message'}
    stored = requests.get(f'{server.url}/processes/{pid}/package', timeout=10)
    assert stored.status_code == 200 and stored.json() == package  # as deployed
    validate_part2(stored.json(), 'ogcapppkg.yaml')

    listing = requests.get(f'{server.url}/processes', params={'limit': 1000}, timeout=10)
    summaries = {summary['id']: summary for summary in listing.json()['processes']}
    for summary in summaries.values():
        validate_part2(summary, 'staticIndicator.yaml')
    assert summaries[pid]['mutable'] is True and summaries['countdown']['mutable'] is False

    ran = server.execute(pid, {'message': 'draft form'}, async_=False, response='document')
    assert ran.status_code == 200 and ran.json() == {'result': 'draft form'}, ran.text

    replacement = _draft_package(pid, 'Echo again')
    replaced = requests.put(f'{server.url}/processes/{pid}', data=json.dumps(replacement),
                            headers={'Content-Type': PKG}, timeout=60)
    assert replaced.status_code in (200, 204), replaced.text  # /req/…/replace-response
    assert requests.get(f'{server.url}/processes/{pid}', timeout=10).json()['title'] \
        == 'Echo again'

    duplicate = requests.post(f'{server.url}/processes', data=json.dumps(replacement),
                              headers={'Content-Type': PKG}, timeout=60)
    assert duplicate.status_code == 409 and duplicate.headers['Content-Type'] == PROBLEM
    validate(duplicate.json(), 'exception.yaml')
    assert duplicate.json()['type'].endswith('/ogcapi-processes-2/1.0/duplicated-process')

    assert requests.delete(f'{server.url}/processes/{pid}', timeout=10).status_code == 204
    gone = requests.get(f'{server.url}/processes/{pid}', timeout=10)
    assert gone.status_code == 404 and gone.headers['Content-Type'] == PROBLEM
    validate(gone.json(), 'exception.yaml')


def test_execution_unit_only_package_is_valid_and_deploys(server):
    """processDescription is optional in ogcapppkg.yaml: a CWL unit describes the process."""
    text = (PACKAGES / 'echo.cwl').read_text()
    package = {'executionUnit': {'type': 'application/cwl',
                                 'value': text.replace('\nid: echo\n', '\nid: echo-unit-p2\n')}}
    validate_part2(package, 'ogcapppkg.yaml')
    deployed = requests.post(f'{server.url}/processes', json=package, timeout=60,
                             headers={'Content-Type': PKG})
    assert deployed.status_code == 201, deployed.text
    validate_part2(deployed.json(), 'staticIndicator.yaml')
    assert deployed.json()['id'] == 'echo-unit-p2'
    stored = requests.get(f'{server.url}/processes/echo-unit-p2/package', timeout=10).json()
    validate_part2(stored, 'ogcapppkg.yaml')
    assert requests.delete(f'{server.url}/processes/echo-unit-p2',
                           timeout=10).status_code == 204
