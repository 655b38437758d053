"""GetOptions: what can be ordered, by collection or by product identifiers."""

from __future__ import annotations

from lxml import etree

from ...ordering.errors import OseoError, invalid
from ...ordering.options import collection_options
from ...ordering.workspace_delivery import offered
from ...ordering.xmlns import O, q, text


def get_options(call) -> etree._Element:
    request, conf = call.request, call.conf
    collection_id = text(request, 'oseo:collectionId')
    if request.find(q('taskingRequestId')) is not None:
        raise OseoError('OrderTypeNotSupported', 'tasking orders are not supported by this '
                        'server', 'taskingRequestId')
    response = O.GetOptionsResponse(O.status('success'))
    workspaces = offered(call.service.settings, call.auth, call.user)
    if collection_id is not None:
        collection = conf.collections.get(collection_id)
        if collection is None:
            raise OseoError('UnsupportedCollection', f'collection {collection_id!r} cannot '
                            'be ordered here', 'collectionId')
        response.extend(collection_options(collection, None, workspaces))
        return response
    identifiers = [e.text.strip() for e in request.findall(q('identifier')) if e.text]
    for identifier in identifiers:
        collection = conf.collection_for(identifier, None)
        if collection is None:
            raise invalid('identifier', f'product {identifier!r} belongs to no orderable '
                          'collection')
        response.extend(collection_options(collection, identifier, workspaces))
    return response
