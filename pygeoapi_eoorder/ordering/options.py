"""Options per collection: checking what an order asks for, describing what is offered."""

from __future__ import annotations

from lxml import etree

from .errors import OseoError, invalid
from .parsing import ParsedItem, ParsedOrder
from .settings import Collection, OrderingSettings
from .xmlns import O, S

ORDER_TYPE_KIND = {'PRODUCT_ORDER': 'product', 'SUBSCRIPTION_ORDER': 'subscription',
                   'TASKING_ORDER': 'tasking'}
OPTION_DEFINITION = 'http://www.opengis.net/def/parameter/eoorder/1.0/'
WORKSPACE_OPTION = 'deliveryWorkspace'  # see workspace_delivery


def check_option(collection: Collection, name: str, value: str) -> None:
    offered = collection.option_names.get(name)
    if offered is None:
        raise invalid(name, f'option {name!r} is not offered for collection {collection.id!r}'
                      f' (offered: {", ".join(sorted(collection.option_names)) or "none"})')
    allowed = offered.get('values')
    if allowed and value not in allowed:
        raise invalid(name, f'option {name!r}: value {value!r} is not offered for collection '
                      f'{collection.id!r} (offered: {", ".join(allowed)})')


def resolve_item(conf: OrderingSettings, order: ParsedOrder, item: ParsedItem) -> Collection:
    """The item's collection, after checking every option the order asks for on it."""
    kind = ORDER_TYPE_KIND[order.order_type]
    if item.kind != kind:
        raise invalid('orderItem', f'item {item.item_id!r}: a {order.order_type} holds '
                      f'{kind} items, not {item.kind} items')
    collection = conf.collection_for(item.identifier if kind == 'product' else None,
                                     item.collection_id)
    if collection is None:
        name = item.collection_id or item.identifier
        raise OseoError('UnsupportedCollection', f'item {item.item_id!r}: collection of '
                        f'{name!r} cannot be ordered here', 'collectionId')
    if kind == 'product' and not collection.product_orders:
        raise OseoError('OrderTypeNotSupported', f'collection {collection.id!r} does not '
                        'accept product orders', 'orderType')
    if kind == 'subscription' and not collection.subscription_orders:
        raise OseoError('OrderTypeNotSupported', f'collection {collection.id!r} does not '
                        'accept subscription orders', 'orderType')
    for name, value in {**order.options, **item.options}.items():
        if name != WORKSPACE_OPTION:  # checked against the orderer (workspace_delivery)
            check_option(collection, name, value)
    if order.packaging and order.packaging not in collection.packaging:
        raise invalid('packaging', f'packaging {order.packaging!r} is not offered for '
                      f'collection {collection.id!r} (offered: {", ".join(collection.packaging)})')
    protocol = item.protocol or order.protocol
    if protocol and protocol not in collection.delivery:
        raise invalid('protocol', f'delivery protocol {protocol!r} is not offered for '
                      f'collection {collection.id!r} (offered: {", ".join(collection.delivery)})')
    media = item.media or order.media
    if media and media not in collection.media:
        raise invalid('packageMedium', f'media delivery on {media!r} is not offered for '
                      f'collection {collection.id!r} (offered: '
                      f'{", ".join(collection.media) or "none"})')
    if order.priority and order.priority not in collection.priority:
        raise invalid('priority', f'priority {order.priority!r} is not offered for '
                      f'collection {collection.id!r}')
    return collection


def _category(name: str, description: str | None, values: list[str] | None,
              default: str | None) -> etree._Element:
    children = [S.identifier(name)]
    if description:
        children.append(S.description(description))
    if values:
        children.append(S.constraint(S.AllowedTokens(*[S.value(v) for v in values])))
    if default is not None:
        children.append(S.value(default))
    return S.Category(*children, updatable='false', optional='true',
                      definition=OPTION_DEFINITION + name)


def _option(name: str, description: str | None, values: list[str] | None,
            default: str | None, grouping: str) -> etree._Element:
    record = S.DataRecord(S.field(_category(name, description, values, default), name=name))
    return O.option(record, O.grouping(grouping))


def order_options(collection: Collection, order_type: str, identifier: str | None = None,
                  workspaces: list[str] | None = None) -> etree._Element:
    """One orderOptions element describing what `collection` offers for `order_type`
    (`workspaces`: the caller's, offered as delivery targets)."""
    label = 'Product order options' if order_type == 'PRODUCT_ORDER' else \
        'Subscription order options'
    children = [O.productOrderOptionsId(label)]
    if identifier:
        children.append(O.identifier(identifier))
    children.append(O.description((collection.conf.get('description')
                                   or f'Options of collection {collection.id}')[:255]))
    children.append(O.orderType(order_type))
    for option in collection.conf['options']:
        children.append(_option(option['name'], option.get('description'),
                                option.get('values'), option.get('default'),
                                'Processing Option'))
    children.append(_option('packaging', 'packaging of the delivered files',
                            collection.packaging, None, 'Packaging'))
    children.append(_option('priority', 'order priority', collection.priority, None,
                            'Priority'))
    if workspaces:
        children.append(_option(WORKSPACE_OPTION, 'deliver the products into this workspace '
                                'of yours (its storage and its catalogue)', workspaces, None,
                                'Delivery'))
    access = [p for p in collection.delivery if p in ('http', 'https')]
    delivery = [p for p in collection.delivery if p in ('ftp', 'sftp')]
    if access:
        children.append(O.productDeliveryOptions(O.onlineDataAccess(
            *[O.protocol(p) for p in access])))
    if delivery:
        children.append(O.productDeliveryOptions(O.onlineDataDelivery(
            *[O.protocol(p) for p in delivery])))
    if collection.media:
        children.append(O.productDeliveryOptions(O.mediaDelivery(
            *[O.packageMedium(m) for m in collection.media])))
    if not access and not delivery and not collection.media:
        children.append(O.productDeliveryOptions(O.onlineDataAccess(O.protocol('http'))))
    return O.orderOptions(*children)


def collection_options(collection: Collection, identifier: str | None = None,
                       workspaces: list[str] | None = None) -> list:
    result = []
    if collection.product_orders:
        result.append(order_options(collection, 'PRODUCT_ORDER', identifier, workspaces))
    if collection.subscription_orders and identifier is None:
        result.append(order_options(collection, 'SUBSCRIPTION_ORDER', None, workspaces))
    return result
