"""cwltool inside the job sandbox: the entry module the CWL runner starts instead of cwltool.

    python -m pygeoapi_eoorder.execution.cwl_sandbox POLICY.json CWLTOOL-ARGS...

It runs `cwltool.main.main` with cwltool's own extension points, no monkeypatching:

- `construct_tool_object` makes every CommandLineTool run through `SandboxedDockerJob`, a
  `DockerCommandLineJob` that refuses a tool without a container image, never pulls,
  refuses image builds unless allowed (and never overwrites a tag), and starts the
  container with the job contract (`containers.cli_flags`: uid:gid, no capabilities,
  read-only root, no network unless allowed and asked, memory/CPU/pids limits, job label)
  instead of cwltool's `--user`/`--net` flags; every bind mount must lie in the job directory;
- `make_fs_access` and the path mapper refuse every File/Directory outside the job directory;
- `fetcher_constructor` refuses every document but the package and the job order;
- container outputs are scrubbed of links before cwltool collects them;
- JavaScript is evaluated by node inside a sandboxed container (`SandboxedNodeEngine`), or
  refused (`RefusedJavascript`); the host's node is never used.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from cwl_utils.errors import JavascriptException
from cwl_utils.sandboxjs import NodeJSEngine, set_js_engine
from cwltool.command_line_tool import CommandLineTool
from cwltool.docker import DockerCommandLineJob
from cwltool.errors import WorkflowException
from cwltool.mpi import MPIRequirementName
from cwltool.stdfsaccess import StdFsAccess
from cwltool.workflow import default_make_tool
from schema_salad.exceptions import ValidationException
from schema_salad.fetcher import DefaultFetcher
from schema_salad.ref_resolver import uri_file_path

from .containers import size_bytes
from .paths import scrub

BUILD_KEYS = ('dockerFile', 'dockerImageId')
NEVER_KEYS = ('dockerLoad', 'dockerImport')  # read a host file or a URL into the engine
MIN_MEMORY_MIB = 6  # the least memory Docker accepts for a container
TOOL_CLASSES = ('CommandLineTool', 'ExpressionTool', 'Workflow')
# cwltool binds its own job tmpdir at /tmp; the contract's tmpfs there would collide
DROPPED_FLAGS = ('--user=', '--net=', '--network=', '--read-only', '--memory=', '--cpus=',
                 '--gpus=', '--shm-size=', '--tmpfs=/tmp:')


@dataclass
class SandboxPolicy:
    """What the runner decided for this job (written as JSON by `cwl_runner`)."""

    job_id: str
    root: str                        # the job directory: everything cwltool touches is in it
    flags: list[str]                 # containers.cli_flags(limits, job_id), network none
    network: str = 'none'            # for tools that ask NetworkAccess ('none': never)
    allow_image_builds: bool = False
    allow_javascript: bool = True
    js_image: str = 'eoorder/cwl-js:1.0'
    docker: str = 'docker'

    @classmethod
    def load(cls, path: str) -> 'SandboxPolicy':
        with open(path, encoding='utf-8') as fh:
            return cls(**json.load(fh))

    def inside(self, path: str) -> bool:
        """Whether `path` (links resolved) is the job directory or lies in it."""
        root = os.path.realpath(self.root)
        real = os.path.realpath(path)
        return real == root or real.startswith(root + os.sep)

    def confined(self, location: str, what: str = 'file') -> str:
        """The local path of `location` if it lies in the job directory, else a failure."""
        scheme = urlsplit(location).scheme
        if location.startswith('_:'):
            return location
        if scheme == 'file':
            path = uri_file_path(location)
        elif scheme:
            raise WorkflowException(f'{what} {location!r}: only files of the job may be used '
                                    '(the server stages inputs in; remote references refused)')
        else:
            path = location
        if not self.inside(path):
            raise WorkflowException(f'{what} {location!r} is outside the job directory: '
                                    'refused (files reach a job only through its inputs)')
        return path


POLICY: SandboxPolicy | None = None


def _policy() -> SandboxPolicy:
    if POLICY is None:
        raise WorkflowException('the CWL sandbox has no policy')
    return POLICY


def _docker(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([_policy().docker, *args], capture_output=True, text=True)


def image_exists(image: str) -> bool:
    return _docker('image', 'inspect', image).returncode == 0


# -- files ---------------------------------------------------------------------------------
class ConfinedFsAccess(StdFsAccess):
    """cwltool's file access, limited to the job directory (no http, no host paths)."""

    def _abs(self, p: str) -> str:
        path = super()._abs(p)
        return _policy().confined(path)

    def glob(self, pattern: str) -> list[str]:
        return [url for url in super().glob(pattern) if _policy().inside(uri_file_path(url))]

    def realpath(self, path: str) -> str:
        return _policy().confined(super().realpath(path))


def _check_files(items: Any) -> None:
    """Refuse any File/Directory (with its listing and secondaryFiles) outside the job dir."""
    if isinstance(items, list):
        for item in items:
            _check_files(item)
    elif isinstance(items, MutableMapping):
        for key in ('location', 'path'):
            if isinstance(items.get(key), str):
                _policy().confined(items[key], str(items.get('class') or 'File').lower())
        _check_files(items.get('listing'))
        _check_files(items.get('secondaryFiles'))


def confined_fetcher(cache, session) -> DefaultFetcher:
    """A schema-salad fetcher that reads only documents in the job directory (the package
    and the job order) and cwltool's own cached schemas: no http, no host file."""
    return ConfinedFetcher(cache, session)


class ConfinedFetcher(DefaultFetcher):
    def _allowed(self, url: str) -> bool:
        if self.cache.get(url) not in (None, True):
            return True
        base = url.split('#', 1)[0]
        return urlsplit(base).scheme == 'file' and _policy().inside(uri_file_path(base))

    def fetch_text(self, url: str, content_types: list[str] | None = None) -> str:
        if not self._allowed(url):
            raise ValidationException(f'{url}: refused (a package may refer only to itself; '
                                      '$import, $include and external run: are not allowed)')
        return super().fetch_text(url, content_types)

    def check_exists(self, url: str) -> bool:
        return self._allowed(url) and super().check_exists(url)


# -- containers ----------------------------------------------------------------------------
class SandboxedDockerJob(DockerCommandLineJob):
    """cwltool's Docker job, started with the job's container contract."""

    def get_from_requirements(self, r, pull_image, force_pull, tmp_outdir_prefix,
                              image_base_path=None) -> str | None:
        policy = _policy()
        never = [key for key in NEVER_KEYS if key in r]
        if never:
            raise WorkflowException(f'DockerRequirement.{never[0]} is not allowed here (it '
                                    'loads an image from a file or URL)')
        if any(key in r for key in BUILD_KEYS) and not policy.allow_image_builds:
            raise WorkflowException('DockerRequirement.dockerFile/dockerImageId: image builds '
                                    'are disabled (execution.cwl.allow_image_builds)')
        if 'dockerFile' in r:
            return self._build(str(r['dockerFile']), r.get('dockerImageId'))
        image = r.get('dockerImageId') or r.get('dockerPull')
        if not isinstance(image, str) or not image:
            raise WorkflowException('DockerRequirement: no image named (dockerPull)')
        if not image_exists(image):
            raise WorkflowException(f'image {image} is not on the Docker engine; load or build '
                                    'it there (images are never pulled from a registry here)')
        return image

    def _build(self, dockerfile: str, tag: Any) -> str:
        if not isinstance(tag, str) or not tag:
            raise WorkflowException('DockerRequirement.dockerFile needs a new dockerImageId')
        if image_exists(tag):
            raise WorkflowException(f'DockerRequirement.dockerImageId: image {tag} exists '
                                    'already; a build never replaces an existing image')
        context = os.path.join(_policy().root, 'tmp', f'build-{os.getpid()}-{id(self)}')
        os.makedirs(context)
        with open(os.path.join(context, 'Dockerfile'), 'w', encoding='utf-8') as fh:
            fh.write(dockerfile)
        done = _docker('build', '--network=none', '--force-rm', f'--tag={tag}', context)
        if done.returncode != 0:
            raise WorkflowException(f'building image {tag} failed: '
                                    + ' | '.join(done.stderr.strip().splitlines()[-2:]))
        return tag

    def create_runtime(self, env, runtimeContext) -> tuple[list[str], str | None]:
        policy = _policy()
        self._give_to_container(policy)
        runtime, cidfile = super().create_runtime(env, runtimeContext)
        runtime = [arg for arg in runtime if not arg.startswith(DROPPED_FLAGS)]
        for arg in runtime:
            if arg.startswith('--mount='):
                options = next(csv.reader([arg[len('--mount='):]]))
                sources = [o[len('source='):] for o in options if o.startswith('source=')]
                if len(sources) != 1 or not sources[0]:
                    raise WorkflowException(f'unexpected mount {arg!r}: refused')
                policy.confined(sources[0], 'mount')
        flags = self._resource_flags(
            [arg for arg in policy.flags if not arg.startswith('--tmpfs=/tmp:')])
        if self.networkaccess and policy.network != 'none':
            flags = [f'--network={policy.network}' if arg.startswith('--network=') else arg
                     for arg in flags]
        return runtime[:3] + ['--pull=never', *flags] + runtime[3:], cidfile

    def _resource_flags(self, flags: list[str]) -> list[str]:
        """The contract's flags with memory and CPUs lowered to what the tool's
        ResourceRequirement asks (ramMin MiB, coresMin) when that is less: the operator's
        values are ceilings, never raised."""
        asked, _ = self.builder.get_requirement('ResourceRequirement')
        if not asked:
            return flags
        resources = self.builder.resources
        ram = max(int(resources['ram']), MIN_MEMORY_MIB) if (
            'ramMin' in asked or 'ramMax' in asked) else None
        cores = float(resources['cores']) if ('coresMin' in asked or
                                              'coresMax' in asked) else None
        lowered = []
        for arg in flags:
            name, _, value = arg.partition('=')
            if ram is not None and name in ('--memory', '--memory-swap') and \
                    ram * 1024 ** 2 < size_bytes(value):
                arg = f'{name}={ram}m'
            elif cores is not None and name == '--cpus' and 0 < cores < float(value):
                arg = f'--cpus={cores:g}'
            lowered.append(arg)
        if ram is not None and not any(a.startswith('--memory=') for a in flags):
            lowered += [f'--memory={ram}m', f'--memory-swap={ram}m']
        if cores is not None and cores > 0 and not any(a.startswith('--cpus=') for a in flags):
            lowered.append(f'--cpus={cores:g}')
        return lowered

    def _give_to_container(self, policy: SandboxPolicy) -> None:
        """Let the container user write its output and tmp directories."""
        user = next((arg.split('=', 1)[1] for arg in policy.flags
                     if arg.startswith('--user=')), '1000:1000')
        uid, _, gid = user.partition(':')
        for top in (self.outdir, self.tmpdir):
            policy.confined(top, 'directory')
            for base, dirs, files in os.walk(top):
                for path in [base, *(os.path.join(base, name) for name in dirs + files)]:
                    if os.geteuid() == 0:
                        os.chown(path, int(uid), int(gid or uid), follow_symlinks=False)
                    elif path == base and not os.path.islink(path):
                        os.chmod(path, 0o777)


class SandboxedCommandLineTool(CommandLineTool):
    """A CommandLineTool that runs only in a sandboxed container and sees only job files."""

    def make_job_runner(self, runtimeContext):
        if self.get_requirement(MPIRequirementName)[0] is not None:
            raise WorkflowException('MPIRequirement is not supported here (it would start '
                                    'an MPI launcher on the host)')
        runner = super().make_job_runner(runtimeContext)
        if not issubclass(runner, DockerCommandLineJob):
            raise WorkflowException(
                f'{self.tool.get("id", "tool")}: no DockerRequirement; a tool runs only in a '
                'container here (or set execution.cwl.default_image)')
        return SandboxedDockerJob

    def make_path_mapper(self, reffiles, stagedir, runtimeContext, separateDirs):
        _check_files(list(reffiles))
        return super().make_path_mapper(reffiles, stagedir, runtimeContext, separateDirs)

    def collect_output_ports(self, ports, builder, outdir, rcode, compute_checksum=True,
                             jobname='', readers=None):
        _policy().confined(outdir, 'output directory')
        scrub(outdir)  # links and special files a container wrote are never followed
        return super().collect_output_ports(ports, builder, outdir, rcode, compute_checksum,
                                            jobname, readers)


def make_tool(toolpath_object, loadingContext):
    """cwltool's tool factory, with our CommandLineTool; other process classes refused."""
    kind = toolpath_object.get('class') if isinstance(toolpath_object, MutableMapping) else None
    if kind == 'CommandLineTool':
        return SandboxedCommandLineTool(toolpath_object, loadingContext)
    if kind not in TOOL_CLASSES:
        raise WorkflowException(f'process class {kind!r} is not allowed here')
    return default_make_tool(toolpath_object, loadingContext)


# -- JavaScript ----------------------------------------------------------------------------
class SandboxedNodeEngine(NodeJSEngine):
    """cwl_utils' node engine, with node started in a container under the job contract:
    no network, no mount, read-only root, no capabilities, unprivileged user."""

    def new_js_proc(self, js_text: str, force_docker_pull: bool = False,
                    container_engine: str = 'docker') -> 'subprocess.Popen[str]':
        policy = _policy()
        if not image_exists(policy.js_image):
            raise JavascriptException(f'the JavaScript sandbox image {policy.js_image} is not '
                                      'on the Docker engine (build it: docker/build-js-image)')
        flags = [flag for flag in policy.flags if not flag.startswith('--network=')]
        command = [policy.docker, 'run', '-i', '--rm', '--pull=never', *flags,
                   '--network=none', policy.js_image, '--eval', js_text]
        process = subprocess.Popen(command, text=True, stdin=subprocess.PIPE,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.processes_to_kill.append(process)
        return process


class RefusedJavascript(NodeJSEngine):
    """No JavaScript at all (execution.cwl.allow_javascript: false); plain parameter
    references such as $(inputs.x) are still resolved, in Python."""

    def eval(self, scan: str, *args: Any, **kwargs: Any):
        raise JavascriptException('JavaScript expressions are disabled on this server '
                                  '(execution.cwl.allow_javascript)')

    def new_js_proc(self, *args: Any, **kwargs: Any):
        raise JavascriptException('JavaScript expressions are disabled on this server')


# -- entry point ---------------------------------------------------------------------------
def main(argv: list[str]) -> int:
    """Run cwltool (arguments after the policy file) inside the sandbox."""
    global POLICY
    import cwltool.main
    from cwltool.argparser import arg_parser
    from cwltool.context import LoadingContext, RuntimeContext

    POLICY = SandboxPolicy.load(argv[0])
    set_js_engine(SandboxedNodeEngine() if POLICY.allow_javascript else RefusedJavascript())
    args = arg_parser().parse_args(argv[1:])
    args.pull_image = False
    loading = LoadingContext(vars(args))
    loading.fetcher_constructor = confined_fetcher
    loading.construct_tool_object = make_tool
    runtime = RuntimeContext(vars(args))
    runtime.make_fs_access = ConfinedFsAccess
    runtime.use_container = True
    runtime.pull_image = False
    return cwltool.main.main(args=args, loadingContext=loading, runtimeContext=runtime)


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
