"""CWL application packages: a CommandLineTool or a `$graph` with a Workflow, described as an
OGC process with cwl2ogc and run later by cwltool."""

from __future__ import annotations

import json
from typing import Any

import requests
import yaml

from .. import egress
from ..egress import EgressPolicy
from ..execution.unit import docker_images, docker_requirements
from .packages import (IMAGE_REFERENCE, ExecutionUnit, Package, PackageError,
                       WorkflowNotFound, check_process_description)

RUNNABLE = ('CommandLineTool', 'Workflow', 'ExpressionTool')
BASE_URI = 'io://package.cwl'  # cwl_utils resolves ids against this base
REFERENCE_KEYS = ('$include', '$import', '$mixin', '$schemas')


def _short(identifier: str) -> str:
    return identifier.rsplit('#', 1)[-1].rsplit('/', 1)[-1]


def _load_text(text: str) -> dict:
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise PackageError(f'package: not valid CWL (YAML/JSON: {err})'.splitlines()[0]) from None
    except RecursionError:
        raise PackageError('package: nested too deeply to be a CWL document') from None
    if not isinstance(document, dict):
        raise PackageError('package: a CWL document must be a mapping')
    if 'cwlVersion' not in document:
        raise PackageError('cwlVersion: missing (not a CWL document)')
    return document


def _select(document: dict, workflow: str | None) -> dict:
    """The process of a CWL document to deploy; `workflow` picks one in a $graph."""
    if '$graph' not in document:
        if document.get('class') not in RUNNABLE:
            raise PackageError(f"class: must be one of {', '.join(RUNNABLE)}")
        if workflow and _short(str(document.get('id', ''))) != workflow:
            raise WorkflowNotFound(f'w: {workflow!r} is not in this document')
        return document
    graph = document['$graph']
    if not isinstance(graph, list) or not graph:
        raise PackageError('$graph: must be a non-empty list of processes')
    by_id = {_short(str(p.get('id', ''))): p for p in graph if isinstance(p, dict)}
    if workflow:
        if workflow not in by_id:
            raise WorkflowNotFound(f'w: no process {workflow!r} in $graph (available: '
                                   f'{", ".join(sorted(by_id))})')
        return by_id[workflow]
    workflows = [p for p in by_id.values() if p.get('class') == 'Workflow']
    if workflows:  # OGC API - Processes Part 2 (CWL): without `w`, the first Workflow
        return workflows[0]
    if len(by_id) == 1:
        return next(iter(by_id.values()))
    raise PackageError('w: the $graph holds several processes and no Workflow; choose one '
                       f'with ?w= (available: {", ".join(sorted(by_id))})')


def _parsed(text: str, process_id: str, in_graph: bool):
    """The cwl_utils object of the selected process (validates the document)."""
    from cwl_utils.parser import load_document_by_string
    uri = f'{BASE_URI}#{process_id}' if in_graph else BASE_URI
    try:
        loaded = load_document_by_string(text, uri, id_=process_id if in_graph else None)
    except Exception as err:  # schema-salad reports validation problems in many classes
        first = str(err).strip().splitlines()[-1] if str(err).strip() else type(err).__name__
        raise PackageError(f'package: invalid CWL ({first})') from None
    if isinstance(loaded, list):
        for item in loaded:
            if _short(str(getattr(item, 'id', ''))) == process_id:
                return item
        raise PackageError(f'w: no process {process_id!r} in $graph')
    return loaded


def _plain(value: Any) -> Any:
    """JSON for the cwl_utils objects cwl2ogc leaves in a description (e.g. a File default)."""
    if hasattr(value, 'save'):
        return value.save()
    raise TypeError(f'{type(value).__name__} is not JSON')


def check_references(document: Any, where: str = 'package') -> None:
    """Refuse every reference of a package to another document or a file: `$include`,
    `$import`, `$mixin`, `$schemas`, a `run:` that is not inline or a `#fragment`, and
    File/Directory literals with a `location` or `path` (a File with `contents` only is
    fine). Files reach a job only through its inputs, staged in by the server."""
    if isinstance(document, list):
        for index, value in enumerate(document):
            check_references(value, f'{where}[{index}]')
        return
    if not isinstance(document, dict):
        return
    for key in REFERENCE_KEYS:
        if key in document:
            raise PackageError(f'{where}.{key}: references to other documents are not '
                               'allowed; put everything in the package')
    run = document.get('run')
    if isinstance(run, str) and not run.startswith('#'):
        raise PackageError(f'{where}.run: {run[:80]!r} is not allowed; embed the process or '
                           'name one of the package ("#id")')
    if document.get('class') in ('File', 'Directory'):
        for key in ('location', 'path'):
            if key in document:
                raise PackageError(f'{where}.{key}: a {document["class"]} literal may not '
                                   'name a location (files reach a job through its inputs; '
                                   'use `contents` for a small literal)')
    for key, value in document.items():
        check_references(value, f'{where}.{key}')


def _requirement_classes(process: dict) -> set[str]:
    """Classes named in a process' requirements and hints (list or map form)."""
    names = set()
    for key in ('requirements', 'hints'):
        value = process.get(key)
        if isinstance(value, dict):
            names.update(str(k) for k in value)
        elif isinstance(value, list):
            names.update(str(r.get('class')) for r in value if isinstance(r, dict))
    return {name.rsplit(':', 1)[-1].rsplit('#', 1)[-1] for name in names}


def _steps(process: dict) -> list:
    steps = process.get('steps')
    steps = list(steps.values()) if isinstance(steps, dict) else steps
    return [step for step in steps or [] if isinstance(step, dict)]


def _graph_in_force(graph: list) -> dict[str, frozenset]:
    """Requirement classes in force for each process of a `$graph`: its own, plus those
    that every workflow step running it (`run: "#id"`) provides."""
    by_id = {_short(str(p.get('id', ''))): p for p in graph if isinstance(p, dict)}
    referrers: dict[str, list] = {}
    for name, process in by_id.items():
        for step in _steps(process):
            run = step.get('run')
            if isinstance(run, str) and run.startswith('#'):
                referrers.setdefault(_short(run), []).append((name, step))
    found: dict[str, frozenset] = {}

    def in_force(name: str, seen: tuple = ()) -> frozenset:
        if name in found:
            return found[name]
        if name in seen or name not in by_id:
            return frozenset()
        contexts = [in_force(ref, (*seen, name)) | _requirement_classes(step)
                    for ref, step in referrers.get(name, [])]
        inherited = frozenset.intersection(*contexts) if contexts else frozenset()
        found[name] = frozenset(_requirement_classes(by_id[name])) | inherited
        return found[name]
    return {name: in_force(name) for name in by_id}


def _processes(node: Any, inherited: frozenset = frozenset()):
    """(process, requirement classes in force) for every process of a document, inline
    step processes included (a Workflow's requirements apply to its steps)."""
    if isinstance(node, list):
        for item in node:
            yield from _processes(item, inherited)
        return
    if not isinstance(node, dict):
        return
    if '$graph' in node:
        graph = node['$graph'] if isinstance(node['$graph'], list) else []
        in_force = _graph_in_force(graph)
        for item in graph:
            if isinstance(item, dict):
                yield from _processes(item, in_force.get(_short(str(item.get('id', ''))),
                                                         frozenset()))
        return
    if node.get('class') not in RUNNABLE:
        return
    in_force = inherited | _requirement_classes(node)
    yield node, in_force
    for step in _steps(node):
        if isinstance(step.get('run'), dict):
            yield from _processes(step['run'], in_force | _requirement_classes(step))


def _uses_javascript(node: Any) -> bool:
    """Whether a string of the document holds a JavaScript expression (`${...}`, or a
    `$(...)` that is not a plain parameter reference such as `$(inputs.x.path)`)."""
    from cwl_utils.expression import scanner
    from cwl_utils.sandboxjs import param_re
    if isinstance(node, dict):
        return any(_uses_javascript(v) for v in node.values())
    if isinstance(node, list):
        return any(_uses_javascript(v) for v in node)
    if not isinstance(node, str) or '$' not in node:
        return False
    rest = node
    while rest:
        found = scanner(rest)
        if found is None:
            return False
        start, end = found
        expression = rest[start:end]
        if expression.startswith('${') or not param_re.match(expression[1:]):
            return True
        rest = rest[end:]
    return False


def check_sandbox(document: dict, cwl_conf: dict) -> None:
    """The deployer's CWL policy (`execution.cwl`): every CommandLineTool has a container
    (or the operator's default image), image builds only when allowed (dockerLoad and
    dockerImport never), JavaScript only when allowed."""
    default_image = cwl_conf.get('default_image')
    for process, in_force in _processes(document):
        name = _short(str(process.get('id') or process.get('class')))
        if process.get('class') == 'CommandLineTool' and 'DockerRequirement' not in in_force \
                and not default_image:
            raise PackageError(f'{name}: a CommandLineTool needs a DockerRequirement '
                               '(dockerPull of an image on the engine): tools run only in '
                               'containers here')
        if not cwl_conf.get('allow_javascript', True) and (
                process.get('class') == 'ExpressionTool'
                or 'InlineJavascriptRequirement' in _requirement_classes(process)):
            raise PackageError(f'{name}: JavaScript (InlineJavascriptRequirement, '
                               'ExpressionTool) is disabled on this server')
    if not cwl_conf.get('allow_javascript', True) and _uses_javascript(document):
        raise PackageError('package: JavaScript expressions are disabled on this server '
                           '(only parameter references such as $(inputs.x) are allowed)')
    for requirement in docker_requirements(document):
        never = [key for key in ('dockerLoad', 'dockerImport') if key in requirement]
        if never:
            raise PackageError(f'DockerRequirement.{never[0]}: not allowed (an image is '
                               'never loaded from a file or URL); use dockerPull')
        builds = [key for key in ('dockerFile', 'dockerImageId') if key in requirement]
        if builds and not cwl_conf.get('allow_image_builds'):
            raise PackageError(f'DockerRequirement.{builds[0]}: image builds and image ids '
                               'are disabled on this server; use dockerPull of an image on '
                               'the engine')
        for key in ('dockerPull', 'dockerImageId'):
            image = requirement.get(key)
            if key in requirement and (not isinstance(image, str) or len(image) > 255
                                       or not IMAGE_REFERENCE.fullmatch(image)):
                raise PackageError(f'DockerRequirement.{key}: {str(image)[:80]!r} is not a '
                                   'Docker image reference')


def check_package_sandbox(package: Package, execution_conf: dict) -> None:
    """`check_sandbox` for every CWL unit of a package (deploy and replace)."""
    for unit in package.units:
        if unit.kind == 'cwl' and unit.cwl:
            try:
                check_sandbox(yaml.safe_load(unit.cwl), execution_conf.get('cwl') or {})
            except RecursionError:
                raise PackageError('package: nested too deeply to be a CWL document') from None


def describe(text: str, workflow: str | None) -> tuple[dict, str, list[str]]:
    """Process description, selected process id and images of a CWL document."""
    from cwl2ogc import BaseCWLtypes2OGCConverter
    document = _load_text(text)
    selected = _select(document, workflow)
    process_id = _short(str(selected.get('id') or workflow or 'main'))
    try:
        check_references(document)
    except RecursionError:
        raise PackageError('package: nested too deeply to be a CWL document') from None
    parsed = _parsed(text, process_id, '$graph' in document)
    converter = BaseCWLtypes2OGCConverter(parsed)
    try:
        inputs, outputs = converter.get_inputs(), converter.get_outputs()
        inputs, outputs = (json.loads(json.dumps(p, default=_plain)) for p in (inputs, outputs))
        for spec in inputs.values():  # a CWL input with a default may be left out
            if isinstance(spec, dict) and 'default' in (spec.get('schema') or {}):
                spec['minOccurs'] = 0
    except Exception as err:
        raise PackageError(f'package: cannot describe the CWL inputs/outputs ({err})') from None
    description = {
        'id': process_id,  # the workflow's id (Part 2), even `main`
        'title': selected.get('label') or process_id,
        'description': selected.get('doc') or selected.get('label') or process_id,
        'version': str(selected.get('s:softwareVersion') or document.get('s:softwareVersion')
                       or '1.0.0'),
        'inputs': inputs, 'outputs': outputs,
    }
    return description, process_id if '$graph' in document else None, docker_images(document)


def parse_cwl_package(raw: bytes, media_type: str, workflow: str | None) -> Package:
    """application/cwl(+json|+yaml): the CWL document is the whole package."""
    text = raw.decode('utf-8', 'replace')
    description, selected, images = describe(text, workflow)
    unit = ExecutionUnit(kind='cwl', cwl=text, workflow=selected,
                         image=images[0] if images else None)
    return Package(process=check_process_description(description), units=[unit],
                   media_type=media_type, raw=text)


def unit_from_reference(item: dict, where: str,
                        policy: EgressPolicy | None = None) -> ExecutionUnit:
    """A CWL execution unit of an ogcapppkg: `{"href": URL}` (fetched under the egress
    `policy`, strict if none) or `{"value": CWL}`."""
    if 'value' in item:
        value = item['value']
        text = value if isinstance(value, str) else json.dumps(value)
    else:
        href = item.get('href')
        if not isinstance(href, str) or not href.startswith(('http://', 'https://')):
            raise PackageError(f'{where}.href: must be an http(s) URL of a CWL document')
        try:
            reply = egress.get(href, policy=policy or EgressPolicy(), timeout=30)
        except egress.EgressRefused as err:
            raise PackageError(f'{where}.href: {href} refused: {err}') from None
        except requests.RequestException as err:
            raise PackageError(f'{where}.href: cannot fetch {href} ({err})') from None
        if reply.status_code != 200:
            raise PackageError(f'{where}.href: {href} answered HTTP {reply.status_code}')
        text = reply.text
    _, selected, images = describe(text, item.get('w') or item.get('workflow'))
    return ExecutionUnit(kind='cwl', cwl=text, workflow=selected,
                         image=images[0] if images else None)
