"""Stage-out into the catalogue: a job output holding a STAC catalog becomes records."""

from __future__ import annotations

from pathlib import Path

from ..jobs.context import JobContext
from .errors import ExecutionError


def register_stac(ctx: JobContext, catalog_dir: Path, href_base: str) -> int:
    """Upsert the catalog's items into `catalogue.results_collection` (if configured)."""
    collection = ctx.settings.block['catalogue'].get('results_collection')
    if not collection:
        return 0
    from ..catalogue.ingest import ingest_stac
    try:
        count = ingest_stac(ctx.settings.store_url, collection, catalog_dir,
                            base_href=href_base)
    except Exception as err:  # pystac and the store raise many kinds; the job must say why
        raise ExecutionError(f'registering the STAC output {catalog_dir.name} in collection '
                             f'{collection} failed: {type(err).__name__}: {err}') from None
    ctx.log.info('registered %s STAC item(s) of %s in collection %s', count,
                 catalog_dir.name, collection)
    return count
