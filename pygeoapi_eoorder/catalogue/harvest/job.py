"""Harvesting as a job of the shared engine (process resource with this processor).

resources:
  harvest:
    type: process
    processor:
      name: pygeoapi_eoorder.catalogue.harvest.job.HarvestProcessor
"""

from __future__ import annotations

import pathlib

from pygeoapi.process.base import ProcessorExecuteError

from pygeoapi_eoorder.egress import policy_from_settings
from pygeoapi_eoorder.jobs import JobProcessor
from pygeoapi_eoorder.processes.permissions import Refusal, enforce, forbidden

from . import KINDS, HarvestError, harvest

METADATA = {
    'version': '1.0.0', 'id': 'harvest', 'title': 'Harvest records',
    'description': 'Harvest a STAC API, a static STAC catalog, an OpenSearch EO endpoint or an '
                   'OGC API - Records collection into a records collection of this server '
                   '(incremental and resumable).',
    'jobControlOptions': ['async-execute', 'sync-execute'], 'keywords': ['catalogue'],
    'inputs': {
        'source': {'title': 'URL or path of the source', 'schema': {'type': 'string'}},
        'collection': {'title': 'records collection (record set) to fill',
                       'schema': {'type': 'string'}},
        'type': {'title': 'kind of source', 'minOccurs': 0,
                 'schema': {'type': 'string', 'enum': list(KINDS), 'default': 'auto'}},
        'remote_collections': {'title': 'STAC API collections to harvest', 'minOccurs': 0,
                               'schema': {'type': 'array', 'items': {'type': 'string'}}},
        'restart': {'title': 'ignore the stored position', 'minOccurs': 0,
                    'schema': {'type': 'boolean', 'default': False}},
    },
    'outputs': {'summary': {'title': 'records inserted, updated, unchanged',
                            'schema': {'type': 'object'}}},
}


def _local_path_allowed(source: str, roots: list[str]) -> bool:
    """Is a source that is no URL a path under one of `roots` (links resolved)?"""
    path = pathlib.Path(source.removeprefix('file://'))
    try:
        resolved = path.resolve()
    except (OSError, RuntimeError, ValueError):
        return False
    for root in roots:
        base = pathlib.Path(root).resolve()
        if resolved == base or base in resolved.parents:
            return True
    return False


def authorize(manager, user, inputs: dict) -> Refusal | None:
    """Harvesting writes into a records collection: it needs `edit_catalogue` on it; a
    source on this host must lie under `execution.stage_in.allowed_file_roots` (admins:
    anywhere)."""
    collection = inputs.get('collection')
    if not manager.auth.allowed(user, 'edit_catalogue', collection if isinstance(
            collection, str) else None):
        return forbidden(f'harvesting into collection {collection!r} needs the '
                         'edit_catalogue permission')
    source = inputs.get('source')
    if isinstance(source, str) and not source.startswith(('http://', 'https://')) \
            and not manager.auth.is_admin(user):
        roots = manager.settings.block['execution']['stage_in']['allowed_file_roots']
        if not _local_path_allowed(source, roots):
            return forbidden(f'source {source!r}: local sources must lie under '
                             'execution.stage_in.allowed_file_roots')
    return None


class HarvestProcessor(JobProcessor):
    """Runs :func:`harvest` with progress reported to the job, as its owner."""

    authorize = staticmethod(authorize)

    def __init__(self, processor_def):
        super().__init__(processor_def, METADATA)

    def execute(self, data, outputs=None):
        if not data.get('source') or not data.get('collection'):
            raise ProcessorExecuteError('inputs source and collection are required')
        settings = self.context.settings if self.context else None
        if settings is None:
            raise ProcessorExecuteError('harvest runs as a job of the eoorder engine')
        enforce(self, data)
        block = (settings.block.get('catalogue') or {}).get('harvest') or {}

        def progress(done, total):
            if total:
                self.report_progress(min(99, int(done * 100 / max(total, 1))),
                                     f'{done}/{total} records')
        try:
            result = harvest(settings.store_url, data['source'], data['collection'],
                             kind=data.get('type', 'auto'),
                             remote_collections=data.get('remote_collections') or [],
                             page_size=int(block.get('page_size', 100)),
                             timeout=float(block.get('timeout_seconds', 30)),
                             restart=bool(data.get('restart')), progress=progress,
                             policy=policy_from_settings(settings.block.get('egress')))
        except HarvestError as err:
            raise ProcessorExecuteError(f'harvest: {err}') from None
        summary = {'kind': result.kind, 'inserted': result.counts.inserted,
                   'updated': result.counts.updated, 'unchanged': result.counts.unchanged,
                   'resumed_at': result.resumed_at, 'complete': result.complete}
        return 'application/json', {'summary': summary}
