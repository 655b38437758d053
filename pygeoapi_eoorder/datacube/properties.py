"""`load_collection`'s `properties`: one process graph per item property (a condition on
its `value`), translated to the catalogue's query model (a pygeofilter AST) so that the
store selects the items, as for the spatial and temporal extents.

A property is a queryable of the catalogue by its name or by the STAC name it stands for
(`eo:cloud_cover` is `cloudCover`, `instruments` is `instrument`); another name is read from
the item's own properties. A graph may use the comparisons `eq`, `neq`, `lt`, `lte`, `gt`,
`gte` and `between` of the value with a constant, `array_contains` (a list of constants
holding the value), and `and`, `or` and `not` of those; anything else is refused (never
ignored). `eq` and `neq` take `delta` (numbers within it are equal: a range) and
`case_sensitive: false` (strings equal whatever the case of their letters; SQLite folds
ASCII letters only, PostgreSQL by its locale).

A property the catalogue keeps as a list of values (`instruments`, `keywords`): `eq` holds
when the list contains the value, `neq` when it does not, `array_contains` when it contains
any of the constants (strings); other comparisons and `case_sensitive: false` are
refused.

A constant may be a parameter of the enclosing user-defined process (`from_parameter`): its
value given in the call, else its default; an unknown parameter is refused.

The conditions are set aside before the graph is parsed (`set_aside`, which also puts in
the parameters' values): the parser would take the nodes of a condition for nodes of the
graph itself and run them without `value`.
"""

from __future__ import annotations

from pygeofilter import ast

from .errors import GraphError

COMPARISONS = {'eq': ast.Equal, 'neq': ast.NotEqual, 'lt': ast.LessThan,
               'lte': ast.LessEqual, 'gt': ast.GreaterThan, 'gte': ast.GreaterEqual}
FLIPPED = {'lt': 'gt', 'lte': 'gte', 'gt': 'lt', 'gte': 'lte', 'eq': 'eq', 'neq': 'neq'}
LOGICAL = {'and': ast.And, 'or': ast.Or}
ALLOWED = 'eq, neq, lt, lte, gt, gte, between, array_contains, and, or, not'
VALUE = 'value'  # the parameter of a condition: the item's property


SET_ASIDE = 'load_collection properties #'
SELECTING = ('load_collection', 'load_stac')  # the processes with `properties`


def set_aside(graph: dict, found: dict, parameters: dict | None = None) -> dict:
    """`graph` with the `properties` of each `load_collection` and `load_stac` replaced by
    a key of `found` (which gets the conditions, the `parameters` of the enclosing process
    put in)."""
    copied = {}
    for key, node in graph.items():
        arguments = node.get('arguments') if isinstance(node, dict) else None
        if isinstance(arguments, dict) and node.get('process_id') in SELECTING \
                and isinstance(arguments.get('properties'), dict):
            token = f'{SET_ASIDE}{len(found)}'
            found[token] = with_parameters(arguments['properties'], parameters or {},
                                           node['process_id'])
            node = {**node, 'arguments': {**arguments, 'properties': token}}
        copied[key] = node
    return copied


def with_parameters(properties: dict, parameters: dict,
                    process: str = 'load_collection') -> dict:
    """The conditions with each reference to a parameter other than `value` replaced by the
    parameter's value (ProcessParameterInvalid: the process has no such parameter)."""
    def put_in(name: str, argument):
        if isinstance(argument, dict) and set(argument) == {'from_parameter'} \
                and argument['from_parameter'] != VALUE:
            reference = argument['from_parameter']
            if reference not in parameters:
                raise _invalid(name, f'the parameter {reference!r} has no value here (it is '
                               'neither given to nor a default of the enclosing process)',
                               process)
            return _scalar(_plain(parameters[reference]))
        if isinstance(argument, dict):
            return {k: put_in(name, v) for k, v in argument.items()}
        if isinstance(argument, list):
            return [put_in(name, v) for v in argument]
        return argument
    return {name: put_in(name, process) for name, process in properties.items()}


def _scalar(value):
    """A numpy number as a Python one (a computed argument)."""
    if getattr(value, 'ndim', None) == 0 and hasattr(value, 'item'):
        return value.item()
    if isinstance(value, list):
        return [_scalar(v) for v in value]
    return value


def _invalid(name: str, message: str, process: str = 'load_collection') -> GraphError:
    return GraphError(f'{process}: properties.{name}: {message}', 'ProcessParameterInvalid')


def queryable(name: str):
    """The catalogue queryable an item property is (None: read from the document)."""
    from ..catalogue.queryables import QUERYABLES
    if name in QUERYABLES:
        return QUERYABLES[name]
    for found in QUERYABLES.values():  # a STAC name (values of the same form only)
        if found.stac == name and not found.enum:
            return found
    return None


def attribute(name: str, found=None) -> ast.Attribute:
    """The query attribute of an item property (see the module's docstring); `found`: its
    queryable, if already looked up."""
    from ..catalogue.search import DOCUMENT
    found = found or queryable(name)
    return ast.Attribute(DOCUMENT + name if found is None else found.name)


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


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class _Translation:
    """One property's graph, node by node from its result; `stac`: as a condition on a
    STAC item's properties (by their STAC names), not on the catalogue's queryables."""

    def __init__(self, name: str, graph: dict, process: str = 'load_collection',
                 stac: bool = False):
        self.name, self.graph, self.process = name, graph, process
        found = queryable(name)
        self.attribute = ast.Attribute(stac_name(name, found)) if stac else \
            attribute(name, found)
        self.is_list = bool(found and found.array)

    def invalid(self, message: str) -> GraphError:
        return _invalid(self.name, message, self.process)

    def result(self) -> ast.Node:
        ends = [key for key, node in self.graph.items() if (node or {}).get('result')]
        if len(ends) != 1:
            raise self.invalid('the process graph needs exactly one result node')
        return self.node(ends[0], set())

    def node(self, key: str, seen: set) -> ast.Node:
        if key in seen or key not in self.graph:
            raise self.invalid(f'node {key!r} is missing or part of a cycle')
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
        raise self.invalid(f'process {pid!r} cannot select items here (use {ALLOWED})')

    def condition(self, argument, seen: set) -> ast.Node:
        if not (isinstance(argument, dict) and 'from_node' in argument):
            raise self.invalid('and, or and not combine the results of other nodes')
        return self.node(argument['from_node'], seen)

    def is_value(self, argument) -> bool:
        return isinstance(argument, dict) and argument.get('from_parameter') == VALUE

    def constant(self, argument):
        if isinstance(argument, bool) or not isinstance(argument, (str, int, float)):
            raise self.invalid('the value is compared with a constant string or '
                           f'number (not {argument!r})')
        if self.is_list and not isinstance(argument, str):
            raise self.invalid(f'a list of strings holds no {argument!r}')
        return argument

    def not_for_lists(self, what: str):
        if self.is_list:
            raise self.invalid(f'{what} cannot test a list of values (use eq, neq or '
                           'array_contains)')

    def comparison(self, pid: str, args: dict) -> ast.Node:
        x, y = args.get('x'), args.get('y')
        if self.is_value(y) and not self.is_value(x):
            pid, x, y = FLIPPED[pid], y, x
        if not self.is_value(x):
            raise self.invalid(f'{pid} compares the parameter "value" with a constant')
        if pid not in ('eq', 'neq'):
            self.not_for_lists(pid)
            return COMPARISONS[pid](self.attribute, self.constant(y))
        found = self.equality(self.constant(y), args)
        return ast.Not(found) if pid == 'neq' else found

    def equality(self, constant, args: dict) -> ast.Node:
        """`eq` of the value and `constant`, with its `delta` and `case_sensitive`."""
        delta, case_sensitive = args.get('delta'), args.get('case_sensitive', True)
        if delta is not None and not _is_number(delta):
            raise self.invalid(f'delta is a number (not {delta!r})')
        if case_sensitive is not None and not isinstance(case_sensitive, bool):
            raise self.invalid(f'case_sensitive is true or false (not {case_sensitive!r})')
        near = _is_number(constant) and delta is not None and delta > 0
        caseless = isinstance(constant, str) and case_sensitive is False
        if self.is_list:
            if caseless:
                raise self.invalid('case_sensitive=false cannot test a list of values')
            return ast.ArrayContains(self.attribute, [constant])
        if near:  # |value - constant| <= delta
            return ast.And(ast.GreaterEqual(self.attribute, constant - delta),
                           ast.LessEqual(self.attribute, constant + delta))
        if caseless:
            from ..catalogue.query import escape_like
            return ast.Like(self.attribute, escape_like(constant), nocase=True, wildcard='%',
                            singlechar='_', escapechar='\\', not_=False)
        return ast.Equal(self.attribute, constant)

    def between(self, args: dict) -> ast.Node:
        if not self.is_value(args.get('x')):
            raise self.invalid('between tests the parameter "value"')
        self.not_for_lists('between')
        low, high = self.constant(args.get('min')), self.constant(args.get('max'))
        upper = ast.LessThan if args.get('exclude_max') else ast.LessEqual
        return ast.And(ast.GreaterEqual(self.attribute, low), upper(self.attribute, high))

    def contained(self, args: dict) -> ast.Node:
        options = args.get('data')
        if not self.is_value(args.get('value')) or not isinstance(options, list) or \
                not options:
            raise self.invalid('array_contains tests the parameter "value" against '
                           'a non-empty list of constants')
        options = [self.constant(o) for o in options]
        if self.is_list:  # the item's list and the constants have a value in common
            return ast.ArrayOverlaps(self.attribute, options)
        tests = [ast.Equal(self.attribute, o) for o in options]
        return tests[0] if len(tests) == 1 else ast.Or.from_items(*tests)


def query(properties, process: str = 'load_collection', stac: bool = False
          ) -> ast.Node | None:
    """The AST selecting the items whose properties meet every condition (None: none)."""
    properties = _plain(properties)
    if not properties:
        return None
    if not isinstance(properties, dict):
        raise GraphError(f'{process}: properties must map property names to process '
                         'graphs', 'ProcessParameterInvalid')
    nodes = []
    for name, process_ in sorted(properties.items()):
        graph = process_.get('process_graph') if isinstance(process_, dict) else None
        if not isinstance(graph, dict) or not graph:
            raise _invalid(name, 'a process (an object with a process_graph) is required',
                           process)
        nodes.append(_Translation(name, graph, process, stac).result())
    return nodes[0] if len(nodes) == 1 else ast.And.from_items(*nodes)


def stac_name(name: str, found=None) -> str:
    """The STAC name of an item property (a catalogue queryable's name: the STAC one it
    stands for)."""
    found = found or queryable(name)
    return found.stac if found is not None and found.stac else name


def matcher(properties, process: str = 'load_stac'):
    """A test of STAC items (dicts) for the conditions (None: there are none): every
    property named must be there (as a catalogue's NULL meets no condition) and the
    conditions hold (pygeofilter's native evaluator)."""
    from pygeofilter.backends.native.evaluate import NativeEvaluator
    node = query(properties, process, stac=True)
    if node is None:
        return None
    names = {stac_name(name) for name in _plain(properties)}
    try:
        test = NativeEvaluator(use_getattr=False, allow_nested_attributes=False
                               ).evaluate(node)
    except Exception:  # the evaluator's own: a name it cannot read ("a.b")
        raise GraphError(f'{process}: properties: {", ".join(sorted(names))}: a name with a '
                         '"." cannot be tested here', 'ProcessParameterInvalid') from None

    def meets(item: dict) -> bool:
        found = item.get('properties') or {}
        if any(found.get(name) is None for name in names):
            return False
        try:
            return bool(test(found))
        except (TypeError, ValueError):  # a value of another type than the constant's
            return False
    return meets
