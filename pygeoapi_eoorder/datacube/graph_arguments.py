"""The literal arguments of a graph checked without running it (`/validation`): each
node's (and each child graph's) against the official description of its predefined
process (`argument_check`)."""

from __future__ import annotations

from .argument_check import checker
from .errors import GraphError
from .processes import description
from .user_processes import graph_nodes


def literal_problems(graph: dict, skip: dict[str, tuple] | None = None) -> list[GraphError]:
    """The problems the literal arguments of a graph's nodes (and of its child graphs')
    have with the descriptions of their predefined processes, found without running it;
    `skip`: {process id: argument names not checked}. References (`from_node`,
    `from_parameter`) and child graphs are not literal: they are left to the run."""
    problems = []
    for node in graph_nodes(graph):
        spec = description(str(node.get('process_id')))
        arguments = node.get('arguments')
        if spec is None or not isinstance(arguments, dict):
            continue
        check = checker(spec)
        for name, value in arguments.items():
            if name in (skip or {}).get(spec['id'], ()) or not _literal(value):
                continue
            try:
                check(name, value)
            except GraphError as err:
                problems.append(err)
    return problems


def _literal(value) -> bool:
    """No reference or child graph anywhere in it."""
    if isinstance(value, dict):
        return not ({'from_node', 'from_parameter', 'process_graph'} & set(value)) and all(
            _literal(item) for item in value.values())
    if isinstance(value, list):
        return all(_literal(item) for item in value)
    return True
