"""Errors of graph processing, each with its openEO error code and HTTP status."""

from __future__ import annotations


class GraphError(Exception):
    """A graph that cannot run here: `code` is openEO's error code."""

    def __init__(self, message: str, code: str = 'ProcessGraphInvalid', status: int = 400):
        super().__init__(message)
        self.code = code
        self.status = status


def unsupported(process_id: str, why: str = '') -> GraphError:
    return GraphError(f'process {process_id!r} is not supported by this back-end'
                      + (f': {why}' if why else ''), 'ProcessUnsupported')


def no_data(message: str) -> GraphError:
    return GraphError(message, 'NoDataAvailable')


def collection_not_found(collection: str) -> GraphError:
    return GraphError(f'collection {collection!r} does not exist', 'CollectionNotFound', 404)
