"""HTTP routes of the workspace API under `<prefix>/workspaces` (JSON and HTML pages,
problem+json errors), translating requests into `WorkspaceService` calls."""

from __future__ import annotations

import json
import logging

from flask import Flask, Request, Response, request

from .. import urls
from ..auth import current_user
from ..execution.paths import UnsafePathError
from ..processes.permissions import Refused
from ..web.problem import problem
from ..web.render import Renderer
from ..workspaces import (Conflict, KeyConflict, StorageError, WorkspaceError, WorkspaceService,
                          make_storage, uploads)
from .documents import file_list, workspace_document
from .packages import WorkspacePackages
from .registration import RegistrationViews

LOGGER = logging.getLogger('eoorder.workspace_api')
PATH = '/workspaces'
KINDS = {'invalid-parameter': 'invalid-parameter', 'not-found': 'not-found',
         'forbidden': 'forbidden'}


def _wants_html(req: Request) -> bool:
    if req.args.get('f'):
        return req.args['f'] == 'html'
    return req.accept_mimetypes.best_match(['application/json', 'text/html']) == 'text/html'


def _json(body, status: int = 200, headers: dict | None = None) -> Response:
    return Response(json.dumps(body), status, headers, mimetype='application/json')


def _refusal(err: WorkspaceError) -> Response:
    return problem(err.status, KINDS.get(err.kind, 'about:blank'), err.detail, **err.extra)


def _body() -> dict:
    try:
        body = json.loads(request.get_data() or b'{}')
    except ValueError:
        raise WorkspaceError('request body: not JSON') from None
    if not isinstance(body, dict):
        raise WorkspaceError('request body: a JSON object is required')
    return body


class WorkspaceViews:
    """The views; each answers a refused request with problem+json."""

    def __init__(self, service: WorkspaceService, renderer: Renderer,
                 packages: WorkspacePackages, quotas):
        self.service, self.renderer, self.packages = service, renderer, packages
        self.quotas = quotas  # jobs.quotas.QuotaService: the per-user job limits

    def base(self) -> str:
        return urls.base_url().rstrip('/') + PATH

    def _document(self, workspace) -> dict:
        return workspace_document(workspace, self.service, self.base())

    def _job_quotas(self) -> dict:
        """The caller's own job limits and usage (`GET /quotas`), beside the storage's."""
        user = current_user()
        name, roles = (user.name, sorted(user.roles)) if user else (None, [])
        return {'user': name, **(self.quotas.usage(name, roles) if self.quotas else {})}

    def _page(self, template: str, title: str, **data) -> Response:
        data = {'title': title, 'base': urls.path(), 'section': 'workspaces', **data}
        return Response(self.renderer.render(f'eoorder/{template}', data),
                        mimetype='text/html')

    def listing(self):
        user = current_user()
        body = {'workspaces': [self._document(w) for w in self.service.visible(user)],
                'links': [{'rel': 'self', 'href': self.base(), 'type': 'application/json'}]}
        if _wants_html(request):
            return self._page('workspaces.html', 'Workspaces', workspaces=body['workspaces'])
        return _json(body)

    def create(self):
        workspace = self.service.create(current_user(), _body())
        href = f'{self.base()}/{workspace.id}'
        return _json(self._document(workspace), 201, {'Location': href})

    def get(self, workspace_id: str):
        refresh = request.args.get('refresh', 'false').lower()
        if refresh not in ('true', 'false'):
            raise WorkspaceError('refresh: true or false')
        workspace = self.service.get(current_user(), workspace_id)
        if refresh == 'true':  # admins: count the usage again from the storage
            self.service.recount(current_user(), workspace_id)
        document = {**self._document(workspace), 'jobQuotas': self._job_quotas()}
        if _wants_html(request):
            return self._page('workspace.html', f'Workspace {workspace_id}',
                              workspace=document)
        return _json(document)

    def delete(self, workspace_id: str):
        force = request.args.get('force', 'false').lower()
        if force not in ('true', 'false'):
            raise WorkspaceError('force: true or false')
        user = current_user()
        processes = self.packages.listing(user, workspace_id, '')
        if processes and force != 'true' and self.service.may_manage(
                user, self.service.get(user, workspace_id)):
            raise Conflict(f'workspace {workspace_id!r} holds {len(processes)} processes; '
                           'deregister them first or ask again with force=true',
                           processes=len(processes))
        self.service.delete(user, workspace_id, force == 'true')
        self.packages.undeploy_all(workspace_id)
        return Response(status=204)

    def add_member(self, workspace_id: str):
        workspace = self.service.add_member(current_user(), workspace_id, _body().get('user'))
        return _json(self._document(workspace))

    def remove_member(self, workspace_id: str, member: str):
        self.service.remove_member(current_user(), workspace_id, member)
        return Response(status=204)

    def files(self, workspace_id: str):
        stored = self.service.files(current_user(), workspace_id)
        return _json(file_list(stored, f'{self.base()}/{workspace_id}/files'))

    def upload(self, workspace_id: str, key: str):
        size = request.content_length
        if size is None:
            return problem(411, 'invalid-parameter', 'Content-Length is required (the '
                           'size is checked against the storage quota before storing)')
        stored = self.service.upload(current_user(), workspace_id, key, request.stream, size)
        href = f'{self.base()}/{workspace_id}/files/{stored.key}'
        return _json({'key': stored.key, 'size': stored.size, 'href': href}, 201,
                     {'Location': href})

    def download(self, workspace_id: str, key: str):
        try:
            stream = self.service.open(current_user(), workspace_id, key)
        except FileNotFoundError:
            return problem(404, 'not-found', f'no file {key!r} in workspace {workspace_id!r}')
        return Response(_chunks(stream), mimetype='application/octet-stream')

    def remove_file(self, workspace_id: str, key: str):
        if not self.service.remove_file(current_user(), workspace_id, key):
            return problem(404, 'not-found', f'no file {key!r} in workspace {workspace_id!r}')
        return Response(status=204)


def _chunks(stream, size: int = 1 << 16):
    try:
        while chunk := stream.read(size):
            yield chunk
    finally:
        stream.close()


def _guarded(view):
    """The view with the service's refusals, unsafe keys and storage failures answered."""
    def guarded(**kwargs):
        try:
            return view(**kwargs)
        except WorkspaceError as err:
            return _refusal(err)
        except Refused as err:  # a package the deployment service refused
            return problem(err.refusal.status, err.refusal.type, err.refusal.detail)
        except UnsafePathError as err:
            return problem(400, 'invalid-parameter', str(err))
        except KeyConflict as err:
            return problem(409, 'about:blank', str(err))
        except StorageError as err:
            LOGGER.warning('workspace storage: %s', err)
            return problem(502, 'about:blank', f'workspace storage unavailable ({err})')
    guarded.__name__ = view.__name__
    return guarded


def _rules(views: WorkspaceViews, registration: RegistrationViews) -> list:
    return [
        ('/<workspace_id>/register', ['POST'], registration.register),
        ('/<workspace_id>/records', ['GET'], registration.records),
        ('/<workspace_id>/records/<record_id>', ['GET'], registration.record),
        ('/<workspace_id>/records/<record_id>', ['DELETE'], registration.deregister),
        ('/<workspace_id>/processes', ['GET'], registration.processes),
        ('/<workspace_id>/processes/<process_id>', ['DELETE'], registration.undeploy),
        ('', ['GET'], views.listing), ('', ['POST'], views.create),
        ('/<workspace_id>', ['GET'], views.get), ('/<workspace_id>', ['DELETE'], views.delete),
        ('/<workspace_id>/members', ['POST'], views.add_member),
        ('/<workspace_id>/members/<member>', ['DELETE'], views.remove_member),
        ('/<workspace_id>/files', ['GET'], views.files),
        ('/<workspace_id>/files/<path:key>', ['PUT'], views.upload),
        ('/<workspace_id>/files/<path:key>', ['GET'], views.download),
        ('/<workspace_id>/files/<path:key>', ['DELETE'], views.remove_file),
    ]


def install(app: Flask, api, settings) -> None:
    block = settings.block.get('workspaces') or {}
    if not block.get('enabled', True):
        return
    storage = make_storage(block['storage'], settings.data_dir)
    service = WorkspaceService(settings.store_url, storage, api.manager.auth, block,
                               uploads.locks_of(settings))
    app.extensions['eoorder_workspaces'] = service
    packages = WorkspacePackages(service, api, settings)
    views = WorkspaceViews(service, Renderer(api), packages, api.manager.jobs.quotas)
    registration = RegistrationViews(service, settings, views.base, packages)
    prefix = api.urls.prefix
    for path, methods, view in _rules(views, registration):
        endpoint = f'workspaces.{view.__name__}'
        app.add_url_rule(prefix + PATH + path, endpoint, _guarded(view), methods=methods)


def openapi_paths() -> dict:
    """Component hook: the workspace API's paths in the OpenAPI document."""
    from .openapi import paths
    return paths()
