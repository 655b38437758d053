"""GetCapabilities: service identification, provider, operations and contents."""

from __future__ import annotations

from lxml import etree

from ...ordering.errors import OseoError
from ...ordering.xmlns import NSMAP, O, OWS, VERSION, W, XLINK

OPERATIONS = ('GetCapabilities', 'GetOptions', 'GetQuotation', 'Submit', 'GetStatus',
              'DescribeResultAccess', 'Cancel')
SECTIONS = ('ServiceIdentification', 'ServiceProvider', 'OperationsMetadata', 'Contents')


def _operation(name: str, url: str) -> etree._Element:
    http = W.HTTP()
    if name == 'GetCapabilities':
        http.append(W.Get({f'{{{XLINK}}}href': url + '?'}))
    http.append(W.Post({f'{{{XLINK}}}href': url}))
    return W.Operation(W.DCP(http), name=name)


def _bool(value: bool) -> str:
    return 'true' if value else 'false'


def contents(conf) -> etree._Element:
    collections = list(conf.collections.values())
    product = any(c.product_orders for c in collections)
    subscription = any(c.subscription_orders for c in collections)
    element = O.Contents(
        O.ProductOrders(supported=_bool(product)),
        O.SubscriptionOrders(supported=_bool(subscription)),
        O.ProgrammingOrders(supported=_bool(bool(conf.tasking.get('handler')))),
        O.GetQuotationCapabilities({'supported': 'true', 'synchronous': 'true',
                                    'asynchronous': 'true', 'monitoring': 'true',
                                    'off-line': 'false'}),
        O.SubmitCapabilities(asynchronous='true',
                             maxNumberOfProducts=str(conf.limits['max_items_per_order']),
                             globalDeliveryOptions='true', localDeliveryOptions='true',
                             globalOrderOptions='true', localOrderOptions='true'),
        O.GetStatusCapabilities(orderSearch='true', orderRetrieve='true', full='true'),
        O.DescribeResultAccessCapabilities(supported='true'),
        O.CancelCapabilities(supported='true', asynchronous='true'))
    for collection in collections:
        element.append(O.SupportedCollection(
            O.collectionId(collection.id),
            O.ProductOrders(supported=_bool(collection.product_orders)),
            O.SubscriptionOrders(supported=_bool(collection.subscription_orders)),
            O.DescribeResultAccessCapabilities(supported='true'),
            O.CancelCapabilities(supported='true', asynchronous='true')))
    element.append(O.ContentsType(O.supportedEncoding('XMLEncoding')))
    return element


def capabilities(conf, url: str, sections: list[str] | None = None) -> etree._Element:
    wanted = set(sections or SECTIONS) if 'All' not in (sections or []) else set(SECTIONS)
    service = conf.service
    root = O.Capabilities(version=VERSION)
    if 'ServiceIdentification' in wanted:
        root.append(W.ServiceIdentification(
            W.Title(service['title']), W.Abstract(service['abstract']),
            W.ServiceType('OS'), W.ServiceTypeVersion(VERSION)))
    if 'ServiceProvider' in wanted:
        provider = W.ServiceProvider(W.ProviderName(service['provider_name']))
        site = W.ProviderSite()
        if service['provider_site']:
            site.set(f'{{{XLINK}}}href', service['provider_site'])
        provider.append(site)
        contact = W.ServiceContact()
        if service['contact_name']:
            contact.append(W.IndividualName(service['contact_name']))
        provider.append(contact)
        root.append(provider)
    if 'OperationsMetadata' in wanted:
        root.append(W.OperationsMetadata(*[_operation(name, url) for name in OPERATIONS]))
    if 'Contents' in wanted:
        root.append(contents(conf))
    return root


def check_versions(versions: list[str]) -> None:
    if versions and VERSION not in versions:
        raise OseoError('VersionNegotiationFailed', f'this service speaks version {VERSION} '
                        f'only (asked for {", ".join(versions)})', 'AcceptVersions')


def check_sections(sections: list[str]) -> None:
    for section in sections:
        if section not in SECTIONS and section != 'All':
            raise OseoError('InvalidParameterValue', f'unknown section {section!r} '
                            f'(one of {", ".join(SECTIONS)}, All)', 'Sections')


def get_capabilities(call) -> etree._Element:
    request = call.request
    versions = [v.text.strip() for v in request.iterfind('ows:AcceptVersions/ows:Version',
                                                          NSMAP) if v.text]
    check_versions(versions)
    sections = [s.text.strip() for s in request.iterfind('ows:Sections/ows:Section', NSMAP)
                if s.text]
    check_sections(sections)
    return capabilities(call.conf, call.base_url + '/oseo', sections or None)


__all__ = ['get_capabilities', 'capabilities', 'OWS']
