"""The graph check that a job's creation and update, a synchronous `/result` and
`/validation` make (`datacube.run.parses`) refuses exactly the graphs
openeo-pg-parser-networkx's full parse refuses (`datacube.run.parse`, what a job runs),
with the same message: the parse is the oracle, over every graph the suite's payloads and
the process specs hold and over malformed ones."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pygeoapi_eoorder.datacube.errors import GraphError
from pygeoapi_eoorder.datacube.run import parse, parses

SUITE = Path(__file__).parent / 'data' / 'openeo-suite'
SPECS = Path(__file__).parents[1] / 'pygeoapi_eoorder' / 'datacube' / 'specs'


def _graphs_in(document, found: list[dict]) -> list[dict]:
    """Every `process_graph` object in a JSON document (nested ones too)."""
    if isinstance(document, dict):
        graph = document.get('process_graph')
        if isinstance(graph, dict) and graph:
            found.append(graph)
        for value in document.values():
            _graphs_in(value, found)
    elif isinstance(document, list):
        for value in document:
            _graphs_in(value, found)
    return found


def _top_graphs(path: Path) -> list[dict]:
    """The outermost process graphs of a JSON file (a callback is checked with its graph)."""
    document = json.loads(path.read_text())
    graph = (document.get('process') or document).get('process_graph')
    return [graph] if isinstance(graph, dict) and graph else []


FILES = sorted([*SUITE.glob('payload_examples/*/*.json'), *SPECS.glob('*.json')])
CORPUS = [(f'{path.parent.name}/{path.name}', graph) for path in FILES
          for graph in _top_graphs(path)]


def _node(process_id: str = 'add', result: bool = False, **arguments) -> dict:
    return {'process_id': process_id, 'arguments': arguments or {'x': 1, 'y': 2},
            **({'result': True} if result else {})}


WITH_CALLBACKS = {
    'ndvi and a mean over time': {
        'load': _node('load_collection', id='products', bands=['red', 'nir'],
                      spatial_extent={'west': 4.75, 'south': 45.7, 'east': 4.95,
                                      'north': 45.85},
                      temporal_extent=['2024-06-01', '2024-07-01']),
        'ndvi': _node('ndvi', data={'from_node': 'load'}),
        'mean': _node('reduce_dimension', data={'from_node': 'ndvi'}, dimension='t',
                      reducer={'process_graph': {'m': _node(
                          'mean', result=True, data={'from_parameter': 'data'})}}),
        'save': _node('save_result', result=True, data={'from_node': 'mean'},
                      format='GTiff')},
    'a callback in a callback, references in lists': {
        'a': _node('add'),
        'b': _node('apply', result=True, data=[{'from_node': 'a'}, 2], process={
            'process_graph': {
                'inner': _node('apply', data={'from_parameter': 'x'}, process={
                    'process_graph': {'abs': _node('absolute', result=True,
                                                   x={'from_parameter': 'x'})}}),
                'out': _node('sum', result=True,
                             data=[{'from_node': 'inner'}, {'from_parameter': 'x'}])}})},
}

MALFORMED = {
    'no result node': {'a': _node()},
    'two result nodes': {'a': _node(result=True), 'b': _node(result=True)},
    'dangling from_node': {'a': _node(result=True, x={'from_node': 'missing'}, y=1)},
    'from_node in a list': {'a': _node('sum', result=True, data=[1, {'from_node': 'nope'}])},
    'cycle': {'a': _node(x={'from_node': 'b'}, y=1),
              'b': _node(result=True, x={'from_node': 'a'}, y=1)},
    'process id not a word': {'a': _node('not-a-process', result=True)},
    'node without arguments': {'a': {'process_id': 'pi', 'result': True}},
    'node without process id': {'a': {'arguments': {}, 'result': True}},
    'result not a boolean': {'a': {**_node(), 'result': 'yes'}},
    'node not an object': {'a': 'add', 'b': _node(result=True)},
    'callback without result': {'a': _node('apply', result=True, data=1, process={
        'process_graph': {'x': _node('absolute', x={'from_parameter': 'x'})}})},
    'callback with a dangling reference': {'a': _node('apply', result=True, data=1, process={
        'process_graph': {'x': _node('absolute', result=True, x={'from_node': 'y'})}})},
}


def _refusal(check, graph: dict) -> str | None:
    """The message `check` refuses the graph with (None: it reads it)."""
    try:
        check(graph)
    except GraphError as err:
        return f'{err.code}: {err}'
    return None


GRAPHS = [*CORPUS, *WITH_CALLBACKS.items(), *MALFORMED.items()]


def test_the_graphs_hold_every_kind():
    """(What the comparison below covers: read and refused graphs, callbacks.)"""
    assert len(CORPUS) >= 25
    assert all(_graphs_in(graph, []) for graph in WITH_CALLBACKS.values())
    read = [name for name, graph in GRAPHS if _refusal(parse, graph) is None]
    assert {*WITH_CALLBACKS} <= {*read} and len(read) >= 25
    assert not {*MALFORMED} & {*read}  # the parser refuses each of those


@pytest.mark.parametrize('name, graph', GRAPHS, ids=[name for name, _ in GRAPHS])
def test_the_check_refuses_what_the_parser_refuses_with_its_message(name, graph):
    assert _refusal(parses, graph) == _refusal(parse, graph)
