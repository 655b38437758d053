"""STAC API search parameters (GET query string or POST body) as one `Search`.

Names are STAC's (`eo:cloud_cover`, `instruments`, `collection`, `properties.x`); they are
mapped to the catalogue's queryables, so filters, sorting and every other parameter
become the catalogue's one query model (a pygeofilter AST).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from pygeofilter import ast, values
from shapely.geometry import shape

from ..catalogue import cql
from ..catalogue.query import (QueryError, bbox_node, combine, datetime_node, list_values,
                               parse_bbox)
from ..catalogue.queryables import QUERYABLES, SORT_COLUMNS
from ..catalogue.search import COLLECTION, DOCUMENT
from .bodies import is_finite_number
from .fields import Fields
from .items import LOWER_CASE, RECORD_TO_STAC

DEFAULT_LIMIT, MAX_LIMIT = 10, 10000
# STAC name -> queryable (record names are accepted as they are)
STAC_TO_QUERYABLE = {stac: name for name, stac in RECORD_TO_STAC.items()}
STAC_TO_QUERYABLE.update({'id': 'id', 'collection': COLLECTION, 'geometry': 'geometry',
                          'datetime': 'datetime', 'start_datetime': 'start_datetime',
                          'end_datetime': 'end_datetime', 'created': 'created',
                          'updated': 'updated', 'title': 'title',
                          'description': 'description'})
GET_PARAMETERS = {'bbox', 'intersects', 'datetime', 'ids', 'collections', 'limit', 'token',
                  'filter', 'filter-lang', 'filter-crs', 'sortby', 'fields', 'f'}
# a POST body's members: the same (`token` is what the `next` link of a POST search adds)
POST_PARAMETERS = GET_PARAMETERS
RFC3339 = re.compile(r'\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?'
                     r'([Zz]|[+-]\d{2}:\d{2})')
PROPERTY_NAME = re.compile(r'[A-Za-z_][A-Za-z0-9_:\-]{0,63}')
CRS84 = ('http://www.opengis.net/def/crs/OGC/1.3/CRS84',
         'https://www.opengis.net/def/crs/OGC/1.3/CRS84')


@dataclass
class Search:
    """A checked search: the query AST, collections asked for, order, page and fields."""

    node: ast.Node | None = None
    collections: list[str] | None = None
    sortby: list[dict] = field(default_factory=list)
    limit: int = DEFAULT_LIMIT
    offset: int = 0
    fields: Fields | None = None


def queryable_name(name: str, parameter: str, any_property: bool = False) -> str:
    """The catalogue queryable of a STAC property name; with `any_property`, another
    property name is read from the stored documents (filters: queryables are open)."""
    name = name[len('properties.'):] if name.startswith('properties.') else name
    found = STAC_TO_QUERYABLE.get(name) or (name if name in QUERYABLES else None)
    if found is None and any_property and PROPERTY_NAME.fullmatch(name):
        return DOCUMENT + name
    if found is None:
        raise QueryError(f'{parameter}: unknown property {name!r} (see /queryables)')
    return found


def _renamed(node, parameter: str):
    """The AST with STAC attribute names replaced by queryables (values of lower-case
    STAC enumerations compared as the catalogue stores them)."""
    if isinstance(node, ast.Attribute):
        return ast.Attribute(queryable_name(node.name, parameter, any_property=True))
    if isinstance(node, list):
        return [_renamed(item, parameter) for item in node]
    if not isinstance(node, ast.Node) or isinstance(node, (values.Geometry,)):
        return node
    changed = {key: _renamed(value, parameter) for key, value in vars(node).items()}
    lhs = changed.get('lhs')
    if isinstance(lhs, ast.Attribute) and lhs.name in LOWER_CASE:
        for key in ('rhs', 'sub_nodes'):
            if isinstance(changed.get(key), str):
                changed[key] = changed[key].upper()
            elif isinstance(changed.get(key), list):
                changed[key] = [v.upper() if isinstance(v, str) else v
                                for v in changed[key]]
    copy = object.__new__(type(node))
    copy.__dict__.update(changed)
    return copy


def rfc3339_interval(text: str) -> str:
    """STAC's `datetime`: an RFC 3339 date-time, or an interval of them with open ends
    ('..' or empty); anything else (dates alone, no time zone) is refused."""
    for part in text.split('/'):
        if part.strip() not in ('', '..') and not RFC3339.fullmatch(part.strip()):
            raise QueryError(f'datetime: not an RFC 3339 date-time: {part!r}')
    return text


def filter_node(value, lang: str | None, parameter: str = 'filter') -> ast.Node:
    if lang not in (None, 'cql2-text', 'cql2-json'):
        raise QueryError(f'filter-lang: unsupported language {lang!r} (cql2-text, cql2-json)')
    try:
        if isinstance(value, (dict, bool)):  # (a CQL2 JSON filter: `true` too)
            node = cql.parse_json(value)
        else:
            node = cql.parse(str(value), lang)
    except cql.CQLError as err:
        raise QueryError(f'{parameter}: {err}') from None
    return _renamed(node, parameter)


def intersects_node(geometry) -> ast.Node:
    if isinstance(geometry, str):
        try:
            geometry = json.loads(geometry)
        except ValueError:
            raise QueryError('intersects: not a GeoJSON geometry') from None
    try:
        geom = shape(geometry)
    except Exception:  # noqa: BLE001 - shapely raises several kinds
        raise QueryError('intersects: not a GeoJSON geometry') from None
    if geom.is_empty or not geom.is_valid:
        raise QueryError('intersects: an empty or invalid geometry')
    return ast.GeometryIntersects(ast.Attribute('geometry'), values.Geometry(geometry))


def sort_terms(terms) -> list[dict]:
    """GET `+a,-b` or POST [{field, direction}] as the catalogue's sort list."""
    sorts = []
    for term in terms:
        if isinstance(term, dict):
            name, direction = term.get('field'), str(term.get('direction', 'asc')).lower()
            if not isinstance(name, str) or direction not in ('asc', 'desc'):
                raise QueryError('sortby: each term needs a field and direction asc/desc')
            descending = direction == 'desc'
        else:
            term = str(term).strip()
            descending, name = term.startswith('-'), term.lstrip('+- ')
        prop = queryable_name(name, 'sortby')
        if prop != COLLECTION and prop not in SORT_COLUMNS:
            raise QueryError(f'sortby: {name!r} is not sortable')
        sorts.append({'property': prop, 'order': '-' if descending else '+'})
    return sorts


def _integer(value, parameter: str, minimum: int, post: bool = False) -> int:
    """An integer >= `minimum`; in a POST body, a JSON number without fraction."""
    if post and not (is_finite_number(value) and float(value).is_integer()):
        raise QueryError(f'{parameter}: not an integer: {value!r}')
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise QueryError(f'{parameter}: not an integer: {value!r}') from None
    if number < minimum:
        raise QueryError(f'{parameter}: must be >= {minimum}')
    return number


def _string_list(value, parameter: str) -> list[str]:
    if isinstance(value, str):
        return list_values(value)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    raise QueryError(f'{parameter}: a list of strings is required')


def _fields(value) -> Fields:
    """POST {include, exclude} or GET `a,+b,-c` (see `fields`)."""
    if isinstance(value, dict):
        include = _string_list(value.get('include') or [], 'fields')
        exclude = _string_list(value.get('exclude') or [], 'fields')
        explicit = 'include' in value or not exclude
        return Fields(include, exclude, defaults=explicit and not include)
    if value is None:
        raise QueryError('fields: an object with include and/or exclude is required')
    include, exclude = [], []
    for term in _string_list(value, 'fields'):
        (exclude if term.startswith('-') else include).append(term.lstrip('+-'))
    return Fields(include, exclude, defaults=not include and not exclude)


def _spatial(params: dict, post: bool) -> list[ast.Node]:
    if params.get('bbox') is not None and params.get('intersects') is not None:
        raise QueryError('bbox, intersects: only one of them may be given')
    if params.get('filter-crs') not in (None, *CRS84):
        raise QueryError('filter-crs: only CRS84 is supported')
    if params.get('bbox') is not None:
        if post and not (isinstance(params['bbox'], list)
                         and all(is_finite_number(n) for n in params['bbox'])):
            raise QueryError('bbox: an array of 4 or 6 numbers is required')
        return [bbox_node(parse_bbox(params['bbox']))]
    if params.get('intersects') is not None:
        return [intersects_node(params['intersects'])]
    return []


def parse(params: dict, post: bool = False) -> Search:
    """A `Search` from GET parameters or a POST body (raises QueryError)."""
    search = Search()
    nodes = _spatial(params, post)
    if params.get('datetime'):
        nodes.append(datetime_node(rfc3339_interval(str(params['datetime']))))
    if params.get('ids'):
        nodes.append(ast.In(ast.Attribute('id'), _string_list(params['ids'], 'ids'), False))
    if params.get('filter') not in (None, ''):
        lang = params.get('filter-lang') or ('cql2-json' if post else None)
        nodes.append(filter_node(params['filter'], lang))
    search.node = combine(nodes)
    if params.get('collections'):
        search.collections = _string_list(params['collections'], 'collections')
    if params.get('limit') is not None:
        search.limit = min(_integer(params['limit'], 'limit', 1, post), MAX_LIMIT)
    if params.get('token'):
        search.offset = _integer(str(params['token']).removeprefix('next:'), 'token', 0)
    if params.get('sortby'):
        terms = params['sortby']
        if not isinstance(terms, (str, list)):
            raise QueryError('sortby: an array of {field, direction} terms is required')
        search.sortby = sort_terms(terms.split(',') if isinstance(terms, str) else terms)
    if 'fields' in params:
        search.fields = _fields(params['fields'])
    return search


def from_query_string(args) -> Search:
    """GET parameters (unknown ones are refused, so a typo is no silent full result)."""
    for name in args:
        if name not in GET_PARAMETERS:
            raise QueryError(f'{name}: unknown parameter')
    return parse({name: args.get(name) for name in args})


def from_post_body(body: dict) -> Search:
    """A POST body (unknown members are refused, as GET's unknown parameters are)."""
    for name in body:
        if name not in POST_PARAMETERS:
            raise QueryError(f'{name}: unknown parameter')
    return parse(body, post=True)
