"""Packaging delivered files: zip, tar, tgz (standard library archives)."""

from __future__ import annotations

import tarfile
import zipfile
from pathlib import Path

SUFFIX = {'zip': '.zip', 'tar': '.tar', 'tgz': '.tar.gz'}


def package(files: list[Path], target_dir: Path, name: str, packaging: str) -> Path:
    """Put `files` (files or directories) into one archive named `name` + suffix."""
    target_dir.mkdir(parents=True, exist_ok=True)
    target = target_dir / f'{name}{SUFFIX[packaging]}'
    partial = target.with_name(target.name + '.part')
    if packaging == 'zip':
        with zipfile.ZipFile(partial, 'w', zipfile.ZIP_DEFLATED) as archive:
            for path in files:
                members = [path] if path.is_file() else sorted(p for p in path.rglob('*')
                                                               if p.is_file())
                for member in members:
                    archive.write(member, member.relative_to(path.parent))
    else:
        mode = 'w:gz' if packaging == 'tgz' else 'w'
        with tarfile.open(partial, mode) as archive:
            for path in files:
                archive.add(path, arcname=path.name)
    partial.rename(target)
    return target
