"""The results of an openEO batch job that names a workspace (its `workspace` property,
`processes.workspace_choice`): staged out as an OGC API job's are
(`processes.workspace_stage_out`): the files uploaded under `jobs/<job id>/openeo/`, their
STAC item registered in the workspace's private collection, the quota booked first."""

from __future__ import annotations

from pathlib import Path

from ..processes import workspace_stage_out
from ..processes.workspace_choice import DETAIL


def target(ctx) -> workspace_stage_out.Target | None:
    """The workspace the job names (None: it names none), chosen before the graph runs
    (a workspace deleted or left meanwhile fails the job)."""
    if not (ctx.job.get('details') or {}).get(DETAIL):
        return None
    return workspace_stage_out.target(ctx)


def stage_out(ctx, output_dir: Path, chosen: workspace_stage_out.Target,
              files: list[dict]) -> list[dict]:
    """Upload everything in `output_dir` (the files and their STAC catalog) into the
    workspace and register the item there; `files` with the href of each stored file."""
    folder = output_dir.name
    local = f'{ctx.base_url}/jobs/{ctx.job_id}/results/{folder}'
    staged = workspace_stage_out.stage_out(ctx, {folder: {'href': local}}, chosen)
    href = staged[folder]['href']
    return [dict(f, href=f'{href}/{f["name"]}') for f in files]
