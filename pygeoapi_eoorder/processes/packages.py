"""Application packages: what a client deploys, turned into a process description and
execution units (a Docker image or a CWL document)."""

from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from ..execution.containers import size_bytes
from ..execution.unit import ExecutionUnit

OGCAPPPKG = 'application/ogcapppkg+json'
CWL_TYPES = ('application/cwl', 'application/cwl+json', 'application/cwl+yaml')
ID_PATTERN = re.compile(r'[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}\Z')  # also a safe path component
MEMORY_PATTERN = re.compile(r'^[0-9]+[kmgKMG]?$')
MIN_MEMORY = 6 * 1024 ** 2  # Docker refuses smaller memory limits

# Docker's image reference grammar (distribution/reference): [domain/]path[:tag][@digest]
_COMPONENT = r'[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*'
_DOMAIN = (r'(?:(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])'
           r'(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*'
           r'|\[[0-9a-fA-F:.]+\])(?::[0-9]+)?')
IMAGE_REFERENCE = re.compile(
    rf'^(?:{_DOMAIN}/)?{_COMPONENT}(?:/{_COMPONENT})*'
    r'(?::[\w][\w.-]{0,127})?'
    r'(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?$')


class PackageError(ValueError):
    """An invalid package; the message names the offending field."""


class WorkflowNotFound(PackageError):
    """The `w` parameter names no process of the CWL document (Part 2 workflow-not-found)."""


@dataclass
class Package:
    """A parsed application package."""

    process: dict
    units: list[ExecutionUnit] = field(default_factory=list)
    media_type: str = OGCAPPPKG
    raw: str = ''

    @property
    def id(self) -> str:
        return self.process['id']

    def to_dict(self) -> dict:
        return {'process': self.process, 'units': [asdict(u) for u in self.units],
                'media_type': self.media_type}

    @classmethod
    def from_dict(cls, data: dict, raw: str = '') -> 'Package':
        return cls(process=data['process'], media_type=data['media_type'], raw=raw,
                   units=[ExecutionUnit.from_dict(u) for u in data['units']])


# -- process descriptions ----------------------------------------------------------
def _check_parameters(kind: str, params: Any) -> dict:
    if params is None:
        return {}
    if isinstance(params, list):  # the list form of some drafts: [{id: ..., ...}]
        converted = {}
        for index, item in enumerate(params):
            if not isinstance(item, dict) or not isinstance(item.get('id'), str):
                raise PackageError(f'processDescription.{kind}[{index}].id: missing')
            converted[item['id']] = {k: v for k, v in item.items() if k != 'id'}
        params = converted
    if not isinstance(params, dict):
        raise PackageError(f'processDescription.{kind}: must be an object keyed by identifier')
    for name, spec in params.items():
        where = f'processDescription.{kind}.{name}'
        if not ID_PATTERN.match(str(name)):
            raise PackageError(f'{where}: not a valid identifier')
        if not isinstance(spec, dict):
            raise PackageError(f'{where}: must be an object')
        if 'schema' in spec and not isinstance(spec['schema'], dict):
            raise PackageError(f'{where}.schema: must be a JSON schema object')
        for key in ('minOccurs', 'maxOccurs'):
            value = spec.get(key)
            if value is not None and not (isinstance(value, int) and value >= 0
                                          or value == 'unbounded'):
                raise PackageError(f'{where}.{key}: must be a non-negative integer'
                                   + (" or 'unbounded'" if key == 'maxOccurs' else ''))
    return params


def check_process_description(description: Any) -> dict:
    """Validate an OGC process description and fill in defaults."""
    if not isinstance(description, dict):
        raise PackageError('processDescription: must be an object')
    process = dict(description)
    pid = process.get('id')
    if not isinstance(pid, str) or not ID_PATTERN.match(pid):
        raise PackageError('processDescription.id: missing or not a valid identifier '
                           '(letters, digits, _ . -; at most 128)')
    process.setdefault('version', '1.0.0')
    if not isinstance(process['version'], str):
        raise PackageError('processDescription.version: must be a string')
    process.setdefault('title', pid)
    process.setdefault('description', process['title'])
    process['inputs'] = _check_parameters('inputs', process.get('inputs'))
    process['outputs'] = _check_parameters('outputs', process.get('outputs'))
    if not process['outputs']:
        raise PackageError('processDescription.outputs: a process needs at least one output')
    options = process.setdefault('jobControlOptions', ['async-execute', 'sync-execute'])
    if not isinstance(options, list) or not all(isinstance(o, str) for o in options) \
            or not set(options) <= {'async-execute', 'sync-execute', 'dismiss'}:
        raise PackageError('processDescription.jobControlOptions: use async-execute, '
                           'sync-execute and/or dismiss')
    process.setdefault('outputTransmission', ['value', 'reference'])
    process.pop('links', None)
    return process


# -- execution units ---------------------------------------------------------------
def _positive(value) -> bool:
    """A finite number > 0 (JSON allows NaN and Infinity; booleans are not numbers)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) \
        and math.isfinite(value) and value > 0


def _config_value(config: dict, *names: str):
    return next((config[n] for n in names if config.get(n) is not None), None)


def check_image(image: Any, where: str) -> str:
    """A Docker image reference as Docker's grammar has it (never options or spaces)."""
    if not isinstance(image, str) or not image.strip():
        raise PackageError(f'{where}: missing (a Docker image reference)')
    image = image.strip()
    if len(image) > 255 or not IMAGE_REFERENCE.fullmatch(image):
        raise PackageError(f'{where}: {image[:80]!r} is not a Docker image reference '
                           '([registry/]name[:tag][@digest], lower-case name, no spaces)')
    return image


def docker_unit(data: dict, where: str) -> ExecutionUnit:
    """A container execution unit: `{type: docker|oci, image, config}` (also the draft's
    qualified form `{type, value: {image, config}}`). `config` takes cpu/memory/timeout or
    the Part 2 draft's cpuMin/cpuMax, memoryMin/memoryMax (GB) and jobTimeout."""
    if isinstance(data.get('value'), dict):
        data = {**data, **data['value']}
    image = check_image(data.get('image'), f'{where}.image')
    config = data.get('config') or {}
    if not isinstance(config, dict):
        raise PackageError(f'{where}.config: must be an object (cpu, memory, timeout)')
    cpus = _config_value(config, 'cpu', 'cpus', 'cpuMax', 'cpuMin')
    if cpus is not None and not _positive(cpus):
        raise PackageError(f'{where}.config.cpu: must be a positive number')
    memory = _config_value(config, 'memory', 'memoryMax', 'memoryMin')
    if isinstance(memory, (int, float)) and not isinstance(memory, bool):
        if not _positive(memory):
            raise PackageError(f'{where}.config.memory: use a size such as 512m or 2g')
        memory = f'{max(1, int(memory * 1024))}m'  # the draft counts gigabytes
    if memory is not None:
        memory = str(memory)
        if not MEMORY_PATTERN.match(memory):
            raise PackageError(f'{where}.config.memory: use a size such as 512m or 2g')
        if size_bytes(memory) < MIN_MEMORY:
            raise PackageError(f'{where}.config.memory: at least 6m (Docker\'s minimum)')
    timeout = _config_value(config, 'timeout', 'jobTimeout')
    if timeout is not None and not _positive(timeout):
        raise PackageError(f'{where}.config.timeout: must be a positive number of seconds')
    return ExecutionUnit(kind='docker', image=image, cpus=cpus, memory=memory,
                         timeout=timeout)


def _described_by_unit(units: list[ExecutionUnit], cwl_describer) -> dict:
    """The process description of a package without one (it is optional in Part 2): the
    one its CWL execution unit gives; a Docker image alone describes nothing."""
    cwl_units = [unit for unit in units if unit.kind == 'cwl' and unit.cwl]
    if not cwl_units or cwl_describer is None:
        raise PackageError('processDescription: missing (a package whose execution unit is '
                           'not CWL must describe its process)')
    description, _, _ = cwl_describer(cwl_units[0].cwl, cwl_units[0].workflow)
    return description


def parse_ogcapppkg(raw: bytes, cwl_loader=None, cwl_describer=None) -> Package:
    """application/ogcapppkg+json: processDescription + executionUnit.

    `cwl_loader(item, where)` reads a CWL execution unit, `cwl_describer(text, workflow)`
    describes a package by its CWL (both from `cwl.py`; without them CWL units are refused).
    """
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError) as err:
        raise PackageError(f'package: not valid JSON ({err})') from None
    if not isinstance(body, dict):
        raise PackageError('package: must be a JSON object with processDescription and '
                           'executionUnit')
    description = body.get('processDescription')
    if isinstance(description, dict) and isinstance(description.get('process'), dict):
        description = {**description['process'],
                       **{k: v for k, v in description.items() if k != 'process'}}
    units_raw = body.get('executionUnit')
    if units_raw is None:
        raise PackageError('executionUnit: missing')
    units_list = units_raw if isinstance(units_raw, list) else [units_raw]
    if not units_list:
        raise PackageError('executionUnit: empty')
    units = []
    for index, item in enumerate(units_list):
        where = 'executionUnit' + (f'[{index}]' if isinstance(units_raw, list) else '')
        if isinstance(item, dict) and isinstance(item.get('unit'), dict):
            item = item['unit']  # {"unit": {...}} wrapping of the Part 2 schema
        if not isinstance(item, dict):
            raise PackageError(f'{where}: must be an object')
        kind = str(item.get('type', '')).lower()
        if kind in ('docker', 'oci') or ('image' in item and 'href' not in item):
            units.append(docker_unit(item, where))
        elif 'href' in item or 'value' in item or kind in CWL_TYPES:
            if cwl_loader is None:
                raise PackageError(f'{where}: CWL execution units are not supported here')
            units.append(cwl_loader(item, where))
        else:
            raise PackageError(f"{where}.type: unknown execution unit (use 'docker' with an "
                               'image, or a CWL document by href or value)')
    if description is None:
        description = _described_by_unit(units, cwl_describer)
    process = check_process_description(description)
    return Package(process=process, units=units, media_type=OGCAPPPKG,
                   raw=raw.decode('utf-8', 'replace'))
