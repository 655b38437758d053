"""The echo application three ways: `docker run`, the Docker SDK, and `eoorder serve`.

Helpers of container_overhead.py. The direct runs use the sandbox our server gives a
job's container (containers.run_container): no network, no capabilities, read-only
root, user 1000:1000, no-new-privileges, a 64 MiB /tmp, the package's memory and CPU
limits, the work directory mounted at /work. The server runs are real HTTP requests to
a started server. Every request has a timeout and every wait a deadline.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import shutil
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import requests

import bench_load as load

REPO = Path(__file__).resolve().parent.parent
PACKAGE_FILE = REPO / 'tests' / 'data' / 'packages' / 'echo.ogcapppkg.json'
PACKAGE_TYPE = 'application/ogcapppkg+json'
PROCESS_ID = 'echo'
MESSAGE = 'hi'
WORK = '/work'
OUTPUT = f'{WORK}/outputs/result'
USER = '1000:1000'
TMPFS = 'rw,size=64m'
BENCH_LABEL = 'eoorder.bench'    # on the containers started here, for clean-up
JOB_LABEL = 'eoorder.job'        # what the server's run_container labels its containers with
RUN_TIMEOUT = 120.0
REQUEST_TIMEOUT = 30.0
LOG_LINE = re.compile(r'^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) \S+ eoorder\.job: (.*)$')
LOG_MARKS = (('start', re.compile(r'^job \S+ of process \S+ started')),
             ('setup_done', re.compile(r'^progress 10%')),
             ('container_done', re.compile(r'^progress 95%')),
             ('complete', re.compile(r'^job complete')))


@dataclass
class Run:
    """One execution of the echo application, however it was started."""

    seconds: float
    error: str | None = None
    job_id: str | None = None
    job: dict = field(default_factory=dict)      # GET /jobs/{id} (server runs)
    phases: dict = field(default_factory=dict)   # seconds per phase (server runs)
    sent: float = math.nan                       # time.time() when the request was sent

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class Sandbox:
    """The limits of the echo package's execution unit (as the server applies them)."""

    image: str
    memory: str
    cpus: float

    @classmethod
    def from_package(cls) -> 'Sandbox':
        unit = json.loads(PACKAGE_FILE.read_text())['executionUnit']
        config = unit.get('config') or {}
        return cls(unit['image'], str(config.get('memory', '1g')), float(config.get('cpu', 1)))

    def env(self) -> dict[str, str]:
        return {'WPS_INPUT_message': MESSAGE, 'WPS_OUTPUT_result': OUTPUT}

    def cli_args(self, docker: str, workdir: Path, token: str) -> list[str]:
        env = [a for k, v in self.env().items() for a in ('-e', f'{k}={v}')]
        return [docker, 'run', '--rm', '--network', 'none', '--cap-drop', 'ALL', '--read-only',
                '--user', USER, '--security-opt', 'no-new-privileges',
                '--tmpfs', f'/tmp:{TMPFS}', '--memory', self.memory,
                '--memory-swap', self.memory, '--cpus', f'{self.cpus:g}',
                '--label', f'{BENCH_LABEL}={token}', '-v', f'{workdir}:{WORK}', '-w', WORK,
                *env, self.image]

    def sdk_options(self, workdir: Path, token: str) -> dict:
        """The keyword arguments containers.run_container passes to containers.run."""
        return dict(detach=True, environment=self.env(), working_dir=WORK,
                    volumes={str(workdir): {'bind': WORK, 'mode': 'rw'}}, network_mode='none',
                    cap_drop=['ALL'], read_only=True, user=USER, labels={BENCH_LABEL: token},
                    security_opt=['no-new-privileges'], tmpfs={'/tmp': TMPFS},
                    mem_limit=self.memory, memswap_limit=self.memory,
                    nano_cpus=int(self.cpus * 1e9))


# -- direct runs -------------------------------------------------------------------
def prepare_dir(root: Path, name: str) -> Path:
    """A fresh work directory with outputs/, owned by the container user."""
    workdir = root / name
    (workdir / 'outputs').mkdir(parents=True)
    for path in (workdir, workdir / 'outputs'):
        if os.geteuid() == 0:
            os.chown(path, *(int(x) for x in USER.split(':')))
        else:
            path.chmod(0o777)
    return workdir


def check_output(workdir: Path) -> str | None:
    path = workdir / 'outputs' / 'result'
    if not path.is_file():
        return f'no output file at {path}'
    text = path.read_text(errors='replace')
    return None if text.strip() == MESSAGE else f'output is {text[:80]!r}, not {MESSAGE!r}'


def run_cli(docker: str, sandbox: Sandbox, workdir: Path, token: str) -> Run:
    """`docker run --rm ...` to completion."""
    args = sandbox.cli_args(docker, workdir, token)
    start = time.perf_counter()
    try:
        done = subprocess.run(args, stdin=subprocess.DEVNULL, capture_output=True,
                              timeout=RUN_TIMEOUT)
    except subprocess.TimeoutExpired:
        return Run(time.perf_counter() - start, f'docker run took over {RUN_TIMEOUT:g} s')
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        return Run(seconds, f'docker run exited {done.returncode}: '
                            f'{done.stderr.decode(errors="replace").strip()[-300:]}')
    return Run(seconds, check_output(workdir))


def run_sdk(engine, sandbox: Sandbox, workdir: Path, token: str) -> Run:
    """containers.run(detach=True), wait, remove: the bare sequence the server uses."""
    start = time.perf_counter()
    container = None
    try:
        container = engine.containers.run(sandbox.image, **sandbox.sdk_options(workdir, token))
        code = container.wait(timeout=RUN_TIMEOUT).get('StatusCode', -1)
        container.remove()
        container = None
        seconds = time.perf_counter() - start
    except Exception as err:  # the SDK raises requests and docker errors alike
        return Run(time.perf_counter() - start, f'{type(err).__name__}: {err}')
    finally:
        if container is not None:
            _force_remove(container)
    if code != 0:
        return Run(seconds, f'container exited {code}')
    return Run(seconds, check_output(workdir))


def run_server_code(sandbox: Sandbox, workdir: Path, job_id: str) -> Run:
    """What a job's worker does around the container, without the job engine or HTTP.

    docker_app.run_docker's Docker part: a new client (with ping), the image check, and
    containers.run_container (chown of the work directory, run, log follower thread,
    wait, reload, remove).
    """
    from pygeoapi_eoorder.execution import containers

    log = logging.getLogger('bench.run_container')
    log.propagate = False
    limits = containers.Limits(cpus=sandbox.cpus, memory=sandbox.memory,
                                  timeout=RUN_TIMEOUT, network='none', user=USER)
    start = time.perf_counter()
    try:
        engine = containers.client()
        if not containers.image_present(engine, sandbox.image):
            return Run(time.perf_counter() - start, f'image {sandbox.image} is missing')
        containers.run_container(engine, job_id, sandbox.image, workdir, sandbox.env(),
                                    limits, log, lambda pct, msg: None)
        seconds = time.perf_counter() - start
    except Exception as err:
        return Run(time.perf_counter() - start, f'{type(err).__name__}: {err}')
    return Run(seconds, check_output(workdir))


def _force_remove(container) -> None:
    try:
        container.remove(force=True)
    except Exception:
        pass


def remove_leftovers(engine, token: str, job_prefix: str) -> int:
    """Remove containers started here that are still there (after an interruption)."""
    removed = 0
    try:
        found = engine.containers.list(all=True, filters={'label': f'{BENCH_LABEL}={token}'})
        found += [c for c in engine.containers.list(all=True, filters={'label': JOB_LABEL})
                  if c.labels.get(JOB_LABEL, '').startswith(job_prefix)]
    except Exception:
        return 0
    for container in found:
        _force_remove(container)
        removed += 1
    return removed


def new_job_prefix() -> tuple[str, str]:
    """A token for our containers' label and a prefix for run_container's job ids."""
    token = uuid.uuid4().hex[:12]
    return token, f'overhead-bench-{token}-'


# -- through the server ------------------------------------------------------------
def deploy(base_url: str) -> None:
    """POST /processes with the echo package; RuntimeError unless 201 without warnings."""
    reply = requests.post(f'{base_url}/processes', data=PACKAGE_FILE.read_bytes(),
                          headers={'Content-Type': PACKAGE_TYPE}, timeout=REQUEST_TIMEOUT)
    if reply.status_code != 201:
        raise RuntimeError(f'deploying {PACKAGE_FILE.name} answered {reply.status_code}: '
                           f'{reply.text[:500]}')
    warnings = reply.json().get('warnings')
    if warnings:
        raise RuntimeError(f'deployed with warnings: {warnings}')


def _job_id(location: str) -> str | None:
    return location.rstrip('/').rsplit('/', 1)[-1] if '/jobs/' in location else None


def execute_sync(session: requests.Session, base_url: str) -> Run:
    """POST .../execution without Prefer: 200 with the output file's content."""
    sent = time.time()
    start = time.perf_counter()
    try:
        reply = session.post(f'{base_url}/processes/{PROCESS_ID}/execution',
                             json={'inputs': {'message': MESSAGE}}, timeout=RUN_TIMEOUT)
    except requests.RequestException as err:
        return Run(time.perf_counter() - start, f'{type(err).__name__}: {err}', sent=sent)
    seconds = time.perf_counter() - start
    job_id = _job_id(reply.headers.get('Location', ''))
    error = None
    if reply.status_code != 200:
        error = f'HTTP {reply.status_code}: {reply.text[:300]}'
    elif reply.text.strip() != MESSAGE:
        error = f'answer {reply.text[:80]!r}, not {MESSAGE!r}'
    return Run(seconds, error, job_id, sent=sent)


def submit_async(base_url: str, message: str) -> load.Submission:
    """POST .../execution with Prefer: respond-async: 201 and a job Location."""
    start = time.perf_counter()
    try:
        with requests.Session() as session:
            reply = session.post(f'{base_url}/processes/{PROCESS_ID}/execution',
                                 json={'inputs': {'message': message}},
                                 headers={'Prefer': 'respond-async'}, timeout=REQUEST_TIMEOUT)
    except requests.RequestException as err:
        return load.Submission(time.perf_counter() - start, None, None,
                               f'{type(err).__name__}: {err}')
    seconds = time.perf_counter() - start
    job_id = _job_id(reply.headers.get('Location', ''))
    error = None
    if reply.status_code != 201:
        error = f'HTTP {reply.status_code}: {reply.text[:300]}'
    elif job_id is None:
        error = 'HTTP 201 without a job Location'
    return load.Submission(seconds, reply.status_code, job_id, error)


def job_record(session: requests.Session, base_url: str, job_id: str) -> dict:
    """GET /jobs/{id} as JSON ({} if it cannot be read)."""
    try:
        reply = session.get(f'{base_url}/jobs/{job_id}', timeout=REQUEST_TIMEOUT,
                            headers={'Accept': 'application/json'})
        return reply.json() if reply.status_code == 200 else {}
    except (requests.RequestException, ValueError):
        return {}


def job_result(session: requests.Session, base_url: str, job_id: str) -> str | None:
    try:
        reply = session.get(f'{base_url}/jobs/{job_id}/results', timeout=REQUEST_TIMEOUT)
    except requests.RequestException:
        return None
    return reply.text if reply.status_code == 200 else None


def stamp(value: str | None) -> datetime | None:
    """A job timestamp (`...T12:00:00.123456Z`) as a naive UTC datetime."""
    if not value:
        return None
    return datetime.strptime(value, '%Y-%m-%dT%H:%M:%S.%fZ')


def log_marks(log_file: Path) -> dict[str, datetime]:
    """When the job log reached each mark (first occurrence, millisecond precision)."""
    marks: dict[str, datetime] = {}
    if not log_file.is_file():
        return marks
    for line in log_file.read_text(errors='replace').splitlines():
        match = LOG_LINE.match(line)
        if not match:
            continue
        for name, pattern in LOG_MARKS:
            if name not in marks and pattern.match(match.group(2)):
                marks[name] = datetime.strptime(match.group(1), '%Y-%m-%d %H:%M:%S,%f')
    return marks


def server_phases(run: Run, data_dir: Path) -> dict[str, float]:
    """Where a sync execution's wall time went, in seconds.

    From the job record (microseconds): queue = started - created, job = duration,
    http = wall - (finished - created), split with the client's clock into before (request
    to committed job) and after (the sync wait's polling after the job finished, reading
    the result, the response). From the job log
    (milliseconds): setup (worker start to `progress 10`: Docker client, ping, image
    check, inputs), container (to `progress 95`: run_container), collect (to `job
    complete`: outputs, result file, final status) and hand-off (the rest of `job`:
    claim to the worker's first log line).
    """
    created, started, finished = (stamp(run.job.get(k)) for k in
                                  ('created', 'started', 'finished'))
    if not (created and started and finished):
        return {}
    phases = {'queue': (started - created).total_seconds(),
              'job': (finished - started).total_seconds(),
              'http': run.seconds - (finished - created).total_seconds()}
    if not math.isnan(run.sent):  # same clock: client and server run on this machine
        sent = datetime.fromtimestamp(run.sent, timezone.utc).replace(tzinfo=None)
        phases['before'] = (created - sent).total_seconds()
        phases['after'] = phases['http'] - phases['before']
    marks = log_marks(data_dir / 'jobs' / run.job_id / 'job.log')
    if len(marks) == len(LOG_MARKS):
        phases['setup'] = (marks['setup_done'] - marks['start']).total_seconds()
        phases['container'] = (marks['container_done'] - marks['setup_done']).total_seconds()
        phases['collect'] = (marks['complete'] - marks['container_done']).total_seconds()
        phases['handoff'] = phases['job'] - (marks['complete'] - marks['start']).total_seconds()
    return phases


def docker_cli() -> str:
    found = shutil.which('docker')
    if not found:
        raise RuntimeError('no docker command on PATH')
    return found
