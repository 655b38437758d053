"""DeployProcess and UndeployProcess: the Testbed-13 ADES transactions, run as jobs."""

from __future__ import annotations

import requests
from pygeoapi.process.base import ProcessorExecuteError

from ..jobs.context import JobProcessor
from . import deployed
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


def _package_bytes(value) -> bytes:
    if isinstance(value, dict) and 'href' in value:
        try:
            reply = requests.get(value['href'], timeout=30)
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


class DeployProcess(JobProcessor):
    def __init__(self, processor_def):
        super().__init__(processor_def, DEPLOY)

    def execute(self, data, outputs=None):
        from ..api.deploy import summary
        try:
            package = parse_owc_package(_package_bytes(data.get('applicationPackage')))
        except PackageError as err:
            _fail(str(err))
        manager = self.context.manager
        if package.id in manager.processes:
            _fail(f'a process {package.id!r} exists already; undeploy it first')
        if not manager.registry.put(package.id, deployed.resource(package), package=package.raw,
                                    media_type=package.media_type, only_new=True):
            _fail(f'a process {package.id!r} exists already')
        self.context.log.info('deployed process %s', package.id)
        return 'application/json', {'id': 'DeployResult', 'value': {
            'deploymentDone': True,
            'processSummary': summary(package.process, self.context.base_url)}}


class UndeployProcess(JobProcessor):
    def __init__(self, processor_def):
        super().__init__(processor_def, UNDEPLOY)

    def execute(self, data, outputs=None):
        process_id = data.get('processIdentifier')
        manager = self.context.manager
        if process_id in manager.configured_processes:
            _fail(f'process {process_id!r} is built in and cannot be undeployed')
        if not isinstance(process_id, str) or not manager.registry.remove(process_id):
            _fail(f'process {process_id!r} is not deployed')
        self.context.log.info('undeployed process %s', process_id)
        return 'application/json', {'id': 'UndeployResult', 'value': {
            'undeploymentDone': True, 'identifier': process_id}}
