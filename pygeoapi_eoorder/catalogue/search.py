"""Search across several record collections of one store (STAC API item search).

The same query model (pygeofilter AST) and SQL translation as a single collection's
search (:mod:`.repository`), with the collection itself as one more attribute
(`COLLECTION`) and the same visibility rules.
"""

from __future__ import annotations

from dataclasses import dataclass

from pygeofilter.backends.evaluator import handle
from pygeofilter import ast
from sqlalchemy import and_, func, select

from . import visibility
from .cql import CQLError
from ..store.record_tables import Record
from .query import QueryError
from .queryables import SORT_COLUMNS
from .repository import RecordRepository
from .sql import RecordFilterEvaluator

COLLECTION = '_collection'  # internal attribute: the record's collection (STAC `collection`)
DOCUMENT = '_document:'     # internal attribute prefix: a property read from the document


def document_value(name: str, number: bool = False):
    """A property that is no queryable column, read from the stored document: the STAC
    item's own properties first (records harvested from STAC), then the record's."""
    def read(path):
        value = Record.document[path]
        return value.as_float() if number else value.as_string()
    return func.coalesce(read(('properties', 'stac', name)), read(('properties', name)))


class _CollectionAwareEvaluator(RecordFilterEvaluator):
    """The records' filter translation, knowing the collection column as well."""

    @handle(ast.Attribute)
    def attribute(self, node):
        if node.name == COLLECTION:
            return Record.collection
        if node.name.startswith(DOCUMENT):
            return document_value(node.name[len(DOCUMENT):])
        return super().attribute(node)

    @handle(ast.Comparison, subclasses=True)
    def comparison(self, node, lhs, rhs):
        name = getattr(node.lhs, 'name', '')
        if name.startswith(DOCUMENT) and isinstance(rhs, (int, float)) \
                and not isinstance(rhs, bool):
            lhs = document_value(name[len(DOCUMENT):], number=True)
        return super().comparison(node, lhs, rhs)


@dataclass
class Found:
    """One page of a search: (collection, document) pairs and how many match in all."""

    rows: list[tuple[str, dict]]
    matched: int | None


class CollectionsSearch:
    """Searches of the records of `collections` in the store at `url`."""

    def __init__(self, url: str, collections: list[str]):
        self.collections = list(collections)
        self.repository = RecordRepository(url, self.collections[0] if collections else '')

    def _where(self, node):
        repository = self.repository
        conditions = [Record.collection.in_(self.collections)]
        shown = visibility.condition(visibility.current_viewer())
        if shown is not None:
            conditions.append(shown)
        if node is not None:
            conditions.append(_CollectionAwareEvaluator(
                repository.dialect, _postgis(repository), '').evaluate(node))
        return and_(*conditions)

    def search(self, node, sortby: list[dict] | None = None, offset: int = 0,
               limit: int = 10) -> Found:
        """Matching documents that the caller may see, sorted by `sortby` (queryable
        names, or COLLECTION) then by insertion."""
        try:
            return self._search(node, sortby or [], offset, limit)
        except OverflowError:
            raise QueryError('a number in the query (token or a value) is too large') \
                from None
        except CQLError as err:
            raise QueryError(str(err)) from None
        except NotImplementedError:  # an operator the SQL translation does not have
            raise QueryError('filter: an operator of the filter is not supported') from None

    def _search(self, node, sortby, offset, limit) -> Found:
        if not self.collections:
            return Found([], 0)
        condition = self._where(node)
        order = []
        for sort in sortby:
            name = sort['property']
            col = Record.collection if name == COLLECTION else getattr(
                Record, SORT_COLUMNS[name])
            order.append(col.desc() if sort.get('order') == '-' else col.asc())
        order.append(Record.pk.asc())
        with self.repository.store.read() as session:
            self.repository._prepare(session)
            rows = session.execute(select(Record.collection, Record.document)
                                   .where(condition).order_by(*order)
                                   .offset(offset).limit(limit)).all()
            if offset == 0 and len(rows) < limit:
                matched = len(rows)
            else:
                matched = session.execute(select(func.count()).select_from(Record)
                                          .where(condition)).scalar_one()
        return Found([(row.collection, row.document) for row in rows], matched)


def _postgis(repository: RecordRepository) -> bool:
    from .repository import has_postgis
    return has_postgis(repository.url)
