"""Stage-in of inputs given by reference (http(s), file://, STAC) into a job's work directory."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from urllib.parse import unquote, urlparse

import requests

from .. import egress
from ..egress import EgressPolicy, EgressRefused
from .containers import size_bytes
from .errors import ExecutionError, InputRefused
from .paths import UnsafePathError, confine, safe_name
from .stac_stage import stage_stac

CHUNK = 1 << 20
STAC_TYPES = ('Feature', 'Catalog', 'Collection')


def _filename(url: str, fallback: str) -> str:
    """The last segment of the URL's path if it is a safe file name, else `fallback`."""
    name = unquote(urlparse(url).path).rsplit('/', 1)[-1]
    try:
        return safe_name(name, 'file name')
    except UnsafePathError:
        return fallback


def _within(path: Path, roots: list[str]) -> bool:
    """True if the resolved `path` is one of the resolved `roots` or below one."""
    for root in roots:
        base = Path(root).resolve()
        if path == base or base in path.parents:
            return True
    return False


def _outside_roots(url: str, input_id: str) -> ExecutionError:
    return ExecutionError(f'input {input_id}: {url} is outside the allowed file roots '
                          '(execution.stage_in.allowed_file_roots)')


def _allowed_file(url: str, roots: list[str], input_id: str) -> Path:
    """The resolved path of a file:// URL if it (after following every link) lies under
    one of the resolved `roots`."""
    try:
        path = Path(unquote(urlparse(url).path)).resolve()
    except (OSError, RuntimeError, ValueError):  # a link loop, a NUL byte
        raise _outside_roots(url, input_id) from None
    if not _within(path, roots):
        raise _outside_roots(url, input_id)
    if not path.exists():
        raise ExecutionError(f'input {input_id}: {url} does not exist')
    return path


def _copy_file(source: Path, target: Path) -> None:
    """Copy a regular file without following a link swapped in after the check."""
    fd = os.open(source, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd, 'rb') as src, open(target, 'wb') as dst:
        shutil.copyfileobj(src, dst, CHUNK)


def _copy_allowed(source: Path, target: Path, url: str, roots: list[str],
                  input_id: str) -> None:
    """Copy an allowed file or directory; a link inside it must stay under the roots."""
    def checked(entry: Path) -> Path:
        try:
            resolved = entry.resolve()
        except (OSError, RuntimeError):
            resolved = None
        if resolved is None or not _within(resolved, roots):
            raise _outside_roots(f'{url} (link {entry.name})', input_id)
        return resolved

    def check_links(directory: str, names: list[str]) -> list[str]:
        for name in names:
            if (Path(directory) / name).is_symlink():
                checked(Path(directory) / name)
        return []

    try:
        if source.is_dir():
            shutil.copytree(source, target, ignore=check_links,
                            copy_function=lambda s, d: _copy_file(checked(Path(s)), Path(d)))
        else:
            _copy_file(source, target)
    except (OSError, shutil.Error) as err:
        raise ExecutionError(f'input {input_id}: cannot copy {url} '
                             f'({type(err).__name__})') from None


def _too_large(url: str, input_id: str, max_bytes: int) -> ExecutionError:
    return ExecutionError(f'input {input_id}: {url} is larger than {max_bytes} bytes, the '
                          'most a stage-in may bring (execution.stage_in.max_bytes)')


def _download(url: str, target: Path, input_id: str, timeout: float,
              policy: EgressPolicy | None = None, max_bytes: int | None = None) -> Path:
    """Download `url` to `target` under the egress policy (strict if none is given), at
    most `max_bytes` (None: no cap); a larger answer is removed and fails the input."""
    try:
        with egress.get(url, policy=policy or EgressPolicy(), timeout=timeout,
                        stream=True) as reply:
            if reply.status_code != 200:
                raise ExecutionError(f'input {input_id}: {url} answered HTTP '
                                     f'{reply.status_code}')
            announced = reply.headers.get('Content-Length', '')
            if max_bytes is not None and announced.isdigit() and int(announced) > max_bytes:
                raise _too_large(url, input_id, max_bytes)
            target.parent.mkdir(parents=True, exist_ok=True)
            written = 0
            with open(target, 'wb') as fh:
                for chunk in reply.iter_content(CHUNK):
                    written += len(chunk)
                    if max_bytes is not None and written > max_bytes:
                        break
                    fh.write(chunk)
            if max_bytes is not None and written > max_bytes:
                target.unlink(missing_ok=True)
                raise _too_large(url, input_id, max_bytes)
    except EgressRefused as err:
        raise ExecutionError(f'input {input_id}: {url} refused: {err}') from None
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


def _copy_opened(opener, href: str, target: Path, input_id: str,
                 max_bytes: int | None) -> Path:
    """Copy what `opener(href)` streams (a scheme of the job's own, e.g. s3:// of the
    caller's workspaces) to `target`, at most `max_bytes`."""
    try:
        stream = opener(href)
    except FileNotFoundError:
        raise ExecutionError(f'input {input_id}: {href} does not exist') from None
    target.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    try:
        with open(target, 'wb') as out:
            while chunk := stream.read(CHUNK):
                written += len(chunk)
                if max_bytes is not None and written > max_bytes:
                    break
                out.write(chunk)
    except OSError as err:
        raise ExecutionError(f'input {input_id}: cannot read {href} '
                             f'({type(err).__name__})') from None
    finally:
        stream.close()
    if max_bytes is not None and written > max_bytes:
        target.unlink(missing_ok=True)
        raise _too_large(href, input_id, max_bytes)
    return target


class OwnURLs:
    """Several readers of this server's URLs as one (`serves`, `open`; see `Stager`)."""

    def __init__(self, *readers):
        self.readers = readers

    def serves(self, href: str) -> bool:
        return any(reader.serves(href) for reader in self.readers)

    def open(self, href: str):
        return next(reader for reader in self.readers if reader.serves(href)).open(href)


def joined(*readers):
    """The readers of this server's URLs given (None: left out) as one; None for none."""
    present = [reader for reader in readers if reader is not None]
    return None if not present else present[0] if len(present) == 1 else OwnURLs(*present)


class Stager:
    """Fetches referenced inputs into `inputs_dir`; returns local paths. `openers`: more
    URL schemes the job reads itself, {scheme: open(href) -> binary stream}, raising
    FileNotFoundError for what does not exist or the job's owner may not read; `own_urls`:
    http(s) URLs of this server the job reads itself (`serves(href)`, `open(href)`, e.g.
    its workspaces' files), not over the network."""

    def __init__(self, inputs_dir: Path, allowed_file_roots: list[str], timeout: float = 60,
                 policy: EgressPolicy | None = None, max_bytes: int | str | None = None,
                 openers: dict | None = None, own_urls=None):
        self.openers = dict(openers or {})
        self.own_urls = own_urls
        self.inputs_dir = inputs_dir
        self.roots = allowed_file_roots
        self.timeout = timeout
        self.policy = policy or EgressPolicy()  # strict unless the caller passes the config's
        self.max_bytes = None if max_bytes is None else size_bytes(max_bytes)

    def copy_to(self, href: str, target: Path, input_id: str) -> Path:
        """Copy what `href` names (http(s) or an allowed file://) to `target`."""
        scheme = urlparse(href).scheme.lower()
        if scheme in ('http', 'https'):
            if self.own_urls is not None and self.own_urls.serves(href):
                return _copy_opened(self.own_urls.open, href, target, input_id,
                                    self.max_bytes)
            return _download(href, target, input_id, self.timeout, self.policy,
                             self.max_bytes)
        if scheme == 'file':
            source = _allowed_file(href, self.roots, input_id)
            target.parent.mkdir(parents=True, exist_ok=True)
            _copy_allowed(source, target, href, self.roots, input_id)
            return target
        if scheme in self.openers:
            return _copy_opened(self.openers[scheme], href, target, input_id, self.max_bytes)
        raise ExecutionError(f'input {input_id}: unsupported reference {href!r} '
                             '(use http, https or file URLs, or s3:// of a bucket in '
                             'execution.stage_in.s3_sources)')

    def local_file(self, href: str, input_id: str) -> Path | None:
        """The file a file:// `href` names, for a reader in this process (server code,
        never a container) to read where it lies: its resolved path, under an allowed root
        after following every link, and a regular file; None for another scheme (its
        content is copied: `copy_to`)."""
        if urlparse(href).scheme.lower() != 'file':
            return None
        path = _allowed_file(href, self.roots, input_id)
        if not path.is_file():
            raise ExecutionError(f'input {input_id}: {href} is not a file')
        return path

    def fetch(self, input_id: str, href: str, index: int = 0) -> Path:
        """Fetch one reference; a STAC item or catalog becomes a local catalog directory
        (catalog.json at its root, assets beside their items, as OGC 20-089 expects)."""
        try:
            name = safe_name(input_id, 'input id')
            target_dir = confine(self.inputs_dir, name if not index else f'{name}_{index}')
        except UnsafePathError as err:
            raise InputRefused(f'input {input_id!r}: {err}') from None
        target = self.copy_to(href, target_dir / _filename(href, name), input_id)
        if target.is_file():
            document = _is_stac(target)
            if document is not None:
                return stage_stac(href, document, target_dir / 'stac', self, input_id)
        return target
