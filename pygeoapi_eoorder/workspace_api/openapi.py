"""OpenAPI paths of the workspace API."""

from __future__ import annotations

from ..workspaces.keys import MAX_KEY_BYTES
from .paging import DEFAULT_LIMIT, MAX_LIMIT

_PROBLEM = {'description': 'refused (problem+json)',
            'content': {'application/problem+json': {'schema': {'type': 'object'}}}}
_JSON = {'content': {'application/json': {'schema': {'type': 'object'}}}}
_ID = {'name': 'workspaceId', 'in': 'path', 'required': True, 'schema': {'type': 'string'}}
_KEY = {'name': 'key', 'in': 'path', 'required': True, 'schema': {'type': 'string'},
        'description': f'"/"-separated, at most {MAX_KEY_BYTES} UTF-8 bytes (less the bucket '
                       'prefix on S3), segments of at most 255 bytes, none empty, "." or ".."'}
_MEMBER = {'name': 'user', 'in': 'path', 'required': True, 'schema': {'type': 'string'}}
_PROCESS = {'name': 'processId', 'in': 'path', 'required': True, 'schema': {'type': 'string'}}
_RECORD = {'name': 'recordId', 'in': 'path', 'required': True, 'schema': {'type': 'string'}}
_FORCE = {'name': 'force', 'in': 'query', 'schema': {'type': 'boolean', 'default': False}}
_REFRESH = {'name': 'refresh', 'in': 'query', 'schema': {'type': 'boolean', 'default': False},
            'description': 'admins: count the usage again from the storage (403 for others)'}
_PAGE = [{'name': 'offset', 'in': 'query', 'schema': {'type': 'integer', 'minimum': 0,
                                                       'default': 0}},
         {'name': 'limit', 'in': 'query', 'schema': {'type': 'integer', 'minimum': 1,
                                                      'maximum': MAX_LIMIT,
                                                      'default': DEFAULT_LIMIT}}]
_TAGS = ['Workspaces']


def _operation(summary: str, success: str, parameters=(), body: bool = False,
               binary: bool = False) -> dict:
    operation = {'summary': summary, 'tags': _TAGS, 'parameters': list(parameters),
                 'responses': {success: {'description': summary, **(
                     _JSON if success in ('200', '201') else {})},
                     '400': _PROBLEM, '404': _PROBLEM}}
    if body:
        operation['requestBody'] = {'required': True, **_JSON}
    if binary:
        operation['requestBody'] = {'required': True, 'content': {
            'application/octet-stream': {'schema': {'type': 'string', 'format': 'binary'}}}}
        operation['responses']['413'] = _PROBLEM
    return operation


def paths() -> dict:
    return {
        '/workspaces': {
            'get': _operation('the workspaces the caller may see', '200'),
            'post': _operation('create a workspace', '201', body=True)},
        '/workspaces/{workspaceId}': {
            'get': _operation('a workspace: members, storage, usage and quota; the '
                              "caller's job quotas and usage (jobQuotas)", '200',
                              [_ID, _REFRESH]),
            'delete': _operation('delete a workspace (409 while it holds files unless '
                                 'force=true)', '204', [_ID, _FORCE])},
        '/workspaces/{workspaceId}/members': {
            'post': _operation('add a member', '200', [_ID], body=True)},
        '/workspaces/{workspaceId}/members/{user}': {
            'delete': _operation('remove a member', '204', [_ID, _MEMBER])},
        '/workspaces/{workspaceId}/files': {
            'get': _operation('the files of a workspace', '200', [_ID])},
        '/workspaces/{workspaceId}/register': {
            'post': _operation('harvest a STAC catalog, collection, API or item {"url"} into '
                               'the workspace, or deploy an application package {"type": '
                               '"application-package", "url"} as its process', '200', [_ID],
                               body=True)},
        '/workspaces/{workspaceId}/processes': {
            'get': _operation('the processes registered in the workspace', '200', [_ID])},
        '/workspaces/{workspaceId}/processes/{processId}': {
            'delete': _operation('deregister (undeploy) a process', '204', [_ID, _PROCESS])},
        '/workspaces/{workspaceId}/records': {
            'get': _operation('the records registered in the workspace (other query '
                              'parameters are refused: search at /collections/'
                              'workspace-{workspaceId}/items)', '200', [_ID, *_PAGE])},
        '/workspaces/{workspaceId}/records/{recordId}': {
            'get': _operation('a registered record', '200', [_ID, _RECORD]),
            'delete': _operation('deregister a record', '204', [_ID, _RECORD])},
        '/workspaces/{workspaceId}/files/{key}': {
            'put': _operation('store a file (413 beyond the quota)', '201', [_ID, _KEY],
                              binary=True),
            'get': _operation('read a file', '200', [_ID, _KEY]),
            'delete': _operation('delete a file', '204', [_ID, _KEY])},
    }
