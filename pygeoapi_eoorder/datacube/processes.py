"""The processes a graph may use here: openeo-processes-dask's implementations (less the
ones this back-end refuses), `load_collection`, `load_stac`, `save_result` and user-defined
processes, as a pg-parser process registry and as openEO process descriptions (the
official 2.0 ones, see `spec_glue`)."""

from __future__ import annotations

import functools
import inspect
import logging

from . import argument_check, scalars, spec_glue
from .calls import resolving
from .errors import unsupported

REFUSED = {
    'run_udf': 'user-defined code (UDFs) does not run on this back-end; deploy an '
               'application package over OGC API - Processes instead',
}
OWN = ('load_collection', 'load_stac', 'save_result')
# arguments of those that take more than their official schema says, or are replaced
# before they run: `properties` (set aside, see `properties.py`), `load_stac`'s `url`
# (file:// and s3:// too, under the stage-in rules), `save_result`'s `data` (any value)
OWN_UNCHECKED = ('properties', 'url', 'data')


@functools.lru_cache(maxsize=1)
def predefined() -> dict[str, tuple[dict, object]]:
    """openEO id → (spec, implementation) of openeo-processes-dask, less the refused: the
    official spec and the implementation adapted to it."""
    logging.getLogger('openeo_processes_dask').setLevel(logging.ERROR)  # ML: not installed
    import importlib
    implementations = importlib.import_module(
        'openeo_processes_dask.process_implementations')
    from openeo_processes_dask import specs
    found, own = {}, spec_glue.replaced()
    for name, function in inspect.getmembers(implementations, inspect.isfunction):
        spec = getattr(specs, name, None)
        function = own.get(name, function)
        if isinstance(spec, dict) and spec.get('id') not in REFUSED:
            described = spec_glue.description(spec['id'], spec)
            found[spec['id']] = (described, scalars.as_described(
                described, spec_glue.adapt(spec['id'], function)))
    return found


@functools.lru_cache(maxsize=1)
def own_specs() -> dict[str, dict]:
    from openeo_processes_dask import specs
    return {name: spec_glue.description(name, getattr(specs, name)) for name in OWN}


def descriptions() -> list[dict]:
    """Every predefined process that runs here, as openEO process descriptions."""
    found = {pid: spec for pid, (spec, _) in predefined().items()}
    found.update(own_specs())
    return [found[pid] for pid in sorted(found)]


def description(process_id: str) -> dict | None:
    if process_id in own_specs():
        return own_specs()[process_id]
    entry = predefined().get(process_id)
    return entry[0] if entry else None


@functools.lru_cache(maxsize=1)
def resolving_predefined() -> dict[str, tuple[dict, object]]:
    """`predefined()` with each implementation resolving its references (`calls`)."""
    return {pid: (spec, resolving(function)) for pid, (spec, function) in predefined().items()}


def registry(env, user_processes: dict[str, dict]):
    """A pg-parser registry bound to one run (`env`), with the user's processes."""
    from openeo_pg_parser_networkx import ProcessRegistry
    from openeo_pg_parser_networkx.process_registry import Process
    from .load import load_collection
    from .load_stac import load_stac
    from .save import save_result
    found = ProcessRegistry()
    for pid, (spec, call) in resolving_predefined().items():
        found[('predefined', pid)] = Process(spec=spec, implementation=call)
    for pid, function in (('load_collection', load_collection), ('load_stac', load_stac),
                          ('save_result', save_result)):
        checked = argument_check.checking(
            own_specs()[pid], functools.partial(function, env), skip=OWN_UNCHECKED)
        found[('predefined', pid)] = Process(spec=own_specs()[pid],
                                             implementation=resolving(checked))
    for pid in sorted(env.ogc_ids):  # after the predefined: they win over a step's id
        if description(pid) is None and pid not in user_processes and env.steps is not None:
            found[('predefined', pid)] = Process(
                spec={'id': pid, 'parameters': [], 'returns': {'schema': {}}},
                implementation=resolving(env.steps.implementation(env.ogc_ids[pid])))
    for pid, definition in user_processes.items():
        if description(pid) is None:  # a predefined process wins over a user's
            found[('predefined', pid)] = Process(spec=definition, implementation=resolving(
                _user_process(definition, found, env)))
    return found


def _user_process(definition: dict, found, env):
    """The implementation of a user-defined process: its graph with the arguments."""
    def run_user_process(*_, **arguments):
        from openeo_pg_parser_networkx import OpenEOProcessGraph
        from .properties import set_aside
        parameters = {p['name']: p['default'] for p in definition.get('parameters') or []
                      if 'default' in p}
        parameters.update(arguments)
        graph = OpenEOProcessGraph({'process_graph': set_aside(definition['process_graph'],
                                                               env.conditions, parameters)})
        return graph.to_callable(process_registry=found, parameters=parameters)(
            named_parameters=parameters)
    return run_user_process


def refused(process_id: str):
    return unsupported(process_id, REFUSED.get(process_id, ''))
