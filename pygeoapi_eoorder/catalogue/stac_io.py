"""pystac / pystac-client I/O under the egress policy (harvest and federation).

Every document they read, the root and each link they follow (children, items, next pages),
goes through :mod:`pygeoapi_eoorder.egress`. Local files are read only for a local catalog,
and only inside its own directory.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from pystac import Link
from pystac.stac_io import DefaultStacIO
from pystac_client.stac_api_io import StacApiIO

from .. import egress
from ..egress import EgressPolicy, EgressRefused


def _href(source: Any) -> str:
    if isinstance(source, Link):
        return source.get_absolute_href() or source.href
    return str(source)


class EgressStacApiIO(StacApiIO):
    """pystac-client I/O whose session applies the egress policy; never reads local files."""

    def __init__(self, policy: EgressPolicy, **kwargs: Any):
        kwargs.setdefault('max_retries', None)
        super().__init__(**kwargs)
        self.policy = policy
        session = egress.session(policy)
        session.headers.update(self.session.headers)
        self.session = session

    def read_text(self, source: Any, *args: Any, **kwargs: Any) -> str:
        egress.check_url(_href(source), self.policy)
        return super().read_text(source, *args, **kwargs)


class EgressStacIO(DefaultStacIO):
    """pystac I/O for static catalogs: http(s) under the egress policy; local files only
    under `local_root` (the directory of a local root catalog), else refused."""

    def __init__(self, policy: EgressPolicy, timeout: float, local_root: Path | None = None):
        super().__init__()
        self.policy = policy
        self.timeout = timeout
        self.local_root = local_root.resolve() if local_root else None

    def read_text_from_href(self, href: str) -> str:
        parts = urlsplit(href)
        if parts.scheme.lower() in egress.SCHEMES:
            reply = egress.get(href, policy=self.policy, timeout=self.timeout)
            if reply.status_code >= 400:
                raise OSError(f'{href}: HTTP {reply.status_code}')
            return reply.content.decode('utf-8')
        if parts.scheme and parts.scheme.lower() != 'file':
            raise EgressRefused(f'scheme {parts.scheme!r} is refused')
        path = Path(unquote(parts.path) if parts.scheme else href).resolve()
        root = self.local_root
        if root is None or not (path == root or root in path.parents):
            raise EgressRefused(f'{href}: local files are read only inside the harvested '
                                "catalog's own directory")
        return path.read_text(encoding='utf-8')

    def write_text_to_href(self, href: str, txt: str) -> None:
        raise EgressRefused('catalogs are only read here')
