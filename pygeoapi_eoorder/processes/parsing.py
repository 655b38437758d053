"""Choosing the package parser by media type."""

from __future__ import annotations

from functools import partial

from ..egress import EgressPolicy
from .cwl import describe, parse_cwl_package, unit_from_reference
from .owc import parse_owc_package
from .packages import CWL_TYPES, OGCAPPPKG, Package, parse_ogcapppkg


class UnsupportedPackage(ValueError):
    """A package media type this server does not deploy."""


SUPPORTED = (OGCAPPPKG, 'application/json', *CWL_TYPES, 'application/atom+xml')


def parse_package(raw: bytes, media_type: str | None, workflow: str | None = None, *,
                  policy: EgressPolicy | None = None) -> Package:
    """Parse a deployment request body according to its Content-Type; documents it names
    by href are fetched under the egress `policy` (strict if none)."""
    media_type = (media_type or '').lower()
    if media_type in (OGCAPPPKG, 'application/json'):
        return parse_ogcapppkg(raw, cwl_loader=partial(unit_from_reference, policy=policy),
                               cwl_describer=describe)
    if media_type in CWL_TYPES:
        return parse_cwl_package(raw, media_type, workflow)
    if media_type in ('application/atom+xml', 'application/xml', 'text/xml'):
        return parse_owc_package(raw)
    raise UnsupportedPackage(f'cannot deploy {media_type or "a body without Content-Type"}; '
                             f'use one of: {", ".join(SUPPORTED)}')
