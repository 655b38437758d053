"""Stage-out into the catalogue: a job output holding a STAC catalog becomes records."""

from __future__ import annotations

from pathlib import Path

from .context import JobContext
from .errors import ExecutionError


def result_ownership(ctx: JobContext):
    """The records of a job belong to its owner; they are private (owner and admins)
    unless the deployer made the results collection public."""
    from ..catalogue.visibility import PRIVATE, PUBLIC, Ownership
    public = ctx.settings.block['catalogue'].get('results_visibility') == PUBLIC
    return Ownership(owner=ctx.job.get('owner') or '', visibility=PUBLIC if public else PRIVATE)


def register_stac(ctx: JobContext, catalog_dir: Path, href_base: str, items=None) -> int:
    """Upsert the catalog's items into `catalogue.results_collection` (if configured), as
    `<job id>/<item id>`: a job's items never replace another job's or a curated record.
    `items`: those of a catalog the job just wrote, in memory (not read back). Nothing
    is registered once the job was dismissed (checked in the inserting transaction)."""
    collection = ctx.settings.block['catalogue'].get('results_collection')
    if not collection:
        return 0
    from ..catalogue.ingest import ingest_stac
    try:
        count = ingest_stac(ctx.settings.store_url, collection, catalog_dir,
                            base_href=href_base, ownership=result_ownership(ctx),
                            id_prefix=f'{ctx.job_id}/', items=items,
                            unless=ctx.repo.ended_check(ctx.job_id))
    except Exception as err:  # pystac and the store raise many kinds; the job must say why
        raise ExecutionError(f'registering the STAC output {catalog_dir.name} in collection '
                             f'{collection} failed: {type(err).__name__}: {err}') from None
    ctx.log.info('registered %s STAC item(s) of %s in collection %s', count,
                 catalog_dir.name, collection)
    return count
