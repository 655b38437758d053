"""Parsing and checking an OGC API - Processes execute request against its process."""

from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import urlparse

import jsonschema

from .. import nesting
from ..execution.occurrences import is_repeated
from ..execution.paths import UnsafePathError, safe_name
from ..web import json_body
from ..notifications.addresses import WEB_SCHEMES, NotificationRefused, mail_address

MAX_DEPTH = 64


class InvalidRequest(ValueError):
    """An execute request that cannot run; the message names the offending member."""


@dataclass
class ExecuteRequest:
    inputs: dict
    outputs: dict | None
    response: str
    subscriber: dict | None
    workspace: str | None = None  # extension: the caller's workspace for the results


def _is_url(value) -> bool:
    if not isinstance(value, str):
        return False
    parts = urlparse(value)
    return parts.scheme in ('http', 'https') and bool(parts.netloc)


def _check_subscriber_uri(key: str, value, schemes: tuple[str, ...]) -> None:
    """An http(s) URL, or a mailto: address when the server offers e-mail."""
    if isinstance(value, str) and value.lower().startswith('mailto:'):
        if 'mailto' not in schemes:
            raise InvalidRequest(f'subscriber.{key}: mailto: is not offered by this server '
                                 '(no SMTP server configured); give an http(s) URL')
        try:
            mail_address(value)
        except NotificationRefused as err:
            raise InvalidRequest(f'subscriber.{key}: {err}') from None
    elif not _is_url(value):
        raise InvalidRequest(f'subscriber.{key}: missing or not an http(s)'
                             f"{' or mailto:' if 'mailto' in schemes else ''} URL")


def _check_value(name: str, value, schema: dict | None) -> None:
    """Check one input value (plain, qualified `{value}` or by reference `{href}`)."""
    if isinstance(value, dict) and 'href' in value:
        if not isinstance(value['href'], str) or not value['href']:
            raise InvalidRequest(f'inputs.{name}.href: must be a non-empty URL string')
        return
    if isinstance(value, dict) and 'value' in value and set(value) <= {
            'value', 'mediaType', 'encoding', 'schema'}:
        value = value['value']
    if not isinstance(schema, dict):
        return
    try:
        jsonschema.validate(value, schema)
    except jsonschema.ValidationError as err:
        where = ''.join(f'[{p}]' for p in err.absolute_path)
        raise InvalidRequest(f'inputs.{name}{where}: {err.message}') from None
    except Exception:  # an unusable or unresolvable process schema: do not blame the client
        return


def _check_ids(ids, member: str) -> None:
    """Input and output ids name files and directories: each must be a safe path component."""
    for name in ids:
        try:
            safe_name(name, f'{member} id')
        except UnsafePathError as err:
            raise InvalidRequest(f'{member}.{name!r}: {err}') from None


def _check_inputs(inputs: dict, declared: dict) -> None:
    _check_ids(inputs, 'inputs')
    if not declared:
        return
    for name in inputs:
        if name not in declared:
            raise InvalidRequest(f'inputs.{name}: not an input of this process '
                                 f'(inputs: {", ".join(declared)})')
    for name, spec in declared.items():
        spec = spec or {}
        min_occurs = int(spec.get('minOccurs', 1))
        max_occurs = spec.get('maxOccurs', 1)
        schema = spec.get('schema')
        if name not in inputs:
            if min_occurs > 0:
                raise InvalidRequest(f'inputs.{name}: missing (the process requires it)')
            continue
        value = inputs[name]
        if is_repeated(value, spec):
            if max_occurs != 'unbounded' and len(value) > int(max_occurs):
                raise InvalidRequest(f'inputs.{name}: {len(value)} values given, at most '
                                     f'{max_occurs} allowed')
            if len(value) < min_occurs:
                raise InvalidRequest(f'inputs.{name}: {len(value)} values given, at least '
                                     f'{min_occurs} required')
            for item in value:
                _check_value(name, item, schema)
        else:
            _check_value(name, value, schema)


def _body(raw: bytes) -> dict:
    """The request's JSON object (none: empty)."""
    if not raw or not raw.strip():
        return {}
    try:  # (checked by the app for JSON media types; a body may come untyped)
        nesting.check_json_depth(json_body.check_text(raw), MAX_DEPTH)
        body = json.loads(raw)
    except (json_body.NotText, nesting.TooDeep) as err:
        raise InvalidRequest(f'request body: {err}') from None
    except ValueError as err:
        raise InvalidRequest(f'request body: not valid JSON ({err})') from None
    if not isinstance(body, dict):
        raise InvalidRequest('request body: must be a JSON object with `inputs`')
    return body


def parse(raw: bytes, process: dict,
          schemes: tuple[str, ...] = WEB_SCHEMES) -> ExecuteRequest:
    """Parse and check an execute request body for the process described by `process`."""
    body = _body(raw)
    inputs = body.get('inputs', {})
    if inputs is None:
        inputs = {}
    if not isinstance(inputs, dict):
        raise InvalidRequest('inputs: must be an object mapping input identifiers to values')
    _check_inputs(inputs, process.get('inputs') or {})

    outputs = body.get('outputs')
    if outputs is not None:
        if not isinstance(outputs, dict):
            raise InvalidRequest('outputs: must be an object mapping output identifiers '
                                 'to output definitions')
        declared = process.get('outputs') or {}
        _check_ids(outputs, 'outputs')
        for name, spec in outputs.items():
            if declared and name not in declared:
                raise InvalidRequest(f'outputs.{name}: not an output of this process '
                                     f'(outputs: {", ".join(declared)})')
            if spec is not None and not isinstance(spec, dict):
                raise InvalidRequest(f'outputs.{name}: must be an object')
            if (spec or {}).get('transmissionMode', 'value') not in ('value', 'reference'):
                raise InvalidRequest(f"outputs.{name}.transmissionMode: must be 'value' or "
                                     "'reference'")

    response = body.get('response', 'raw')
    if response not in ('raw', 'document'):
        raise InvalidRequest("response: must be 'raw' or 'document'")

    subscriber = body.get('subscriber')
    if subscriber is not None:
        if not isinstance(subscriber, dict):
            raise InvalidRequest('subscriber: must be an object with successUri')
        _check_subscriber_uri('successUri', subscriber.get('successUri'), schemes)
        for key in ('inProgressUri', 'failedUri'):
            if subscriber.get(key) is not None:
                _check_subscriber_uri(key, subscriber[key], schemes)
        subscriber = {k: subscriber.get(k) for k in ('successUri', 'inProgressUri', 'failedUri')}
    workspace = body.get('workspace')
    if workspace is not None and (not isinstance(workspace, str) or not workspace
                                  or len(workspace) > 64):
        raise InvalidRequest('workspace: the id of one of your workspaces is required')
    return ExecuteRequest(inputs=inputs, outputs=outputs, response=response,
                          subscriber=subscriber, workspace=workspace)
