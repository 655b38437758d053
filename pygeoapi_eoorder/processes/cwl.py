"""CWL application packages: a CommandLineTool or a `$graph` with a Workflow, described as an
OGC process with cwl2ogc and run later by cwltool."""

from __future__ import annotations

import json
import re
from typing import Any

import requests
import yaml

from .packages import ExecutionUnit, Package, PackageError, check_process_description

RUNNABLE = ('CommandLineTool', 'Workflow', 'ExpressionTool')
BASE_URI = 'io://package.cwl'  # cwl_utils resolves ids against this base


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
            raise PackageError(f'w: {workflow!r} is not in this document')
        return document
    graph = document['$graph']
    if not isinstance(graph, list) or not graph:
        raise PackageError('$graph: must be a non-empty list of processes')
    by_id = {_short(str(p.get('id', ''))): p for p in graph if isinstance(p, dict)}
    if workflow:
        if workflow not in by_id:
            raise PackageError(f'w: no process {workflow!r} in $graph (available: '
                               f'{", ".join(sorted(by_id))})')
        return by_id[workflow]
    workflows = [p for p in by_id.values() if p.get('class') == 'Workflow']
    if 'main' in by_id:
        return by_id['main']
    if len(workflows) == 1:
        return workflows[0]
    if len(by_id) == 1:
        return next(iter(by_id.values()))
    raise PackageError('w: the $graph holds several processes; choose one with ?w= '
                       f'(available: {", ".join(sorted(by_id))})')


def _parsed(text: str, process_id: str, in_graph: bool):
    """The cwl_utils object of the selected process (validates the document)."""
    from cwl_utils.parser import load_document_by_string
    uri = f'{BASE_URI}#{process_id}' if in_graph else BASE_URI
    try:
        loaded = load_document_by_string(text, uri)
    except Exception as err:  # schema-salad reports validation problems in many classes
        first = str(err).strip().splitlines()[-1] if str(err).strip() else type(err).__name__
        raise PackageError(f'package: invalid CWL ({first})') from None
    if isinstance(loaded, list):
        for item in loaded:
            if _short(str(getattr(item, 'id', ''))) == process_id:
                return item
        raise PackageError(f'w: no process {process_id!r} in $graph')
    return loaded


def _slug(text: str) -> str:
    """A process id from a label (a `$graph`'s `main` says nothing about the application)."""
    return re.sub(r'[^a-z0-9]+', '-', text.lower()).strip('-')[:128] or 'main'


def docker_images(document: dict) -> list[str]:
    """Every DockerRequirement image of a CWL document."""
    found = []

    def walk(node: Any):
        if isinstance(node, dict):
            pull = node.get('dockerPull') or node.get('dockerImageId')
            if isinstance(pull, str):
                found.append(pull)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)
    walk(document)
    return sorted(set(found))


def describe(text: str, workflow: str | None) -> tuple[dict, str, list[str]]:
    """Process description, selected process id and images of a CWL document."""
    from cwl2ogc import BaseCWLtypes2OGCConverter
    document = _load_text(text)
    selected = _select(document, workflow)
    process_id = _short(str(selected.get('id') or workflow or 'main'))
    parsed = _parsed(text, process_id, '$graph' in document)
    converter = BaseCWLtypes2OGCConverter(parsed)
    try:
        inputs, outputs = converter.get_inputs(), converter.get_outputs()
    except Exception as err:
        raise PackageError(f'package: cannot describe the CWL inputs/outputs ({err})') from None
    description = {
        'id': process_id if process_id != 'main' else _slug(selected.get('label') or 'main'),
        'title': selected.get('label') or process_id,
        'description': selected.get('doc') or selected.get('label') or process_id,
        'version': str(selected.get('s:softwareVersion') or document.get('s:softwareVersion')
                       or '1.0.0'),
        'inputs': json.loads(json.dumps(inputs)), 'outputs': json.loads(json.dumps(outputs)),
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


def unit_from_reference(item: dict, where: str) -> ExecutionUnit:
    """A CWL execution unit of an ogcapppkg: `{"href": URL}` or `{"value": CWL}`."""
    if 'value' in item:
        value = item['value']
        text = value if isinstance(value, str) else json.dumps(value)
    else:
        href = item.get('href')
        if not isinstance(href, str) or not href.startswith(('http://', 'https://')):
            raise PackageError(f'{where}.href: must be an http(s) URL of a CWL document')
        try:
            reply = requests.get(href, timeout=30)
        except requests.RequestException as err:
            raise PackageError(f'{where}.href: cannot fetch {href} ({err})') from None
        if reply.status_code != 200:
            raise PackageError(f'{where}.href: {href} answered HTTP {reply.status_code}')
        text = reply.text
    _, selected, images = describe(text, item.get('w') or item.get('workflow'))
    return ExecutionUnit(kind='cwl', cwl=text, workflow=selected,
                         image=images[0] if images else None)
