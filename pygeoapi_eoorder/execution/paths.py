"""Confined paths: every name that comes from outside (a request, a package, a STAC document,
a container) and is used to build a host path goes through these helpers.

- `safe_name` checks one path component (an input id, a STAC item id, an asset name...).
- `confine` joins parts under a base directory and refuses anything that resolves outside it.
- `open_nofollow` opens a file under a base directory without following any symlink.
- `scrub` removes symlinks and special files (fifos, sockets, devices) from a tree that a
  container wrote, so that nothing read back afterwards can lead to a host file.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path, PurePosixPath
from typing import BinaryIO

MAX_NAME = 255


class UnsafePathError(ValueError):
    """A name or path that would leave its base directory, or a link where none may be."""


def safe_name(name: object, what: str = 'name') -> str:
    """Return `name` if it is a single harmless path component, else raise UnsafePathError.

    Refused: non-strings, empty, `.`/`..`, any `/`, `\\` or NUL, control characters,
    and names over 255 bytes. `what` names the thing in the message (e.g. "input id").
    """
    if not isinstance(name, str) or not name:
        raise UnsafePathError(f'{what} must be a non-empty string')
    if name in ('.', '..'):
        raise UnsafePathError(f'{what} {name!r} is not allowed')
    if any(ch in name for ch in ('/', '\\', '\0')):
        raise UnsafePathError(f'{what} {name!r} must not contain "/", "\\" or NUL')
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in name):
        raise UnsafePathError(f'{what} {name!r} must not contain control characters')
    if len(name.encode('utf-8', 'surrogatepass')) > MAX_NAME:
        raise UnsafePathError(f'{what} is longer than {MAX_NAME} bytes')
    return name


def confine(base: Path | str, *parts: str) -> Path:
    """Join `parts` under `base`, resolve the result (following existing links) and check
    that it is `base` itself or lies inside it, else raise UnsafePathError. Returns the
    resolved path expressed under `base` as given (so `relative_to(base)` keeps working)."""
    root = Path(base).resolve()
    resolved = root.joinpath(*parts).resolve()
    if resolved != root and root not in resolved.parents:
        raise UnsafePathError(f'{"/".join(map(str, parts))!r} leaves its directory')
    return Path(base) / resolved.relative_to(root)


def relative_parts(relative: str) -> list[str]:
    """Split a '/'-separated relative path into checked components ('' and '.' dropped)."""
    if relative.startswith('/'):
        raise UnsafePathError(f'{relative!r} is an absolute path')
    parts = [part for part in PurePosixPath(relative).parts if part not in ('', '.')]
    for part in parts:
        safe_name(part, 'path component')
    return parts


def open_nofollow(base: Path | str, relative: str, flags: int = os.O_RDONLY) -> int:
    """Open `base/relative` and return the file descriptor, following no symlink in any
    component below `base` (each component opened with O_NOFOLLOW relative to its parent).

    Raises UnsafePathError for a link, a special file or a `..`; FileNotFoundError or
    NotADirectoryError when a component is missing or not a directory. Directories may be
    opened too (with read-only flags). The caller closes the descriptor.
    """
    parts = relative_parts(relative)
    fd = os.open(base, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            step = (flags if last else os.O_RDONLY | os.O_DIRECTORY) | os.O_NOFOLLOW | \
                os.O_CLOEXEC | os.O_NONBLOCK
            mode = os.stat(part, dir_fd=fd, follow_symlinks=False).st_mode
            if stat.S_ISLNK(mode):
                raise UnsafePathError(f'{relative!r} goes through a symbolic link')
            if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):  # never open a fifo or device
                raise UnsafePathError(f'{relative!r} is not a regular file')
            if not last and not stat.S_ISDIR(mode):
                raise NotADirectoryError(errno.ENOTDIR, 'not a directory', relative)
            try:
                child = os.open(part, step, dir_fd=fd)
            except OSError as err:  # swapped for a link or a file since the stat above
                if err.errno in (errno.ELOOP, errno.EMLINK, errno.ENOTDIR):
                    raise UnsafePathError(f'{relative!r} goes through a symbolic link '
                                          'or a file') from None
                raise
            os.close(fd)
            fd = child
        mode = os.fstat(fd).st_mode
        if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
            raise UnsafePathError(f'{relative!r} is not a regular file')
        return fd
    except BaseException:
        os.close(fd)
        raise


def open_regular_file(base: Path | str, relative: str) -> BinaryIO | None:
    """`base/relative` opened for binary reading without following any symbolic link, or
    None when it is absent, goes through a link, or is not a regular file (a folder, a
    fifo) — what every server-side reader of files written by a job or a user wants."""
    try:
        fd = open_nofollow(base, relative)
    except (OSError, UnsafePathError):
        return None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        return None
    return os.fdopen(fd, 'rb')


def scrub(tree: Path | str) -> list[str]:
    """Remove every symlink and non-regular, non-directory file (fifo, socket, device) under
    `tree`, never following links; return the removed paths relative to `tree`.

    A `tree` that is itself a link or a special file is removed too (reported as '.').
    A directory that cannot be read raises OSError: nothing in it could be vouched for.
    """
    root = Path(tree)
    removed: list[str] = []
    try:
        st = os.lstat(root)
    except FileNotFoundError:
        return removed
    if not stat.S_ISDIR(st.st_mode):
        if not stat.S_ISREG(st.st_mode):
            os.unlink(root)
            removed.append('.')
        return removed
    for dirpath, dirnames, filenames in os.walk(root, onerror=_raise, followlinks=False):
        here = Path(dirpath)
        for name in list(dirnames):
            path = here / name
            if os.path.islink(path):  # os.walk lists links to directories as dirnames
                os.unlink(path)
                removed.append(path.relative_to(root).as_posix())
                dirnames.remove(name)
        for name in filenames:
            path = here / name
            mode = os.lstat(path).st_mode
            if not stat.S_ISREG(mode):
                os.unlink(path)
                removed.append(path.relative_to(root).as_posix())
    return removed


def _raise(err: OSError) -> None:
    raise err
