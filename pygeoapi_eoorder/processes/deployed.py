"""The processor behind every deployed process: runs its package's execution unit."""

from __future__ import annotations

from pygeoapi.process.base import ProcessorExecuteError

from ..execution.context import JobProcessor
from . import workspace_stage_in, workspace_stage_out
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
        workspace_stage_in.read_owner_workspaces(self.context)  # inputs in the owner's
        chosen = workspace_stage_out.target(self.context)  # before: deleted meanwhile fails
        mime, document = runner.run(self.context, self.package.process, unit, data, outputs)
        if isinstance(document, dict) and chosen is not None:  # outputs into the workspace
            document = workspace_stage_out.stage_out(self.context, document, chosen)
        return mime, document
