"""OGC API - Processes Part 1 result rules (OGC 18-062r2, /req/core/process-execute-sync-*):
each output's `transmissionMode` (value or reference) and the raw forms of a result (one
output as itself, several as `multipart/related`, all by reference as 204 + `Link`)."""

from __future__ import annotations

import json
import os
import uuid
from typing import Any, Callable

from ..jobs.results import JSON_TYPE
from .result_safety import essence

# A result file is given by value (in a document, a multipart part) up to this size; larger
# files stay references (a document is built in memory).
INLINE_LIMIT = 1 << 20

Opener = Callable[[str], Any]  # output file name -> open binary file or None


def requested_modes(requested: Any) -> dict[str, str]:
    """`{output id: 'value' | 'reference'}` for the outputs the request gave a mode."""
    if not isinstance(requested, dict):
        return {}
    return {name: spec['transmissionMode'] for name, spec in requested.items()
            if isinstance(spec, dict) and spec.get('transmissionMode') in ('value', 'reference')}


def is_textual(mimetype: str | None) -> bool:
    """Text and JSON media: the ones a document can carry as a value."""
    kind = essence(mimetype)
    return kind.startswith('text/') or kind == JSON_TYPE or kind.endswith('+json')


def local_name(value: Any, prefix: str) -> str | None:
    """The result file name behind `{"href": <prefix>name}`, else None."""
    if isinstance(value, dict) and isinstance(value.get('href'), str) \
            and value['href'].startswith(prefix):
        return value['href'][len(prefix):].split('?', 1)[0]
    return None


def read_small(open_file: Opener, name: str, limit: int = INLINE_LIMIT) -> bytes | None:
    """The bytes of a result file of at most `limit` bytes, else None."""
    handle = open_file(name)
    if handle is None:
        return None
    with handle:
        if os.fstat(handle.fileno()).st_size > limit:
            return None
        return handle.read(limit + 1)


def by_value(value: Any, prefix: str, open_file: Opener) -> Any:
    """An output asked by value: a small text/JSON result file inline as a qualified value
    (`{"value", "mediaType"}`); binary, large or directory outputs stay references."""
    name = local_name(value, prefix)
    if name is None or not is_textual(value.get('type')):
        return value
    data = read_small(open_file, name)
    if data is None:
        return value
    text = data.decode('utf-8', 'replace')
    if essence(value['type']) == JSON_TYPE or essence(value['type']).endswith('+json'):
        try:
            return {'value': json.loads(text), 'mediaType': value['type']}
        except ValueError:
            pass
    return {'value': text, 'mediaType': value['type']}


def by_reference(name: str, value: Any, prefix: str, exists: Callable[[str], bool],
                 whole_result: dict | None) -> Any:
    """An output asked by reference: its result file (a literal output's file, or the whole
    raw result of a one-output process) as `{"href", "type"}`."""
    if isinstance(value, dict) and 'href' in value:
        return value
    if exists(name):
        return {'href': prefix + name, 'type': 'text/plain'}
    return whole_result or value


def header_safe(text: Any) -> str:
    """`text` without the characters that would end a quoted header value or the header
    (a package chooses its media types)."""
    return ''.join(c for c in str(text) if 32 <= ord(c) < 127 and c not in '"\\<>')


def link_header(references: dict[str, dict]) -> str:
    """One `Link` per output, its id as `rel` (/req/core/process-execute-sync-raw-ref)."""
    return ', '.join(f'<{header_safe(ref["href"])}>; rel="{header_safe(name)}"; '
                     f'type="{header_safe(ref.get("type") or JSON_TYPE)}"'
                     for name, ref in references.items())


def part_body(value: Any, prefix: str, open_file: Opener) -> tuple[str, bytes, dict]:
    """Media type, bytes and extra headers of one output as a multipart part: a local file by
    value when small enough, an inline value as text or JSON, anything else as an external
    body (RFC 2017 `message/external-body`)."""
    name = local_name(value, prefix)
    if name is not None:
        data = read_small(open_file, name)
        if data is not None:
            return header_safe(value.get('type') or 'application/octet-stream'), data, {}
    if isinstance(value, dict) and 'href' in value:
        href = header_safe(value['href'])
        return (f'message/external-body; access-type=URL; URL="{href}"', b'',
                {'Content-Location': href})
    if isinstance(value, str):
        return 'text/plain; charset=utf-8', value.encode(), {}
    return JSON_TYPE, json.dumps(value, default=str).encode(), {}


def multipart(outputs: dict, prefix: str, open_file: Opener) -> tuple[bytes, str]:
    """A `multipart/related` body of several outputs (one part each, `Content-ID` = id)."""
    boundary = f'eoorder-{uuid.uuid4().hex}'
    chunks = []
    for name, value in outputs.items():
        mimetype, data, extra = part_body(value, prefix, open_file)
        headers = {'Content-Type': mimetype, 'Content-ID': f'<{header_safe(name)}>', **extra}
        head = ''.join(f'{key}: {val}\r\n' for key, val in headers.items())
        chunks.append(f'--{boundary}\r\n{head}\r\n'.encode() + data + b'\r\n')
    chunks.append(f'--{boundary}--\r\n'.encode())
    return b''.join(chunks), f'multipart/related; boundary="{boundary}"'
