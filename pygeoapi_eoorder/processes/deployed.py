"""The processor behind every deployed process: runs its package's execution unit."""

from __future__ import annotations

from pygeoapi.process.base import ProcessorExecuteError

from ..execution.context import JobProcessor
from .packages import Package

PROCESSOR = 'pygeoapi_eoorder.processes.deployed.DeployedProcessor'


def resource(package: Package, owner: str | None = None, visibility: str = 'public') -> dict:
    """The pygeoapi process resource of a deployed package, as kept in the store."""
    return {'type': 'process', 'mutable': True, 'owner': owner, 'visibility': visibility,
            'processor': {'name': PROCESSOR, 'package': package.to_dict()}}


class DeployedProcessor(JobProcessor):
    """Executes a deployed application package in the job engine."""

    def __init__(self, processor_def: dict):
        self.package = Package.from_dict(processor_def['package'])
        super().__init__(processor_def, dict(self.package.process, mutable=True))
        self.supports_outputs = True

    def execute(self, data: dict, outputs: dict | None = None):
        if self.context is None:
            raise ProcessorExecuteError(user_msg='deployed processes run in the job engine only')
        unit = self.package.units[0]
        runner = self.context.runner(unit.kind)
        return runner.run(self.context, self.package.process, unit, data, outputs)
