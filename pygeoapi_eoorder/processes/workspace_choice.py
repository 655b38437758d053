"""The workspace an execution names for its results: the extension member `workspace` of
an OGC API - Processes execute request (and of a Part 4 job update), the
`EOOrder-Workspace` header of a WPS Execute, the `workspace` property of an openEO batch
job.
It must be one of the caller's workspaces (owner or member; admins: any); any other
answers exactly like a workspace that does not exist. It overrides the personal
workspace of `workspaces.stage_out: personal` and is kept in the job's details, where
the stage-out (`workspace_stage_out.target`) reads it."""

from __future__ import annotations

from ..workspaces import WorkspaceNotFound, WorkspaceService, make_storage

DETAIL = 'workspace'  # the key in the job's details


class WorkspaceRefused(ValueError):
    """A named workspace the execution cannot use; the message says why."""


def job_details(manager, processor, user, workspace_id: str | None) -> dict | None:
    """The job details naming the workspace (None when none is named), after checking the
    caller may write into it; else WorkspaceRefused."""
    if workspace_id is None:
        return None
    from .deployed import DeployedProcessor
    if not (manager.settings.block.get('workspaces') or {}).get('enabled', True):
        raise WorkspaceRefused('workspace: this server offers no workspaces')
    if not isinstance(processor, DeployedProcessor):
        raise WorkspaceRefused('workspace: only the results of deployed processes (application '
                               'packages) are stored in a workspace')
    return {DETAIL: checked(manager, user, workspace_id)}


def checked(manager, user, workspace_id: str) -> str:
    """`workspace_id` if the caller may write into it (owner, member; admins: any), else
    WorkspaceRefused: one answer for a workspace absent or not theirs."""
    block = manager.settings.block.get('workspaces') or {}
    if not block.get('enabled', True):
        raise WorkspaceRefused('workspace: this server offers no workspaces')
    service = WorkspaceService(manager.settings.store_url,
                               make_storage(block['storage'], manager.settings.data_dir),
                               manager.auth, block)
    try:
        service.get(user, workspace_id)
    except WorkspaceNotFound:
        raise WorkspaceRefused(f'workspace: no workspace {workspace_id!r} of yours') from None
    return workspace_id
