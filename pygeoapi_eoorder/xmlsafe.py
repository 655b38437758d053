"""Parsing untrusted XML: no DTDs, no entities, no network, bounded size and depth.

A document type declaration is refused in any encoding: a quick look at the raw bytes
catches the usual UTF-8/ASCII case before parsing, and the parsed tree is checked for a
DTD too, so a UTF-16 (or EBCDIC, UCS-4, ...) document cannot slip one past the byte check.
"""

from __future__ import annotations

from lxml import etree

MAX_BYTES = 16 * 1024 * 1024
MAX_DEPTH = 256
NO_DTD = 'XML with a document type declaration or entities is not accepted'


class UnsafeXML(ValueError):
    """XML refused before or while parsing; the message says why."""


def _parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                           dtd_validation=False, huge_tree=False, remove_comments=True,
                           remove_pis=True)


def _has_dtd(root: etree._Element) -> bool:
    info = root.getroottree().docinfo
    return bool(info.doctype) or info.internalDTD is not None or \
        info.externalDTD is not None


def parse(data: bytes, max_bytes: int = MAX_BYTES) -> etree._Element:
    """Parse `data`; refuse document type declarations (entity expansion attacks)."""
    if len(data) > max_bytes:
        raise UnsafeXML(f'XML body larger than {max_bytes} bytes')
    if b'<!DOCTYPE' in data[:4096].upper() or b'<!ENTITY' in data.upper():
        raise UnsafeXML(NO_DTD)
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as err:
        raise UnsafeXML(f'not well-formed XML ({err})') from None
    except (ValueError, LookupError) as err:  # e.g. an unknown declared encoding
        raise UnsafeXML(f'unreadable XML ({err})') from None
    if root is None:
        raise UnsafeXML('empty XML document')
    if _has_dtd(root):
        raise UnsafeXML(NO_DTD)
    depth, stack = 0, [(root, 1)]
    while stack:
        node, level = stack.pop()
        depth = max(depth, level)
        if depth > MAX_DEPTH:
            raise UnsafeXML(f'XML nested deeper than {MAX_DEPTH} levels')
        stack.extend((child, level + 1) for child in node)
    return root
