"""The OpenAPI document: pygeoapi's, plus this package's routes and run-time processes."""

from __future__ import annotations

import copy
import threading

from pygeoapi.openapi import get_oas

from ..jobs.repository import STATUSES

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
    _query('type', 'job types (process, order, harvest)', {'type': 'array',
                                                           'items': {'type': 'string'}}, True),
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


def eoorder_paths() -> dict:
    """Path items this package serves beyond pygeoapi's own."""
    return {
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


def build(config: dict) -> dict:
    """The full OpenAPI document for `config` (deployed processes come from the store)."""
    from ..app import components
    document = get_oas(config, fail_on_invalid_collection=False)
    paths = eoorder_paths()
    for component in components():
        paths.update(component.openapi_paths())
    for path, item in paths.items():
        merged = document['paths'].setdefault(path, {})
        for method, operation in item.items():
            if method in merged and path == '/jobs':
                merged[method]['parameters'] = operation['parameters']
                merged[method]['responses'].update(operation['responses'])
            else:
                merged[method] = operation
    return document


class OpenAPICache:
    """Rebuilds the document only when the set of processes changed."""

    def __init__(self, config: dict, registry):
        self.config = config
        self.registry = registry
        self._lock = threading.Lock()
        self._key = None
        self._document: dict | None = None

    def get(self) -> dict:
        key = self.registry.version()
        with self._lock:
            if key != self._key or self._document is None:
                self._document = build(copy.deepcopy(self.config))
                self._key = key
            return self._document
