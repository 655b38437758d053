"""A job that recovery failed after a crash keeps nothing in its workspace, and a job that
no longer runs keeps no stage-out booking open (`sweep_bookings`)."""

from __future__ import annotations

from . import bookings
from .job_areas import LOGGER, discard, discard_quietly, ended_jobs, personal_workspace
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


def sweep_bookings(manager, settings) -> int:
    """A job engine sweep: the areas of jobs that no longer run but hold a stage-out
    booking (their worker was killed mid-stage-out, or failed on something else) are
    removed and their bookings given back; how many jobs. While the storage fails, the
    rest waits for the next sweep."""
    block = settings.block.get('workspaces') or {}
    booked = bookings.open_jobs(settings.store_url) if block.get('enabled', True) else {}
    if not booked:
        return 0
    service = WorkspaceService(settings.store_url, make_storage(
        block['storage'], settings.data_dir), None, block)
    done = 0
    for workspace_id, job_ids in sorted(booked.items()):
        idle = ended_jobs(settings.store_url, set(), set(job_ids))
        if not idle:
            continue
        try:
            discard(service, workspace_id, idle)
        except Exception as err:  # the object store is down: the next sweep
            LOGGER.warning('workspace %s: bookings of jobs %s stay until the next sweep: '
                           '%s', workspace_id, ', '.join(idle), err)
            continue
        done += len(idle)
    return done
