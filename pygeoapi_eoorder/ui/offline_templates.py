"""pygeoapi's templates rewritten to load their browser assets from this server, not CDNs.

At app start, `build(run_dir)` writes `<run_dir>/templates/` (the `server.templates.path`
pygeoapi renders from): every template of the INSTALLED pygeoapi that references a CDN
asset, rewritten by `REWRITES` (Bootstrap, Leaflet and Swagger UI point at `/ui/vendor/...`,
see `vendor.py`; plugins with no local copy are dropped with the code that uses them), plus
a copy of this package's own templates (`eoorder/` and the small pages replacing the ones
that only work with CDN viewers). It is written atomically under a lock and rebuilt only
when its inputs change (the `.stamp` file). `leftovers()` lists what the table misses (a
test asserts there is nothing); a leftover remote tag is dropped at build, never loaded.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock

LOGGER = logging.getLogger(__name__)
OURS = Path(__file__).resolve().parent.parent / 'templates'
STAMP = '.stamp'
LOCAL = "{{ config['server']['url'] }}/ui/vendor"  # urls.IN_PAGES until a request fills it
# a tag that makes the browser load something (a script, a stylesheet, an icon) from afar
REMOTE_ASSET = re.compile(r'<(?:script|link)\b[^>]*\b(?:src|href)\s*=\s*["\']?(?:https?:)?//'
                          r'[^>]*>', re.IGNORECASE)
# the APIs of plugins that have no local copy: no rewritten template may still call them
PLUGIN_APIS = ('markerClusterGroup', 'imageOverlay.ogcapi', '.editing.', 'vectorGrid',
               'AsyncApiStandalone', '<redoc')


@dataclass(frozen=True)
class Rewrite:
    """A regex substitution applied to every template's text."""

    pattern: str
    replacement: str

    def apply(self, text: str) -> str:
        return re.sub(self.pattern, self.replacement, text)


def _to_local(url: str, local: str) -> Rewrite:
    return Rewrite(url, f'{LOCAL}/{local}')


def _drop_tags(url: str) -> Rewrite:
    """Remove the <link> or <script> tags (and their line) that load `url`."""
    return Rewrite(r'[ \t]*<(?:link\b[^>]*?\bhref|script\b[^>]*?\bsrc)\s*=\s*["\']' + url
                   + r'[^"\']*["\'][^>]*>(?:\s*</script>)?[ \t]*\n?', '')


_UNPKG, _JSDELIVR, _CDNJS = r'https?://unpkg\.com/', r'https?://cdn\.jsdelivr\.net/npm/', \
    r'https?://cdnjs\.cloudflare\.com/ajax/libs/'
REWRITES: tuple[Rewrite, ...] = (
    # served by this server (/ui/vendor, vendor.py)
    _to_local(rf'(?:{_UNPKG}|{_JSDELIVR})bootstrap@[^/"\']+/dist/(css|js)/', r'bootstrap/\1/'),
    _to_local(rf'{_CDNJS}bootstrap/[^/"\']+/(css|js)/', r'bootstrap/\1/'),
    _to_local(rf'(?:{_UNPKG}|{_JSDELIVR})leaflet@[^/"\']+/dist/', 'leaflet/'),
    _to_local(rf'{_CDNJS}leaflet/[^/"\']+/', 'leaflet/'),
    _to_local(rf'(?:{_UNPKG}|{_JSDELIVR})swagger-ui-dist(?:@[^/"\']+)?/', 'swagger-ui/'),
    # no local copy: the tags go, and the code using them does without
    Rewrite(r'(?s)[ \t]*<!--\[if lt IE 9\]>.*?<!\[endif\]-->[ \t]*\n?', ''),  # html5shiv
    _drop_tags(rf'{_UNPKG}leaflet-imageoverlay-ogcapi[@/]'),
    Rewrite(r'[ \t]*ogcapi_layer = L\.imageOverlay\.ogcapi\([^)]*\}\);[ \t]*\n?', ''),
    _drop_tags(rf'{_UNPKG}leaflet\.markercluster[@/]'),
    Rewrite(r'var markers = L\.markerClusterGroup\(\{[^}]*\}\);\s*'
            r'markers\.clearLayers\(\)\.addLayer\((\w+)\);\s*map\.addLayer\(markers\);',
            r'map.addLayer(\1);'),
    _drop_tags(rf'{_UNPKG}leaflet-draw[@/]'),
    Rewrite(r'[ \t]*rectangle\.editing\.enable\(\);[ \t]*\n?', ''),
)


def rewrite(text: str) -> str:
    """`text` with every entry of `REWRITES` applied."""
    for entry in REWRITES:
        text = entry.apply(text)
    return text


def _pygeoapi_templates() -> Path:
    from pygeoapi.util import TEMPLATESDIR
    return Path(TEMPLATESDIR)


def _templates(root: Path) -> dict[str, Path]:
    return {p.relative_to(root).as_posix(): p for p in sorted(root.rglob('*')) if p.is_file()
            and p.suffix in ('.html', '.j2', '.jsonld') and '__pycache__' not in p.parts}


def _uses_a_cdn(text: str) -> bool:
    return REMOTE_ASSET.search(text) is not None


def rewritten() -> dict[str, str]:
    """The installed pygeoapi's templates that reference a CDN asset and that this package
    does not replace by its own page, rewritten."""
    ours = _templates(OURS)
    return {name: rewrite(path.read_text(encoding='utf8'))
            for name, path in _templates(_pygeoapi_templates()).items()
            if name not in ours and _uses_a_cdn(path.read_text(encoding='utf8'))}


def leftovers(pages: dict[str, str] | None = None) -> dict[str, list[str]]:
    """Per template, the remote asset tags and no-local-copy plugin calls the table missed."""
    found = {}
    for name, text in (rewritten() if pages is None else pages).items():
        missed = REMOTE_ASSET.findall(text) + [api for api in PLUGIN_APIS if api in text]
        if missed:
            found[name] = missed
    return found


def _stamp() -> str:
    """What the folder is built from: pygeoapi's version, the table, our templates."""
    from pygeoapi import __version__
    ours = {name: hashlib.sha256(path.read_bytes()).hexdigest()
            for name, path in _templates(OURS).items()}
    return json.dumps({'pygeoapi': __version__, 'source': str(_pygeoapi_templates()),
                       'rewrites': [[r.pattern, r.replacement] for r in REWRITES],
                       'remote_asset': REMOTE_ASSET.pattern, 'ours': ours}, sort_keys=True)


def _is_current(folder: Path, stamp: str) -> bool:
    try:
        return (folder / STAMP).read_text(encoding='utf8') == stamp
    except OSError:
        return False


def _write(folder: Path, stamp: str) -> None:
    pages = rewritten()
    for name, missed in leftovers(pages).items():
        LOGGER.warning('offline templates: %s still references %s (not in the rewrite table; '
                       'remote tags dropped)', name, missed)
        pages[name] = REMOTE_ASSET.sub('', pages[name])
    for name, path in _templates(OURS).items():
        pages[name] = path.read_text(encoding='utf8')
    for name, text in pages.items():
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding='utf8')
    (folder / STAMP).write_text(stamp, encoding='utf8')


def build(run_dir: Path) -> Path:
    """`<run_dir>/templates/`, (re)written if its stamp does not match its inputs."""
    folder, stamp = run_dir / 'templates', _stamp()
    if _is_current(folder, stamp):
        return folder
    run_dir.mkdir(parents=True, exist_ok=True)
    with FileLock(str(run_dir / 'templates.lock')):  # web workers start at once
        if _is_current(folder, stamp):
            return folder
        fresh = Path(tempfile.mkdtemp(prefix='templates.', suffix='.new', dir=run_dir))
        _write(fresh, stamp)
        os.chmod(fresh, 0o755)
        if folder.exists():
            old = Path(tempfile.mkdtemp(prefix='templates.', suffix='.old', dir=run_dir))
            os.replace(folder, old / 'templates')
            os.replace(fresh, folder)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(fresh, folder)
        LOGGER.info('offline templates written to %s', folder)
    return folder
