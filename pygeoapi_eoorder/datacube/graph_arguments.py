"""The literal arguments of a graph checked without running it (`/validation`): each
node's (and each child graph's) against the official description of its predefined
process (`argument_check`)."""

from __future__ import annotations

from .argument_check import checker
from .errors import GraphError
from .processes import OWN, description
from .scalars import schema_types
from .user_processes import graph_nodes


def literal_problems(graph: dict, skip: dict[str, tuple] | None = None) -> list[GraphError]:
    """The problems the literal arguments of a graph's nodes (and of its child graphs')
    have with the descriptions of their predefined processes, found without running it;
    `skip`: {process id: argument names not checked}. References (`from_node`,
    `from_parameter`) and child graphs are not literal: they are left to the run."""
    problems = []
    for spec, arguments in _described(graph, given=None):
        check = checker(spec)
        for name, value in arguments.items():
            if name in (skip or {}).get(spec['id'], ()) or not _literal(value):
                continue
            try:
                check(name, value)
            except GraphError as err:
                problems.append(err)
    return problems


def name_problems(graph: dict) -> list[GraphError]:
    """Arguments a node's predefined process has no parameter for, and parameters it
    requires (`_required`) that are not given, in the graph and its child graphs (the
    run raised TypeError for them: a 500)."""
    problems = []
    for spec, arguments in _described(graph, given={}):
        parameters = {p['name']: p for p in spec.get('parameters') or ()}
        problems += [GraphError(f"{spec['id']}: no parameter {name!r}",
                                'ProcessArgumentUnsupported')
                     for name in arguments if name not in parameters]
        problems += [GraphError(f"{spec['id']}: the argument {name!r} is required",
                                'ProcessArgumentRequired')
                     for name, parameter in parameters.items()
                     if name not in arguments and _required(spec['id'], parameter)]
    return problems


def _required(process_id: str, parameter: dict) -> bool:
    """Neither optional nor with a default; this back-end's own processes take a
    parameter that may be null as null when it is left out (`load_collection` without a
    `temporal_extent`, as clients write it)."""
    if parameter.get('optional') or 'default' in parameter:
        return False
    if process_id not in OWN:
        return True
    return 'null' not in schema_types(parameter.get('schema'))


def _described(graph: dict, given):
    """(description, arguments) of each node of a predefined process, in the graph and its
    child graphs; `given`: the arguments of a node that has none (None: it is skipped)."""
    for node in graph_nodes(graph):
        spec = description(str(node.get('process_id')))
        arguments = node.get('arguments', given)
        if spec is not None and isinstance(arguments, dict):
            yield spec, arguments


def _literal(value) -> bool:
    """No reference or child graph anywhere in it."""
    if isinstance(value, dict):
        return not ({'from_node', 'from_parameter', 'process_graph'} & set(value)) and all(
            _literal(item) for item in value.values())
    if isinstance(value, list):
        return all(_literal(item) for item in value)
    return True
