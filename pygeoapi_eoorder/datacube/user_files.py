"""Each user's files (openEO `/files`): the user's personal workspace where the deployer
gives personal workspaces (`workspaces.personal`), else a per-user area
`<data_dir>/openeo/files/<user key>/` with a byte quota (`openeo.files_quota_bytes`).

Paths come from requests: every component is checked (no `..`, no separators, no control
characters), and files are opened without following links. Nobody sees another user's
files. An upload that passes the largest file size or the quota is refused and nothing
of it is kept: it is written beside the area first (a spool for workspaces, a hidden
`.part` file here) and put in place only when complete.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import uuid
from datetime import datetime, timezone
from pathlib import Path

from ..execution.paths import UnsafePathError, confine, open_regular_file, relative_parts

CHUNK = 1 << 20
SPOOLED_IN_MEMORY = 8 << 20


class StorageRefused(Exception):
    """An upload refused: `code` is openEO's (FileSizeExceeded, StorageQuotaExceeded)."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


def too_large(limit: int) -> StorageRefused:
    return StorageRefused('FileSizeExceeded', f'the file is larger than {limit} bytes, the '
                                              'largest file accepted here')


def over_quota(quota: int, used: int) -> StorageRefused:
    return StorageRefused('StorageQuotaExceeded', f'your storage quota is {quota} bytes and '
                          f'{used} bytes are used: the file does not fit; delete files first')


def copy_limited(stream, out, limit: int, refusal) -> int:
    """Copy `stream` to `out`; past `limit` bytes raise `refusal()` (the caller removes
    what was written)."""
    total = 0
    while chunk := stream.read(CHUNK):
        total += len(chunk)
        if total > limit:
            raise refusal()
        out.write(chunk)
    return total


def _user_key(user: str) -> str:
    return hashlib.sha256(user.encode()).hexdigest()[:32]


class OwnArea:
    """A user's folder under the data directory, with the openEO quota."""

    def __init__(self, settings, user: str):
        options = settings.block.get('openeo') or {}
        self.quota = options.get('files_quota_bytes', 1 << 30)
        self.max_file = options.get('max_file_bytes', 1 << 29)
        self.root = Path(settings.data_dir) / 'openeo' / 'files' / _user_key(user)
        self.root.mkdir(parents=True, exist_ok=True)

    def _files(self):
        for path in sorted(self.root.rglob('*')):
            if path.is_file() and not path.is_symlink() and not path.name.startswith('.'):
                yield path

    def listing(self) -> list[dict]:
        found = []
        for path in self._files():
            info = path.stat()
            found.append({'path': path.relative_to(self.root).as_posix(), 'size': info.st_size,
                          'modified': datetime.fromtimestamp(info.st_mtime, timezone.utc)
                          .isoformat().replace('+00:00', 'Z')})
        return found

    def open(self, relative: str):
        """A binary file object of the user's file, or None (absent, a link, a folder)."""
        return open_regular_file(self.root, relative)

    def write(self, relative: str, stream, length: int | None = None) -> dict:
        """Store the stream as the user's file (replacing it); raises UnsafePathError,
        StorageRefused."""
        parts = relative_parts(relative)
        if not parts or parts[-1].startswith('.'):
            raise UnsafePathError(f'{relative!r}: give a file name (not starting with ".")')
        target = confine(self.root, *parts)
        used = sum(p.stat().st_size for p in self._files() if p != target)
        room = self.quota - used
        if length is not None and length > self.max_file:
            raise too_large(self.max_file)
        if length is not None and length > room:
            raise over_quota(self.quota, used)
        clash = UnsafePathError(f'{relative!r}: a folder and a file would have one name')
        if target.is_dir():
            raise clash
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):  # a file where a folder is named
            raise clash from None
        confine(self.root, *parts)  # a link placed among the folders meanwhile
        # (a name of its own, short: the file's may be as long as the system allows)
        tmp = target.with_name(f'.{uuid.uuid4().hex}.part')
        try:
            with open(tmp, 'wb') as out:
                size = copy_limited(stream, out, self.max_file, lambda: too_large(
                    self.max_file))
            if size > room:
                raise over_quota(self.quota, used)
            os.replace(tmp, target)
        except IsADirectoryError:  # (made a folder meanwhile)
            raise clash from None
        finally:
            tmp.unlink(missing_ok=True)
        return {'path': '/'.join(parts), 'size': target.stat().st_size}

    def delete(self, relative: str) -> bool:
        try:
            target = confine(self.root, *relative_parts(relative))
        except UnsafePathError:
            return False
        if target == self.root or target.is_symlink() or not target.is_file():
            return False
        target.unlink()
        return True


class WorkspaceArea:
    """The user's personal workspace (through the workspace service's public methods)."""

    def __init__(self, service, user, workspace_id: str, max_file: int):
        self.service, self.user, self.id, self.max_file = service, user, workspace_id, max_file

    def listing(self) -> list[dict]:
        return [{'path': o.key, 'size': o.size} for o in self.service.files(self.user, self.id)
                if not o.key.startswith('.')]

    def open(self, relative: str):
        from ..workspaces import StorageError
        try:
            return self.service.open(self.user, self.id, relative)
        except (OSError, UnsafePathError, StorageError):
            return None

    def write(self, relative: str, stream, length: int | None = None) -> dict:
        from ..workspaces import KeyConflict, QuotaExceeded
        if length is not None and length > self.max_file:
            raise too_large(self.max_file)
        with tempfile.SpooledTemporaryFile(SPOOLED_IN_MEMORY) as spool:
            size = copy_limited(stream, spool, self.max_file, lambda: too_large(self.max_file))
            spool.seek(0)
            try:
                stored = self.service.upload(self.user, self.id, relative, spool, size)
            except QuotaExceeded as err:
                raise over_quota(err.extra.get('limit', 0), err.extra.get('usage', 0)) \
                    from None
            except KeyConflict as err:
                raise UnsafePathError(str(err)) from None
        return {'path': stored.key, 'size': stored.size}

    def delete(self, relative: str) -> bool:
        from ..workspaces import StorageError
        try:
            return self.service.remove_file(self.user, self.id, relative)
        except (OSError, UnsafePathError, StorageError):
            return False


def area(settings, user, workspaces=None):
    """The user's file area: the personal workspace when the workspace service gives
    personal workspaces, else the user's own folder."""
    if workspaces is not None and workspaces.personal:
        personal = [w for w in workspaces.visible(user) if w.personal == user.name]
        if personal:
            max_file = (settings.block.get('openeo') or {}).get('max_file_bytes', 1 << 29)
            return WorkspaceArea(workspaces, user, personal[0].id, max_file)
    return OwnArea(settings, user.name)

