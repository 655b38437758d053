"""One egress policy for every request the server makes on a user's or a document's behalf.

Stage-in, CWL `executionUnit.href`, harvest, STAC federation, job callbacks and OSEO
notifications all go through :func:`session` / :func:`get`. Internal addresses (loopback,
link-local, private, ULA, CGNAT, multicast, unspecified, cloud metadata, anything not globally
routable) are refused unless the deployer allows them. The check is made on the address the
socket actually connected to, before a byte is sent, so DNS rebinding and redirects (each hop
opens its own connection) cannot slip past it.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from typing import Any, Iterable
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

SCHEMES = ('http', 'https')
MAX_REDIRECTS = 5
METADATA_ADDRESSES = frozenset({ipaddress.ip_address('169.254.169.254'),
                                ipaddress.ip_address('fd00:ec2::254')})
HOW_TO_ALLOW = ('the deployer may allow them with egress.allowed_hosts '
                'or egress.allow_internal')


class EgressRefused(Exception):
    """A server-side request to a refused scheme or address; the message is safe to show."""


@dataclass(frozen=True)
class EgressPolicy:
    """`allowed_hosts`: host names, addresses or CIDRs reachable even if internal."""

    allow_internal: bool = False
    allowed_hosts: tuple[str, ...] = ()

    def host_allowed(self, host: str) -> bool:
        """True if `host` (a name as written in the URL) is explicitly allowed."""
        host = host.strip('[]').rstrip('.').lower()
        return any(entry.strip('[]').rstrip('.').lower() == host
                   for entry in self.allowed_hosts)

    def address_allowed(self, address: IPAddress) -> bool:
        """True if connecting to `address` is allowed by this policy."""
        if self.allow_internal or not is_internal(address):
            return True
        return any(address in network for network in _networks(self.allowed_hosts))


def _networks(entries: Iterable[str]) -> list[Network]:
    networks = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry.strip('[]'), strict=False))
        except ValueError:
            continue  # a host name: matched by name in host_allowed
    return networks


def is_internal(address: IPAddress) -> bool:
    """True for every address that is not a public unicast one (or is cloud metadata)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return (address in METADATA_ADDRESSES or address.is_multicast
            or address.is_unspecified or not address.is_global)


def policy_from_settings(block: dict | None, *, allow_internal: bool = False) -> EgressPolicy:
    """Build the policy from the `egress` configuration block (the whole eoorder block is
    accepted too). `allow_internal=True` is a more specific allowance (a process's
    `allow_internal_requests`, `ordering.notifications.allow_internal_addresses`)."""
    block = block or {}
    if isinstance(block.get('egress'), dict):
        block = block['egress']
    return EgressPolicy(
        allow_internal=bool(allow_internal or block.get('allow_internal', False)),
        allowed_hosts=tuple(str(h) for h in block.get('allowed_hosts') or ()))


def check_url(url: str, policy: EgressPolicy) -> None:
    """Refuse a URL whose scheme is not http(s) or that has no host. Addresses are checked
    at connection time, after DNS resolution."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        raise EgressRefused(f'{url!r} is not a valid URL') from None
    if parts.scheme.lower() not in SCHEMES:
        raise EgressRefused(f'scheme {parts.scheme or "(none)"!r} is refused: only http and '
                            'https URLs are fetched')
    if not host:
        raise EgressRefused(f'{url!r} has no host')


def _refused(host: str) -> EgressRefused:
    return EgressRefused(f'{host} is or resolves to an internal address: internal addresses '
                         f'are refused ({HOW_TO_ALLOW})')


def _check_resolved(connection: HTTPConnection) -> None:
    """Refuse before connecting when no address the host resolves to is allowed (no TCP
    probe of internal ports); DNS errors are left to the connection itself."""
    policy: EgressPolicy = connection.egress_policy  # type: ignore[attr-defined]
    if policy.allow_internal or policy.host_allowed(connection.host):
        return
    try:
        host = getattr(connection, '_dns_host', connection.host)
        infos = socket.getaddrinfo(host, connection.port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return
    addresses = [ipaddress.ip_address(info[4][0].split('%', 1)[0]) for info in infos]
    if addresses and not any(policy.address_allowed(a) for a in addresses):
        raise _refused(connection.host)


def _check_peer(connection: HTTPConnection, sock: Any) -> None:
    """Refuse when the socket is connected to a refused address (DNS rebinding)."""
    policy: EgressPolicy = connection.egress_policy  # type: ignore[attr-defined]
    address = ipaddress.ip_address(sock.getpeername()[0].split('%', 1)[0])
    if policy.host_allowed(connection.host) or policy.address_allowed(address):
        return
    sock.close()
    raise _refused(connection.host)


class _PeerChecked:
    """Mixin for urllib3 connections: check before connecting and the connected peer,
    before TLS and before a byte of the request is sent."""

    egress_policy = EgressPolicy()

    def _new_conn(self) -> Any:
        _check_resolved(self)  # type: ignore[arg-type]
        sock = super()._new_conn()  # type: ignore[misc]
        _check_peer(self, sock)  # type: ignore[arg-type]
        return sock


class _CheckedHTTPConnection(_PeerChecked, HTTPConnection):
    pass


class _CheckedHTTPSConnection(_PeerChecked, HTTPSConnection):
    pass


class EgressAdapter(HTTPAdapter):
    """A requests adapter whose connections check the connected peer against a policy."""

    def __init__(self, policy: EgressPolicy, **kwargs: Any):
        self.policy = policy
        super().__init__(**kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        http_conn = type('EgressHTTPConnection', (_CheckedHTTPConnection,),
                         {'egress_policy': self.policy})
        https_conn = type('EgressHTTPSConnection', (_CheckedHTTPSConnection,),
                          {'egress_policy': self.policy})
        self.poolmanager.pool_classes_by_scheme = {
            'http': type('EgressHTTPPool', (HTTPConnectionPool,), {'ConnectionCls': http_conn}),
            'https': type('EgressHTTPSPool', (HTTPSConnectionPool,),
                          {'ConnectionCls': https_conn}),
        }


class EgressSession(requests.Session):
    """A session that refuses non-http(s) URLs and internal peers on every hop."""

    def __init__(self, policy: EgressPolicy):
        super().__init__()
        self.policy = policy
        self.trust_env = False  # no proxy from the environment: the peer is the target
        self.max_redirects = MAX_REDIRECTS
        self.mount('http://', EgressAdapter(policy))
        self.mount('https://', EgressAdapter(policy))

    def get_adapter(self, url: str) -> HTTPAdapter:
        check_url(url, self.policy)
        return super().get_adapter(url)


def session(policy: EgressPolicy) -> requests.Session:
    """A requests session bound to `policy` (redirects bounded, each hop checked)."""
    return EgressSession(policy)


def get(url: str, *, policy: EgressPolicy, timeout: float, stream: bool = False,
        **kwargs: Any) -> requests.Response:
    """GET `url` under `policy`; raises :class:`EgressRefused` or a requests exception."""
    check_url(url, policy)
    return session(policy).get(url, timeout=timeout, stream=stream, **kwargs)
