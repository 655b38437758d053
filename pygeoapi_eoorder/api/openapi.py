"""The OpenAPI document: pygeoapi's, plus this package's routes and run-time processes."""

from __future__ import annotations

import copy
import threading
from typing import Iterable

from pygeoapi.openapi import OPENAPI_YAML, get_oas

from ..auth import NOBODY, acting_as
from ..jobs.repository import STATUSES
from . import job_management

PROBLEM = {'description': 'Error (application/problem+json)',
           'content': {'application/problem+json': {'schema': {'type': 'object'}}}}

JOB_ID = {'name': 'jobId', 'in': 'path', 'required': True, 'schema': {'type': 'string'},
          'description': 'job identifier'}


def _query(name: str, description: str, schema: dict, explode: bool = False) -> dict:
    param = {'name': name, 'in': 'query', 'required': False, 'description': description,
             'schema': schema}
    if explode:
        param.update(style='form', explode=False)
    return param


JOB_LIST_PARAMETERS = [
    _query('type', 'kinds of job (process, order, notification, harvest, openeo, '
           'openeo-sync; the `jobType` of a statusInfo)',
           {'type': 'array', 'items': {'type': 'string'}}, True),
    _query('processID', 'process identifiers', {'type': 'array', 'items': {'type': 'string'}},
           True),
    _query('status', 'job statuses', {'type': 'array',
                                      'items': {'type': 'string', 'enum': list(STATUSES)}}, True),
    _query('datetime', 'creation time: an RFC 3339 instant or interval (a/b, ../b, a/..)',
           {'type': 'string'}),
    _query('minDuration', 'minimum run time in seconds', {'type': 'number', 'minimum': 0}),
    _query('maxDuration', 'maximum run time in seconds', {'type': 'number', 'minimum': 0}),
    _query('limit', 'page size', {'type': 'integer', 'minimum': 1}),
    _query('offset', 'page start', {'type': 'integer', 'minimum': 0}),
]


PROCESS_ID = {'name': 'processId', 'in': 'path', 'required': True,
              'schema': {'type': 'string'}, 'description': 'process identifier'}
PACKAGE_BODY = {'required': True, 'description': 'an application package', 'content': {
    'application/ogcapppkg+json': {'schema': {'type': 'object'}},
    'application/cwl+yaml': {'schema': {'type': 'string'}},
    'application/cwl+json': {'schema': {'type': 'object'}},
    'application/atom+xml': {'schema': {'type': 'string'}}}}


def _part2_paths() -> dict:
    """OGC API - Processes Part 2 (Deploy, Replace, Undeploy) and the package view."""
    visibility = _query('visibility', 'who may see the process',
                        {'type': 'string', 'enum': ['public', 'private']})
    return {
        '/processes': {'post': {
            'summary': 'Deploy a process', 'operationId': 'deploy', 'tags': ['processes'],
            'parameters': [visibility], 'requestBody': PACKAGE_BODY,
            'responses': {'201': {'description': 'deployed'}, '400': PROBLEM,
                          '403': PROBLEM, '409': PROBLEM, '415': PROBLEM}}},
        '/processes/{processId}': {
            'get': {'summary': 'Retrieve a process description',
                    'operationId': 'getProcessDescription', 'tags': ['processes'],
                    'parameters': [PROCESS_ID, {'$ref': '#/components/parameters/f'}],
                    'responses': {'200': {'$ref': f"{OPENAPI_YAML['oapip']}/responses/"
                                                  'ProcessDescription.yaml'},
                                  '404': PROBLEM}},
            'put': {'summary': 'Replace a deployed process', 'operationId': 'replace',
                    'tags': ['processes'], 'parameters': [PROCESS_ID],
                    'requestBody': PACKAGE_BODY,
                    'responses': {'204': {'description': 'replaced'}, '400': PROBLEM,
                                  '403': PROBLEM, '404': PROBLEM, '415': PROBLEM}},
            'delete': {'summary': 'Undeploy a deployed process', 'operationId': 'undeploy',
                       'tags': ['processes'], 'parameters': [PROCESS_ID],
                       'responses': {'204': {'description': 'undeployed'}, '403': PROBLEM,
                                     '404': PROBLEM}}},
        '/processes/{processId}/package': {'get': {
            'summary': 'The application package of a deployed process',
            'operationId': 'getPackage', 'tags': ['processes'], 'parameters': [PROCESS_ID],
            'responses': {'200': {'description': 'the package as deployed'},
                          '404': PROBLEM}}},
        '/jobs/{jobId}/results/{name}': {'get': {
            'summary': 'One result of a job (a file output)', 'operationId': 'getJobResult',
            'tags': ['jobs'], 'parameters': [JOB_ID, {
                'name': 'name', 'in': 'path', 'required': True, 'schema': {'type': 'string'},
                'description': 'output identifier (and path inside a directory output)'}],
            'responses': {'200': {'description': 'the result'}, '404': PROBLEM,
                          '410': PROBLEM}}},
    }


def eoorder_paths() -> dict:
    """Path items this package serves beyond pygeoapi's own."""
    return {
        **_part2_paths(),
        '/jobs': {'get': {
            'summary': 'Retrieve the job list', 'operationId': 'getJobs', 'tags': ['jobs'],
            'parameters': JOB_LIST_PARAMETERS + [{'$ref': '#/components/parameters/f'}],
            'responses': {'200': {'description': 'jobs', 'content': {
                'application/json': {'schema': {'type': 'object'}}}},
                '400': PROBLEM}}},
        '/jobs/{jobId}/log': {'get': {
            'summary': 'Retrieve the log of a job', 'operationId': 'getJobLog', 'tags': ['jobs'],
            'parameters': [JOB_ID],
            'responses': {'200': {'description': 'the job log',
                                  'content': {'text/plain': {'schema': {'type': 'string'}}}},
                          '404': PROBLEM, '410': PROBLEM}}},
    }


def _declare_as_served(document: dict) -> None:
    """Correct pygeoapi's declarations where this server answers otherwise: `GET /processes`
    takes `limit`; `DELETE /jobs/{jobId}` answers 200 with the statusInfo (Part 1 dismiss);
    results removed (dismissal, retention) are 410 Gone (Part 1 2.0 draft)."""
    listing = document['paths'].get('/processes', {}).get('get')
    if listing is not None:
        parameters = listing.setdefault('parameters', [])
        if not any(p.get('name') == 'limit' for p in parameters):
            parameters.append(_query('limit', 'the number of processes listed',
                                     {'type': 'integer', 'minimum': 1}))
    dismiss = document['paths'].get('/jobs/{jobId}', {}).get('delete')
    if dismiss is not None:
        responses = dismiss['responses']
        responses.pop('204', None)
        responses['200'] = {'$ref': f"{OPENAPI_YAML['oapip']}/responses/Status.yaml"}
    results = document['paths'].get('/jobs/{jobId}/results', {}).get('get')
    if results is not None:
        results['responses'].setdefault('410', PROBLEM)
    for path, item in document['paths'].items():
        if path.startswith('/processes/') and path.endswith('/execution') and 'post' in item:
            item['post']['x-eoorder-execute-members'] = WORKSPACE_MEMBER


WORKSPACE_MEMBER = {'workspace': {
    'type': 'string', 'description': 'extension: the id of one of your workspaces, where '
    'the results of a deployed process are uploaded and its STAC outputs registered '
    '(instead of your personal workspace); a workspace you are not a member of is refused '
    '(400) exactly like one that does not exist'}}


def build(config: dict, components: Iterable = ()) -> dict:
    """The full OpenAPI document for `config` (deployed processes come from the store),
    with the path items of `components` (each has `openapi_paths()`)."""
    document = get_oas(config, fail_on_invalid_collection=False)
    paths = eoorder_paths()
    for component in components:
        paths.update(component.openapi_paths())
    for path, item in job_management.openapi_paths().items():  # Part 4: beside Part 1's
        paths[path] = {**paths.get(path, {}), **item}
    for path, item in paths.items():
        merged = document['paths'].setdefault(path, {})
        for method, operation in item.items():
            if method in merged and path == '/jobs':
                merged[method]['parameters'] = operation['parameters']
                merged[method]['responses'].update(operation['responses'])
            else:
                merged[method] = operation
    _declare_as_served(document)
    return document


class OpenAPICache:
    """Rebuilds the document only when the set of processes changed."""

    def __init__(self, config: dict, registry, components: Iterable = ()):
        self.config = config
        self.registry = registry
        self.components = tuple(components)
        self._lock = threading.Lock()
        self._key = None
        self._document: dict | None = None

    def get(self) -> dict:
        key = self.registry.version()
        with self._lock:
            if key != self._key or self._document is None:
                with acting_as(NOBODY):  # one document for all: no private process in it
                    self._document = build(copy.deepcopy(self.config), self.components)
                self._key = key
            return self._document
