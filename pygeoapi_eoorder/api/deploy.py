"""OGC API - Processes Part 2: Deploy, Replace, Undeploy, and the deployed package."""

from __future__ import annotations

import json
import logging

from flask import Request, Response
from pygeoapi.api import API

from ..auth import current_user
from ..egress import policy_from_settings
from ..errors import problem
from ..processes import deployed, reserved
from ..processes.packages import OGCAPPPKG, Package, PackageError, WorkflowNotFound
from ..processes.parsing import UnsupportedPackage, parse_package

LOGGER = logging.getLogger(__name__)
P2 = 'http://www.opengis.net/spec/ogcapi-processes-2/1.0/conf/'
DEPLOY_CONFORMANCE = [P2 + 'deploy-replace-undeploy', P2 + 'ogcapppkg', P2 + 'docker', P2 + 'cwl']


def summary(process: dict, base_url: str) -> dict:
    """The process summary of Part 1, with Part 2's `mutable`."""
    keys = ('id', 'version', 'title', 'description', 'keywords', 'jobControlOptions',
            'outputTransmission')
    body = {k: process[k] for k in keys if k in process}
    body['mutable'] = True
    url = f"{base_url}/processes/{process['id']}"
    body['links'] = [
        {'href': url, 'rel': 'self', 'type': 'application/json', 'title': 'Process description'},
        {'href': f'{url}/execution', 'rel': 'http://www.opengis.net/def/rel/ogc/1.0/execute',
         'type': 'application/json', 'title': 'Execute'},
        {'href': f'{url}/package', 'rel': 'http://www.opengis.net/def/rel/ogc/1.0/package',
         'title': 'Application package'}]
    return body


class DeployRoutes:
    def __init__(self, api: API):
        self.api = api

    @property
    def manager(self):
        return self.api.manager

    @property
    def base_url(self) -> str:
        return self.api.base_url.rstrip('/')

    def _parse(self, request: Request) -> Package | Response:
        from ..processes.cwl import check_package_sandbox
        try:
            package = parse_package(request.get_data(), request.mimetype,
                                    request.args.get('w'), policy=policy_from_settings(
                                        self.manager.settings.block.get('egress')))
            check_package_sandbox(package, self.manager.settings.block['execution'])
            return package
        except UnsupportedPackage as err:
            return problem(415, 'unsupported-media-type', str(err))
        except WorkflowNotFound as err:
            return problem(400, 'workflow-not-found', str(err))
        except PackageError as err:
            return problem(400, 'invalid-parameter', str(err))

    def _image_warnings(self, package: Package) -> list[str]:
        """Images missing on the engine: deployment still succeeds (they may come later)."""
        from ..execution import docker_runner
        from ..execution.errors import ExecutionError
        images = [u.image for u in package.units if u.image]
        if not images:
            return []
        try:
            engine = docker_runner.client(
                self.manager.settings.block['execution']['docker'].get('base_url'))
        except (ExecutionError, ImportError) as err:
            return [f'could not check images: {err}']
        return [f'image {image} is not on the Docker engine yet; executions fail until it is '
                'loaded' for image in images if not docker_runner.image_present(engine, image)]

    def _is_builtin(self, process_id: str) -> bool:
        return process_id in self.manager.configured_processes

    def _reserved(self, process_id: str, verb: str) -> Response | None:
        """None unless the id is reserved by the configuration and the caller no admin."""
        if not reserved.is_reserved(self.manager, process_id) or \
                self.manager.auth.is_admin(current_user()):
            return None
        return problem(403, 'immutable-process',
                       f'process id {process_id!r} is reserved by the server configuration '
                       f'(built in, or run by an order option): only an admin may {verb} it')

    def _definition(self, package: Package, owner: str | None, visibility: str) -> dict:
        """The stored resource; marked as the admin's when an admin deploys it."""
        definition = deployed.resource(package, owner, visibility)
        if self.manager.auth.is_admin(current_user()):
            definition[reserved.ADMIN_OWNED] = True
        return definition

    def _may_deploy(self) -> Response | None:
        if not self.manager.auth.allowed(current_user(), 'deploy'):
            return problem(403, 'forbidden', 'you may not deploy, replace or undeploy '
                           'processes (permission deploy)')
        return None

    def _owned(self, process_id: str, verb: str) -> Response | None:
        """None if the caller may change this deployed process, else the error."""
        if self._is_builtin(process_id):
            return problem(403, 'immutable-process',
                           f'process {process_id!r} is built in and cannot be {verb}')
        definition = self.manager.registry.all().get(process_id)
        user = current_user()
        if definition is None or not self.manager.auth.can_see_process(user, definition):
            return problem(404, 'no-such-process', f'process {process_id!r} does not exist')
        if not self.manager.auth.owns(user, definition.get('owner')):
            return problem(403, 'forbidden', f'process {process_id!r} belongs to another user')
        return self._may_deploy()

    def deploy(self, request: Request) -> Response:
        refused = self._may_deploy()
        if refused is not None:
            return refused
        visibility = request.args.get('visibility', 'public')
        if visibility not in ('public', 'private'):
            return problem(400, 'invalid-parameter', "visibility: must be 'public' or 'private'")
        package = self._parse(request)
        if isinstance(package, Response):
            return package
        if self._is_builtin(package.id):
            return problem(403, 'immutable-process',
                           f'process {package.id!r} is built in and cannot be replaced',
                           {'Location': f'{self.base_url}/processes/{package.id}'})
        if package.id in self.manager.processes:
            return problem(409, 'duplicated-process',
                           f'a process {package.id!r} exists already; replace it with PUT '
                           f'/processes/{package.id}')
        refused = self._reserved(package.id, 'deploy')
        if refused is not None:
            return refused
        warnings = self._image_warnings(package)
        owner = current_user().name if current_user() else None
        if not self.manager.registry.put(package.id,
                                         self._definition(package, owner, visibility),
                                         package=package.raw, owner=owner,
                                         media_type=package.media_type, only_new=True):
            return problem(409, 'duplicated-process', f'a process {package.id!r} exists already')
        LOGGER.info('deployed process %s', package.id)
        body = summary(package.process, self.base_url)
        if warnings:
            body['warnings'] = warnings
        response = Response(json.dumps(body), status=201, mimetype='application/json')
        response.headers['Location'] = f'{self.base_url}/processes/{package.id}'
        return response

    def replace(self, request: Request, process_id: str) -> Response:
        refused = self._owned(process_id, 'replaced') or self._reserved(process_id, 'replace')
        if refused is not None:
            return refused
        package = self._parse(request)
        if isinstance(package, Response):
            return package
        if package.id != process_id:
            return problem(400, 'invalid-parameter',
                           f'processDescription.id: {package.id!r} differs from the process '
                           f'being replaced ({process_id!r})')
        previous = self.manager.registry.all()[process_id]
        self.manager.registry.put(
            process_id, self._definition(package, previous.get('owner'),
                                         previous.get('visibility', 'public')),
            package=package.raw, media_type=package.media_type, owner=previous.get('owner'))
        return Response(status=204)

    def undeploy(self, request: Request, process_id: str) -> Response:
        refused = self._owned(process_id, 'undeployed')
        if refused is not None:
            return refused
        if not self.manager.registry.remove(process_id):
            return problem(404, 'no-such-process', f'process {process_id!r} does not exist')
        return Response(status=204)

    def package(self, request: Request, process_id: str) -> Response:
        row = self.manager.registry.get(process_id)
        if row is not None and not self.manager.auth.can_see_process(current_user(),
                                                                     row.definition):
            row = None
        if row is None:
            if process_id in self.manager.processes:
                return problem(404, 'no-such-process', f'process {process_id!r} is built in: '
                               'it has no application package')
            return problem(404, 'no-such-process', f'process {process_id!r} does not exist')
        return Response(row.package or '', status=200,
                        mimetype=row.package_media_type or OGCAPPPKG)
