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
    """Register the catalog's items in `catalogue.results_collection` (if configured), as
    `<job id>/<item id>`: a job's items never replace another job's or a curated record.
    `items`: those of a catalog the job just wrote, in memory (not read back). The items
    are read now and written in the transaction that makes the job successful
    (`JobContext.on_success`: none if it fails or was dismissed); how many."""
    collection = ctx.settings.block['catalogue'].get('results_collection')
    if not collection:
        return 0
    from ..catalogue.ingest import stac_records
    from ..catalogue.repository import RecordRepository, after_insert
    what = f'the STAC output {catalog_dir.name} in collection {collection}'
    try:
        records = list(stac_records(catalog_dir, base_href=href_base,
                                    id_prefix=f'{ctx.job_id}/', items=items))
        repository = RecordRepository(ctx.settings.store_url, collection)
    except Exception as err:  # pystac and the store raise many kinds; the job must say why
        raise ExecutionError(f'registering {what} failed: {type(err).__name__}: {err}') \
            from None
    ownership, inserted = result_ownership(ctx), []

    def write(connection) -> None:
        try:
            inserted.append(repository.upsert_on(connection, records, ownership,
                                                 owned=True).inserted)
        except Exception as err:  # the job fails (nothing of its success is kept)
            raise ExecutionError(f'registering {what} failed: {type(err).__name__}: '
                                 f'{err}') from None

    ctx.on_success(write, lambda: after_insert(repository.url, collection, sum(inserted)))
    ctx.log.info('registered %d STAC item(s): %s, as the job completes', len(records), what)
    return len(records)
