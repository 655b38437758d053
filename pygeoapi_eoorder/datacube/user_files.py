"""Each user's file area (openEO `/files`): `<data_dir>/openeo/files/<user key>/`.

Paths come from requests: every component is checked (no `..`, no separators, no control
characters), and files are opened without following links. Nobody sees another user's
area.
"""

from __future__ import annotations

import hashlib
import os
from datetime import datetime, timezone
from pathlib import Path

from ..execution.paths import UnsafePathError, confine, open_regular_file, relative_parts

CHUNK = 1 << 20


def area(settings, user: str) -> Path:
    key = hashlib.sha256(user.encode()).hexdigest()[:32]
    folder = Path(settings.data_dir) / 'openeo' / 'files' / key
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def listing(settings, user: str) -> list[dict]:
    root = area(settings, user)
    found = []
    for path in sorted(root.rglob('*')):
        if path.is_file() and not path.is_symlink() and not path.name.startswith('.'):
            info = path.stat()
            found.append({'path': path.relative_to(root).as_posix(), 'size': info.st_size,
                          'modified': datetime.fromtimestamp(info.st_mtime, timezone.utc)
                          .isoformat().replace('+00:00', 'Z')})
    return found


def open_file(settings, user: str, relative: str):
    """A binary file object of the user's file, or None (absent, a link, a folder)."""
    return open_regular_file(area(settings, user), relative)


def write(settings, user: str, relative: str, stream) -> dict:
    """Store the stream as the user's file (replacing it); raises UnsafePathError."""
    root = area(settings, user)
    parts = relative_parts(relative)
    if not parts or parts[-1].startswith('.'):
        raise UnsafePathError(f'{relative!r}: give a file name (not starting with ".")')
    target = confine(root, *parts)
    target.parent.mkdir(parents=True, exist_ok=True)
    confine(root, *parts)  # a link placed among the folders meanwhile
    tmp = target.with_name(f'.{target.name}.{os.getpid()}.part')
    with open(tmp, 'wb') as out:
        while chunk := stream.read(CHUNK):
            out.write(chunk)
    os.replace(tmp, target)
    info = target.stat()
    return {'path': '/'.join(parts), 'size': info.st_size}


def delete(settings, user: str, relative: str) -> bool:
    root = area(settings, user)
    try:
        target = confine(root, *relative_parts(relative))
    except UnsafePathError:
        return False
    if target == root or target.is_symlink() or not target.is_file():
        return False
    target.unlink()
    return True
