"""The example filters published with OGC CQL2 (`tests/data/cql2-examples`): each parses
in its encoding (CQL2 text, CQL2 JSON), and the two encodings of one example parse to the
same filter. The oracle is the standard's own pairing of the examples; what is not parsed
is listed with its reason (outside the conformance classes this server declares, or an
invalid geometry, refused by design)."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest
from pygeofilter import ast, values
from shapely.geometry import box, shape

from pygeoapi_eoorder.catalogue import cql

EXAMPLES = Path(__file__).parent / 'data' / 'cql2-examples'
TEXTS = sorted((EXAMPLES / 'text').glob('*.txt'))
DOCUMENTS = sorted((EXAMPLES / 'json').glob('*.json'))
ARITHMETIC = 'arithmetic (^, %, div, a negated property) is not a declared conformance class'
INVALID = 'an invalid polygon (self-intersecting, or a hole outside its shell): refused'
NOT_PARSED = {
    'clause6_01': 'a function call alone: a value, not a filter',
    'example46': INVALID, 'example46-alt01': INVALID,
    'example49': INVALID, 'example49-alt01': INVALID,
    'example76': ARITHMETIC, 'example77': ARITHMETIC, 'example78': ARITHMETIC,
    'example85': ARITHMETIC, 'example85-alt01': ARITHMETIC,
}
NOT_PARSED_JSON = {'clause6_01': NOT_PARSED['clause6_01'], 'example46': INVALID,
                   'example49': INVALID}
FLAGGED_NOT = (ast.IsNull, ast.In, ast.Like, ast.Between)


def canonical(node):
    """A form in which two parses of one filter compare equal: a predicate's own `not_`
    as NOT, BBOX and geometries as normalized shapes, numbers as floats, function names
    in lower case, TimeOverlappedBy as the converse TimeOverlaps."""
    if isinstance(node, ast.Not):
        return ('not', canonical(node.sub_node))
    if isinstance(node, FLAGGED_NOT) and node.not_:
        return ('not', canonical(type(node)(**{**vars(node), 'not_': False})))
    if isinstance(node, ast.TimeOverlappedBy):
        return canonical(ast.TimeOverlaps(node.rhs, node.lhs))
    if isinstance(node, ast.Function) and node.name.lower() == 'bbox':
        numbers = [float(n) for n in node.arguments]
        numbers = numbers[:2] + numbers[3:5] if len(numbers) == 6 else numbers
        return ('geometry', box(*numbers).normalize().wkt)
    if isinstance(node, ast.Function):
        return ('function', node.name.lower(), canonical(node.arguments))
    if isinstance(node, values.Envelope):
        return ('geometry', box(node.x1, node.y1, node.x2, node.y2).normalize().wkt)
    if isinstance(node, values.Geometry):
        return ('geometry', shape(node.geometry).normalize().wkt)
    if isinstance(node, values.Interval):
        return ('interval', canonical(node.start), canonical(node.end))
    if isinstance(node, ast.Attribute):
        return ('property', node.name)
    if isinstance(node, ast.Node):
        return (type(node).__name__, *[(k, canonical(v)) for k, v in sorted(vars(node).items())])
    if isinstance(node, (list, tuple)):
        return [canonical(item) for item in node]
    if isinstance(node, (int, float)) and not isinstance(node, bool):
        return float(node)
    if isinstance(node, (date, datetime)):
        return node.isoformat()
    return node


def test_the_examples_are_all_here():
    assert len(TEXTS) == 120 and len(DOCUMENTS) == 109


EXAMPLES_PARSED = [(path, cql.parse_text, NOT_PARSED) for path in TEXTS] + [
    (path, cql.parse_json, NOT_PARSED_JSON) for path in DOCUMENTS]


@pytest.mark.parametrize('path, parse, refused', EXAMPLES_PARSED,
                         ids=lambda value: value.name if isinstance(value, Path) else '')
def test_each_example_parses(path, parse, refused):
    """In its encoding; what is not parsed is refused with a CQL2 error, not otherwise."""
    if path.stem in refused:
        with pytest.raises(cql.CQLError):
            parse(path.read_text())
    else:
        parse(path.read_text())


PAIRS = [path for path in DOCUMENTS if (EXAMPLES / 'text' / f'{path.stem}.txt').is_file()
         and path.stem not in NOT_PARSED_JSON and path.stem not in NOT_PARSED]


@pytest.mark.parametrize('path', PAIRS, ids=lambda p: p.stem)
def test_both_encodings_of_an_example_are_one_filter(path):
    text = (EXAMPLES / 'text' / f'{path.stem}.txt').read_text()
    assert canonical(cql.parse_text(text)) == canonical(cql.parse_json(path.read_text()))


def test_the_pairs_cover_the_examples():
    assert len(PAIRS) >= 100
