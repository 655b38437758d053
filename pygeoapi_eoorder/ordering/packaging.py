"""Packaging delivered files: zip, tar, tgz (standard library archives), or plain copies.

What is delivered may come from a container, so only regular files (and, in tar archives,
directories) are taken: symbolic links, hard-link entries and special files are left out,
files are opened without following links, and every entry name is a relative path of safe
components (never absolute, never `..`)."""

from __future__ import annotations

import os
import shutil
import stat
import tarfile
import time
import zipfile
from pathlib import Path
from typing import Iterator

from ..execution.paths import UnsafePathError, confine, open_nofollow, safe_name

SUFFIX = {'zip': '.zip', 'tar': '.tar', 'tgz': '.tar.gz'}
ZIP_EPOCH = 315532800  # 1980-01-01: zip cannot date anything earlier


def entries(path: Path) -> Iterator[tuple[str, os.stat_result]]:
    """Relative names (`path.name/...`) and lstat results of the directories and regular
    files in `path` (itself included), never following links; links and special files
    are skipped. Raises UnsafePathError for a name that is not a safe path component."""
    top = os.lstat(path)
    if stat.S_ISREG(top.st_mode):
        yield safe_name(path.name, 'delivered file name'), top
        return
    if not stat.S_ISDIR(top.st_mode):
        return
    yield safe_name(path.name, 'delivered directory name'), top
    for dirpath, dirnames, filenames in os.walk(path, followlinks=False):
        here = Path(dirpath)
        prefix = here.relative_to(path.parent).as_posix()
        for name in sorted(dirnames + filenames):
            info = os.lstat(here / name)
            if stat.S_ISDIR(info.st_mode) or stat.S_ISREG(info.st_mode):
                yield f'{prefix}/{safe_name(name, "delivered file name")}', info
        dirnames[:] = sorted(d for d in dirnames if not os.path.islink(here / d))


def _zip_info(name: str, info: os.stat_result) -> zipfile.ZipInfo:
    entry = zipfile.ZipInfo(name, time.gmtime(max(info.st_mtime, ZIP_EPOCH))[:6])
    entry.external_attr = (stat.S_IFREG | (info.st_mode & 0o755)) << 16
    entry.compress_type = zipfile.ZIP_DEFLATED
    entry.file_size = info.st_size
    return entry


def _tar_info(name: str, info: os.stat_result) -> tarfile.TarInfo:
    entry = tarfile.TarInfo(name)
    entry.mtime = int(info.st_mtime)
    if stat.S_ISDIR(info.st_mode):
        entry.type, entry.mode = tarfile.DIRTYPE, 0o755
    else:
        entry.type, entry.mode, entry.size = tarfile.REGTYPE, info.st_mode & 0o755, info.st_size
    return entry  # uid/gid 0, no user or group names: nothing about the server's accounts


def _write_zip(target: Path, files: list[Path]) -> None:
    with zipfile.ZipFile(target, 'w', zipfile.ZIP_DEFLATED) as archive:
        for path in files:
            for name, info in entries(path):
                if stat.S_ISREG(info.st_mode):
                    with os.fdopen(open_nofollow(path.parent, name), 'rb') as source, \
                            archive.open(_zip_info(name, info), 'w') as sink:
                        shutil.copyfileobj(source, sink)


def _write_tar(target: Path, files: list[Path], mode: str) -> None:
    with tarfile.open(target, mode, format=tarfile.PAX_FORMAT) as archive:
        for path in files:
            for name, info in entries(path):
                if stat.S_ISDIR(info.st_mode):
                    archive.addfile(_tar_info(name, info))
                    continue
                with os.fdopen(open_nofollow(path.parent, name), 'rb') as source:
                    entry = _tar_info(name, info)
                    entry.size = os.fstat(source.fileno()).st_size
                    archive.addfile(entry, source)


def package(files: list[Path], target_dir: Path, name: str, packaging: str) -> Path:
    """Put `files` (files or directories) into one archive named `name` + suffix."""
    target_dir.mkdir(parents=True, exist_ok=True)
    target = confine(target_dir, safe_name(f'{name}{SUFFIX[packaging]}', 'archive name'))
    partial = target.with_name(target.name + '.part')
    try:
        if packaging == 'zip':
            _write_zip(partial, files)
        else:
            _write_tar(partial, files, 'w:gz' if packaging == 'tgz' else 'w')
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    partial.rename(target)
    return target


def copy_regular(path: Path, target_dir: Path) -> Path:
    """Copy `path` (a file or a directory tree) into `target_dir` without links or special
    files, opening every source without following links; return the copy's path."""
    destination = None
    for name, info in entries(path):
        out = confine(target_dir, name)
        destination = destination or out
        if stat.S_ISDIR(info.st_mode):
            out.mkdir(parents=True, exist_ok=True)
            continue
        with os.fdopen(open_nofollow(path.parent, name), 'rb') as source, open(out, 'xb') as sink:
            shutil.copyfileobj(source, sink)
        os.chmod(out, info.st_mode & 0o755)
        os.utime(out, (info.st_atime, info.st_mtime))
    if destination is None:
        raise UnsafePathError(f'{path.name!r} is not a regular file or directory')
    return destination
