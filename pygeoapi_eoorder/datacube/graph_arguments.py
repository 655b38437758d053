"""The literal arguments of a graph checked without running it (`/validation`): each
node's (and each child graph's) against the official description of its predefined
process (`argument_check`)."""

from __future__ import annotations

import functools

from .argument_check import checker
from .errors import GraphError
from .processes import description


def literal_problems(graph: dict, skip: dict[str, tuple] | None = None) -> list[GraphError]:
    """The problems the literal arguments of a graph's nodes (and of its child graphs')
    have with the descriptions of their predefined processes, found without running it;
    `skip`: {process id: argument names not checked}. References (`from_node`,
    `from_parameter`) and child graphs are not literal: they are left to the run."""
    problems = []
    for node in _nodes(graph):
        spec = description(str(node.get('process_id')))
        arguments = node.get('arguments')
        if spec is None or not isinstance(arguments, dict):
            continue
        check = _checker_of(spec['id'])
        for name, value in arguments.items():
            if name in (skip or {}).get(spec['id'], ()) or not _literal(value):
                continue
            try:
                check(name, value)
            except GraphError as err:
                problems.append(err)
    return problems


@functools.lru_cache(maxsize=256)
def _checker_of(process_id: str):
    return checker(description(process_id))


def _nodes(graph):
    """The nodes of a flat graph and of the child graphs among their arguments."""
    for node in (graph.values() if isinstance(graph, dict) else ()):
        if isinstance(node, dict):
            yield node
            yield from _children(node.get('arguments'))


def _children(value):
    if isinstance(value, dict):
        if isinstance(value.get('process_graph'), dict):
            yield from _nodes(value['process_graph'])
        else:
            for item in value.values():
                yield from _children(item)
    elif isinstance(value, list):
        for item in value:
            yield from _children(item)


def _literal(value) -> bool:
    """No reference or child graph anywhere in it."""
    if isinstance(value, dict):
        return not ({'from_node', 'from_parameter', 'process_graph'} & set(value)) and all(
            _literal(item) for item in value.values())
    if isinstance(value, list):
        return all(_literal(item) for item in value)
    return True
