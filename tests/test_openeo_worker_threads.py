"""A job worker runs openEO graphs whose cubes are larger than `openeo.parallel_above_bytes`
on as many dask threads as the machine has CPUs, also when its warm-up thread (not its main
thread) imported dask first (dask sizes its default pool only for the thread that imported
it; elsewhere a pool gets CPUs + 4 threads); smaller ones (the demo data) in its own thread.

Oracle: the worker's threads as /proc lists them, against dask's CPU count; the threads
dask's tasks ran on (a dask callback), against the calling thread."""

from __future__ import annotations

import copy
import os
import threading
import time

import dask
import dask.array
import pytest
import requests
from dask.system import CPU_COUNT

from pygeoapi_eoorder.datacube.run import RunEnv, scheduler

from .conftest import REPO, Server
from .support.process_table import job_workers
from .test_openeo_jobs import LYON

LOCAL = __import__('yaml').safe_load((REPO / 'config' / 'local.yml').read_text())


def _cpu_ticks(pid: int) -> int:
    with open(f'/proc/{pid}/stat') as fh:
        fields = fh.read().rsplit(')', 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def _idle(pid: int, timeout: float = 120) -> None:
    """Wait until the process used no CPU for a second (its warm-up imports are done)."""
    deadline, last = time.monotonic() + timeout, -1
    while time.monotonic() < deadline:
        ticks = _cpu_ticks(pid)
        if ticks == last:
            return
        last = ticks
        time.sleep(1.0)
    raise AssertionError(f'process {pid} still busy after {timeout} s')


def _threads(pid: int) -> int:
    return len(os.listdir(f'/proc/{pid}/task'))


@pytest.mark.parametrize('parallel_above_bytes', [0, None])
def test_large_graphs_run_on_as_many_threads_as_cpus_small_ones_on_none(
        tmp_path, parallel_above_bytes):
    block = copy.deepcopy(LOCAL['eoorder'])
    openeo = {'warm_up_workers': True}
    if parallel_above_bytes is not None:  # (None: the default, above the demo cube)
        openeo['parallel_above_bytes'] = parallel_above_bytes
    block.update(data_dir=str(tmp_path / 'data'), jobs={'workers': 1}, openeo=openeo)
    server = Server(tmp_path, block, LOCAL['resources']).start()
    try:
        deadline = time.monotonic() + 60
        while not (workers := job_workers(server.config)):
            assert time.monotonic() < deadline, 'no job worker started'
            time.sleep(0.2)
        worker = workers[0]
        _idle(worker)  # dask was imported by the warm-up thread
        before = _threads(worker)
        graph = {'process_graph': {
            'load': {'process_id': 'load_collection', 'arguments': {
                'id': 'products', 'spatial_extent': LYON, 'bands': ['red', 'nir'],
                'temporal_extent': ['2024-06-01', '2024-07-01']}},
            'ndvi': {'process_id': 'ndvi', 'arguments': {'data': {'from_node': 'load'}}},
            'mean': {'process_id': 'reduce_dimension', 'arguments': {
                'data': {'from_node': 'ndvi'}, 'dimension': 't', 'reducer': {
                    'process_graph': {'m': {'process_id': 'mean', 'arguments': {
                        'data': {'from_parameter': 'data'}}, 'result': True}}}}},
            'save': {'process_id': 'save_result', 'arguments': {
                'data': {'from_node': 'mean'}, 'format': 'GTiff'}, 'result': True}}}
        reply = requests.post(f'{server.url}/openeo/1.2/result', json={'process': graph},
                              timeout=120)
        assert reply.status_code == 200, reply.text[:500]
        assert reply.content[:4] in (b'II*\x00', b'MM\x00*')  # a GeoTIFF
        added = _threads(worker) - before
        if parallel_above_bytes is None:
            assert added == 0, (before, added)
        else:
            assert 0 < added <= CPU_COUNT, (before, added, CPU_COUNT)
    finally:
        server.stop()


@pytest.mark.parametrize('loaded, threshold, pooled', [
    (1000, 1000, False), (1001, 1000, True), (0, 0, False), (1, 0, True)])
def test_a_run_computes_in_its_own_thread_until_its_cubes_pass_the_threshold(
        tmp_path, loaded, threshold, pooled):
    env = RunEnv(collections={}, stager=None, inputs_dir=tmp_path, output_dir=tmp_path,
                 log=None, loaded_bytes=loaded, parallel_above_bytes=threshold)
    seen = set()

    def double(block):  # a task: the thread it runs on is noted
        seen.add(threading.get_ident())
        return block * 2

    cube = dask.array.ones((8, 64, 64), chunks=(1, 64, 64)).map_blocks(double)
    with dask.config.set(num_workers=2, scheduler=scheduler(env)):
        assert float(cube.sum().compute()) == 2 * 8 * 64 * 64
    if pooled:  # (dask may run a task in the calling thread too)
        assert 1 <= len(seen - {threading.get_ident()}) <= 2, seen
    else:
        assert seen == {threading.get_ident()}

