"""Running one job's container with the Docker SDK, in a sandbox.

The job's work directory is the only writable place (mounted at /work); the container
has no network unless configured, no capabilities, a read-only root, a non-root user,
and memory, CPU and time limits. Lines such as `PROGRESS 40 message` on its output
become the job's progress.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .errors import ExecutionError

WORK = '/work'
PROGRESS = re.compile(r'^\s*PROGRESS[:\s]+(\d{1,3})(?:\s+(.*))?$', re.IGNORECASE)
LABEL = 'eoorder.job'


@dataclass
class Limits:
    cpus: float | None = None
    memory: str | None = None
    timeout: float | None = None
    network: str = 'none'
    user: str = '1000:1000'


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
    from docker.errors import ImageNotFound
    try:
        engine.images.get(image)
        return True
    except ImageNotFound:
        return False


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


def run_container(engine, job_id: str, image: str, workdir: Path, env: dict[str, str],
                  limits: Limits, log: logging.Logger,
                  progress: Callable[[int, str | None], None]) -> None:
    """Run `image` to completion; raise ExecutionError with the reason if it fails."""
    from docker.errors import APIError, ImageNotFound
    import requests

    if limits.user.split(':')[0] != str(os.geteuid()):
        _own(workdir, limits.user)
    options = dict(
        name=f'eoorder-{job_id}', detach=True, environment=env, working_dir=WORK,
        volumes={str(workdir): {'bind': WORK, 'mode': 'rw'}}, network_mode=limits.network,
        cap_drop=['ALL'], read_only=True, user=limits.user, labels={LABEL: job_id},
        security_opt=['no-new-privileges'], tmpfs={'/tmp': 'rw,size=64m'})
    if limits.memory:
        options['mem_limit'] = limits.memory
        options['memswap_limit'] = limits.memory
    if limits.cpus:
        options['nano_cpus'] = int(limits.cpus * 1e9)
    try:
        container = engine.containers.run(image, **options)
    except ImageNotFound:
        raise ExecutionError(f'image {image} is not on the Docker engine; load or build it '
                             'there (images are never pulled from a registry here)') from None
    except APIError as err:
        raise ExecutionError(f'container for {image} could not start: '
                             f'{err.explanation or err}') from None
    follower = threading.Thread(target=_follow, args=(container, log, progress), daemon=True)
    follower.start()
    try:
        try:
            result = container.wait(timeout=limits.timeout)
        except (requests.exceptions.ConnectionError, requests.exceptions.ReadTimeout):
            container.kill()
            raise ExecutionError(f'timed out: the container ran longer than '
                                 f'{limits.timeout:g} s and was killed') from None
        follower.join(5)
        container.reload()
        code = result.get('StatusCode', -1)
        if container.attrs['State'].get('OOMKilled'):
            raise ExecutionError(f'the container was killed at its memory limit '
                                 f'({limits.memory})')
        if code != 0:
            tail = container.logs(stdout=False, stderr=True, tail=5).decode('utf-8', 'replace')
            reason = ' | '.join(line for line in tail.splitlines() if line.strip())
            raise ExecutionError(f'the application exited with code {code}'
                                 + (f': {reason}' if reason else ''))
    finally:
        try:
            container.remove(force=True)
        except Exception as err:
            log.warning('container cleanup: %s', err)


def stop_job_containers(engine, job_id: str, job_dir: Path) -> int:
    """Kill the containers of a job: ours by label, cwltool's by their mounts."""
    killed = 0
    for container in engine.containers.list():
        mounts = [m.get('Source', '') for m in container.attrs.get('Mounts', [])]
        if container.labels.get(LABEL) == job_id or any(
                m.startswith(str(job_dir)) for m in mounts):
            try:
                container.remove(force=True)
                killed += 1
            except Exception:
                pass
    return killed
