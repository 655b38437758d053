"""Runs an application package's Docker execution unit for one job: stage-in, container,
stage-out. Inputs reach the application as WPS_INPUT_<id> environment variables (file
inputs as paths), outputs are written where WPS_OUTPUT_<id> says."""

from __future__ import annotations

import json
import mimetypes
import os
import shutil
import threading
from pathlib import Path
from typing import Any

from .context import JobContext
from .unit import ExecutionUnit
from . import containers
from .errors import ExecutionError
from .literals import is_literal, staged_text, typed
from .occurrences import is_repeated
from .runner import ExecutionRunner
from .paths import UnsafePathError, confine, open_nofollow, safe_name, scrub
from .stage_out import register_stac
from .staging import Stager



def _literal(value: Any) -> str:
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


class Environment:
    """Builds the container environment, staging referenced inputs as it goes."""

    def __init__(self, ctx: JobContext, process: dict, stager: Stager):
        self.ctx = ctx
        self.process = process
        self.stager = stager
        self.env: dict[str, str] = {}

    def container_path(self, path: Path) -> str:
        return f'{containers.WORK}/{path.relative_to(self.ctx.workdir).as_posix()}'

    def resolve(self, input_id: str, value: Any, index: int, spec: dict | None = None) -> str:
        """The environment value of one input: a literal as text, a file as its path in
        the container; a literal given by reference is fetched and passed as its content
        (unless it is a STAC document: staged as a catalog, its path, as EO packages expect)."""
        if isinstance(value, dict) and 'href' in value:
            self.ctx.log.info('staging in %s from %s', input_id, value['href'])
            path = self.stager.fetch(input_id, value['href'], index)
            if spec is not None and is_literal(spec) and not path.is_dir():
                return staged_text(self.ctx.workdir, path, input_id)  # (STAC: its catalog)
            return self.container_path(path)
        if isinstance(value, dict) and 'bbox' in value:
            return ','.join(str(v) for v in value['bbox'])
        if isinstance(value, dict) and 'value' in value:
            return _literal(value['value'])
        return _literal(value)

    def add_inputs(self, data: dict) -> None:
        declared = self.process.get('inputs') or {}
        for input_id, value in data.items():
            spec = declared.get(input_id) or {}
            if is_repeated(value, spec):
                for index, item in enumerate(value, 1):
                    self.env[f'WPS_INPUT_{input_id}_{index}'] = self.resolve(input_id, item,
                                                                             index, spec)
                self.env[f'WPS_INPUT_{input_id}_COUNT'] = str(len(value))
            else:
                self.env[f'WPS_INPUT_{input_id}'] = self.resolve(input_id, value, 0, spec)

    def add_outputs(self, outputs_dir: Path, output_ids: list[str]) -> None:
        """A `WPS_OUTPUT_<id>` path for each of `output_ids` (pass every declared output:
        an application may insist on writing them all)."""
        for output_id in output_ids:
            self.env[f'WPS_OUTPUT_{output_id}'] = self.container_path(outputs_dir / output_id)


def _read_nofollow(base: Path, name: str, limit: int = 1 << 20) -> str:
    """The text of `base/name` (at most `limit` bytes), opened without following links."""
    try:
        fd = open_nofollow(base, name)
    except (OSError, UnsafePathError) as err:
        raise ExecutionError(f'output {name}: cannot be read ({err})') from None
    with os.fdopen(fd, 'rb') as fh:
        return fh.read(limit).decode('utf-8', errors='replace')


def collect_outputs(ctx: JobContext, process: dict, output_ids: list[str]) -> dict:
    """Move outputs into the job's results and describe them (values or references)."""
    outputs_dir = ctx.workdir / 'outputs'
    try:
        removed = scrub(outputs_dir)  # links and special files a container wrote: never followed
    except OSError as err:
        raise ExecutionError(f'the outputs cannot be checked ({type(err).__name__}: '
                             f'{err.filename}): the application left unreadable files') from None
    if removed:
        ctx.log.warning('removed %d symbolic link(s) or special file(s) from the outputs: %s',
                        len(removed), ', '.join(removed[:20]))
    results_dir = ctx.job_dir / 'results'
    results_dir.mkdir(parents=True, exist_ok=True)
    document = {}
    for output_id in output_ids:
        spec = (process.get('outputs') or {}).get(output_id) or {}
        try:
            produced = confine(outputs_dir, safe_name(output_id, 'output id'))
        except UnsafePathError as err:
            raise ExecutionError(f'output {output_id!r}: {err}') from None
        if not os.path.lexists(produced):
            link = ' (a symbolic link or special file, removed)' if output_id in removed else ''
            raise ExecutionError(f'output {output_id} is missing{link}: the application wrote '
                                 f'nothing usable at {containers.WORK}/outputs/{output_id}')
        target = results_dir / output_id
        if target.is_dir() and not target.is_symlink():  # an earlier attempt's (requeued)
            shutil.rmtree(target)
        os.replace(produced, target)
        if target.is_file() and is_literal(spec):
            document[output_id] = typed(_read_nofollow(results_dir, output_id),
                                        spec.get('schema') or {}, 'output')
            continue
        href = f"{ctx.base_url}/jobs/{ctx.job_id}/results/{output_id}"
        if target.is_dir():
            if (target / 'catalog.json').is_file():
                document[output_id] = {'href': f'{href}/catalog.json',
                                       'type': 'application/json', 'rel': 'stac-catalog'}
                register_stac(ctx, target, href)
            else:
                document[output_id] = {'href': href, 'type': 'inode/directory'}
        else:
            media = ((spec.get('schema') or {}).get('contentMediaType')
                     or mimetypes.guess_type(target.name)[0] or 'application/octet-stream')
            document[output_id] = {'href': href, 'type': media}
    return document


def declared_ids(process: dict) -> list[str]:
    return list((process.get('outputs') or {}).keys())


def requested_ids(process: dict, requested: dict | None) -> list[str]:
    """The declared outputs the client asked for (all of them when it named none)."""
    declared = declared_ids(process)
    if requested:
        return [output_id for output_id in declared if output_id in requested]
    return declared


def run_docker(ctx: JobContext, process: dict, unit: ExecutionUnit, data: dict,
               requested: dict | None) -> tuple[str, dict]:
    """Stage in, run the container, stage out; return the results document."""
    execution = ctx.settings.block['execution']
    docker_conf = execution['docker']
    engine = containers.client(docker_conf.get('base_url'))
    if not containers.image_present(engine, unit.image):
        raise ExecutionError(f'image {unit.image} is not on the Docker engine; load or build '
                             'it there (images are never pulled from a registry here)')
    ctx.record_provenance(images=[containers.image_facts(engine, unit.image)])
    stager = ctx.stager()
    environment = Environment(ctx, process, stager)
    environment.add_inputs(data)
    outputs_dir = ctx.workdir / 'outputs'
    shutil.rmtree(outputs_dir, ignore_errors=True)
    outputs_dir.mkdir(parents=True)
    environment.add_outputs(outputs_dir, declared_ids(process))
    limits = containers.effective_limits(unit, docker_conf)
    ctx.progress(10, f'running {unit.image}')
    containers.run_container(engine, ctx.job_id, unit.image, ctx.workdir, environment.env,
                                limits, ctx.log, ctx.progress)
    ctx.progress(95, 'collecting outputs')
    document = collect_outputs(ctx, process, requested_ids(process, requested))
    shutil.rmtree(outputs_dir, ignore_errors=True)  # what is left was not requested
    return 'application/json', document


LATE_SWEEP_SECONDS = (1.0, 3.0)


def stop_job(settings, job_id: str) -> int:
    """Kill whatever containers still run for a job (after its worker was killed), then
    sweep again a little later: a `docker run` the killed worker had already sent may still
    be creating its container."""
    try:
        engine = containers.client(settings.block['execution']['docker'].get('base_url'))
    except ExecutionError:
        return 0
    except ImportError:
        return 0
    job_dir = settings.job_dir(job_id)
    for delay in LATE_SWEEP_SECONDS:
        timer = threading.Timer(delay, containers.stop_job_containers,
                                (engine, job_id, job_dir))
        timer.daemon = True
        timer.start()
    return containers.stop_job_containers(engine, job_id, job_dir)


def missing_images(docker_conf: dict, images: list[str]) -> list[str]:
    """Warnings for images the Docker engine does not hold (or for an engine unreachable)."""
    if not images:
        return []
    try:
        engine = containers.client(docker_conf.get('base_url'))
    except (ExecutionError, ImportError) as err:
        return [f'could not check images: {err}']
    return [f'image {image} is not on the Docker engine yet; executions fail until it is '
            'loaded' for image in images if not containers.image_present(engine, image)]


class DockerEngineRunner(ExecutionRunner):
    """What every runner whose containers run on the Docker engine shares: stopping a job's
    containers, checking images, connecting to the engine."""

    platform = 'docker-engine'

    def stop(self, job_id: str) -> int:
        return stop_job(self.settings, job_id)

    def missing_images(self, images: list[str]) -> list[str]:
        return missing_images(self.settings.block['execution']['docker'], images)

    def prepare(self) -> None:
        containers.prepare(self.settings.block['execution']['docker'].get('base_url'))


class DockerAppRunner(DockerEngineRunner):
    """A Docker execution unit: one container with the job contract (see the module)."""

    kind = 'docker'

    def run(self, ctx: JobContext, process: dict, unit: ExecutionUnit, data: dict,
            requested: dict | None) -> tuple[str, dict]:
        return run_docker(ctx, process, unit, data, requested)
