"""A job that recovery failed after a crash keeps nothing in its workspace."""

from __future__ import annotations

from .job_areas import LOGGER, discard_quietly, personal_workspace
from .service import WorkspaceService
from .storage import make_storage


def discard_for_failed_job(settings, job: dict) -> None:
    """Recovery failed `job` after a crash: what its stage-out had written goes."""
    block = settings.block.get('workspaces') or {}
    named = (job.get('details') or {}).get('workspace')  # processes.workspace_choice
    if not block.get('enabled', True) or not job.get('owner') or not (
            named or block.get('stage_out') == 'personal'):
        return
    workspace_id = named or personal_workspace(settings.store_url, job['owner'])
    if workspace_id is None:
        return
    try:
        service = WorkspaceService(settings.store_url, make_storage(
            block['storage'], settings.data_dir), None, block)
    except Exception as err:  # a storage that cannot be set up: recovery goes on
        LOGGER.warning('job %s: its workspace area stays: %s', job['id'], err)
        return
    discard_quietly(service, workspace_id, job['id'])
