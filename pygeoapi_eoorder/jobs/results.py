"""Job result files: written whole (write-then-rename), read back with their media type."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

JSON_TYPE = 'application/json'


def write_atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path` so that readers see either nothing or the whole file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f'.{path.name}.')
    try:
        with os.fdopen(fd, 'wb') as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def encode(mimetype: str | None, outputs: Any) -> tuple[bytes, str]:
    """Bytes and media type of what a processor returned."""
    if isinstance(outputs, (dict, list)) or outputs is None or isinstance(outputs, (int, float)):
        return json.dumps(outputs, default=str).encode(), mimetype or JSON_TYPE
    if isinstance(outputs, str):
        return outputs.encode(), mimetype or 'text/plain'
    if isinstance(outputs, (bytes, bytearray)):
        return bytes(outputs), mimetype or 'application/octet-stream'
    raise TypeError(f'a process returned an unsupported result type {type(outputs).__name__}')


def write_result(job_dir: Path, mimetype: str | None, outputs: Any) -> tuple[str, str]:
    """Store a processor's result under the job directory; return file name and media type."""
    data, media_type = encode(mimetype, outputs)
    name = 'result.json' if media_type == JSON_TYPE else 'result'
    write_atomic(job_dir / 'results' / name, data)
    return f'results/{name}', media_type


def read_result(job_dir: Path, result_file: str) -> bytes:
    return (job_dir / result_file).read_bytes()


def decode(media_type: str | None, data: bytes) -> Any:
    if media_type == JSON_TYPE:
        return json.loads(data)
    return data
