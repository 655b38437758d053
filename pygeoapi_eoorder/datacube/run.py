"""Checking and running one process graph: parse (openeo-pg-parser-networkx), bind the
processes of this back-end, compute (openeo-processes-dask), collect the written files."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable
from urllib.parse import urlparse

from ..execution.paths import confine, safe_name
from . import processes
from .errors import GraphError
from .properties import set_aside
from .user_processes import process_ids

PARALLEL_ABOVE_BYTES = 8 * 2**20  # `openeo.parallel_above_bytes`'s default


@dataclass
class RunEnv:
    """What a run may use: the cube collections, a stager (stage-in rules), where its
    inputs and outputs go, a log; `outputs` collects (path, media type) as written,
    `bounds` the lon/lat box of each raster written."""

    collections: dict
    stager: object
    inputs_dir: Path
    output_dir: Path
    log: logging.Logger
    outputs: list = field(default_factory=list)
    band_names: dict = field(default_factory=dict)  # raster written -> its bands' names
    dates: dict = field(default_factory=dict)  # raster written -> the date it holds
    bounds: list = field(default_factory=list)
    ogc_ids: dict = field(default_factory=dict)  # openEO id -> OGC id of callable steps
    conditions: dict = field(default_factory=dict)  # load_collection properties set aside
    steps: object = None  # runs them (`ogc_steps.OgcSteps`)
    loaded_bytes: int = 0  # of the cubes loaded so far
    parallel_above_bytes: int = PARALLEL_ABOVE_BYTES  # (see `scheduler`)
    # id -> a collection that is not among `collections` (a workspace's), or None
    other_collection: Callable[[str], object] = lambda _id: None
    # url -> the items of this server's job results there (`own_results`), or None
    own_results: Callable[[str], list | None] = lambda _url: None

    def collection(self, collection_id: str):
        """The cube collection `collection_id` (None: there is none for this run)."""
        found = self.collections.get(collection_id)
        return found if found is not None else self.other_collection(collection_id)

    def stage(self, href: str, name: str, theirs: bool = False) -> Path:
        """A local path to read an asset from: a file:// one where it lies (under the
        allowed roots: no copy), else a copy in the run's input area (http(s) through
        egress, s3:// of the sources and of the owner's workspaces). One that cannot be
        read fails the graph with the stage-in's reason: a refused one, and any the
        caller named (`theirs`: of a `load_stac` source), as the caller's fault, else as
        the server's (its catalogue's)."""
        from ..execution.errors import ExecutionError, InputRefused
        process = 'load_stac' if theirs else 'load_collection'
        try:
            in_place = self.stager.local_file(href, process)
            if in_place is not None:
                return in_place
            filename = safe_name(Path(urlparse(href).path).name or 'asset', 'asset file')
            target = confine(self.inputs_dir, name, filename)
            if not target.exists():
                self.stager.copy_to(href, target, process)
        except ExecutionError as err:  # (InputRefused too)
            if isinstance(err, InputRefused) or theirs:
                raise GraphError(err.user_msg, 'ProcessParameterInvalid') from None
            raise GraphError(err.user_msg, 'Internal', 500) from None
        return target


def graph_of(process: dict) -> dict:
    """The flat process graph of a `process` object (or a bare graph)."""
    if not isinstance(process, dict):
        raise GraphError('process: a JSON object with a process_graph is required')
    graph = process.get('process_graph', process)
    if not isinstance(graph, dict) or not graph:
        raise GraphError('process_graph: a non-empty JSON object is required')
    return graph


def is_predefined(process_id: str) -> bool:
    return processes.description(process_id) is not None


def unknown(graph: dict, user_processes: dict[str, dict], ogc_ids=()) -> list[GraphError]:
    """The processes of a graph that do not run here (none: an empty list)."""
    problems = []
    for pid in sorted(process_ids(graph)):
        if pid in processes.REFUSED:
            problems.append(processes.refused(pid))
        elif not is_predefined(pid) and pid not in user_processes and pid not in ogc_ids:
            problems.append(GraphError(f'process {pid!r} does not exist', 'ProcessUnsupported'))
    return problems


def uses_other_processes(graph: dict, user_processes: dict[str, dict]) -> bool:
    """Does the graph (or a user process it uses) name a process that is neither
    predefined nor a user's (an OGC process step, or an unknown one)?"""
    used = process_ids(graph).union(*(process_ids(d.get('process_graph') or {})
                                      for d in user_processes.values()))
    return any(not is_predefined(p) and p not in user_processes for p in used)


def parse(graph: dict):
    """The graph parsed by openeo-pg-parser-networkx (GraphError: it is malformed)."""
    from openeo_pg_parser_networkx import OpenEOProcessGraph
    try:
        return OpenEOProcessGraph({'process_graph': graph})
    except Exception as err:  # pydantic / networkx errors of a malformed graph
        raise _invalid(err) from None


def _invalid(err: Exception) -> GraphError:
    """The refusal of a graph the parser (or its checks, `parses`) raised `err` for."""
    return GraphError(f'process graph invalid: {_first_line(err)}')


def parses(graph: dict) -> None:
    """GraphError if openeo-pg-parser-networkx would refuse the graph: the checks of its
    parse (`parse`), without building the graph that running needs (which costs as much
    again): the graph unflattened (its `from_node` references resolve, each graph and
    callback has one result node, no cycle) and read into the parser's data model (every
    node and argument of a shape it knows)."""
    from openeo_pg_parser_networkx.pg_schema import ProcessGraph
    from openeo_pg_parser_networkx.utils import ProcessGraphUnflattener
    try:
        nested = {'process_graph': {'root': ProcessGraphUnflattener.unflatten(graph)}}
        ProcessGraph.model_validate(nested, strict=True)
    except Exception as err:  # the parser's own exceptions and pydantic's
        raise _invalid(err) from None


def check(graph: dict, user_processes: dict[str, dict], ogc_ids=(),
          declared=()) -> list[GraphError]:
    """What is wrong with a graph (nothing: an empty list), without running it;
    `ogc_ids`: the OGC processes the caller may run as steps (by openEO id); `declared`:
    the names of the parameters of the process the graph is (a `load_collection`
    condition may compare with those only)."""
    problems = unknown(graph, user_processes, ogc_ids)
    if not problems:
        try:
            parses(set_aside(graph, {}, dict.fromkeys(declared)))
        except GraphError as err:
            problems.append(err)
    if not problems:
        from .graph_arguments import name_problems
        problems += name_problems(graph)
    return problems


def _first_line(err: Exception) -> str:
    return (str(err).strip().splitlines() or [type(err).__name__])[0][:500]


def run(graph: dict, env: RunEnv, user_processes: dict[str, dict]):
    """Run a graph; return the result node's value (files: `env.outputs`)."""
    problems = unknown(graph, user_processes, env.ogc_ids)
    if problems:
        raise problems[0]
    import dask
    from dask.system import CPU_COUNT
    # as many dask threads as CPUs in every process: dask sizes its pool so only in the
    # thread that imported it (a worker imports it in its warm-up thread; elsewhere a
    # pool got min(32, CPUs + 4) threads, each with its own GDAL environment)
    with dask.config.set(num_workers=CPU_COUNT, scheduler=scheduler(env)):
        return _run(graph, env, user_processes)


def scheduler(env: RunEnv):
    """dask's scheduler for a run: the calling thread while the cubes it loaded are small
    (at most `env.parallel_above_bytes` in all: handing a few small chunks to a thread
    pool costs more than it saves), else the thread pool."""
    from dask import local, threaded

    def get(graph, keys, **options):
        if env.loaded_bytes <= env.parallel_above_bytes:
            return local.get_sync(graph, keys, **options)
        return threaded.get(graph, keys, **options)
    return get


def _run(graph: dict, env: RunEnv, user_processes: dict[str, dict]):
    from openeo_processes_dask.process_implementations.exceptions import OpenEOException
    parsed = parse(set_aside(graph, env.conditions))
    registry = processes.registry(env, user_processes)
    try:
        result = parsed.to_callable(process_registry=registry)()
    except GraphError:
        raise
    except MemoryError:  # (the job worker's limit, `jobs.memory_limit`)
        raise GraphError('the graph needs more memory than a job may take on this server '
                         '(jobs.memory_limit)', 'Internal', 500) from None
    except RecursionError:  # (the parser walks the graph recursively)
        raise GraphError('the process graph is nested too deep (a chain of about a '
                         'thousand nodes or more)', 'ProcessGraphComplexity') from None
    except OpenEOException as err:
        raise GraphError(_first_line(err), type(err).__name__) from None
    except Exception as err:  # a library failing on these data: the job's error
        env.log.exception('graph failed')
        raise GraphError(f'{type(err).__name__}: {_first_line(err)}', 'Internal',
                         500) from None
    if not env.outputs and {'x', 'y'} <= set(getattr(result, 'dims', ())):
        from .save import save_result  # no save_result: a raster as a GeoTIFF
        save_result(env, result, 'GTiff')
    elif not env.outputs:  # any other value (a number, a list, a boolean, null) as JSON
        from .save import save_value
        save_value(env, result)
    return result
