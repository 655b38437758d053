"""Which catalogue collections hold data cubes, and their STAC collection documents with
`cube:dimensions` (bands from their records' assets, extents from the resource and the
records)."""

from __future__ import annotations

from dataclasses import dataclass

from ..catalogue import SQL_PROVIDER

STAC_VERSION = '1.1.0'
MAX_SCANNED = 1000  # records read to find a collection's bands


@dataclass(frozen=True)
class CubeCollection:
    """A records collection of the shared store (or of another SQL store)."""

    id: str
    store_url: str
    resource: dict


def cube_collections(resources: dict, settings) -> dict[str, CubeCollection]:
    """The configured record collections served by the SQL provider, by id."""
    found = {}
    for key, resource in (resources or {}).items():
        if (resource or {}).get('type') != 'collection':
            continue
        for provider in resource.get('providers') or []:
            if provider.get('type') == 'record' and provider.get('name') == SQL_PROVIDER:
                data = provider.get('data')
                url = data if data and data != 'eoorder' else settings.store_url
                found[key] = CubeCollection(key, url, resource)
    return found


def workspace_collection(settings, collection_id: str) -> CubeCollection | None:
    """The records collection of a workspace the caller (a request's, or a job's owner as
    it runs) may see; None for any other id, also one of a workspace the caller may not
    see (as if it did not exist)."""
    from ..catalogue import workspace_collections
    from ..catalogue.visibility import current_viewer
    if not collection_id.startswith(workspace_collections.PREFIX) or \
            not (settings.block.get('workspaces') or {}).get('enabled', True):
        return None
    resources = workspace_collections.resources(settings.store_url, current_viewer())
    return cube_collections({collection_id: resources[collection_id]}, settings).get(
        collection_id) if collection_id in resources else None


def record_bands(document: dict) -> list[dict]:
    """The bands of a record's data assets (STAC 1.1 `bands` or `eo:bands`)."""
    bands = []
    for asset in (document.get('assets') or {}).values():
        bands += asset.get('bands') or asset.get('eo:bands') or []
    return bands


def _scan(collection: CubeCollection) -> tuple[list[dict], list[str | None], list]:
    """Bands, time interval and bbox of the records that have band assets."""
    from ..catalogue.repository import RecordRepository
    from shapely.geometry import shape
    rows, _ = RecordRepository(collection.store_url, collection.id).search(
        None, limit=MAX_SCANNED, count=False)
    bands, times, boxes = {}, [], []
    for document in rows:
        found = record_bands(document)
        if not found:
            continue
        for band in found:
            bands.setdefault(band.get('name'), band)
        interval = (document.get('time') or {}).get('interval') or []
        times += [t for t in interval if t]
        if document.get('geometry'):
            boxes.append(shape(document['geometry']).bounds)
    span = [min(times), max(times)] if times else [None, None]
    bbox = [min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes),
            max(b[3] for b in boxes)] if boxes else [-180, -90, 180, 90]
    return list(bands.values()), span, bbox


def stac_collection(collection: CubeCollection, base: str, full: bool = True) -> dict:
    """The openEO (STAC) description of a collection; `base`: the openEO API's URL."""
    resource = collection.resource
    bands, span, bbox = _scan(collection)
    document = {
        'stac_version': STAC_VERSION, 'type': 'Collection', 'id': collection.id,
        'title': resource.get('title') or collection.id,
        'description': resource.get('description') or collection.id,
        'keywords': list(resource.get('keywords') or []),
        'license': 'proprietary',
        'extent': {'spatial': {'bbox': [bbox]}, 'temporal': {'interval': [span]}},
        'links': [{'rel': 'self', 'href': f'{base}/collections/{collection.id}',
                   'type': 'application/json'},
                  {'rel': 'root', 'href': f'{base}/', 'type': 'application/json'},
                  {'rel': 'items', 'type': 'application/geo+json',
                   'href': f'{base.rsplit("/openeo/", 1)[0]}/collections/{collection.id}'
                           '/items'}],
    }
    if full:
        document['cube:dimensions'] = dimensions(bands, span, bbox)
        # STAC: a summary is a non-empty list (a collection with no bands yet has none)
        document['summaries'] = {'eo:bands': bands, 'bands': bands} if bands else {}
        document['stac_extensions'] = [
            'https://stac-extensions.github.io/datacube/v2.2.0/schema.json']
    return document


def dimensions(bands: list[dict], span: list, bbox: list[float]) -> dict:
    found = {
        'x': {'type': 'spatial', 'axis': 'x', 'extent': [bbox[0], bbox[2]],
              'reference_system': 4326},
        'y': {'type': 'spatial', 'axis': 'y', 'extent': [bbox[1], bbox[3]],
              'reference_system': 4326},
        't': {'type': 'temporal', 'extent': span},
    }
    if bands:  # no band dimension for a collection without raster bands (yet)
        found['bands'] = {'type': 'bands', 'values': [b.get('name') for b in bands]}
    return found
