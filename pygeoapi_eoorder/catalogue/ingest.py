"""Register a local STAC catalog (e.g. a job's output) as records of a collection."""

from __future__ import annotations

import functools
import itertools
import os
import pathlib
from typing import Callable, Iterable, Iterator
from urllib.parse import quote, unquote, urlsplit

import pystac

from ..egress import EgressPolicy
from .records import from_stac_item
from .repository import RecordRepository
from .stac_io import EgressStacIO
from .visibility import CURATED, Ownership

BATCH = 500


def _catalog_file(catalog: str | pathlib.Path) -> pathlib.Path:
    path = pathlib.Path(catalog)
    if path.is_dir():
        path = path / 'catalog.json'
    if not path.is_file():
        raise FileNotFoundError(f'no STAC catalog at {path}')
    return path.resolve()


def _href_rewriter(root: pathlib.Path, base_href: str | None):
    """Asset hrefs under the catalog's directory become base_href + relative path; a
    local href outside it (a host file named by whoever wrote the catalog) gives None:
    the asset is not registered."""
    if not base_href:
        return None
    base = base_href.rstrip('/')
    folder = functools.cache(root.resolve)  # (resolved for the first local href only)

    def rewrite(href: str) -> str | None:
        scheme = urlsplit(href).scheme.lower()
        if scheme in ('http', 'https'):
            return href
        if scheme not in ('', 'file'):  # s3://... kept; javascript:, data: dropped
            return href if '://' in href else None
        try:
            local = pathlib.Path(unquote(urlsplit(href).path) if scheme else href)
            relative = os.path.relpath(local.resolve(), folder())
        except (ValueError, OSError, RuntimeError):
            return None
        if relative == '..' or relative.startswith('../') or os.path.isabs(relative):
            return None
        return f'{base}/{quote(pathlib.PurePath(relative).as_posix())}'
    return rewrite


def _read_items(path: pathlib.Path) -> Iterable[pystac.Item]:
    """The items of the catalog file, their asset hrefs absolute."""
    stac_io = EgressStacIO(EgressPolicy(), 30, path.parent)  # links stay in the catalog
    stac = pystac.read_file(str(path), stac_io=stac_io)
    if not isinstance(stac, (pystac.Catalog, pystac.Collection)):
        raise ValueError(f'{path} is not a STAC catalog or collection')
    stac.make_all_asset_hrefs_absolute()
    return stac.get_items(recursive=True)


def stac_records(catalog: str | pathlib.Path, base_href: str | None = None,
                 id_prefix: str = '', items: Iterable[pystac.Item | dict] | None = None
                 ) -> Iterator[dict]:
    """The record of each item of the STAC catalog (see `ingest_stac`; with `items`, its
    file need not be written yet: `catalog` names it or its directory)."""
    if items is None:
        path = _catalog_file(catalog)
        root, items = path.parent, _read_items(path)
    else:
        root = pathlib.Path(catalog)
        root = root.parent if root.suffix == '.json' else root
    rewrite = _href_rewriter(root, base_href)
    for item in items:
        document = item if isinstance(item, dict) else item.to_dict(transform_hrefs=False)
        record = from_stac_item(document, rewrite)
        record['id'] = f"{id_prefix}{record['id']}"
        yield record


def ingest_stac(store_url: str, collection_id: str, catalog: str | pathlib.Path,
                base_href: str | None = None, ownership: Ownership = CURATED,
                id_prefix: str = '', items: Iterable[pystac.Item | dict] | None = None,
                unless: Callable | None = None) -> int:
    """Upsert every item of the STAC catalog as a record; return how many were ingested.

    `ownership`: who owns the records and who sees them; `id_prefix` is put before every
    item id (a job's prefix: its items never replace anyone else's). `items`: the
    catalog's items as its writer holds them (pystac items or STAC documents, asset
    hrefs absolute): the catalog just written is not read back. `unless(connection)`: a
    reason to write nothing, read in each writing transaction (see
    `RecordRepository.upsert`)."""
    repository = RecordRepository(store_url, collection_id)
    total = 0
    for batch in itertools.batched(stac_records(catalog, base_href, id_prefix, items), BATCH):
        total += repository.upsert(list(batch), ownership, unless=unless).total
    return total
