"""Stage-in of inputs given by reference (http(s), file://, STAC) into a job's work directory."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from urllib.parse import unquote, urlparse

import requests

from .errors import ExecutionError

CHUNK = 1 << 20
STAC_TYPES = ('Feature', 'Catalog', 'Collection')


def _filename(url: str, fallback: str) -> str:
    name = Path(unquote(urlparse(url).path)).name
    return name if name and name not in ('.', '..') else fallback


def _allowed_file(url: str, roots: list[str], input_id: str) -> Path:
    path = Path(unquote(urlparse(url).path)).resolve()
    for root in roots:
        base = Path(root).resolve()
        if path == base or base in path.parents:
            if not path.exists():
                raise ExecutionError(f'input {input_id}: {url} does not exist')
            return path
    raise ExecutionError(f'input {input_id}: {url} is outside the allowed file roots '
                         '(execution.stage_in.allowed_file_roots)')


def _download(url: str, target: Path, input_id: str, timeout: float) -> Path:
    try:
        with requests.get(url, stream=True, timeout=timeout) as reply:
            if reply.status_code != 200:
                raise ExecutionError(f'input {input_id}: {url} answered HTTP '
                                     f'{reply.status_code}')
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(target, 'wb') as fh:
                for chunk in reply.iter_content(CHUNK):
                    fh.write(chunk)
    except requests.RequestException as err:
        raise ExecutionError(f'input {input_id}: cannot fetch {url} ({type(err).__name__}: '
                             f'{err})') from None
    return target


def _is_stac(path: Path) -> dict | None:
    if path.stat().st_size > 50 * CHUNK:
        return None
    try:
        document = json.loads(path.read_bytes())
    except (ValueError, UnicodeDecodeError):
        return None
    if isinstance(document, dict) and 'stac_version' in document and \
            document.get('type') in STAC_TYPES:
        return document
    return None


class Stager:
    """Fetches referenced inputs into `inputs_dir`; returns local paths."""

    def __init__(self, inputs_dir: Path, allowed_file_roots: list[str], timeout: float = 60):
        self.inputs_dir = inputs_dir
        self.roots = allowed_file_roots
        self.timeout = timeout

    def copy_to(self, href: str, target: Path, input_id: str) -> Path:
        """Copy what `href` names (http(s) or an allowed file://) to `target`."""
        scheme = urlparse(href).scheme
        if scheme in ('http', 'https'):
            return _download(href, target, input_id, self.timeout)
        if scheme == 'file':
            source = _allowed_file(href, self.roots, input_id)
            target.parent.mkdir(parents=True, exist_ok=True)
            if source.is_dir():
                shutil.copytree(source, target)
            else:
                shutil.copy2(source, target)
            return target
        raise ExecutionError(f'input {input_id}: unsupported reference {href!r} '
                             '(use http, https or file URLs)')

    def fetch(self, input_id: str, href: str, index: int = 0) -> Path:
        """Fetch one reference; a STAC item or catalog becomes a local catalog directory
        (catalog.json at its root, assets beside their items, as OGC 20-089 expects)."""
        target_dir = self.inputs_dir / (input_id if not index else f'{input_id}_{index}')
        target = self.copy_to(href, target_dir / _filename(href, input_id), input_id)
        if target.is_file():
            document = _is_stac(target)
            if document is not None:
                from .stac_stage import stage_stac
                return stage_stac(href, document, target_dir / 'stac', self, input_id)
        return target
