"""The queryables of a SQL records collection: name, JSON schema type, column.

One table drives /queryables, /sortables, property=value parameters, CQL2 attribute
mapping, OpenSearch parameters and the STAC (federation) property names.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Queryable:
    name: str
    type: str                 # JSON schema type: string, number, integer
    column: str | None        # Record attribute; None for computed ones (datetime, geometry)
    description: str
    format: str | None = None
    enum: tuple[str, ...] | None = None
    stac: str | None = None   # STAC item property of the same meaning
    sortable: bool = True
    array: bool = False       # multi-valued: the column holds the values '|'-joined


QUERYABLES: dict[str, Queryable] = {q.name: q for q in [
    Queryable('id', 'string', 'identifier', 'record identifier', stac='id'),
    Queryable('type', 'string', 'type', 'record type (e.g. dataset, service, product)'),
    Queryable('title', 'string', 'title', 'title', stac='title'),
    Queryable('description', 'string', 'description', 'free-text description',
              stac='description', sortable=False),
    Queryable('keywords', 'string', 'keywords', 'keywords', sortable=False, array=True),
    Queryable('externalIds', 'string', 'external_ids', 'identifiers in other systems',
              sortable=False, array=True),
    Queryable('parentIdentifier', 'string', 'parent_identifier',
              'identifier of the collection (series) the record belongs to',
              stac='collection'),
    Queryable('platform', 'string', 'platform', 'platform (satellite) short name',
              stac='platform'),
    Queryable('instrument', 'string', 'instrument', 'instrument short name(s)',
              stac='instruments', array=True),
    Queryable('productType', 'string', 'product_type', 'product type', stac='product:type'),
    Queryable('processingLevel', 'string', 'processing_level', 'processing level',
              stac='processing:level'),
    Queryable('sensorType', 'string', 'sensor_type', 'sensor type (OPTICAL, RADAR, ...)'),
    Queryable('cloudCover', 'number', 'cloud_cover', 'cloud cover in percent',
              stac='eo:cloud_cover'),
    Queryable('orbitNumber', 'integer', 'orbit_number', 'absolute orbit number',
              stac='sat:absolute_orbit'),
    Queryable('orbitDirection', 'string', 'orbit_direction', 'orbit direction',
              enum=('ASCENDING', 'DESCENDING'), stac='sat:orbit_state'),
    Queryable('datetime', 'string', None, 'acquisition time (instant or start-end interval)',
              format='date-time', stac='datetime'),
    Queryable('start_datetime', 'string', 'time_start', 'acquisition start',
              format='date-time', stac='start_datetime'),
    Queryable('end_datetime', 'string', 'time_end', 'acquisition end', format='date-time',
              stac='end_datetime'),
    Queryable('created', 'string', 'created', 'record creation time', format='date-time',
              stac='created'),
    Queryable('updated', 'string', 'updated', 'record update time', format='date-time',
              stac='updated'),
]}

NUMERIC = {name for name, q in QUERYABLES.items() if q.type in ('number', 'integer')}
MULTI_VALUED = {name for name, q in QUERYABLES.items() if q.array}
TEMPORAL = {name for name, q in QUERYABLES.items() if q.format == 'date-time'}
GEOMETRY = 'geometry'
SORT_COLUMNS = {name: (q.column or 'time_start') for name, q in QUERYABLES.items()
                if q.sortable}

# Records query parameters handled besides the queryables (all others are rejected)
EXTRA_PARAMETERS = {'ids', 'externalIds', 'type'}


def pygeoapi_fields() -> dict:
    """`fields` in pygeoapi's form (it builds /queryables and validates sortby from it)."""
    fields = {}
    for name, q in QUERYABLES.items():
        field = {'type': q.type, 'title': q.description}
        if q.format:
            field['format'] = q.format
        if q.enum:
            field['values'] = list(q.enum)
        fields[name] = field
    return fields
