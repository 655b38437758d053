"""openEO discovery and user-data routes: capabilities, collections, processes, the
caller's account and user-defined processes, validation."""

from __future__ import annotations

import base64

from flask import Response, request

from .. import urls
from ..auth import acting_auth, current_user
from ..datacube import processes, user_processes
from ..datacube.collections import cube_collections, stac_collection
from ..datacube.errors import GraphError
from ..datacube.graph_arguments import literal_problems
from ..datacube.processes import OWN, OWN_UNCHECKED
from ..datacube.run import check, graph_of, is_predefined, parses, uses_other_processes
from . import capabilities
from .errors import error, json_response, not_found


OGC_NAMESPACE = 'ogc'


def _text(value) -> str:
    """A pygeoapi text, plain or by language (English first)."""
    if isinstance(value, dict):
        value = value.get('en') or next(iter(value.values()), '')
    return str(value or '')


def ogc_as_openeo(process_id: str, description: dict) -> dict:
    """An OGC process description as an openEO process (a cube argument is handed over
    as a GeoTIFF reference; outputs come back as an object by output id)."""
    parameters = [{'name': name, 'description': _text(spec.get('description')) or
                   _text(spec.get('title')) or name, 'schema': spec.get('schema') or {},
                   'optional': int(spec.get('minOccurs', 1) or 0) == 0}
                  for name, spec in (description.get('inputs') or {}).items()]
    outputs = ', '.join(description.get('outputs') or {})
    return {'id': process_id, 'namespace': OGC_NAMESPACE,
            'summary': _text(description.get('title')) or process_id,
            'description': _text(description.get('description')) +
            ' (an OGC API process of this server: a raster cube argument is passed as a '
            'GeoTIFF; file outputs become files of the job)',
            'categories': ['ogc api - processes'], 'parameters': parameters,
            'returns': {'description': f'the outputs by id: {outputs}',
                        'schema': {'type': 'object'}}}


def base() -> str:
    return f'{urls.base_url()}/openeo/1.2'


def signed_in():
    """The caller, or None when nobody signed in: the anonymous user that the auth layer
    lets read the public discovery paths acts only where the deployer allows anonymous
    callers (`auth.anonymous`)."""
    user = current_user()
    if user is None or not user.name:
        return None
    auth = acting_auth()
    if auth is not None and not auth.anonymous and user == auth.anonymous_user():
        return None
    return user


def auth_required():
    return error(401, 'AuthenticationRequired', 'sign in first (HTTP Basic at '
                 '/credentials/basic, or an OIDC bearer token)')


def quota_refusal(err):
    """A job over the caller's quota (a `jobs.quotas.QuotaExceeded`): 429, never a
    server error (openEO API: quota failures are client errors)."""
    return error(429, 'QuotaExceeded', str(err))


def graph_error(err: GraphError):
    return error(err.status, err.code, str(err))


def json_body():
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return None, error(400, 'BadRequest', 'the request body must be a JSON object')
    return body, None


class DiscoveryViews:
    """Routes that describe the back-end; `resources` and `settings` of the server."""

    def __init__(self, api, settings):
        self.api = api
        self.settings = settings

    def collections(self):
        return cube_collections(self.api.config.get('resources') or {}, self.settings)

    def landing(self):
        meta = self.api.config.get('metadata', {}).get('identification', {})
        return json_response(capabilities.capabilities(
            base(), str(meta.get('title') or 'pygeoapi-eoorder'),
            str(meta.get('description') or 'openEO back-end')))

    def well_known(self):
        return json_response(capabilities.well_known(urls.base_url()))

    def conformance(self):
        return json_response({'conformsTo': capabilities.CONFORMANCE})

    def nothing(self):
        """No secondary web services, no UDF runtimes (user code is refused)."""
        return json_response({})

    def file_formats(self):
        return json_response(capabilities.file_formats())

    def list_collections(self):
        found = [stac_collection(c, base(), full=False) for c in self.collections().values()]
        return json_response({'collections': found, 'links': []})

    def get_collection(self, collection_id: str):
        found = self.collections().get(collection_id)
        if found is None:
            return not_found(f'collection {collection_id!r}', 'CollectionNotFound')
        return json_response(stac_collection(found, base()))

    def list_processes(self):
        return json_response({'processes': processes.descriptions(), 'links': [
            {'rel': 'related', 'href': f'{base()}/processes/{OGC_NAMESPACE}',
             'title': "this server's OGC API processes, callable from a graph"}]})

    def namespace_processes(self, namespace: str):
        """`/processes/ogc`: the OGC processes the caller may run as graph steps."""
        if namespace != OGC_NAMESPACE:
            return not_found(f'process namespace {namespace!r}')
        from ..datacube.ogc_steps import step_ids
        manager = self.api.manager
        found = [ogc_as_openeo(name, manager.process_metadata(pid))
                 for name, pid in sorted(step_ids(manager).items())]
        return json_response({'processes': found, 'links': []})

    def namespace_process(self, namespace: str, process_id: str):
        from ..datacube.ogc_steps import step_ids
        manager = self.api.manager
        ogc_id = step_ids(manager).get(process_id) if namespace == OGC_NAMESPACE else None
        if ogc_id is None:
            return not_found(f'process {namespace}/{process_id}', 'ProcessUnsupported')
        return json_response(ogc_as_openeo(process_id, manager.process_metadata(ogc_id)))

    def credentials_basic(self):
        auth = request.authorization
        if auth is None or auth.type != 'basic' or signed_in() is None:
            return error(401, 'AuthenticationRequired', 'send HTTP Basic credentials',
                         {'WWW-Authenticate': 'Basic realm="openeo"'})
        token = base64.urlsafe_b64encode(f'{auth.username}:{auth.password}'.encode())
        return json_response({'access_token': token.decode()})

    def credentials_oidc(self):
        """The identity providers whose bearer tokens this server verifies (`jwt`
        authenticators with an issuer); tokens come as `Bearer oidc/<id>/<token>`."""
        providers = [{'id': f'oidc{index}' if index else 'oidc', 'issuer': found.issuer,
                      'title': f'Identity provider {found.issuer}', 'scopes': ['openid'],
                      'links': []}
                     for index, found in enumerate(
                         a for a in self.api.manager.auth.authenticators
                         if hasattr(a, 'verify_token') and getattr(a, 'issuer', None))]
        return json_response({'providers': providers})

    def me(self):
        user = signed_in()
        if user is None:
            return auth_required()
        return json_response({'user_id': user.name, 'name': user.name,
                              'roles': sorted(user.roles), 'links': []})


class UserProcessViews:
    """`/process_graphs` (each caller's own) and `/validation`."""

    def __init__(self, settings, manager):
        self.settings = settings
        self.manager = manager

    def listing(self):
        user = signed_in()
        if user is None:
            return auth_required()
        found = [{k: v for k, v in d.items() if k != 'process_graph'}
                 for d in user_processes.listing(self.settings, user.name)]
        return json_response({'processes': found, 'links': []})

    def get(self, process_graph_id: str):
        user = signed_in()
        if user is None:
            return auth_required()
        try:
            found = user_processes.get(self.settings, user.name, process_graph_id)
        except GraphError as err:
            return graph_error(err)
        if found is None:
            return not_found(f'process graph {process_graph_id!r}', 'ProcessGraphNotFound')
        return json_response(found)

    def put(self, process_graph_id: str):
        user = signed_in()
        if user is None:
            return auth_required()
        body, refusal = json_body()
        if refusal:
            return refusal
        if not user_processes.valid_id(process_graph_id):
            return error(400, 'ProcessGraphIdInvalid', f'process graph id '
                         f'{process_graph_id!r}: use 1 to 100 letters, digits and _ '
                         '(the openEO API\'s pattern ^\\w+$)')
        if is_predefined(process_graph_id):
            return error(400, 'PredefinedProcessExists', f'{process_graph_id!r} is a '
                         'predefined process; choose another id')
        try:
            if isinstance(body.get('process_graph'), dict) and body['process_graph']:
                parses(body['process_graph'])  # (a cycle, no result node: refused now)
            user_processes.put(self.settings, user.name, process_graph_id, body)
        except GraphError as err:
            return graph_error(err)
        return json_response({}, 200)

    def delete(self, process_graph_id: str):
        user = signed_in()
        if user is None:
            return auth_required()
        try:
            if not user_processes.delete(self.settings, user.name, process_graph_id):
                return not_found(f'process graph {process_graph_id!r}',
                                 'ProcessGraphNotFound')
        except GraphError as err:
            return graph_error(err)
        return Response(status=204)

    def used_by(self, user, graph: dict) -> dict:
        return user_processes.used_by(self.settings, user.name if user else '', graph,
                                      is_predefined)

    def validation(self):
        body, refusal = json_body()
        if refusal:
            return refusal
        try:
            graph = graph_of(body)
        except GraphError as err:
            return json_response({'errors': [{'code': err.code, 'message': str(err)}]})
        from ..datacube.ogc_steps import step_ids
        used = self.used_by(signed_in(), graph)
        declared = [p.get('name') for p in body.get('parameters') or []
                    if isinstance(p, dict)] if isinstance(body, dict) else []
        problems = check(graph, used, step_ids(self.manager)
                         if uses_other_processes(graph, used) else {}, declared)
        problems += literal_problems(graph, dict.fromkeys(OWN, OWN_UNCHECKED))
        return json_response({'errors': [{'code': p.code, 'message': str(p)}
                                         for p in problems]})
