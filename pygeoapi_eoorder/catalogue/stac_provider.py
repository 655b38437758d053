"""`STACProvider`: a remote STAC API served as a records collection (federation).

resources:
  earth-search:
    type: collection
    providers:
      - type: record
        name: pygeoapi_eoorder.catalogue.stac_provider.STACProvider
        data: https://stac.example.org/v1      # the STAC API landing page
        collections: [sentinel-2-l2a]          # remote collections searched (default: all)
        timeout: 10       # seconds (default: catalogue.federation.timeout_seconds)

A remote that answers with an error gives 502, one that does not answer in time 504.
"""

from __future__ import annotations

import re
import threading
import time
from http import HTTPStatus

import requests
from pygeoapi.provider.base import (BaseProvider, ProviderGenericError,
                                    ProviderInvalidQueryError, ProviderItemNotFoundError)
from pystac_client import Client, ItemSearch
from pystac_client.exceptions import APIError

from ..egress import EgressPolicy, EgressRefused, policy_from_settings
from . import links, runtime, stac
from .query import QueryError, build, parse_bbox
from .queryables import pygeoapi_fields
from .records import from_stac_item
from .stac_io import EgressStacApiIO

DEFAULT_TIMEOUT = 10.0
ARRAY_FUNCTIONS = 'http://www.opengis.net/spec/cql2/1.0/conf/array-functions'
_CLIENTS: dict[tuple[str, float], Client] = {}
_LOCK = threading.Lock()


class RemoteError(ProviderGenericError):
    """The remote STAC API failed (502)."""
    ogc_exception_code = 'NoApplicableCode'
    http_status_code = HTTPStatus.BAD_GATEWAY


class RemoteTimeout(ProviderGenericError):
    """The remote STAC API did not answer in time (504)."""
    ogc_exception_code = 'NoApplicableCode'
    http_status_code = HTTPStatus.GATEWAY_TIMEOUT


class FreeTextItemSearch(ItemSearch):
    """ItemSearch with the free-text `q` (pystac-client 0.9 accepts it only in BaseSearch)."""

    def __init__(self, url: str, *, q: str | None = None, **kwargs):
        super().__init__(url, **kwargs)
        self.q = q

    def get_parameters(self) -> dict:
        parameters = super().get_parameters()
        if self.q:
            parameters['q'] = self.q
        return parameters


def _egress_policy() -> EgressPolicy:
    found = runtime.settings()
    return policy_from_settings(found.block.get('egress') if found else None)


def _client(url: str, timeout: float) -> Client:
    with _LOCK:
        client = _CLIENTS.get((url, timeout))
    if client is None:
        client = Client.open(url, stac_io=EgressStacApiIO(_egress_policy(), timeout=timeout),
                             timeout=timeout)
        with _LOCK:
            _CLIENTS[(url, timeout)] = client
    return client


def _has_free_text_item_search(client: Client) -> bool:
    """Free text for items (not just for the collection search) in the remote's conformance."""
    return any('free-text' in uri and 'collection-search' not in uri
               for uri in client.get_conforms_to())


def _item_search_extension(client: Client, name: str) -> bool:
    """The remote declares item-search extension `name` (any STAC API 1.x version; pystac-
    client 0.9 only knows 1.0.x URIs and misses e.g. .../v1.1.0/item-search#sort)."""
    pattern = re.compile(r'https://api\.stacspec\.org/v1\.[^/]+/item-search#' + name + '$')
    return any(pattern.match(uri) for uri in client.get_conforms_to())


def check_remote_supports(client: Client, url: str, *, filter_from: str | None,
                          sorted_: bool, arrays: list[str] = ()) -> None:
    """Refuse (QueryError, a 400) what the remote does not declare in its conformance
    classes: it would ignore it and answer a wrong 200 (unfiltered, unsorted)."""
    if filter_from and not _item_search_extension(client, 'filter'):
        raise QueryError(f'{filter_from}: the remote STAC API {url} does not support '
                         'filtering (STAC API - Item Search Filter); use bbox, datetime, '
                         'ids or q instead')
    if arrays and not any(uri.startswith(ARRAY_FUNCTIONS) for uri in client.get_conforms_to()):
        raise QueryError(f'{arrays[0]}: the remote STAC API {url} does not support CQL2 '
                         'array functions, needed to compare this multi-valued property')
    if sorted_ and not _item_search_extension(client, 'sort'):
        raise QueryError(f'sortby: the remote STAC API {url} does not support sorting '
                         '(STAC API - Item Search Sort)')


def _is_timeout(err: BaseException, started: float, timeout: float) -> bool:
    chain = [err, err.__cause__, err.__context__]
    if any(isinstance(e, requests.Timeout) for e in chain if e is not None):
        return True
    return 'timed out' in str(err).lower() or time.monotonic() - started >= timeout


class STACProvider(BaseProvider):
    """Records queries as STAC item searches on a remote STAC API (pystac-client)."""

    def __init__(self, provider_def: dict):
        super().__init__(provider_def)
        self.id_field, self.time_field, self.title_field = 'id', 'datetime', 'title'
        self.include_extra_query_parameters = True
        federation = runtime.catalogue_block().get('federation') or {}
        self.timeout = float(provider_def.get('timeout')
                             or federation.get('timeout_seconds') or DEFAULT_TIMEOUT)
        self.remote_collections = provider_def.get('collections') or None
        self.collection = runtime.resource_id_of(provider_def) or 'remote'
        self.processes = list(provider_def.get('processes') or [])
        self.get_fields()

    def get_fields(self) -> dict:
        self._fields = pygeoapi_fields()
        return self._fields

    def _call(self, action):
        """Run a remote call; map failures to 502 / 504."""
        started = time.monotonic()
        try:
            return action(_client(self.data, self.timeout))
        except (QueryError, ValueError) as err:
            raise ProviderInvalidQueryError(user_msg=str(err)) from None
        except EgressRefused as err:
            raise RemoteError(user_msg=f'the remote STAC API {self.data} was refused: '
                                       f'{err}') from None
        except (APIError, requests.RequestException, OSError) as err:
            with _LOCK:
                _CLIENTS.pop((self.data, self.timeout), None)
            if _is_timeout(err, started, self.timeout):
                raise RemoteTimeout(user_msg=f'the remote STAC API {self.data} did not answer '
                                             f'within {self.timeout:g} s') from None
            raise RemoteError(user_msg=f'the remote STAC API {self.data} failed: '
                                       f'{str(err)[:200]}') from None

    def query(self, offset=0, limit=10, resulttype='results', bbox=[], datetime_=None,
              properties=[], sortby=[], select_properties=[], skip_geometry=False, q=None,
              filterq=None, **kwargs) -> dict:
        params: dict = {'collections': self.remote_collections}
        others = []
        for name, value in properties or []:
            if name == 'ids':
                params['ids'] = [v for v in value.split(',') if v]
            elif name in ('externalIds', 'type'):
                raise ProviderInvalidQueryError(
                    user_msg=f'{name}: not supported by the remote STAC API')
            else:
                others.append((name, value))
        try:
            if bbox:
                params['bbox'] = parse_bbox(bbox)
            if datetime_:
                build(datetime_=datetime_)  # checks it
                params['datetime'] = datetime_
            node = build(properties=others, filterq=filterq)
            arrays = stac.uses_array_functions(node)
            params['filter'] = stac.to_filter(node)
            if params['filter'] is not None:
                params['filter_lang'] = 'cql2-json'
            params['sortby'] = stac.sortby(sortby)
        except QueryError as err:
            raise ProviderInvalidQueryError(user_msg=str(err)) from None
        wanted = offset + (0 if resulttype == 'hits' else limit)

        def run(client: Client):
            if q and not _has_free_text_item_search(client):
                raise QueryError(f'q: the remote STAC API {self.data} has no free-text '
                                 'item search; use filter instead')
            check_remote_supports(
                client, self.data, sorted_=bool(params.get('sortby')), arrays=arrays,
                filter_from=None if params.get('filter') is None
                else ('filter' if filterq is not None else others[0][0]))
            search = FreeTextItemSearch(self._search_url(client), client=client, q=q or None,
                                        stac_io=EgressStacApiIO(_egress_policy(),
                                                                timeout=self.timeout),
                                        max_items=max(wanted, 1),
                                        limit=min(max(limit, 1), 100),
                                        **{k: v for k, v in params.items() if v is not None})
            items = list(search.items_as_dicts()) if wanted else []
            return items[offset:wanted], search.matched()

        items, matched = self._call(run)
        features = [self._present(item, select_properties, skip_geometry) for item in items]
        result = {'type': 'FeatureCollection', 'features': features,
                  'numberReturned': len(features)}
        if matched is not None:  # remotes without counts leave it out
            result['numberMatched'] = matched
        return result

    def _search_url(self, client: Client) -> str:
        link = next((link for link in client.links if link.rel == 'search'), None)
        return link.href if link else f'{self.data.rstrip("/")}/search'

    def _present(self, item: dict, select_properties=None, skip_geometry=False) -> dict:
        record = links.decorate(from_stac_item(item), self.collection, self.processes)
        if select_properties:
            record['properties'] = {k: v for k, v in record['properties'].items()
                                    if k in select_properties}
        if skip_geometry:
            record['geometry'] = None
        return record

    def get(self, identifier, **kwargs) -> dict:
        def run(client: Client):
            search = client.search(ids=[str(identifier)], collections=self.remote_collections,
                                   max_items=1)
            return list(search.items_as_dicts())
        items = self._call(run)
        if not items:
            raise ProviderItemNotFoundError(user_msg=f'record {identifier!r} not found')
        return self._present(items[0])

    def __repr__(self):
        return f'<STACProvider> {self.data}'
