"""Processes of this server's OGC API - Processes (deployed application packages and
configured processes) as steps of an openEO graph.

A step runs inside the graph's job, with a job context of its own under
`<job dir>/steps/<step>/` (containers, stage-in and outputs as when executed over OGC
API - Processes; the caller's visibility rules apply). A cube argument is handed over as
a GeoTIFF (`file://`, allowed for that step only); file outputs become files of the job's
results, literal outputs values of the graph.
"""

from __future__ import annotations

import mimetypes
import re
import shutil

from ..execution.paths import UnsafePathError, confine, safe_name
from .errors import GraphError

NOT_STEPS = frozenset({'DeployProcess', 'UndeployProcess'})  # deployment transactions
OPENEO_ID = re.compile(r'^\w+$', re.ASCII)  # openEO's process id pattern


def runnable_ids(manager) -> set[str]:
    """The OGC processes the caller (in a job: its owner) may run from a graph."""
    return {pid for pid in manager.processes if not pid.startswith('_')
            and pid not in NOT_STEPS}


def openeo_ids(ogc_ids) -> dict[str, str]:
    """openEO id -> OGC id of each process: an id openEO accepts (`^\\w+$`) is kept;
    another (`hello-world`) gets its other characters as `_` (`hello_world`), and a
    number (`_2`, ...) if that name is taken. Ids that fit claim their names first, the
    others follow in sorted order: the same processes give the same mapping."""
    found = {pid: pid for pid in ogc_ids if OPENEO_ID.match(pid)}
    for pid in sorted(p for p in ogc_ids if not OPENEO_ID.match(p)):
        name = re.sub(r'\W', '_', pid, flags=re.ASCII).strip('_') or 'process'
        candidate, number = name, 1
        while candidate in found:
            number += 1
            candidate = f'{name}_{number}'
        found[candidate] = pid
    return found


def step_ids(manager) -> dict[str, str]:
    """openEO id -> OGC id of the processes the caller may run from a graph."""
    return openeo_ids(runnable_ids(manager))


class OgcSteps:
    """Runs OGC processes for one graph run (`ctx`: the graph job's context)."""

    def __init__(self, ctx, env):
        self.ctx = ctx
        self.env = env
        self.count = 0

    def implementation(self, process_id: str):
        def run_ogc_process(*_, **arguments):
            return self.run(process_id, arguments)
        return run_ogc_process

    def run(self, process_id: str, arguments: dict) -> dict:
        from ..execution.context import JobContext, JobProcessor
        self.count += 1
        step = safe_name(f'step{self.count}_{process_id}', 'step')
        step_dir = self.ctx.job_dir / 'steps' / step
        given = step_dir / 'given'
        data = {name: self._argument(step, given, name, value)
                for name, value in arguments.items() if value is not None}
        processor = self.ctx.manager.get_processor(process_id)
        if isinstance(processor, JobProcessor):
            processor.context = JobContext(self.ctx.repo, self.ctx.job, step_dir, self.ctx.log,
                                           self.ctx.settings, self.ctx.base_url,
                                           self.ctx.manager, self.ctx.runners,
                                           completion=self.ctx.completion)  # the graph's
            processor.context.file_roots = [str(given)]
        self.ctx.log.info('%s: OGC process %s with inputs %s', step, process_id,
                          ', '.join(sorted(data)))
        try:
            _, document = processor.execute(data)
        except Exception as err:  # the step's failure is the graph's
            message = getattr(err, 'message', None) or str(err)
            raise GraphError(f'{process_id}: {message}', 'Internal', 500) from None
        return self._outputs(step, step_dir / 'results', document)

    def _argument(self, step: str, given, name: str, value):
        """A cube as a GeoTIFF reference (kept among the results); anything else as is."""
        if not hasattr(value, 'dims'):
            return value
        from .save import plain, write_gtiff
        given.mkdir(parents=True, exist_ok=True)
        path = confine(given, safe_name(f'{name}.tif', 'input name'))
        write_gtiff(plain(value), path)
        self._keep(path, f'{step}_{name}.tif', 'image/tiff; application=geotiff')
        return {'href': path.resolve().as_uri()}

    def _keep(self, path, name: str, media_type: str):
        self.env.output_dir.mkdir(parents=True, exist_ok=True)
        target = self.env.output_dir / name
        shutil.copyfile(path, target)
        self.env.outputs.append((target, media_type))
        return target

    def _outputs(self, step: str, results, document) -> dict:
        found = {}
        for output_id, value in (document if isinstance(document, dict) else {}).items():
            try:
                local = confine(results, safe_name(output_id, 'output id'))
            except UnsafePathError:
                continue
            if isinstance(value, dict) and 'href' in value and local.is_file():
                media = value.get('type') or 'application/octet-stream'
                suffix = mimetypes.guess_extension(media.split(';')[0]) or ''
                found[output_id] = str(self._keep(local, f'{step}_{output_id}{suffix}', media))
            elif isinstance(value, dict) and 'href' in value:
                found[output_id] = value['href']  # a folder (e.g. a STAC catalog) by URL
            else:
                found[output_id] = value
        return found
