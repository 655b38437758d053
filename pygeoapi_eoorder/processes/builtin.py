"""DeployProcess and UndeployProcess: the Testbed-13 ADES transactions, run as jobs (they
need the `deploy` permission, checked at execute time and again in the job)."""

from __future__ import annotations

import requests
from pygeoapi.process.base import ProcessorExecuteError

from .. import egress
from ..execution.context import JobProcessor
from . import permissions
from .deployment import Deployment, summary
from .permissions import Refusal, forbidden
from .owc import ATOM_TYPE, parse_owc_package
from .packages import PackageError

DEPLOY = {
    'version': '1.0.0', 'id': 'DeployProcess', 'title': 'Deploy an application package',
    'description': 'Deploys an OGC Testbed-13 application package (an OWS Context document '
                   'with a Docker offering) as a new process.',
    'jobControlOptions': ['async-execute', 'sync-execute'], 'keywords': ['ADES', 'Testbed-13'],
    'inputs': {'applicationPackage': {
        'title': 'Application package', 'minOccurs': 1, 'maxOccurs': 1,
        'description': 'The OWS Context (Atom) document, inline or by reference (href).',
        'schema': {'type': 'string', 'contentMediaType': ATOM_TYPE}}},
    'outputs': {'DeployResult': {'title': 'Deployment result',
                                 'schema': {'type': 'object',
                                            'contentMediaType': 'application/json'}}},
}
UNDEPLOY = {
    'version': '1.0.0', 'id': 'UndeployProcess', 'title': 'Undeploy a process',
    'description': 'Removes a process deployed from an application package.',
    'jobControlOptions': ['async-execute', 'sync-execute'], 'keywords': ['ADES', 'Testbed-13'],
    'inputs': {'processIdentifier': {'title': 'Process identifier', 'minOccurs': 1,
                                     'maxOccurs': 1, 'schema': {'type': 'string'}}},
    'outputs': {'UndeployResult': {'title': 'Undeployment result',
                                   'schema': {'type': 'object',
                                              'contentMediaType': 'application/json'}}},
}


def _fail(message: str):
    raise ProcessorExecuteError(user_msg=message)


def _package_bytes(value, policy: egress.EgressPolicy) -> bytes:
    if isinstance(value, dict) and 'href' in value:
        try:
            reply = egress.get(str(value['href']), policy=policy, timeout=30)
        except egress.EgressRefused as err:
            _fail(f'applicationPackage: {value["href"]} refused: {err}')
        except requests.RequestException as err:
            _fail(f'applicationPackage: cannot fetch {value["href"]} ({err})')
        if reply.status_code != 200:
            _fail(f'applicationPackage: {value["href"]} answered HTTP {reply.status_code}')
        return reply.content
    if isinstance(value, dict) and 'value' in value:
        value = value['value']
    if not isinstance(value, str):
        _fail('applicationPackage: give the OWS Context document as a string or by href')
    return value.encode()


def _may_deploy(manager, user, inputs) -> Refusal | None:
    if manager.auth.allowed(user, 'deploy'):
        return None
    return forbidden('you may not deploy or undeploy processes (permission deploy)')


def _deployment(context) -> Deployment:
    manager = context.manager
    return Deployment(manager.catalogue, manager.auth, manager.runners, manager.settings)


class DeployProcess(JobProcessor):
    """Deploys as the job's owner, under the same rules as POST /processes."""

    authorize = staticmethod(_may_deploy)

    def __init__(self, processor_def):
        super().__init__(processor_def, DEPLOY)

    def execute(self, data, outputs=None):
        user = permissions.enforce(self, data)
        try:
            policy = egress.policy_from_settings(self.context.settings.block.get('egress'))
            package = parse_owc_package(_package_bytes(data.get('applicationPackage'), policy))
        except PackageError as err:
            _fail(str(err))
        _deployment(self.context).deploy(package, user)
        self.context.log.info('deployed process %s', package.id)
        return 'application/json', {'id': 'DeployResult', 'value': {
            'deploymentDone': True,
            'processSummary': summary(package.process, self.context.base_url)}}


class UndeployProcess(JobProcessor):
    """Undeploys as the job's owner: only its own processes (admins: any deployed one)."""

    authorize = staticmethod(_may_deploy)

    def __init__(self, processor_def):
        super().__init__(processor_def, UNDEPLOY)

    def execute(self, data, outputs=None):
        user = permissions.enforce(self, data)
        process_id = data.get('processIdentifier')
        if not isinstance(process_id, str):
            _fail('processIdentifier: give the process identifier as a string')
        _deployment(self.context).undeploy(process_id, user)
        self.context.log.info('undeployed process %s', process_id)
        return 'application/json', {'id': 'UndeployResult', 'value': {
            'undeploymentDone': True, 'identifier': process_id}}
