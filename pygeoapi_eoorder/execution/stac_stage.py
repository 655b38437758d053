"""Stage-in of STAC items and catalogs: assets fetched, a local self-contained catalog written.

Every name taken from the STAC document (item ids, asset keys, file names from asset hrefs)
is checked with `paths.safe_name` and every target with `paths.confine`, so a hostile
document cannot write outside the stage-in directory. Child catalogs and items are read
through the stager (the same rules as any input reference), never by pystac directly.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urljoin, urlparse

import pystac
from pystac.stac_io import DefaultStacIO

from .errors import ExecutionError, InputRefused
from .paths import UnsafePathError, confine, safe_name

class Stager(Protocol):
    """What stage-in of STAC needs from the stager (`staging.Stager`): copying one
    reference under its egress policy and allowed file roots."""

    def copy_to(self, href: str, target: Path, input_id: str) -> Path:
        """Copy what `href` names to `target`; return the local path."""


class StagerStacIO(DefaultStacIO):
    """pystac I/O that reads linked documents through the stager (egress policy, allowed
    file roots) into a scratch directory; writing stays pystac's local file writing."""

    def __init__(self, stager: 'Stager', scratch: Path, input_id: str):
        super().__init__()
        self.stager = stager
        self.scratch = scratch
        self.input_id = input_id

    def read_text_from_href(self, href: str) -> str:
        url = href if urlparse(href).scheme else Path(href).absolute().as_uri()
        self.scratch.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=self.scratch) as tmp:
            local = self.stager.copy_to(url, Path(tmp) / 'document.json', self.input_id)
            return local.read_text(encoding='utf-8')


def read_items(href: str, document: dict, input_id: str, stac_io: StagerStacIO,
               limit: int | None = None) -> list[pystac.Item]:
    """The items of a STAC item, catalog or collection (at most `limit`), the linked
    documents read through the stager."""
    import itertools
    try:
        obj = pystac.read_dict(document, href=href, stac_io=stac_io)
        if isinstance(obj, pystac.Item):
            return [obj]
        return list(itertools.islice(obj.get_items(recursive=True), limit))
    except Exception as err:  # pystac raises many kinds for broken remote catalogs
        refused = stager_error(err)
        if refused is not None:  # the stager refused a linked document: say why
            raise refused from None
        raise ExecutionError(f'input {input_id}: cannot read the STAC document {href} '
                             f'({type(err).__name__}: {err})') from None


def stager_error(err: BaseException | None) -> ExecutionError | None:
    """The stager's error behind what pystac raised (pystac wraps it), if any."""
    seen = 0
    while err is not None and seen < 20:
        if isinstance(err, ExecutionError):
            return err
        err, seen = err.__cause__ or err.__context__, seen + 1
    return None


def _asset_name(source: str, key: str, input_id: str) -> str:
    """The local file name of an asset: its href's last segment, else its key."""
    name = unquote(urlparse(source).path).rsplit('/', 1)[-1]
    try:
        return safe_name(name, 'asset file name')
    except UnsafePathError:
        pass
    try:
        return safe_name(key, 'STAC asset key')
    except UnsafePathError as err:
        raise InputRefused(f'input {input_id}: {err}') from None


def stage_stac(href: str, document: dict, root: Path, stager: 'Stager',
               input_id: str) -> Path:
    """Write `root/catalog.json` holding local copies of the items and their assets."""
    stac_io = StagerStacIO(stager, root.parent / '.stac-read', input_id)
    catalog = pystac.Catalog(id=f'{input_id}-stage-in', description=f'stage-in of {href}')
    for item in read_items(href, document, input_id, stac_io):
        try:
            item_dir = confine(root, safe_name(item.id, 'STAC item id'))
        except UnsafePathError as err:
            raise InputRefused(f'input {input_id}: {err}') from None
        base = item.get_self_href() or href
        local = item.clone()
        local.clear_links()
        for key, asset in local.assets.items():
            source = urljoin(base, asset.href)
            if not urlparse(source).scheme:  # pystac gives local documents plain paths
                source = Path(source).absolute().as_uri()
            name = _asset_name(source, key, input_id)
            try:
                target = confine(item_dir, name)
            except UnsafePathError as err:
                raise InputRefused(f'input {input_id}: asset {key!r}: {err}') from None
            stager.copy_to(source, target, input_id)
            asset.href = name
        catalog.add_item(local)
    catalog.normalize_hrefs(str(root))
    catalog.save(catalog_type=pystac.CatalogType.SELF_CONTAINED)
    shutil.rmtree(stac_io.scratch, ignore_errors=True)
    return root
