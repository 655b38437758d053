"""Parsing untrusted XML: no DTDs, no entities, no network, bounded size and depth."""

from __future__ import annotations

from lxml import etree

MAX_BYTES = 16 * 1024 * 1024
MAX_DEPTH = 256


class UnsafeXML(ValueError):
    """XML refused before or while parsing; the message says why."""


def _parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                           dtd_validation=False, huge_tree=False, remove_comments=True,
                           remove_pis=True)


def parse(data: bytes, max_bytes: int = MAX_BYTES) -> etree._Element:
    """Parse `data`; refuse document type declarations (entity expansion attacks)."""
    if len(data) > max_bytes:
        raise UnsafeXML(f'XML body larger than {max_bytes} bytes')
    if b'<!DOCTYPE' in data[:4096].upper() or b'<!ENTITY' in data.upper():
        raise UnsafeXML('XML with a document type declaration or entities is not accepted')
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as err:
        raise UnsafeXML(f'not well-formed XML ({err})') from None
    if root is None:
        raise UnsafeXML('empty XML document')
    depth, stack = 0, [(root, 1)]
    while stack:
        node, level = stack.pop()
        depth = max(depth, level)
        if depth > MAX_DEPTH:
            raise UnsafeXML(f'XML nested deeper than {MAX_DEPTH} levels')
        stack.extend((child, level + 1) for child in node)
    return root
