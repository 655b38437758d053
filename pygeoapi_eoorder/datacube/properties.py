"""`load_collection`'s `properties`: one process graph per item property (a condition on
its `value`), translated to the catalogue's query model (a pygeofilter AST) so that the
store selects the items, as for the spatial and temporal extents.

A property is a queryable of the catalogue by its name or by the STAC name it stands for
(`eo:cloud_cover` is `cloudCover`); another name is read from the item's own properties.
A graph may use the comparisons `eq`, `neq`, `lt`, `lte`, `gt`, `gte` and `between` of the
value with a constant, `array_contains` (a list of constants holding the value), and
`and`, `or` and `not` of those; anything else is refused (never ignored).

The conditions are set aside before the graph is parsed (`set_aside`): the parser would
take the nodes of a condition for nodes of the graph itself and run them without `value`.
"""

from __future__ import annotations

from pygeofilter import ast

from .errors import GraphError

COMPARISONS = {'eq': ast.Equal, 'neq': ast.NotEqual, 'lt': ast.LessThan,
               'lte': ast.LessEqual, 'gt': ast.GreaterThan, 'gte': ast.GreaterEqual}
FLIPPED = {'lt': 'gt', 'lte': 'gte', 'gt': 'lt', 'gte': 'lte', 'eq': 'eq', 'neq': 'neq'}
LOGICAL = {'and': ast.And, 'or': ast.Or}
ALLOWED = 'eq, neq, lt, lte, gt, gte, between, array_contains, and, or, not'


SET_ASIDE = 'load_collection properties #'


def set_aside(graph: dict, found: dict) -> dict:
    """`graph` with the `properties` of each `load_collection` replaced by a key of
    `found` (which gets the conditions)."""
    copied = {}
    for key, node in graph.items():
        arguments = node.get('arguments') if isinstance(node, dict) else None
        if isinstance(arguments, dict) and node.get('process_id') == 'load_collection' \
                and isinstance(arguments.get('properties'), dict):
            token = f'{SET_ASIDE}{len(found)}'
            found[token] = arguments['properties']
            node = {**node, 'arguments': {**arguments, 'properties': token}}
        copied[key] = node
    return copied


def _invalid(name: str, message: str) -> GraphError:
    return GraphError(f'load_collection: properties.{name}: {message}',
                      'ProcessParameterInvalid')


def attribute(name: str) -> ast.Attribute:
    """The query attribute of an item property (see the module's docstring)."""
    from ..catalogue.queryables import QUERYABLES
    from ..catalogue.search import DOCUMENT
    if name in QUERYABLES and not QUERYABLES[name].array:
        return ast.Attribute(name)
    for queryable in QUERYABLES.values():  # a STAC name (values of the same form only)
        if queryable.stac == name and not (queryable.array or queryable.enum):
            return ast.Attribute(queryable.name)
    return ast.Attribute(DOCUMENT + name)


def _plain(value):
    """A graph as JSON again (the parser hands references over as objects)."""
    if hasattr(value, 'from_parameter'):
        return {'from_parameter': value.from_parameter}
    if hasattr(value, 'from_node'):
        return {'from_node': value.from_node}
    value = getattr(value, 'root', value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


class _Translation:
    """One property's graph, node by node from its result."""

    def __init__(self, name: str, graph: dict):
        self.name, self.graph = name, graph
        self.attribute = attribute(name)

    def result(self) -> ast.Node:
        ends = [key for key, node in self.graph.items() if (node or {}).get('result')]
        if len(ends) != 1:
            raise _invalid(self.name, 'the process graph needs exactly one result node')
        return self.node(ends[0], set())

    def node(self, key: str, seen: set) -> ast.Node:
        if key in seen or key not in self.graph:
            raise _invalid(self.name, f'node {key!r} is missing or part of a cycle')
        node = self.graph[key]
        pid, args = node.get('process_id'), node.get('arguments') or {}
        if pid in COMPARISONS:
            return self.comparison(pid, args)
        if pid == 'between':
            return self.between(args)
        if pid == 'array_contains':
            return self.contained(args)
        if pid in LOGICAL:
            return LOGICAL[pid](self.condition(args.get('x'), seen | {key}),
                                self.condition(args.get('y'), seen | {key}))
        if pid == 'not':
            return ast.Not(self.condition(args.get('x'), seen | {key}))
        raise _invalid(self.name, f'process {pid!r} cannot select items here (use {ALLOWED})')

    def condition(self, argument, seen: set) -> ast.Node:
        if not (isinstance(argument, dict) and 'from_node' in argument):
            raise _invalid(self.name, 'and, or and not combine the results of other nodes')
        return self.node(argument['from_node'], seen)

    def is_value(self, argument) -> bool:
        return isinstance(argument, dict) and argument.get('from_parameter') == 'value'

    def constant(self, argument):
        if isinstance(argument, bool) or not isinstance(argument, (str, int, float)):
            raise _invalid(self.name, 'the value is compared with a constant string or '
                           f'number (not {argument!r})')
        return argument

    def comparison(self, pid: str, args: dict) -> ast.Node:
        x, y = args.get('x'), args.get('y')
        if args.get('delta') is not None or args.get('case_sensitive') is False:
            raise _invalid(self.name, f'{pid}: delta and case_sensitive=false cannot select '
                           'items here')
        if self.is_value(y) and not self.is_value(x):
            pid, x, y = FLIPPED[pid], y, x
        if not self.is_value(x):
            raise _invalid(self.name, f'{pid} compares the parameter "value" with a constant')
        return COMPARISONS[pid](self.attribute, self.constant(y))

    def between(self, args: dict) -> ast.Node:
        if not self.is_value(args.get('x')):
            raise _invalid(self.name, 'between tests the parameter "value"')
        low, high = self.constant(args.get('min')), self.constant(args.get('max'))
        upper = ast.LessThan if args.get('exclude_max') else ast.LessEqual
        return ast.And(ast.GreaterEqual(self.attribute, low), upper(self.attribute, high))

    def contained(self, args: dict) -> ast.Node:
        options = args.get('data')
        if not self.is_value(args.get('value')) or not isinstance(options, list) or \
                not options:
            raise _invalid(self.name, 'array_contains tests the parameter "value" against '
                           'a non-empty list of constants')
        tests = [ast.Equal(self.attribute, self.constant(o)) for o in options]
        return tests[0] if len(tests) == 1 else ast.Or.from_items(*tests)


def query(properties) -> ast.Node | None:
    """The AST selecting the items whose properties meet every condition (None: none)."""
    properties = _plain(properties)
    if not properties:
        return None
    if not isinstance(properties, dict):
        raise GraphError('load_collection: properties must map property names to process '
                         'graphs', 'ProcessParameterInvalid')
    nodes = []
    for name, process in sorted(properties.items()):
        graph = process.get('process_graph') if isinstance(process, dict) else None
        if not isinstance(graph, dict) or not graph:
            raise _invalid(name, 'a process (an object with a process_graph) is required')
        nodes.append(_Translation(name, graph).result())
    return nodes[0] if len(nodes) == 1 else ast.And.from_items(*nodes)
