"""Running a CWL execution unit with cwltool, the reference runner, and its Docker support."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from ..jobs.context import JobContext
from ..processes.cwl import docker_images
from ..processes.packages import ExecutionUnit
from . import docker_runner
from .app_runner import requested_ids
from .errors import ExecutionError
from .stage_out import register_stac
from .staging import Stager


def _cwl_type(spec: dict) -> str:
    for item in spec.get('metadata') or []:
        if item.get('title') == 'cwl:type':
            return str(item.get('value'))
    return ''


def _job_value(stager: Stager, input_id: str, value: Any, index: int) -> Any:
    if isinstance(value, dict) and 'href' in value:
        path = stager.fetch(input_id, value['href'], index)
        return {'class': 'Directory' if path.is_dir() else 'File', 'path': str(path)}
    if isinstance(value, dict) and 'value' in value:
        return value['value']
    if isinstance(value, dict) and 'bbox' in value:
        return ','.join(str(v) for v in value['bbox'])
    return value


def job_order(stager: Stager, process: dict, data: dict) -> dict:
    """The cwltool job order: literals as they are, references staged in as File/Directory."""
    order = {}
    declared = process.get('inputs') or {}
    for input_id, value in data.items():
        kind = _cwl_type(declared.get(input_id) or {})
        if isinstance(value, list):
            order[input_id] = [_job_value(stager, input_id, v, i)
                               for i, v in enumerate(value, 1)]
        elif isinstance(value, str) and ('File' in kind or 'Directory' in kind):
            order[input_id] = _job_value(stager, input_id, {'href': value}, 0)
        else:
            order[input_id] = _job_value(stager, input_id, value, 0)
    return order


def _describe(ctx: JobContext, output_id: str, value: Any, results: Path) -> Any:
    """A cwltool output as a results-document entry (files by reference)."""
    if isinstance(value, list):
        return [_describe(ctx, output_id, v, results) for v in value]
    if not isinstance(value, dict) or value.get('class') not in ('File', 'Directory'):
        return value
    path = Path(value['path'])
    relative = path.relative_to(results).as_posix()
    href = f'{ctx.base_url}/jobs/{ctx.job_id}/results/{relative}'
    if value['class'] == 'Directory' and (path / 'catalog.json').is_file():
        register_stac(ctx, path, href)
        return {'href': f'{href}/catalog.json', 'type': 'application/json',
                'rel': 'stac-catalog'}
    return {'href': href, 'type': value.get('format') or
            ('inode/directory' if value['class'] == 'Directory' else
             'application/octet-stream')}


def run_cwl(ctx: JobContext, process: dict, unit: ExecutionUnit, data: dict,
            requested: dict | None) -> tuple[str, dict]:
    execution = ctx.settings.block['execution']
    engine = docker_runner.client(execution['docker'].get('base_url'))
    for image in docker_images(yaml.safe_load(unit.cwl)):
        if not docker_runner.image_present(engine, image):
            raise ExecutionError(f'image {image} is not on the Docker engine; load or build '
                                 'it there (images are never pulled from a registry here)')
    stager = Stager(ctx.workdir / 'inputs', ctx.stage_in_roots())
    package = ctx.workdir / 'package.cwl'
    package.write_text(unit.cwl)
    order = ctx.workdir / 'job.json'
    order.write_text(json.dumps(job_order(stager, process, data)))
    results = ctx.job_dir / 'results'
    results.mkdir(parents=True, exist_ok=True)
    target = f'{package}#{unit.workflow}' if unit.workflow else str(package)
    command = [sys.executable, '-m', 'cwltool', '--disable-pull', '--skip-schemas',
               '--outdir', str(results), '--tmpdir-prefix', f'{ctx.job_dir}/tmp/',
               '--tmp-outdir-prefix', f'{ctx.job_dir}/cwl-out/', target, str(order)]
    ctx.progress(10, 'running cwltool')
    ctx.log.info('cwltool: %s', ' '.join(command))
    timeout = unit.timeout or execution['docker'].get('timeout')
    env = dict(os.environ, TMPDIR=str(ctx.workdir))
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env,
                              cwd=ctx.workdir)
    except subprocess.TimeoutExpired:
        docker_runner.stop_job_containers(engine, ctx.job_id, ctx.job_dir)
        raise ExecutionError(f'timed out: the workflow ran longer than {timeout:g} s') from None
    ctx.log.info('cwltool log:\n%s', done.stderr)
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        raise ExecutionError('the CWL workflow failed: ' + ' | '.join(lines[-3:]))
    outputs = json.loads(done.stdout or '{}')
    document = {}
    for output_id in requested_ids(process, requested):
        if output_id not in outputs:
            raise ExecutionError(f'output {output_id} is missing from the workflow results')
        document[output_id] = _describe(ctx, output_id, outputs[output_id], results)
    return 'application/json', document
