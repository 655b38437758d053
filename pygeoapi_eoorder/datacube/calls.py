"""How a graph's nodes call the process implementations: parameter references resolved
exactly as openeo-processes-dask's `process` decorator does it, less what that decorator
costs on every call: it formats each argument (cubes included, ~8 ms each) for a debug
message that is not written, and reads the implementation's signature again each time."""

from __future__ import annotations

import functools
import inspect

DROPPED_UNLESS_ACCEPTED = ('axis', 'keepdims', 'source_transposed_axis', 'context',
                           'dim_labels')


def resolving(function):
    """`function` called with the references among its arguments resolved."""
    from openeo_pg_parser_networkx.pg_schema import ParameterReference
    from openeo_processes_dask.process_implementations.exceptions import (
        ProcessParameterMissing)
    accepted = inspect.signature(function).parameters
    dropped = [name for name in DROPPED_UNLESS_ACCEPTED if name not in accepted]
    name = getattr(function, '__name__', 'process')

    def value(reference, named: dict):
        if reference.from_parameter not in named:
            raise ProcessParameterMissing(f'Error: Process Parameter '
                                          f'{reference.from_parameter} was missing for '
                                          f'process {name}')
        return named[reference.from_parameter]

    @functools.wraps(function)
    def call(*args, positional_parameters=None, named_parameters=None, **kwargs):
        named = {} if named_parameters is None else named_parameters
        for parameter, index in (positional_parameters or {}).items():
            named[parameter] = args[index]
        # as the library: positional arguments are passed on only as references
        resolved = [value(a, named) for a in args if isinstance(a, ParameterReference)]
        keywords = {k: value(a, named) if isinstance(a, ParameterReference) else a
                    for k, a in kwargs.items()}
        for parameter in dropped:
            keywords.pop(parameter, None)
        keywords = {k: fresh_each_call(v) if _cache_of(v) is not None else v
                    for k, v in keywords.items()}
        return function(*resolved, **keywords)
    return call


def _cache_of(value) -> dict | None:
    """The node results a child graph (e.g. `array_apply`'s `process`, as the graph
    parser makes it: a partial of its result node's function) keeps; None: no such."""
    function = getattr(value, 'func', value)
    code = getattr(function, '__code__', None)
    if code is None or 'results_cache' not in code.co_freevars:
        return None
    return dict(zip(code.co_freevars, function.__closure__))['results_cache'].cell_contents


def fresh_each_call(callback):
    """`callback` computing its nodes again at each call: the graph parser keeps each
    node's result for the rest of the run, so a child graph called once per element
    (`array_apply`, `array_filter` vectorise it) gave every element the first one's."""
    cache = _cache_of(callback)

    @functools.wraps(callback)
    def call(*args, **kwargs):
        kept = set(cache)
        try:
            return callback(*args, **kwargs)
        finally:
            for node in set(cache) - kept:
                del cache[node]
    return call
