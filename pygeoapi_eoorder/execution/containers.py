"""Running one job's container with the Docker SDK, in a sandbox; the container contract.

The job's work directory is the only writable place (mounted at /work); the container
has no network unless configured, no capabilities, a read-only root, a non-root user,
and memory, CPU, process-count, time and disk limits (`Limits`: the operator's values are
ceilings a package may only lower). `cli_flags` gives the same contract as `docker run`
flags and `disk_quota` the disk watch, for runners that start containers otherwise (CWL).
Lines such as `PROGRESS 40 message` on its output become the job's progress.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from .errors import ExecutionError

WORK = '/work'
PROGRESS = re.compile(r'^\s*PROGRESS[:\s]+(\d{1,3})(?:\s+(.*))?$', re.IGNORECASE)
LABEL = 'eoorder.job'
TMPFS = '/tmp:rw,size=64m'
SIZE = re.compile(r'^([0-9]+)([bkmgt]?)$', re.IGNORECASE)
UNITS = {'': 1, 'b': 1, 'k': 1024, 'm': 1024 ** 2, 'g': 1024 ** 3, 't': 1024 ** 4}


@dataclass
class Limits:
    """The container contract of one job (both runners apply it)."""

    cpus: float | None = None
    memory: str | None = None
    timeout: float | None = None
    network: str = 'none'
    user: str = '1000:1000'
    pids: int = 256
    disk: str | None = None         # what a job may write into its directory
    disk_check_seconds: float = 1.0


def size_bytes(size: str | int) -> int:
    """Bytes in a Docker size such as 512m or 2g (binary units, as Docker counts)."""
    if isinstance(size, int):
        return size
    match = SIZE.match(str(size).strip())
    if not match:
        raise ValueError(f'not a size: {size!r} (use e.g. 512m or 2g)')
    return int(match.group(1)) * UNITS[match.group(2).lower()]


def _at_most(asked, ceiling, measure=lambda v: v):
    """The package's value when below the operator's ceiling, else the ceiling."""
    if asked is None or ceiling is None:
        return ceiling if asked is None else asked
    return asked if measure(asked) <= measure(ceiling) else ceiling


def effective_limits(unit, docker_conf: dict) -> Limits:
    """The limits a job runs under: the operator's `execution.docker` values are ceilings;
    a package (`unit`: cpus, memory, timeout, any may be None) may ask for less, never more."""
    return Limits(
        cpus=_at_most(getattr(unit, 'cpus', None), docker_conf.get('cpus')),
        memory=_at_most(getattr(unit, 'memory', None), docker_conf.get('memory'), size_bytes),
        timeout=_at_most(getattr(unit, 'timeout', None), docker_conf.get('timeout')),
        network=docker_conf.get('network') or 'none',
        user=docker_conf.get('user') or '1000:1000',
        pids=int(docker_conf.get('pids_limit') or 256), disk=docker_conf.get('disk_quota'),
        disk_check_seconds=float(docker_conf.get('disk_check_seconds') or 1.0))


def cli_flags(limits: Limits, job_id: str) -> list[str]:
    """The container contract as `docker run` flags (for runners that start containers
    through the CLI, such as cwltool)."""
    flags = [f'--user={limits.user}', '--cap-drop=ALL', '--security-opt=no-new-privileges',
             '--read-only', f'--network={limits.network}', f'--pids-limit={limits.pids}',
             f'--tmpfs={TMPFS}', f'--label={LABEL}={job_id}']
    if limits.memory:
        flags += [f'--memory={limits.memory}', f'--memory-swap={limits.memory}']
    if limits.cpus:
        flags.append(f'--cpus={limits.cpus:g}')
    return flags


def sdk_options(limits: Limits, job_id: str) -> dict:
    """The same contract as keyword arguments of the SDK's `containers.run`."""
    path, _, mode = TMPFS.partition(':')
    options = dict(network_mode=limits.network, cap_drop=['ALL'], read_only=True,
                   user=limits.user, labels={LABEL: job_id}, pids_limit=limits.pids,
                   security_opt=['no-new-privileges'], tmpfs={path: mode})
    if limits.memory:
        options['mem_limit'] = limits.memory
        options['memswap_limit'] = limits.memory
    if limits.cpus:
        options['nano_cpus'] = int(limits.cpus * 1e9)
    return options


_CLIENTS: dict[tuple, object] = {}
_API_VERSIONS: dict[str | None, str] = {}  # inherited by forked children: no /version each


def _new_client(base_url: str | None):
    import docker
    version = _API_VERSIONS.get(base_url)  # None: the SDK asks the engine
    engine = (docker.DockerClient(base_url=base_url, version=version) if base_url
              else docker.from_env(version=version))
    _API_VERSIONS[base_url] = engine.api.api_version
    return engine


def client(base_url: str | None = None):
    """This process' Docker client, or a clear failure when the engine cannot be reached."""
    from docker.errors import DockerException
    key = (base_url, os.getpid())
    try:
        engine = _CLIENTS.get(key)
        if engine is None:
            engine = _CLIENTS[key] = _new_client(base_url)
        engine.ping()
        return engine
    except DockerException as err:
        _CLIENTS.pop(key, None)
        where = base_url or os.environ.get('DOCKER_HOST', 'unix:///var/run/docker.sock')
        raise ExecutionError(f'the Docker engine at {where} is unreachable ({err})') from None


def prepare(base_url: str | None = None) -> None:
    """In a process that forks job processes: import the SDK and learn the engine's API
    version once, so that each job's client costs neither (best effort: a worker may run
    only Python jobs, without Docker)."""
    try:
        _new_client(base_url).close()
    except Exception as err:
        logging.getLogger(__name__).debug('Docker engine not prepared: %s', err)


def image_present(engine, image: str) -> bool:
    """Whether the engine holds `image` (a name it refuses as a reference it holds not)."""
    from docker.errors import APIError, ImageNotFound
    try:
        engine.images.get(image)
        return True
    except ImageNotFound:
        return False
    except APIError as err:
        if err.is_client_error():
            return False
        raise


def _own(path: Path, user: str) -> None:
    """Give the container user the work directory (possible when we run as root)."""
    if os.geteuid() != 0:
        return
    uid, _, gid = user.partition(':')
    for root, dirs, files in os.walk(path):
        for name in [root, *[os.path.join(root, n) for n in dirs + files]]:
            os.chown(name, int(uid), int(gid or uid), follow_symlinks=False)


def _follow(container, log: logging.Logger, progress: Callable[[int, str | None], None]):
    try:
        for raw in container.logs(stream=True, follow=True):
            for line in raw.decode('utf-8', 'replace').splitlines():
                log.info('container: %s', line)
                match = PROGRESS.match(line)
                if match:
                    progress(min(99, int(match.group(1))), match.group(2))
    except Exception as err:  # the stream ends abruptly when the container is killed
        log.debug('log stream ended: %s', err)


class _QuotaWatch(threading.Thread):
    """Measures a directory every `interval` seconds; past `limit` bytes, calls `stop` once."""

    def __init__(self, directory: Path, limit: int, interval: float, stop: Callable[[], None]):
        super().__init__(daemon=True, name=f'disk-quota {directory.name}')
        self.directory, self.limit, self.interval, self.stop = directory, limit, interval, stop
        self.exceeded = False
        self._done = threading.Event()

    def check(self) -> bool:
        if not self.exceeded and directory_bytes(self.directory) > self.limit:
            self.exceeded = True
        return self.exceeded

    def run(self) -> None:
        while not self._done.wait(self.interval):
            if self.check():
                try:
                    self.stop()
                except Exception as err:  # the container may just have ended
                    logging.getLogger(__name__).debug('stopping at the disk quota: %s', err)
                return

    def finish(self) -> bool:
        """Stop watching; measure a last time (what was written since the last look)."""
        self._done.set()
        self.join()
        return self.check()


def directory_bytes(directory: Path) -> int:
    """Disk a directory takes: each entry's allocated or apparent size, whichever is larger
    (a sparse file counts at its full length); links are not followed."""
    total, pending = 0, [str(directory)]
    while pending:
        try:
            entries = os.scandir(pending.pop())
        except OSError:  # removed or replaced while we walk
            continue
        with entries:
            for entry in entries:
                try:
                    info = entry.stat(follow_symlinks=False)
                    if entry.is_dir(follow_symlinks=False):
                        pending.append(entry.path)
                except OSError:
                    continue
                total += max(info.st_size, info.st_blocks * 512)
    return total


@contextmanager
def disk_quota(directory: Path, limits: Limits, stop: Callable[[], None],
               cleanup: Callable[[], None] | None = None) -> Iterator[None]:
    """Hold what the job writes into `directory` to `limits.disk` (from now on): a watcher
    calls `stop` (which ends the job's containers) when it writes more; then the written
    files are removed (`cleanup`, by default the whole directory emptied) and
    ExecutionError says the quota was exceeded, whatever else failed."""
    if not limits.disk:
        yield
        return
    watch = _QuotaWatch(directory, directory_bytes(directory) + size_bytes(limits.disk),
                        limits.disk_check_seconds, stop)
    watch.start()
    try:
        yield
    finally:
        if watch.finish():
            if cleanup is not None:
                cleanup()
            else:
                shutil.rmtree(directory, ignore_errors=True)
                directory.mkdir(parents=True, exist_ok=True)
            raise ExecutionError(f'disk quota of {limits.disk} exceeded: the job wrote more '
                                 'than that in its work directory and was stopped')


def _start(engine, image: str, options: dict):
    """Create and start the container; a container that cannot start is removed."""
    from docker.errors import APIError, ImageNotFound
    try:
        container = engine.containers.create(image, **options)
    except ImageNotFound:
        raise ExecutionError(f'image {image} is not on the Docker engine; load or build it '
                             'there (images are never pulled from a registry here)') from None
    except APIError as err:
        raise ExecutionError(f'container for {image} could not be created: '
                             f'{err.explanation or err}') from None
    try:
        container.start()
    except APIError as err:
        _remove(container, logging.getLogger(__name__))
        raise ExecutionError(f'container for {image} could not start: '
                             f'{err.explanation or err}') from None
    return container


def _remove(container, log: logging.Logger) -> None:
    try:
        container.remove(force=True)
    except Exception as err:
        log.warning('container cleanup: %s', err)


def _wait(container, limits: Limits) -> None:
    """Wait for the container's end; raise ExecutionError unless it exited with 0."""
    import requests
    try:
        result = container.wait(timeout=limits.timeout)
    except (requests.exceptions.ConnectionError, requests.exceptions.ReadTimeout):
        container.kill()
        raise ExecutionError(f'timed out: the container ran longer than '
                             f'{limits.timeout:g} s and was killed') from None
    code = result.get('StatusCode', -1)
    if _killed_at_memory_limit(container, code):
        raise ExecutionError(f'the container was killed at its memory limit '
                             f'({limits.memory})')
    if code != 0:
        tail = container.logs(stdout=False, stderr=True, tail=5).decode('utf-8', 'replace')
        reason = ' | '.join(line for line in tail.splitlines() if line.strip())
        raise ExecutionError(f'the application exited with code {code}'
                             + (f': {reason}' if reason else ''))


def _killed_at_memory_limit(container, code: int, settle: float = 1.0) -> bool:
    """Whether the engine says the container met its memory limit. The engine learns of
    an out-of-memory kill and of the container's exit by two events, in either order: a
    container that ended killed (137) is read again for up to `settle` seconds."""
    deadline = time.monotonic() + settle
    while True:
        container.reload()
        if container.attrs['State'].get('OOMKilled'):
            return True
        if code != 137 or time.monotonic() >= deadline:
            return False
        time.sleep(0.05)


def run_container(engine, job_id: str, image: str, workdir: Path, env: dict[str, str],
                  limits: Limits, log: logging.Logger,
                  progress: Callable[[int, str | None], None]) -> None:
    """Run `image` to completion under `limits`; raise ExecutionError with the reason if
    it fails. No container is left behind, whatever happens."""
    if limits.user.split(':')[0] != str(os.geteuid()):
        _own(workdir, limits.user)
    options = dict(
        name=f'eoorder-{job_id}', environment=env, working_dir=WORK,
        volumes={str(workdir): {'bind': WORK, 'mode': 'rw'}}, **sdk_options(limits, job_id))
    with disk_quota(workdir, limits, stop=lambda: engine.api.kill(options['name'])):
        container = _start(engine, image, options)
        follower = threading.Thread(target=_follow, args=(container, log, progress),
                                    daemon=True)
        follower.start()
        try:
            _wait(container, limits)
        finally:
            follower.join(5)
            _remove(container, log)


def stop_job_containers(engine, job_id: str, job_dir: Path) -> int:
    """Kill the containers of a job, created or running: by label (every container the
    contract starts carries it) or by a mount of the job directory. Read from the engine's
    list alone (no inspection): other jobs' containers come and go meanwhile."""
    from docker.errors import NotFound
    killed = 0
    for container in engine.containers.list(all=True, sparse=True):
        mounts = [m.get('Source', '') for m in container.attrs.get('Mounts') or []]
        labels = container.attrs.get('Labels') or {}
        if labels.get(LABEL) == job_id or any(m.startswith(str(job_dir)) for m in mounts):
            try:
                container.remove(force=True)
                killed += 1
            except NotFound:
                pass
            except Exception as err:
                logging.getLogger(__name__).warning('container cleanup: %s', err)
    return killed


def image_facts(engine, image: str) -> dict:
    """Id and registry digests of a Docker image on the engine (what a container ran)."""
    found = engine.images.get(image)
    return {'reference': image, 'id': found.id,
            'repoDigests': list(found.attrs.get('RepoDigests') or [])}
