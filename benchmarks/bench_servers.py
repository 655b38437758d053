"""The two servers under test: their configuration files, start, readiness and stop.

Both serve the same `noop` process (benchmarks/noop_process.py) on a loopback port:
`eoorder serve` with its job engine, and plain pygeoapi with its TinyDB manager behind
gunicorn with the same worker and thread counts.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

BENCH_DIR = Path(__file__).resolve().parent
BIN_DIR = Path(sys.executable).parent
PROBLEM_LINE = re.compile(r'Traceback|\bERROR\b|CRITICAL|Exception|" 5\d\d ')
ACCESS_STATUS = re.compile(r'^\S+ "[A-Z]+ \S+ [^"]*" (\d{3}) ')

# The structure of config/local.yml, with `{...}` filled in per server.
CONFIG_TEMPLATE = """\
server:
  bind:
    host: 127.0.0.1
    port: {port}
  url: {url}
  mimetype: application/json; charset=UTF-8
  encoding: utf-8
  languages:
    - en-US
  pretty_print: false
  limits:
    default_items: 10
    max_items: 1000
  map:
    url: https://tile.openstreetmap.org/{{z}}/{{x}}/{{y}}.png
    attribution: '&copy; OpenStreetMap contributors'
{manager}
logging:
  level: ERROR

metadata:
  identification:
    title: submit latency benchmark
    description: no-op process for measuring job submission
    keywords: [benchmark]
    keywords_type: theme
    terms_of_service: https://creativecommons.org/licenses/by/4.0/
    url: https://github.com/geopython/pygeoapi
  license:
    name: CC-BY 4.0 license
    url: https://creativecommons.org/licenses/by/4.0/
  provider:
    name: pygeoapi-eoorder
    url: https://github.com/geopython/pygeoapi
  contact:
    name: Operator
    position: Operator
    address: Street
    city: City
    stateorprovince: State
    postalcode: '00000'
    country: Country
    phone: '+00-000-000-0000'
    email: operator@example.org
    url: https://example.org
    role: pointOfContact
{eoorder}
resources:
  noop:
    type: process
    processor:
      name: noop_process.NoopProcessor
"""

EOORDER_BLOCK = """
eoorder:
  data_dir: {data_dir}
  jobs:
    engine: local
    workers: {job_workers}
    retention_seconds: 604800
  openeo:
    warm_up_workers: false  # steady state: no data-cube import during the measurement
"""

TINYDB_MANAGER = """\
  manager:
    name: TinyDB
    connection: {connection}
    output_dir: {output_dir}
"""


def _quote(path: Path) -> str:
    """A path as a YAML double-quoted scalar."""
    return json.dumps(str(path))


def free_port() -> int:
    """A TCP port that is free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def _base_env() -> dict:
    """The environment of a server: ours, with benchmarks/ importable and no overrides."""
    env = {k: v for k, v in os.environ.items()
           if k not in ('PYGEOAPI_CONFIG', 'PYGEOAPI_OPENAPI', 'EOORDER_DATA_DIR',
                        'EOORDER_STORE_URL')}
    env['PYTHONPATH'] = os.pathsep.join(filter(None, [str(BENCH_DIR), env.get('PYTHONPATH')]))
    return env


@dataclass
class Server:
    """A server process started in its own session, with its output in `log_file`."""

    name: str
    url: str
    cmd: list[str]
    env: dict
    workdir: Path
    extra_logs: list[Path] = field(default_factory=list)
    process: subprocess.Popen | None = None
    log_sizes: dict[Path, int] = field(default_factory=dict)

    @property
    def log_file(self) -> Path:
        return self.workdir / 'server.log'

    @property
    def logs(self) -> list[Path]:
        return [self.log_file, *self.extra_logs]

    def start(self) -> None:
        with self.log_file.open('ab') as log:
            self.process = subprocess.Popen(self.cmd, env=self.env, cwd=self.workdir,
                                            stdin=subprocess.DEVNULL, stdout=log,
                                            stderr=subprocess.STDOUT, start_new_session=True)

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Wait until GET / answers 200; raise RuntimeError if it does not in time."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f'{self.name} exited with code {self.process.returncode}'
                                   f'\n{self.tail()}')
            try:
                if requests.get(f'{self.url}/', timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise RuntimeError(f'{self.name} did not answer GET / within {timeout:.0f} s'
                           f'\n{self.tail()}')

    def mark_logs(self) -> None:
        """Remember how far the logs go, so shutdown messages are left out of problems()."""
        self.log_sizes = {path: path.stat().st_size for path in self.logs if path.is_file()}

    def stop(self, grace: float = 15.0) -> list[int]:
        """TERM the server, then KILL its process group; return pids of leftovers killed.

        Only the main process gets TERM, as from a process manager: it stops its own
        children (a TERM to the whole group would stop them all at once, in any order).
        """
        if self.process is None:
            return []
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(grace)
            except subprocess.TimeoutExpired:
                pass
        _signal_group(self.process.pid, signal.SIGKILL)
        self.process.wait(5)
        deadline = time.monotonic() + 3
        while find_leftovers(self.workdir) and time.monotonic() < deadline:
            time.sleep(0.1)  # workers die with their parent, a moment later
        return kill_leftovers(self.workdir)

    def tail(self, lines: int = 30) -> str:
        text = self.log_file.read_text(errors='replace') if self.log_file.is_file() else ''
        return '\n'.join(text.splitlines()[-lines:])

    def _read_marked(self, path: Path) -> list[str]:
        if not path.is_file():
            return []
        with path.open('rb') as fh:
            data = fh.read(self.log_sizes.get(path, path.stat().st_size))
        return data.decode(errors='replace').splitlines()

    def problems(self, limit: int = 20) -> tuple[int, list[str]]:
        """Count of problem lines in the logs (before stop) and the first `limit` of them."""
        found = []
        for path in self.logs:
            found += [f'{path.name}: {line}' for line in self._read_marked(path)
                      if PROBLEM_LINE.search(line)]
        return len(found), found[:limit]

    def access_statuses(self) -> dict[str, int]:
        """HTTP status counts from an access log in the server output (if it writes one)."""
        counts: dict[str, int] = {}
        for line in self._read_marked(self.log_file):
            match = ACCESS_STATUS.match(line)
            if match:
                counts[match.group(1)] = counts.get(match.group(1), 0) + 1
        return counts


def session_cpu(session_id: int) -> float:
    """CPU seconds used so far by the processes of a session (a server and its workers)."""
    total, tick = 0.0, os.sysconf('SC_CLK_TCK')
    for entry in Path('/proc').iterdir():
        try:
            fields = (entry / 'stat').read_text().rsplit(')', 1)[1].split()
        except (OSError, IndexError):
            continue
        if entry.name.isdigit() and int(fields[3]) == session_id:
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def wait_idle(session_id: int, timeout: float = 120.0, idle: float = 0.05) -> float:
    """Wait until a session uses less than `idle` of a CPU over a second (its start-up
    work, e.g. the openEO warm-up imports, done); the seconds waited."""
    start = time.monotonic()
    before = session_cpu(session_id)
    while time.monotonic() - start < timeout:
        time.sleep(1.0)
        now = session_cpu(session_id)
        if now - before < idle:
            break
        before = now
    return time.monotonic() - start


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def find_leftovers(workdir: Path) -> list[int]:
    """Pids of our own processes whose command line names `workdir`."""
    found = []
    for entry in Path('/proc').iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if entry.stat().st_uid != os.getuid():
                continue
            cmdline = (entry / 'cmdline').read_bytes().replace(b'\0', b' ')
        except OSError:
            continue
        if str(workdir).encode() in cmdline:
            found.append(int(entry.name))
    return found


def kill_leftovers(workdir: Path) -> list[int]:
    """Kill (by pid) what left the process group, e.g. a detached job-engine supervisor."""
    killed = []
    for pid in find_leftovers(workdir):
        try:
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)
        except (ProcessLookupError, PermissionError):
            pass
    return killed


def write_config(path: Path, port: int, manager: str = '', eoorder: str = '') -> Path:
    url = f'http://127.0.0.1:{port}'
    path.write_text(CONFIG_TEMPLATE.format(port=port, url=url, manager=manager,
                                           eoorder=eoorder))
    return path


def ours(workdir: Path, port: int, workers: int, threads: int, job_workers: int) -> Server:
    """`eoorder serve` with a fresh data directory."""
    workdir.mkdir(parents=True)
    data_dir = workdir / 'data'
    config = write_config(workdir / 'config.yml', port, eoorder=EOORDER_BLOCK.format(
        data_dir=_quote(data_dir), job_workers=job_workers))
    cmd = [sys.executable, '-m', 'pygeoapi_eoorder.cli', 'serve', '--config', str(config),
           '--host', '127.0.0.1', '--port', str(port), '--workers', str(workers),
           '--threads', str(threads)]
    return Server('eoorder', f'http://127.0.0.1:{port}', cmd, _base_env(), workdir,
                  extra_logs=[data_dir / 'logs' / 'supervisor.log'])


def tinydb(workdir: Path, port: int, workers: int, threads: int) -> Server:
    """Plain pygeoapi with its TinyDB manager, behind gunicorn like ours."""
    workdir.mkdir(parents=True)
    output_dir = workdir / 'out'
    output_dir.mkdir()
    manager = TINYDB_MANAGER.format(connection=_quote(workdir / 'jobs.json'),
                                    output_dir=_quote(output_dir))
    config = write_config(workdir / 'config.yml', port, manager=manager)
    openapi = workdir / 'openapi.yml'
    env = _base_env()
    done = subprocess.run([str(BIN_DIR / 'pygeoapi'), 'openapi', 'generate', str(config),
                           '--output-file', str(openapi)], env=env, cwd=workdir,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f'pygeoapi openapi generate failed:\n{done.stderr[-2000:]}')
    env.update(PYGEOAPI_CONFIG=str(config), PYGEOAPI_OPENAPI=str(openapi))
    cmd = [sys.executable, '-m', 'gunicorn', '-w', str(workers), '--threads', str(threads),
           '-k', 'gthread', '-b', f'127.0.0.1:{port}', 'pygeoapi.flask_app:APP']
    return Server('tinydb', f'http://127.0.0.1:{port}', cmd, env, workdir)


def add_server_options(parser) -> None:
    """Options both benchmarks share: the servers' sizes and keeping the work directory."""
    parser.add_argument('--workers', type=int, default=2, help='gunicorn workers')
    parser.add_argument('--threads', type=int, default=8, help='threads per gunicorn worker')
    parser.add_argument('--job-workers', type=int, default=2,
                        help='job engine worker processes (eoorder.jobs.workers)')
    parser.add_argument('--keep', action='store_true',
                        help='keep the work directory (kept anyway when problems are seen)')


def apply_preset(args, presets: dict) -> None:
    """Fill options left unset from the quick or full preset."""
    for key, value in presets['quick' if args.quick else 'full'].items():
        if getattr(args, key) is None:
            setattr(args, key, value)
