"""The built-in process `_openeo_graph`: an openEO batch job as a job of the shared engine.

Its inputs are the openEO `process` (with its graph) and the owner's user-defined
processes it uses (resolved when the job is created, so the job holds all it runs).
Outputs are written to `results/openeo/` of the job; the result document lists them.
A graph of predefined processes is server code: it runs in the worker like any built-in
process; user code (run_udf) is refused (see `processes.REFUSED`).
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path
from urllib.parse import quote

from pygeoapi.process.base import ProcessorExecuteError

from ..execution.context import JobProcessor
from . import workspace_results
from .errors import GraphError
from .ogc_steps import OgcSteps, step_ids
from .own_results import OwnJobResults

PROCESS_ID = '_openeo_graph'
BATCH, SYNC = 'openeo', 'openeo-sync'  # job types: batch jobs' results are registered
OUTPUT_FOLDER = 'openeo'
STAC_VERSION = '1.1.0'
METADATA = {
    'version': '1.0.0', 'id': PROCESS_ID, 'title': 'openEO process graph',
    'description': 'Runs an openEO process graph (internal: created by the openEO API).',
    'jobControlOptions': ['async-execute'], 'keywords': ['openEO'],
    'inputs': {
        'process': {'title': 'openEO process (process_graph)', 'minOccurs': 1,
                    'schema': {'type': 'object'}},
        'user_processes': {'title': 'user-defined processes used', 'minOccurs': 0,
                           'schema': {'type': 'object'}}},
    'outputs': {'files': {'title': 'written files',
                          'schema': {'type': 'object', 'contentMediaType': 'application/json'}}},
}


@functools.lru_cache(maxsize=4)
def _resources(config_path: str, modified: float) -> dict:
    """The configured resources (read once per version of the configuration file)."""
    from ..config import read_yaml
    return read_yaml(Path(config_path)).get('resources') or {}


def environment(settings, workdir, output_dir, stager, log):
    """A RunEnv of the configured cube collections and of the workspaces' collections
    the caller (a job's owner, as it runs) may see."""
    from .collections import cube_collections, workspace_collection
    from .run import PARALLEL_ABOVE_BYTES, RunEnv
    path = str(settings.config_path)
    resources = _resources(path, os.stat(path).st_mtime)
    parallel = (settings.block.get('openeo') or {}).get('parallel_above_bytes',
                                                        PARALLEL_ABOVE_BYTES)
    return RunEnv(collections=cube_collections(resources, settings), stager=stager,
                  inputs_dir=workdir / 'inputs', output_dir=output_dir, log=log,
                  parallel_above_bytes=parallel,
                  other_collection=functools.partial(workspace_collection, settings))


class GraphProcess(JobProcessor):
    def __init__(self, processor_def):
        super().__init__(processor_def, METADATA)

    @staticmethod
    def warm_up(settings) -> None:
        """Import the data-cube libraries (seconds of CPU) before the first graph needs
        them, when the openEO back-end is on (`openeo.warm_up_workers`)."""
        from . import available, import_libraries
        if (settings.block.get('openeo') or {}).get('warm_up_workers', True) and available():
            import_libraries()

    def execute(self, data, outputs=None):
        from ..processes import workspace_stage_in
        from .run import graph_of, run, uses_other_processes
        ctx = self.context
        workspace_stage_in.read_owner_workspaces(ctx)  # assets in them, as the owner may
        env = environment(ctx.settings, ctx.workdir, ctx.job_dir / 'results' / OUTPUT_FOLDER,
                          ctx.stager(), ctx.log)
        env.own_results = OwnJobResults(ctx, BATCH, OUTPUT_FOLDER)  # (for load_stac)
        chosen = workspace_results.target(ctx)  # the job's workspace, if it names one
        used = data.get('user_processes') or {}
        try:
            graph = graph_of(data.get('process'))
            if uses_other_processes(graph, used):  # OGC steps, as the job's owner sees them
                env.ogc_ids, env.steps = step_ids(ctx.manager), OgcSteps(ctx, env)
            run(graph, env, used)
        except GraphError as err:
            raise ProcessorExecuteError(user_msg=f'{err.code}: {err}') from None
        files = [{'name': path.name, 'type': media_type, 'size': path.stat().st_size,
                  **({'bands': env.band_names[path]} if env.band_names.get(path) else {}),
                  **({'datetime': env.dates[path]} if path in env.dates else {})}
                 for path, media_type in env.outputs]
        title = (ctx.job.get('details') or {}).get('title')
        if env.outputs and ctx.job.get('type') == BATCH:
            if chosen is not None and _still_wanted(ctx):  # files and item to the workspace
                write_catalog(ctx, env, title)
                files = workspace_results.stage_out(ctx, env.output_dir, chosen, files)
            elif chosen is None:  # (written as the job succeeds: `register_stac`)
                ctx.once_result_written(functools.partial(register_results, ctx, env, title))
        geometry, bbox = footprint(env.bounds)
        return 'application/json', {'files': files, 'geometry': geometry, 'bbox': bbox}


def _still_wanted(ctx) -> bool:
    """Not dismissed or deleted while it ran (its files would outlive it)."""
    return not ctx.repo.has_ended(ctx.job_id)


def remove_results(settings, job_id: str) -> int:
    """Delete the job's records from the results collection (its STAC items and those of
    its OGC steps, all `<job id>/...`); how many."""
    from pygeofilter import ast
    from ..catalogue.repository import RecordRepository
    from ..catalogue.visibility import INTERNAL
    collection = settings.block['catalogue'].get('results_collection')
    if not collection:
        return 0
    records = RecordRepository(settings.store_url, collection)
    like = ast.Like(ast.Attribute('id'), f'{job_id}/%', nocase=False, wildcard='%',
                    singlechar='_', escapechar='\\', not_=False)
    rows, _ = records.search(like, limit=10_000, count=False, viewer=INTERNAL)
    return sum(records.delete(row['id'], INTERNAL) for row in rows)


def footprint(bounds: list) -> tuple[dict | None, list | None]:
    """GeoJSON polygon and bbox (lon/lat) around the boxes of the rasters written."""
    if not bounds:
        return None, None
    west, south = min(b[0] for b in bounds), min(b[1] for b in bounds)
    east, north = max(b[2] for b in bounds), max(b[3] for b in bounds)
    ring = [[west, south], [east, south], [east, north], [west, north], [west, south]]
    return {'type': 'Polygon', 'coordinates': [ring]}, [west, south, east, north]


def register_results(ctx, env, title: str | None) -> None:
    """The written files as one STAC item (a self-contained catalog beside them),
    registered in `catalogue.results_collection` as the owner's records."""
    from ..execution.stage_out import register_stac
    item = write_catalog(ctx, env, title)
    base = f'{ctx.base_url}/jobs/{ctx.job_id}/results/{OUTPUT_FOLDER}'
    # registered with each file's public address (every output lies in the output folder
    # under its own name): there is no local path to check against the folder on disk
    public = {**item, 'assets': {name: {**asset, 'href': f'{base}/{quote(name)}'}
                                 for name, asset in item['assets'].items()}}
    register_stac(ctx, env.output_dir, base, items=[public])


def _asset(path: Path, media_type: str, bands: list[str] | None,
           date: str | None = None) -> dict:
    """A written file as a STAC asset (see `raster_fields`)."""
    return {'href': str(path), 'type': media_type, 'roles': ['data'],
            **raster_fields(bands, date)}


def raster_fields(bands, date) -> dict:
    """The STAC asset fields of a raster written: its bands (STAC 1.1 `bands`: a graph
    can load it again, e.g. from the job's results or a workspace's collection) and, one
    date of a time series, its `datetime` (common metadata in an asset)."""
    return {**({'bands': [{'name': str(n)} for n in bands]}
               if isinstance(bands, list) and bands else {}),
            **({'datetime': date} if isinstance(date, str) and date else {})}


def write_catalog(ctx, env, title: str | None) -> dict:
    """The written files as one STAC item in a self-contained catalog beside them
    (`catalog.json`, `<job id>.json`: one item, no folder of its own, as creating one
    costs as much as a file); the item (its asset hrefs absolute). Two small documents,
    written as such (building them with pystac took longer), compact (json's C encoder:
    indented, 0.15 ms more), in place (see
    `write_in_place`: a thread of their own waited for the GIL while the job went on in
    Python, and was waited for)."""
    from ..jobs.results import write_in_place
    from ..store import isoformat, utcnow
    geometry, bbox = footprint(env.bounds)
    now = isoformat(utcnow())
    item_file = f'{ctx.job_id}.json'
    item = {'type': 'Feature', 'stac_version': STAC_VERSION, 'stac_extensions': [],
            'id': ctx.job_id, 'geometry': geometry, 'bbox': bbox,
            'properties': {'title': title or f'openEO job {ctx.job_id}', 'datetime': now},
            'links': [{'rel': rel, 'href': './catalog.json', 'type': 'application/json'}
                      for rel in ('root', 'parent')],
            'assets': {path.name: _asset(path, media_type, env.band_names.get(path),
                                         env.dates.get(path))
                       for path, media_type in env.outputs}}
    if bbox is None:
        del item['bbox']
    catalog = {'type': 'Catalog', 'id': f'openeo-{ctx.job_id}', 'stac_version': STAC_VERSION,
               'description': 'openEO job results', 'links': [
                   {'rel': 'root', 'href': './catalog.json', 'type': 'application/json'},
                   {'rel': 'item', 'href': f'./{item_file}', 'type': 'application/geo+json'}]}
    write_in_place({env.output_dir / item_file: json.dumps(item).encode(),
                    env.output_dir / 'catalog.json': json.dumps(catalog).encode()})
    return item
