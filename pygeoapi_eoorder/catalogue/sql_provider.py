"""`SQLRecordProvider`: an OGC API - Records collection stored in SQL (SQLite or PostgreSQL).

resources:
  products:
    type: collection
    providers:
      - type: record
        name: pygeoapi_eoorder.catalogue.sql_provider.SQLRecordProvider
        data: eoorder            # the shared store (default), or an SQLAlchemy URL
        collection: products     # record set name (default: the resource id)
        editable: true           # transactions (create / replace / delete)
        processes: [ndvi]        # execute links on every record
"""

from __future__ import annotations

from http import HTTPStatus

from pygeoapi.provider.base import (BaseProvider, ProviderGenericError,
                                    ProviderInvalidQueryError, ProviderItemNotFoundError)

from . import demo, links, runtime
from .query import QueryError, build
from .queryables import pygeoapi_fields
from .records import RecordError
from .repository import RecordRepository


class InvalidRecord(ProviderGenericError):
    """A record document that cannot be stored (400)."""
    ogc_exception_code = 'InvalidParameterValue'
    http_status_code = HTTPStatus.BAD_REQUEST


class RecordExists(ProviderGenericError):
    """Create of an identifier that is taken (409)."""
    ogc_exception_code = 'InvalidParameterValue'
    http_status_code = HTTPStatus.CONFLICT


class EditForbidden(ProviderGenericError):
    ogc_exception_code = 'Forbidden'
    http_status_code = HTTPStatus.FORBIDDEN


class SQLRecordProvider(BaseProvider):
    """Records in the `eoorder_record` table, queried through the shared query model."""

    def __init__(self, provider_def: dict):
        super().__init__(provider_def)
        self.id_field = provider_def.get('id_field') or 'id'
        self.time_field = provider_def.get('time_field') or 'datetime'
        self.title_field = provider_def.get('title_field') or 'title'
        self.include_extra_query_parameters = True  # ids, externalIds, type: checked here
        self.collection = (provider_def.get('collection') or runtime.resource_id_of(provider_def)
                           or 'records')
        self.processes = list(provider_def.get('processes') or [])
        self.repository = RecordRepository(runtime.store_url(provider_def.get('data')),
                                           self.collection)
        self.get_fields()

    def get_fields(self) -> dict:
        self._fields = pygeoapi_fields()
        return self._fields

    def query(self, offset=0, limit=10, resulttype='results', bbox=[], datetime_=None,
              properties=[], sortby=[], select_properties=[], skip_geometry=False, q=None,
              filterq=None, **kwargs) -> dict:
        try:
            node = build(bbox=bbox or None, datetime_=datetime_, q=q,
                         properties=list(properties or []), filterq=filterq)
            hits = resulttype == 'hits'
            documents, matched = self.repository.search(
                node, sortby=sortby, offset=offset, limit=0 if hits else limit)
        except QueryError as err:
            raise ProviderInvalidQueryError(user_msg=str(err)) from None
        features = [self._present(d, select_properties, skip_geometry) for d in documents]
        return {'type': 'FeatureCollection', 'features': features,
                'numberMatched': matched, 'numberReturned': len(features)}

    def _present(self, document: dict, select_properties=None, skip_geometry=False) -> dict:
        record = links.decorate(document, self.collection, self.processes)
        if select_properties:
            record['properties'] = {k: v for k, v in record['properties'].items()
                                    if k in select_properties}
        if skip_geometry:
            record['geometry'] = None
        return record

    def get(self, identifier, **kwargs) -> dict:
        document = self.repository.get(str(identifier))
        if document is None:
            raise ProviderItemNotFoundError(user_msg=f'record {identifier!r} not found')
        return self._present(document)

    def _require_editor(self) -> None:
        from ..auth import caller_may
        if not caller_may('edit_catalogue'):
            raise EditForbidden(user_msg=f'editing collection {self.collection!r} needs the '
                                         'edit_catalogue permission')

    def create(self, item) -> str:
        self._require_editor()
        identifier, record = self._checked(item)
        if self.repository.exists(identifier):
            raise RecordExists(user_msg=f'record {identifier!r} already exists')
        self._store(record)
        return identifier

    def update(self, identifier, item) -> bool:
        self._require_editor()
        _, record = self._checked(item, str(identifier))
        if self.repository.get(str(identifier)) is None:
            raise ProviderItemNotFoundError(user_msg=f'record {identifier!r} not found')
        self._store(record)
        return True

    def delete(self, identifier) -> bool:
        self._require_editor()
        if not self.repository.delete(str(identifier)):
            raise ProviderItemNotFoundError(user_msg=f'record {identifier!r} not found')
        return True

    def _checked(self, item, identifier: str | None = None) -> tuple[str, dict]:
        import json
        from .records import normalise
        try:
            record = json.loads(item) if isinstance(item, (str, bytes)) else item
            record = normalise(record, identifier)
        except ValueError as err:  # RecordError and JSON errors
            raise InvalidRecord(user_msg=f'record: {err}') from None
        return record['id'], record

    def _store(self, record: dict) -> None:
        try:
            result = self.repository.upsert([demo.stored(record)])
        except RecordError as err:
            raise InvalidRecord(user_msg=str(err)) from None
        if result.refused:
            raise RecordExists(user_msg=f"record {record['id']!r} was registered by a job "
                                        'for its owner and cannot be replaced')

    def __repr__(self):
        return f'<SQLRecordProvider> {self.collection}'
