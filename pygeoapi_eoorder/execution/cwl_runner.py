"""Running a CWL execution unit with cwltool, the reference runner, inside the job sandbox.

cwltool runs through `cwl_sandbox` (our entry module): every tool in a container under the
job's contract, JavaScript in a sandboxed node container, files confined to the job
directory. File and Directory inputs are built here: whatever the client sends (a File
object, an href, a plain string) is staged in by the `Stager` and cwltool only ever sees
paths inside the job directory.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

import yaml

from .context import JobContext
from .unit import ExecutionUnit, docker_images
from . import containers
from .docker_app import DockerEngineRunner, requested_ids
from .cwl_sandbox import SandboxPolicy
from .errors import ExecutionError
from .paths import UnsafePathError, confine, safe_name, scrub
from .stage_out import register_stac
from .staging import Stager

FILE_CLASSES = ('File', 'Directory')


def _cwl_type(spec: dict) -> str:
    for item in spec.get('metadata') or []:
        if isinstance(item, dict) and item.get('title') == 'cwl:type':
            return str(item.get('value'))
    return ''


class JobOrder:
    """Builds cwltool's job order from an execution request's inputs."""

    def __init__(self, stager: Stager, process: dict):
        self.stager = stager
        self.declared = process.get('inputs') or {}

    def build(self, data: dict) -> dict:
        order = {}
        for input_id, value in data.items():
            kind = _cwl_type(self.declared.get(input_id) or {})
            is_file = 'File' in kind or 'Directory' in kind
            if isinstance(value, list):
                order[input_id] = [self.value(input_id, v, i, is_file)
                                   for i, v in enumerate(value, 1)]
            else:
                order[input_id] = self.value(input_id, value, 0, is_file)
        return order

    def value(self, input_id: str, value: Any, index: int, is_file: bool = False) -> Any:
        """One input value; every File/Directory in it staged into the job directory."""
        if isinstance(value, dict):
            if 'href' in value or value.get('class') in FILE_CLASSES:
                return self.file(input_id, value, index)
            if 'bbox' in value:
                return ','.join(str(v) for v in value['bbox'])
            if 'value' in value:
                return self.value(input_id, value['value'], index, is_file)
            return {key: self.value(input_id, item, index) for key, item in value.items()}
        if isinstance(value, list):
            return [self.value(input_id, item, index) for item in value]
        if isinstance(value, str) and is_file:
            return self.file(input_id, {'href': value}, index)
        return value

    def file(self, input_id: str, value: dict, index: int) -> dict:
        """A File/Directory object pointing into the job directory (staged in)."""
        href = value.get('href') or value.get('location') or value.get('path')
        if href is None and isinstance(value.get('contents'), str):
            return self._literal(input_id, value, index)
        if not isinstance(href, str) or not href:
            raise ExecutionError(f'input {input_id}: a File needs an href (or location)')
        if href.startswith('/'):
            href = Path(href).as_uri()
        path = self.stager.fetch(input_id, href, index)
        return {'class': 'Directory' if path.is_dir() else 'File', 'path': str(path)}

    def _literal(self, input_id: str, value: dict, index: int) -> dict:
        try:
            name = safe_name(value.get('basename') or input_id, f'input {input_id} basename')
            folder = confine(self.stager.inputs_dir,
                             safe_name(input_id if not index else f'{input_id}_{index}'))
        except UnsafePathError as err:
            raise ExecutionError(f'input {input_id}: {err}') from None
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / name
        target.write_text(value['contents'], encoding='utf-8')
        return {'class': 'File', 'path': str(target)}


def job_order(stager: Stager, process: dict, data: dict) -> dict:
    """The cwltool job order: literals as they are, references staged in as File/Directory."""
    return JobOrder(stager, process).build(data)


def _results_path(value: dict, results: Path) -> Path:
    """The path of a cwltool output, checked to lie in the results directory."""
    raw = value.get('path') or value.get('location') or ''
    if raw.startswith('file://'):
        from schema_salad.ref_resolver import uri_file_path
        raw = uri_file_path(raw)
    try:
        relative = Path(raw).relative_to(results).as_posix()
        return confine(results, relative)
    except (ValueError, UnsafePathError):
        raise ExecutionError('the workflow reported an output outside its results') from None


def _describe(ctx: JobContext, output_id: str, value: Any, results: Path) -> Any:
    """A cwltool output as a results-document entry (files by reference)."""
    if isinstance(value, list):
        return [_describe(ctx, output_id, v, results) for v in value]
    if isinstance(value, dict) and value.get('class') not in FILE_CLASSES:
        return {key: _describe(ctx, output_id, v, results) for key, v in value.items()}
    if not isinstance(value, dict):
        return value
    path = _results_path(value, results)
    if not path.exists():
        raise ExecutionError(f'output {output_id}: the workflow reported a file that is not '
                             'a regular file or directory of its results')
    relative = path.relative_to(results.resolve()).as_posix()
    href = f'{ctx.base_url}/jobs/{ctx.job_id}/results/{relative}'
    if value['class'] == 'Directory' and (path / 'catalog.json').is_file():
        register_stac(ctx, path, href)
        return {'href': f'{href}/catalog.json', 'type': 'application/json',
                'rel': 'stac-catalog'}
    return {'href': href, 'type': value.get('format') or
            ('inode/directory' if value['class'] == 'Directory' else
             'application/octet-stream')}


def _paths(value: Any, results: Path) -> set[Path]:
    """The results paths a cwltool output value names (files, directories, secondaries)."""
    if isinstance(value, list):
        return set().union(*(_paths(item, results) for item in value))
    if not isinstance(value, dict):
        return set()
    if value.get('class') not in FILE_CLASSES:
        return set().union(*(_paths(item, results) for item in value.values()))
    return {_results_path(value, results)} | _paths(value.get('secondaryFiles') or [], results)


def discard_unrequested(outputs: dict, kept: list[str], results: Path) -> None:
    """Remove from the results the files of outputs nobody asked for (unless a requested
    output shares them), so that they are never served."""
    keep = set().union(*(_paths(outputs[name], results) for name in kept if name in outputs))
    for name, value in outputs.items():
        if name in kept:
            continue
        for path in _paths(value, results):
            if any(path == k or path in k.parents or k in path.parents for k in keep):
                continue
            if not os.path.lexists(path):
                continue
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)


def _policy(ctx: JobContext, unit: ExecutionUnit) -> SandboxPolicy:
    execution = ctx.settings.block['execution']
    docker_conf = execution['docker']
    cwl_conf = execution.get('cwl') or {}
    limits = containers.effective_limits(unit, docker_conf)
    network, limits.network = limits.network, 'none'
    return SandboxPolicy(
        job_id=ctx.job_id, root=str(ctx.job_dir.resolve()),
        flags=containers.cli_flags(limits, ctx.job_id), network=network,
        allow_image_builds=bool(cwl_conf.get('allow_image_builds')),
        allow_javascript=bool(cwl_conf.get('allow_javascript', True)),
        js_image=cwl_conf.get('js_image') or 'eoorder/cwl-js:1.0')


def _environment(ctx: JobContext) -> dict[str, str]:
    env = dict(os.environ, TMPDIR=str(ctx.job_dir / 'tmp'), HOME=str(ctx.workdir))
    base_url = ctx.settings.block['execution']['docker'].get('base_url')
    if base_url:
        env['DOCKER_HOST'] = base_url
    return env


def _check_images(ctx: JobContext, unit: ExecutionUnit, engine) -> None:
    images = docker_images(yaml.safe_load(unit.cwl))
    for image in images:
        if not containers.image_present(engine, image):
            raise ExecutionError(f'image {image} is not on the Docker engine; load or build '
                                 'it there (images are never pulled from a registry here)')
    ctx.record_provenance(images=[containers.image_facts(engine, image)
                                                   for image in images])


WRITTEN = ('results', 'tmp', 'cwl-out')  # what cwltool and its containers write


def _run_cwltool(ctx: JobContext, command: list[str], limits: containers.Limits,
                 engine) -> tuple[int, str, str]:
    """Run cwltool under the job's time limit and disk quota (what it and its containers
    write in the job directory); (exit code, stdout, stderr)."""
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env=_environment(ctx), cwd=ctx.workdir)

    def stop() -> None:
        process.kill()
        containers.stop_job_containers(engine, ctx.job_id, ctx.job_dir)

    def cleanup() -> None:
        for name in WRITTEN:
            shutil.rmtree(ctx.job_dir / name, ignore_errors=True)
        (ctx.job_dir / 'results').mkdir(exist_ok=True)

    with containers.disk_quota(ctx.job_dir, limits, stop=stop, cleanup=cleanup):
        try:
            stdout, stderr = process.communicate(timeout=limits.timeout)
        except subprocess.TimeoutExpired:
            stop()
            process.communicate()
            raise ExecutionError(f'timed out: the workflow ran longer than '
                                 f'{limits.timeout:g} s') from None
    return process.returncode, stdout, stderr


def run_cwl(ctx: JobContext, process: dict, unit: ExecutionUnit, data: dict,
            requested: dict | None) -> tuple[str, dict]:
    execution = ctx.settings.block['execution']
    engine = containers.client(execution['docker'].get('base_url'))
    _check_images(ctx, unit, engine)
    policy = _policy(ctx, unit)
    stager = ctx.stager()  # the job's file roots and the configured egress policy
    package = ctx.workdir / 'package.cwl'
    package.write_text(unit.cwl)
    order = ctx.workdir / 'job.json'
    order.write_text(json.dumps(job_order(stager, process, data)))
    policy_file = ctx.workdir / 'sandbox.json'
    policy_file.write_text(json.dumps(asdict(policy)))
    results = ctx.job_dir / 'results'
    results.mkdir(parents=True, exist_ok=True)
    (ctx.job_dir / 'tmp').mkdir(exist_ok=True)
    target = f'{package}#{unit.workflow}' if unit.workflow else str(package)
    default_image = (execution.get('cwl') or {}).get('default_image')
    command = [sys.executable, '-m', 'pygeoapi_eoorder.execution.cwl_sandbox',
               str(policy_file), '--disable-pull', '--skip-schemas', '--disable-js-validation',
               '--disable-color',
               '--outdir', str(results),
               '--tmpdir-prefix', f'{ctx.job_dir}/tmp/',
               '--tmp-outdir-prefix', f'{ctx.job_dir}/cwl-out/',
               *(['--default-container', default_image] if default_image else []),
               target, str(order)]
    ctx.progress(10, 'running cwltool')
    ctx.log.info('cwltool: %s', ' '.join(command))
    limits = containers.effective_limits(unit, execution['docker'])
    try:
        returncode, stdout, stderr = _run_cwltool(ctx, command, limits, engine)
    finally:
        containers.stop_job_containers(engine, ctx.job_id, ctx.job_dir)
        scrub(results)
    ctx.log.info('cwltool log:\n%s', stderr)
    if returncode != 0:
        lines = [line for line in stderr.splitlines() if line.strip()]
        raise ExecutionError('the CWL workflow failed: ' + ' | '.join(lines[-3:]))
    try:
        outputs = json.loads(stdout or '{}')
    except ValueError:
        raise ExecutionError('the CWL workflow answered no readable outputs') from None
    if not isinstance(outputs, dict):
        raise ExecutionError('the CWL workflow answered no readable outputs')
    wanted = requested_ids(process, requested)
    discard_unrequested(outputs, wanted, results)
    document = {}
    for output_id in wanted:
        if output_id not in outputs:
            raise ExecutionError(f'output {output_id} is missing from the workflow results')
        document[output_id] = _describe(ctx, output_id, outputs[output_id], results)
    return 'application/json', document


class CwlRunner(DockerEngineRunner):
    """A CWL execution unit, run by cwltool in the sandbox (`cwl_sandbox.py`); its tools'
    containers are the Docker engine's, stopped like the Docker runner's."""

    kind = 'cwl'

    def run(self, ctx: JobContext, process: dict, unit: ExecutionUnit, data: dict,
            requested: dict | None) -> tuple[str, dict]:
        return run_cwl(ctx, process, unit, data, requested)
