"""OGC API - Processes Part 2 over HTTP: Deploy, Replace, Undeploy, and the deployed
package. The wire format only: the deployment service (`processes/deployment.py`) decides."""

from __future__ import annotations

import json

from flask import Request, Response
from pygeoapi.api import API

from ..auth import current_user
from ..web.problem import problem
from ..processes.deployment import Deployment, DeploymentRefused, summary
from ..processes.packages import OGCAPPPKG
from ..processes.permissions import Refused

P2 = 'http://www.opengis.net/spec/ogcapi-processes-2/1.0/conf/'
DEPLOY_CONFORMANCE = [P2 + 'deploy-replace-undeploy', P2 + 'ogcapppkg', P2 + 'docker', P2 + 'cwl']

__all__ = ['DEPLOY_CONFORMANCE', 'DeployRoutes', 'summary']


def _answer(refused: Refused) -> Response:
    """The problem+json of a refusal."""
    refusal = refused.refusal
    return problem(refusal.status, refusal.type, refusal.detail,
                   getattr(refused, 'headers', None) or None)


class DeployRoutes:
    def __init__(self, api: API):
        self.api = api

    @property
    def manager(self):
        return self.api.manager

    @property
    def deployment(self) -> Deployment:
        manager = self.manager
        return Deployment(manager.catalogue, manager.auth, manager.runners, manager.settings)

    @property
    def base_url(self) -> str:
        return self.api.base_url.rstrip('/')

    def deploy(self, request: Request) -> Response:
        deployment, user = self.deployment, current_user()
        try:
            refused = deployment.may_deploy(user)
            if refused is not None:
                raise Refused(refused)
            visibility = request.args.get('visibility', 'public')
            if visibility not in ('public', 'private'):
                raise DeploymentRefused(400, 'invalid-parameter',
                                        "visibility: must be 'public' or 'private'")
            package = deployment.parse(request.get_data(), request.mimetype,
                                       request.args.get('w'))
            warnings = deployment.deploy(package, user, visibility,
                                         location=f'{self.base_url}/processes/{package.id}')
        except Refused as err:
            return _answer(err)
        body = summary(package.process, self.base_url)
        if warnings:
            body['warnings'] = warnings
        response = Response(json.dumps(body), status=201, mimetype='application/json')
        response.headers['Location'] = f'{self.base_url}/processes/{package.id}'
        return response

    def replace(self, request: Request, process_id: str) -> Response:
        deployment, user = self.deployment, current_user()
        try:
            deployment.check_replace(process_id, user)
            package = deployment.parse(request.get_data(), request.mimetype,
                                       request.args.get('w'))
            deployment.replace(process_id, package, user)
        except Refused as err:
            return _answer(err)
        return Response(status=204)

    def undeploy(self, request: Request, process_id: str) -> Response:
        try:
            self.deployment.undeploy(process_id, current_user())
        except Refused as err:
            return _answer(err)
        return Response(status=204)

    def package(self, request: Request, process_id: str) -> Response:
        try:
            row = self.deployment.package_of(process_id, current_user())
        except Refused as err:
            return _answer(err)
        return Response(row.package or '', status=200,
                        mimetype=row.package_media_type or OGCAPPPKG)
