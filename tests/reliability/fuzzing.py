"""Hypothesis strategies shared by the fuzz tests: hostile text and mutated XML trees."""

from __future__ import annotations

import copy
from urllib.parse import urlencode

from hypothesis import strategies as st
from lxml import etree

# values that have broken parsers before: blanks, placeholders, huge and odd numbers,
# impossible dates, markup characters, control and non-BMP characters
NASTY = ['', ' ', '?', '${orderId}', '-1', '0', '1e309', 'NaN', 'inf', '-0',
         '99999999999999999999999', '2021-13-45T25:61:00Z', '2021-01-01T00:00:00Z', '..',
         '../..', '/', ',', '[', ']', '{', '}', '{,}', '[1,]', ']1', '1[', '<', '&amp;', "'",
         '"', '%', '_', '\\', 'null', 'true', 'None', 'x' * 5000, '\u0000', '\ud800',
         '\U0001F600', 'ORDER-1', 'PRODUCT_ORDER', 'SUBSCRIPTION_ORDER', 'TASKING_ORDER',
         'full', 'brief', 'All', 'allReady', 'nextReady', 'XMLEncoding', 'zip', 'http',
         'test-collection', 'sequential', 'P1', 'GeoTiff', 'OS', '1.0.0', '2.0.0']

nasty_text = st.one_of(st.sampled_from(NASTY), st.text(max_size=40))


def xml_safe(text: str) -> str:
    """`text` without the characters XML 1.0 cannot hold (lxml refuses them)."""
    return ''.join(c for c in text if c in '\t\n\r' or (' ' <= c <= '\ud7ff')
                   or ('\ue000' <= c <= '\ufffd') or '\U00010000' <= c <= '\U0010ffff')


def _elements(root):
    return [e for e in root.iter() if isinstance(e.tag, str)]


def mutate_tree(data: st.DataObject, root: etree._Element, names: list[str],
                max_mutations: int = 4) -> etree._Element:
    """A copy of `root` with a few drawn structural and value mutations."""
    root = copy.deepcopy(root)
    for _ in range(data.draw(st.integers(1, max_mutations), label='mutations')):
        elements = _elements(root)
        target = data.draw(st.sampled_from(elements), label='target')
        operation = data.draw(st.sampled_from(
            ['drop', 'dup', 'text', 'attr', 'rename', 'move', 'clear', 'wrap']), label='op')
        parent = target.getparent()
        if operation == 'drop' and parent is not None:
            parent.remove(target)
        elif operation == 'dup' and parent is not None:
            parent.insert(parent.index(target), copy.deepcopy(target))
        elif operation == 'text':
            target.text = xml_safe(data.draw(nasty_text, label='text'))
        elif operation == 'attr':
            name = data.draw(st.sampled_from(['version', 'service', 'id', 'lang', 'x']),
                             label='attribute')
            target.set(name, xml_safe(data.draw(nasty_text, label='value')))
        elif operation == 'rename':
            namespace = etree.QName(target).namespace
            local = data.draw(st.sampled_from(names), label='name')
            target.tag = f'{{{namespace}}}{local}' if namespace else local
        elif operation == 'move' and parent is not None:
            candidates = [e for e in elements if target not in list(e.iterancestors())
                          and e is not target]
            if candidates:
                destination = data.draw(st.sampled_from(candidates), label='destination')
                destination.append(target)
        elif operation == 'clear':
            for child in list(target):
                target.remove(child)
        elif operation == 'wrap' and parent is not None:
            wrapper = etree.Element(target.tag)
            parent.replace(target, wrapper)
            wrapper.append(target)
    return root


def mutate_bytes(data: st.DataObject, raw: bytes) -> bytes:
    """`raw` truncated, with bytes inserted or flipped."""
    operation = data.draw(st.sampled_from(['truncate', 'insert', 'flip', 'splice']),
                          label='byte op')
    position = data.draw(st.integers(0, max(0, len(raw) - 1)), label='position')
    if operation == 'truncate':
        return raw[:position]
    if operation == 'insert':
        return raw[:position] + data.draw(st.binary(min_size=1, max_size=16),
                                          label='inserted') + raw[position:]
    if operation == 'flip':
        return raw[:position] + bytes([raw[position] ^ data.draw(st.integers(1, 255))]) + \
            raw[position + 1:]
    end = data.draw(st.integers(position, len(raw)), label='end')
    return raw[:position] + raw[end:] + raw[position:end]


def query_string(pairs) -> str:
    """A URL query of `pairs`, lone surrogates sent as the (invalid UTF-8) bytes they stand for."""
    items = pairs.items() if isinstance(pairs, dict) else pairs
    return urlencode([(k.encode('utf-8', 'surrogatepass'), v.encode('utf-8', 'surrogatepass'))
                      for k, v in items])
