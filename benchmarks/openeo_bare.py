"""The least a batch job through the openEO API can cost on this machine and stack: a bare
job server beside ours, both measured against the direct run in the same rounds.

The bare server keeps only what the protocol and the architecture make unavoidable: the
openeo client's HTTP (`requests`, one keep-alive session), a Flask app (the framework
pygeoapi is built on) served by gunicorn exactly as `eoorder serve` serves ours (gthread,
2 workers × 8 threads, access log), the two requests a batch job needs (create: one
INSERT; start: one UPDATE and a datagram to the job process), and a separate job process
(jobs never run in a web worker) that claims the job (one UPDATE), runs the graph with the
same code as the direct run and stamps it finished (one UPDATE). No authentication, no
validation of the graph, no job log, no result document, no STAC item or records, no
supervisor: what is left is HTTP, two process hand-overs and three commits.

Each round runs the NDVI graph once through our server, once through the bare one and
once directly (order rotating), as `openeo_overhead.py` does; it prints each server's
overhead on the direct run's median (results ready: the job's last update, the server's
clock). If the bare server's own overhead is near or over the +20 % target, the target is
bound by the stack and the machine, not by what our server adds. It also prints the CPU
each server's processes spent per job, by kind (web, supervisor, job worker / job
process; `bench_cpu.py`).

Run with the virtualenv's Python:  python benchmarks/openeo_bare.py [--runs N]
Internals: `python benchmarks/openeo_bare.py runner DB SOCKET CONFIG WORKDIR` is the job
process; gunicorn serves `openeo_bare:app` (env BARE_DB, BARE_SOCKET).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

import requests
from flask import Flask, Response, jsonify, request

from bench_cpu import CpuMeter
from openeo_overhead import GRAPH, REPO, DirectProcess, free_port, run_environments, settle, \
    start_server, through_api

SCHEMA = ('CREATE TABLE IF NOT EXISTS jobs (id TEXT PRIMARY KEY, status TEXT NOT NULL, '
          'graph TEXT NOT NULL, updated TEXT NOT NULL)')


def _now() -> str:
    return datetime.now(timezone.utc).strftime('%Y-%m-%dT%H:%M:%S.%fZ')


def connect(path: str) -> sqlite3.Connection:
    """SQLite as our store opens it: WAL, synchronous NORMAL, autocommit."""
    connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False,
                                 timeout=30)
    connection.execute('PRAGMA journal_mode=WAL')
    connection.execute('PRAGMA synchronous=NORMAL')
    return connection


# -- the web app (one connection per thread) ---------------------------------------
app = Flask(__name__)
_local = threading.local()


def _db() -> sqlite3.Connection:
    if not hasattr(_local, 'db'):
        _local.db = connect(os.environ['BARE_DB'])
    return _local.db


@app.post('/openeo/1.2/jobs')
def create():
    graph = (request.get_json() or {}).get('process', {}).get('process_graph')
    job_id = uuid.uuid4().hex
    _db().execute('INSERT INTO jobs VALUES (?, ?, ?, ?)',
                  (job_id, 'created', json.dumps(graph), _now()))
    return Response(status=201, headers={'Location': f'{request.host_url}openeo/1.2/jobs/'
                                                     f'{job_id}', 'OpenEO-Identifier': job_id})


@app.post('/openeo/1.2/jobs/<job_id>/results')
def start(job_id: str):
    moved = _db().execute("UPDATE jobs SET status = 'queued', updated = ? WHERE id = ? AND "
                          "status = 'created'", (_now(), job_id)).rowcount
    if moved:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as wake:
            wake.sendto(job_id.encode(), os.environ['BARE_SOCKET'])
    return Response(status=202)


@app.get('/openeo/1.2/jobs/<job_id>')
def status(job_id: str):
    row = _db().execute('SELECT status, updated FROM jobs WHERE id = ?', (job_id,)).fetchone()
    if row is None:
        return Response(status=404)
    return jsonify({'id': job_id, 'status': row[0], 'updated': row[1]})


@app.get('/openeo/1.2/')
def capabilities():
    return jsonify({'api_version': '1.2.0', 'endpoints': []})


# -- the job process ------------------------------------------------------------------
def runner(db: str, wake_path: str, config: str, workdir: str) -> None:
    """Claim each job it is woken for, run its graph as the direct run does, finish it."""
    from pygeoapi_eoorder.datacube.run import run
    connection = connect(db)
    environment_in = run_environments(Path(config))
    run(GRAPH, environment_in(Path(workdir) / 'warm-up'), {})  # imports, a first run
    wake = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    wake.bind(wake_path)
    while True:
        job_id = wake.recv(256).decode()
        claimed = connection.execute(
            "UPDATE jobs SET status = 'running', updated = ? WHERE id = ? AND status = "
            "'queued' RETURNING graph", (_now(), job_id)).fetchone()
        if claimed is None:
            continue
        try:
            run(json.loads(claimed[0]), environment_in(Path(workdir) / job_id), {})
            ended = 'finished'
        except Exception:  # noqa: BLE001  (a failed graph is the job's status)
            ended = 'error'
        connection.execute('UPDATE jobs SET status = ?, updated = ? WHERE id = ?',
                           (ended, _now(), job_id))


def start_bare(workdir: Path, config: Path) -> tuple[list[subprocess.Popen], str]:
    """The bare server (gunicorn as `eoorder serve` runs it) and its job process."""
    db, wake = str(workdir / 'bare.db'), str(workdir / 'bare.sock')
    connect(db).execute(SCHEMA)
    env = {**os.environ, 'BARE_DB': db, 'BARE_SOCKET': wake, 'PYTHONPATH': os.pathsep.join(
        filter(None, [str(Path(__file__).parent), str(REPO), os.environ.get('PYTHONPATH')]))}
    log = open(workdir / 'bare.log', 'ab')
    job_process = subprocess.Popen(
        [sys.executable, __file__, 'runner', db, wake, str(config), str(workdir / 'jobs')],
        env=env, stdout=log, stderr=log, start_new_session=True)
    port = free_port()
    web = subprocess.Popen(
        [sys.executable, '-m', 'gunicorn', '-k', 'gthread', '-w', '2', '--threads', '8',
         '--keep-alive', '5', '--access-logfile', '-', '-b', f'127.0.0.1:{port}',
         'openeo_bare:app'], env=env, stdout=log, stderr=log, start_new_session=True)
    url = f'http://127.0.0.1:{port}'
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if Path(wake).exists() and requests.get(f'{url}/openeo/1.2/', timeout=2).ok:
                return [web, job_process], url
        except requests.RequestException:
            pass
        time.sleep(0.2)
    for process in (web, job_process):
        os.killpg(process.pid, signal.SIGKILL)
    raise SystemExit(2)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--runs', type=int, default=30)
    parser.add_argument('--warmup', type=int, default=3)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix='openeo-bare-'))
    ours, ours_url, config = start_server(workdir)
    bare, bare_url = start_bare(workdir, config)
    settle(ours, ours_url)
    direct = DirectProcess(config, workdir)
    session = requests.Session()
    times: dict[str, list[float]] = {'ours': [], 'bare': [], 'direct': []}
    ways = [('ours', lambda: through_api(session, ours_url, GRAPH)['ready']),
            ('bare', lambda: through_api(session, bare_url, GRAPH)['ready']),
            ('direct', direct)]
    # each server's CPU from its submit to the next run's start (its job's last steps
    # after the client saw it finished included)
    meters = {'ours': CpuMeter(ours.pid), 'bare': CpuMeter(*(p.pid for p in bare))}
    metering = None
    try:
        for round_ in range(args.warmup + args.runs):
            shift = round_ % len(ways)
            for name, way in ways[shift:] + ways[:shift]:
                if metering is not None:
                    metering.stop()
                metering = meters.get(name) if round_ >= args.warmup else None
                if metering is not None:
                    metering.start()
                found = way()
                if round_ >= args.warmup:
                    times[name].append(found)
        time.sleep(0.2)
        if metering is not None:
            metering.stop()
    finally:
        direct.close()
        for process in (ours, *bare):
            os.killpg(process.pid, signal.SIGTERM)
        for process in (ours, *bare):
            process.wait(30)
        shutil.rmtree(workdir, ignore_errors=True)
    p50 = {name: statistics.median(found) * 1000 for name, found in times.items()}
    print(f'runs: {args.runs} (after {args.warmup} warm-up rounds), p50 ms; results ready '
          '= the job\'s last update')
    print(f'direct openeo-processes-dask:        {p50["direct"]:7.1f}')
    for name, what in (('bare', 'bare job server (the stack alone)'),
                       ('ours', 'this server')):
        extra = p50[name] - p50['direct']
        print(f'{what + ":":<36} {p50[name]:7.1f}  overhead {extra:5.1f} ms = '
              f'{extra / p50["direct"]:+.1%}')
    print(f'what this server adds to the stack: {p50["ours"] - p50["bare"]:.1f} ms')
    print('CPU per job (ms, the servers\' processes by role; this machine has '
          f'{os.cpu_count()} CPUs):')
    for name, meter in meters.items():
        spent = {role: seconds * 1000 / args.runs for role, seconds in sorted(
            meter.spent.items())}
        print(f'  {name}: total {sum(spent.values()):6.1f}  ' + ', '.join(
            f'{role} {ms:.1f}' for role, ms in spent.items()))
    return 0


if __name__ == '__main__':
    if sys.argv[1:2] == ['runner']:
        runner(*sys.argv[2:6])
    else:
        sys.exit(main())
