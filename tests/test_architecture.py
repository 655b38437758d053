"""The package's import contract (issue #14), read from the source with `ast`.

Every import of every module counts: module-level, function-local, relative and those
under `if TYPE_CHECKING:` (a function-local import does not make a cycle go away).
Packages are grouped in layers; a module may import its own node, nodes of lower layers,
and (where the layer allows it) its peers. The oracle is the layer table below, written
from the architecture note, not from the code.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = 'pygeoapi_eoorder'
PACKAGE = Path(__file__).resolve().parent.parent / ROOT
MAX_FILE_LINES = 500
MAX_FUNCTION_LINES = 60

# (layer, nodes from top to bottom, may a node import a peer of its own rank?)
# A node is a package or module under `pygeoapi_eoorder`; the longest listed prefix of a
# module's name is its node. Services are ranked: a service imports only those below it.
LAYERS = (
    ('composition', [{'app', 'serve', 'supervise', 'cli', 'components'}], True),
    ('adapter', [{'api', 'records', 'opensearch', 'oseo', 'ui', 'stac_api', 'wps',
                  'openeo_api', 'workspace_api'}], False),
    ('web', [{'web', 'auth.flask'}], True),
    # catalogue.harvest and datacube run as jobs: nodes of their own above jobs
    ('service', [{'ordering'}, {'catalogue.harvest', 'datacube'}, {'jobs'}, {'processes'},
                 {'workspaces'}, {'execution'}, {'catalogue'}, {'auth'}, {'notifications'}],
     False),
    ('foundation', [{'store', 'config', 'errors', 'egress', 'xmlsafe', 'nesting', 'urls',
                     'plugins', ''}], True),
)
WEB_FRAMEWORKS = ('flask', 'werkzeug', 'pygeoapi.flask_app')
# werkzeug's password hashing is a plain function over strings (no request, no WSGI): the
# users file of the `basic` authenticator is in its format, so the auth service may use it
NOT_A_FRAMEWORK = ('werkzeug.security',)
FRAMEWORK_FREE_LAYERS = {'service', 'foundation'}


@dataclass(frozen=True)
class Import:
    """One import statement's target, as seen in `module` at `line`."""
    module: str
    target: str
    line: int

    def __str__(self) -> str:
        return f'{self.module} imports {self.target} ({path_of(self.module)}:{self.line})'


def module_files() -> dict[str, Path]:
    """Dotted module name → file, for every module of the package (Alembic's revisions,
    loaded by path, included)."""
    found = {}
    for path in sorted(PACKAGE.rglob('*.py')):
        relative = path.relative_to(PACKAGE.parent).with_suffix('')
        parts = list(relative.parts)
        if parts[-1] == '__init__':
            parts.pop()
        found['.'.join(parts)] = path
    return found


MODULES = module_files()


def path_of(module: str) -> str:
    return str(MODULES[module].relative_to(PACKAGE.parent))


def _base_of(module: str, node: ast.ImportFrom) -> str:
    """The absolute module named by a (possibly relative) `from ... import`."""
    if not node.level:
        return node.module or ''
    package = module.split('.')
    if not MODULES[module].name == '__init__.py':
        package.pop()
    package = package[:len(package) - node.level + 1]
    return '.'.join(package + ([node.module] if node.module else []))


def _ours(name: str) -> str:
    """The longest prefix of `name` that is one of our modules (a name imported from a
    package may be a module or an attribute of the package)."""
    parts = name.split('.')
    while parts and '.'.join(parts) not in MODULES:
        parts.pop()
    return '.'.join(parts)


def imports_of(module: str) -> list[Import]:
    """Every import in `module`: ours resolved to a module, others kept as written."""
    tree = ast.parse(MODULES[module].read_text(), str(MODULES[module]))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _base_of(module, node)
            names = [f'{base}.{alias.name}' for alias in node.names] or [base]
        else:
            continue
        for name in names:
            target = _ours(name) if name.split('.')[0] == ROOT else name
            found.append(Import(module, target, node.lineno))
    return sorted(set(found), key=lambda edge: (edge.line, edge.target))


IMPORTS = {module: imports_of(module) for module in MODULES}


def node_of(module: str) -> str:
    """The layer-table node of one of our modules (its longest listed prefix)."""
    parts = module.split('.')[1:]
    known = {node for _, ranks, _ in LAYERS for rank in ranks for node in rank}
    for size in range(len(parts), 0, -1):
        if '.'.join(parts[:size]) in known:
            return '.'.join(parts[:size])
    return '' if not parts else parts[0]


def place_of(node: str) -> tuple[int, int, str, bool] | None:
    """(layer index, rank index, layer name, peers allowed) of a node; None if unlisted."""
    for layer_index, (name, ranks, peers) in enumerate(LAYERS):
        for rank_index, rank in enumerate(ranks):
            if node in rank:
                return layer_index, rank_index, name, peers
    return None


def layer_violation(edge: Import) -> str | None:
    """Why this import breaks the layer order (None when it does not)."""
    source, target = node_of(edge.module), node_of(edge.target)
    if source == target:
        return None
    above, below = place_of(source), place_of(target)
    if above is None or below is None:
        return f'{edge}: node {source if above is None else target!r} is in no layer'
    if (above[0], above[1]) > (below[0], below[1]):
        return f'{edge}: {above[2]} {source!r} may not import {below[2]} {target!r} (above it)'
    if (above[0], above[1]) == (below[0], below[1]) and not above[3]:
        return f'{edge}: {above[2]} {source!r} may not import its peer {target!r}'
    return None


def our_edges() -> list[Import]:
    return [edge for edges in IMPORTS.values() for edge in edges
            if edge.target in MODULES and edge.target != edge.module]


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's components of more than one member (iterative: no recursion limit)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            vertex, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[vertex] = min(low[vertex], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[vertex])
            if low[vertex] == index[vertex]:
                member, component = None, []
                while member != vertex:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def cycle_report(edges: list[Import], key) -> list[str]:
    """One line per cycle of the graph `key(edge.module) → key(edge.target)`, naming
    the imports that close it."""
    graph: dict[str, set[str]] = {}
    for edge in edges:
        source, target = key(edge.module), key(edge.target)
        if source != target:
            graph.setdefault(source, set()).add(target)
            graph.setdefault(target, set())
    report = []
    for component in strongly_connected(graph):
        members = set(component)
        inside = [str(edge) for edge in edges if key(edge.module) in members
                  and key(edge.target) in members and key(edge.module) != key(edge.target)]
        report.append(f'cycle {" ↔ ".join(component)}:\n      ' + '\n      '.join(inside))
    return report


def test_oracle_sees_relative_and_local_imports():
    """The reader resolves what the contract depends on (checked on a known module)."""
    assert 'pygeoapi_eoorder.store' in MODULES and 'pygeoapi_eoorder.store.models' in MODULES
    store_imports = {edge.target for edge in IMPORTS['pygeoapi_eoorder.store']}
    assert 'pygeoapi_eoorder.store.models' in store_imports  # `from .models import ...`
    assert node_of('pygeoapi_eoorder.catalogue.harvest.job') == 'catalogue.harvest'
    assert node_of('pygeoapi_eoorder.catalogue.records') == 'catalogue'
    assert layer_violation(Import('pygeoapi_eoorder.store', 'pygeoapi_eoorder.jobs', 1))
    assert layer_violation(Import('pygeoapi_eoorder.jobs', 'pygeoapi_eoorder.store', 1)) is None
    assert strongly_connected({'a': {'b'}, 'b': {'c'}, 'c': {'a'}, 'd': {'a'}}) == [['a', 'b', 'c']]


def test_no_import_cycle_between_modules():
    report = cycle_report(our_edges(), key=lambda module: module)
    assert not report, '\n  ' + '\n  '.join(report)


def test_packages_form_a_dag():
    report = cycle_report(our_edges(), key=node_of)
    assert not report, '\n  ' + '\n  '.join(report)


def test_every_package_has_a_layer():
    missing = sorted({f'{node_of(module)!r} ({path_of(module)})' for module in MODULES
                      if place_of(node_of(module)) is None})
    assert not missing, 'nodes in no layer: ' + ', '.join(missing)


def test_imports_follow_the_layers():
    report = [why for edge in our_edges() if (why := layer_violation(edge))]
    assert not report, '\n  ' + '\n  '.join(sorted(report))


def test_services_and_foundation_never_import_a_web_framework():
    report = []
    for module, edges in IMPORTS.items():
        place = place_of(node_of(module))
        if place is None or place[2] not in FRAMEWORK_FREE_LAYERS:
            continue
        report += [str(edge) for edge in edges
                   if any(edge.target == name or edge.target.startswith(name + '.')
                          for name in WEB_FRAMEWORKS)
                   and not edge.target.startswith(NOT_A_FRAMEWORK)]
    assert not report, '\n  ' + '\n  '.join(report)


HOOK_NAME = re.compile(rf'{ROOT}(?:\.\w+)+(?::\w+)?')


def _dotted_link(node: ast.AST) -> bool:
    """Is `node` a string naming one of our modules (`package.module`) or a function in
    one (`package.module:function`): a link only a string lookup can follow?"""
    if not (isinstance(node, ast.Constant) and isinstance(node.value, str)
            and HOOK_NAME.fullmatch(node.value)):
        return False
    module, colon, _ = node.value.partition(':')
    return module in MODULES and (bool(colon) or node.value == module)


def test_no_component_is_found_by_a_dotted_string():
    """Links an import graph can follow: no `'pygeoapi_eoorder.x.y'` or
    `'pygeoapi_eoorder.x.y:function'` string to import later (hooks, model lists). Class
    names that pygeoapi's own plug-in loader reads from the configuration are not links
    of ours; our names that come from the YAML are resolved by `plugins.resolve`; a
    module started as a process (`python -m name`) is an entry point, not a link."""
    report = []
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text())
        entry_points = {id(seq.elts[i + 1]) for seq in ast.walk(tree)  # `python -m name`
                        if isinstance(seq, (ast.List, ast.Tuple))
                        for i, elt in enumerate(seq.elts[:-1])
                        if isinstance(elt, ast.Constant) and elt.value == '-m'}
        report += [f'{path_of(module)}:{node.lineno} {node.value!r}' for node in ast.walk(tree)
                   if _dotted_link(node) and id(node) not in entry_points]
    assert not report, '\n  ' + '\n  '.join(report)


def test_no_file_over_500_lines():
    long = [f'{path_of(module)}: {lines} lines' for module, path in MODULES.items()
            if (lines := len(path.read_text().splitlines())) > MAX_FILE_LINES]
    assert not long, '\n  ' + '\n  '.join(long)


def test_no_function_over_60_lines():
    long = []
    for module, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                size = node.end_lineno - node.lineno + 1
                if size > MAX_FUNCTION_LINES:
                    long.append(f'{path_of(module)}:{node.lineno} {node.name}(): {size} lines')
    assert not long, '\n  ' + '\n  '.join(long)


@pytest.mark.parametrize('text, expected', [
    ('from . import records', 'pygeoapi_eoorder.catalogue.records'),
    ('from .cql import CQLError', 'pygeoapi_eoorder.catalogue.cql'),
    ('from ..store import get_store', 'pygeoapi_eoorder.store'),
    ('import pygeoapi_eoorder.jobs.manager', 'pygeoapi_eoorder.jobs.manager'),
])
def test_relative_imports_resolve(text, expected):
    """`_base_of`/`_ours` against hand-resolved names, as if written in catalogue/query.py."""
    node = ast.parse(text).body[0]
    module = 'pygeoapi_eoorder.catalogue.query'
    if isinstance(node, ast.ImportFrom):
        base = _base_of(module, node)
        names = [f'{base}.{alias.name}' for alias in node.names]
    else:
        names = [alias.name for alias in node.names]
    assert _ours(names[0]) == expected
