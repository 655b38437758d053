"""Stage-in of STAC items and catalogs: assets fetched, a local self-contained catalog written."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urljoin

import pystac

from .errors import ExecutionError

if TYPE_CHECKING:
    from .staging import Stager


def _items(href: str, document: dict, input_id: str) -> list[pystac.Item]:
    try:
        obj = pystac.read_dict(document, href=href)
        if isinstance(obj, pystac.Item):
            return [obj]
        return list(obj.get_items(recursive=True))
    except Exception as err:  # pystac raises many kinds for broken remote catalogs
        raise ExecutionError(f'input {input_id}: cannot read the STAC document {href} '
                             f'({type(err).__name__}: {err})') from None


def stage_stac(href: str, document: dict, root: Path, stager: 'Stager',
               input_id: str) -> Path:
    """Write `root/catalog.json` holding local copies of the items and their assets."""
    catalog = pystac.Catalog(id=f'{input_id}-stage-in', description=f'stage-in of {href}')
    for item in _items(href, document, input_id):
        base = item.get_self_href() or href
        local = item.clone()
        local.clear_links()
        for key, asset in local.assets.items():
            source = urljoin(base, asset.href)
            name = Path(source.split('?')[0]).name or key
            stager.copy_to(source, root / item.id / name, input_id)
            asset.href = name
        catalog.add_item(local)
    catalog.normalize_hrefs(str(root))
    catalog.save(catalog_type=pystac.CatalogType.SELF_CONTAINED)
    return root
