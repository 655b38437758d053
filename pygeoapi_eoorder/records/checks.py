"""Records query parameters checked before a search: a bad one is answered 400
problem+json naming the parameter (pygeoapi's messages say "Bad CQL text" or nothing)."""

from __future__ import annotations

import json

from ..catalogue import cql
from ..catalogue.query import (QueryError, check_queryables, datetime_node, list_values,
                               parse_bbox, q_node, typed_value)
from ..catalogue.queryables import EXTRA_PARAMETERS, QUERYABLES, SORT_COLUMNS
from .. import nesting

GEOJSON = 'application/geo+json'
RESERVED = {'bbox', 'bbox-crs', 'crs', 'f', 'lang', 'limit', 'offset', 'resulttype',
            'datetime', 'sortby', 'properties', 'skipGeometry', 'q', 'filter', 'filter-lang',
            'filter-crs', 'profile'}


def check_items_parameters(args) -> None:
    """Raise QueryError (naming the parameter) for any bad Records query parameter."""
    for name in ('limit', 'offset'):
        if name in args:
            try:
                value = int(args[name])
            except ValueError:
                raise QueryError(f'{name}: not an integer: {args[name]!r}') from None
            if value < (1 if name == 'limit' else 0):
                raise QueryError(f'{name}: must be >= {1 if name == "limit" else 0}')
    if 'bbox' in args:
        parse_bbox(args['bbox'])
    if 'datetime' in args:
        datetime_node(args['datetime'])
    if 'q' in args and args['q'].strip():
        q_node(args['q'])
    lang = args.get('filter-lang')
    if lang not in (None, 'cql2-text', 'cql2-json', 'cql-text', 'cql-json'):
        raise QueryError(f'filter-lang: unsupported language {lang!r} (cql2-text, cql2-json)')
    if 'filter' in args:
        try:
            node = cql.parse(args['filter'], lang)
        except cql.CQLError as err:
            raise QueryError(f'filter: {err}') from None
        check_queryables(node)
        from ..catalogue.sql import to_sql  # translation errors (bad operand types) are 400 too
        to_sql(node, 'sqlite', False, '')
    for sort in list_values(args.get('sortby', '')):
        name = sort.lstrip('+-')
        if name not in SORT_COLUMNS:
            raise QueryError(f'sortby: {name!r} is not sortable (see /sortables)')
    for name, value in args.items():
        if name in RESERVED or name in EXTRA_PARAMETERS:
            continue
        if name not in QUERYABLES or name == 'datetime':
            raise QueryError(f'{name}: unknown query parameter (see /queryables)')
        for item in list_values(value):
            typed_value(name, item, name)


def is_search_body(request) -> bool:
    """Is this POST a CQL2-JSON search (else a new record)? Checked: raises QueryError.

    Clients such as OWSLib keep the `application/geo+json` content type of an earlier
    create for a later CQL2-JSON search; a body with `op` (and no record `type`) is a filter.
    """
    data = request.get_data(cache=True) or b'null'
    try:
        nesting.check_json_depth(data, cql.MAX_DEPTH)
    except nesting.TooDeep as err:
        raise QueryError(f'request body: {err}') from None
    try:
        body = json.loads(data)
    except ValueError:
        return request.mimetype != GEOJSON
    if not isinstance(body, dict) or 'op' not in body or body.get('type') == 'Feature':
        return request.mimetype != GEOJSON
    try:
        node = cql.parse_json(body)
    except cql.CQLError as err:
        raise QueryError(f'filter: {err}') from None
    check_queryables(node)
    return True
