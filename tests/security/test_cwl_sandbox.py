"""The CWL sandbox (issue 13, findings 1, 2, 7, 8, 9 for cwltool, 10 and the CWL File
default of 21; the cwltool half of 5): every attack is deployed and run against a real
server with the real Docker engine (and node on the host for the JavaScript case), and
checked to be refused without leaving a trace on the host.

Two servers: `sandbox` has the defaults (JavaScript in the sandboxed node container, no
image builds, no default image); `lenient` has JavaScript disabled, image builds allowed and
a default image, the other choices a deployer can make."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from .conftest import call, deploy_package, run_async, start_secure_server

REPO = Path(__file__).resolve().parents[2]
CWL = 'application/cwl+yaml'
PROBE = 'eoorder-test/probe:1.0'
VICTIM = 'eoorder-test/echo:1.0'
JS_IMAGE = 'eoorder/cwl-js:1.0'
SECRET = 'HOST-SECRET-CONTENT'


def _image_id(image: str) -> str:
    done = subprocess.run(['docker', 'image', 'inspect', '-f', '{{.Id}}', image],
                          capture_output=True, text=True)
    return done.stdout.strip() if done.returncode == 0 else ''


@pytest.fixture(scope='module', autouse=True)
def js_image():
    """The sandboxed node image, from its recipe (cheap when it is built already)."""
    subprocess.run([str(REPO / 'docker' / 'build-js-image')], check=True, timeout=600,
                   capture_output=True)


@pytest.fixture(scope='module')
def shared_root(tmp_path_factory) -> Path:
    """A directory the deployer allows file:// stage-in from."""
    root = tmp_path_factory.mktemp('allowed')
    (root / 'allowed.txt').write_text('ALLOWED-CONTENT\n')
    return root


@pytest.fixture(scope='module')
def sandbox(tmp_path_factory, shared_root):
    server = start_secure_server(
        tmp_path_factory.mktemp('cwl-sandbox'),
        execution={'stage_in': {'allowed_file_roots': [str(shared_root)]}})
    yield server
    server.stop()


@pytest.fixture(scope='module')
def lenient(tmp_path_factory):
    server = start_secure_server(
        tmp_path_factory.mktemp('cwl-lenient'),
        execution={'cwl': {'allow_javascript': False, 'allow_image_builds': True,
                           'default_image': PROBE}})
    yield server
    server.stop()


def tool(pid: str, command: str, *, requirements: str | None = None, inputs: str = '[]',
         outputs: str | None = None, image: str | None = PROBE) -> str:
    """A CWL CommandLineTool running `sh -c command`, its stdout the output `report`."""
    docker = f'  DockerRequirement: {{dockerPull: {image}}}\n' if image else ''
    return (f'cwlVersion: v1.2\nclass: CommandLineTool\nid: {pid}\n'
            f'requirements:\n{docker}{requirements or ""}'
            f'  ResourceRequirement: {{ramMax: 64}}\n'
            f'baseCommand: [sh, -c, {json.dumps(command)}]\n'
            f'inputs: {inputs}\n'
            f'outputs:\n{outputs or "  report: {type: stdout}"}\n')


def deploy(server, text: str, user: str = 'dev'):
    return deploy_package(server, user, text, content_type=CWL)


def report(server, job: dict, user: str = 'alice', output: str = 'report') -> str:
    """The text of a successful job's output file."""
    assert job['status'] == 'successful', job
    document = call(server, 'GET', f"/jobs/{job['jobID']}/results", user,
                    params={'response': 'document'}).json()
    href = document[output]['href']
    return call(server, 'GET', href[len(server.url):], user).text


def everything_said(server, job: dict, user: str = 'alice') -> str:
    """Status, results document and log of a job, as its owner sees them."""
    job_id = job['jobID']
    return ''.join(call(server, 'GET', path, user).text for path in (
        f'/jobs/{job_id}', f'/jobs/{job_id}/results?response=document', f'/jobs/{job_id}/log'))


def assert_untouched(canary: Path) -> None:
    assert sorted(p.name for p in canary.iterdir()) == ['secret.txt']
    assert (canary / 'secret.txt').read_text() == SECRET + '\n'


# -- finding 1 ------------------------------------------------------------------------------
NO_CONTAINER = {
    'tool': lambda canary: tool('nodock-tool', f'id > {canary}/pwned', image=None),
    'workflow step': lambda canary: f"""cwlVersion: v1.2
$graph:
  - class: Workflow
    id: main
    requirements: {{DockerRequirement: {{dockerPull: {PROBE}}}}}
    inputs: []
    outputs: {{r: {{type: File, outputSource: ok/r}}}}
    steps:
      ok: {{run: '#boxed', in: [], out: [r]}}
  - class: Workflow
    id: other
    inputs: []
    outputs: []
    steps:
      bad:
        run:
          class: CommandLineTool
          baseCommand: [sh, -c, "id > {canary}/pwned"]
          inputs: []
          outputs: []
        in: []
        out: []
  - class: CommandLineTool
    id: boxed
    baseCommand: ["true"]
    inputs: []
    outputs: {{r: {{type: stdout}}}}
""",
}


@pytest.mark.parametrize('kind', list(NO_CONTAINER))
def test_finding_1_tool_without_docker_requirement_never_runs_on_the_host(
        sandbox, lenient, canary, kind):
    reply = deploy(sandbox, NO_CONTAINER[kind](canary))
    assert reply.status_code == 400, reply.text
    assert reply.headers['Content-Type'].startswith('application/problem+json')
    assert 'DockerRequirement' in reply.json()['detail']
    # with the deployer's default image the same tool runs, but in a sandboxed container
    if kind == 'tool':
        text = tool('nodock-default', f'id -u; id > {canary}/pwned', image=None)
        assert deploy(lenient, text).status_code == 201
        job = run_async(lenient, 'alice', 'nodock-default', {})
        assert job['status'] == 'failed'  # the canary path does not exist in the container
        assert f'{canary}' not in call(lenient, 'GET', f"/jobs/{job['jobID']}/results",
                                       'alice').text
        ok = tool('nodock-uid', 'id -u', image=None)
        assert deploy(lenient, ok).status_code == 201
        assert report(lenient, run_async(lenient, 'alice', 'nodock-uid', {})).strip() == '1000'
    assert_untouched(canary)


# -- finding 2 ------------------------------------------------------------------------------
def _escape(canary: Path) -> str:
    """The pentest's escape from the JavaScript sandbox, aimed at the canary directory."""
    return ('${ var req = globalThis.constructor.constructor("return require")(); '
            'var proc = globalThis.constructor.constructor("return process")(); '
            'var out = ["uid=" + proc.getuid()]; '
            f'try {{ req("child_process").execSync("id > {canary}/pwned-exec"); '
            'out.push("exec=ran"); } catch (e) { out.push("exec=failed"); } '
            f'try {{ req("fs").writeFileSync("{canary}/pwned-fs", "x"); out.push("fs=wrote"); }} '
            'catch (e) { out.push("fs=failed"); } '
            f'try {{ out.push(req("fs").readFileSync("{canary}/secret.txt", "utf8")); }} '
            'catch (e) { out.push("read=failed"); } '
            'return out.join(" "); }')


def js_tool(pid: str, canary: Path) -> str:
    return tool(pid, 'echo "$0"', requirements='  InlineJavascriptRequirement: {}\n').replace(
        'baseCommand: [sh, -c, "echo \\"$0\\""]',
        f'baseCommand: [sh, -c, "echo \\"$0\\""]\narguments:\n  - {json.dumps(_escape(canary))}')


def test_finding_2_javascript_runs_only_in_the_sandboxed_container(sandbox, canary):
    assert deploy(sandbox, js_tool('js-escape', canary)).status_code == 201
    job = run_async(sandbox, 'alice', 'js-escape', {})
    said = report(sandbox, job)  # the expression ran, in the node container
    assert 'uid=1000' in said and 'exec=failed' in said and 'fs=failed' in said, said
    assert SECRET not in said + everything_said(sandbox, job)
    assert_untouched(canary)
    assert not subprocess.run(['docker', 'ps', '-aq', '--filter',
                               f"label=eoorder.job={job['jobID']}"],
                              capture_output=True, text=True).stdout.strip()


JS_PACKAGES = {
    'InlineJavascriptRequirement': lambda canary: js_tool('js-off', canary),
    'expression without requirement': lambda canary: tool(
        'js-off-expr', 'echo "$0"').replace(
        'inputs: []', f'arguments: [{json.dumps(_escape(canary))}]\ninputs: []'),
    'ExpressionTool': lambda canary: (
        'cwlVersion: v1.2\nclass: ExpressionTool\nid: js-off-et\n'
        'requirements: {InlineJavascriptRequirement: {}}\ninputs: []\n'
        'outputs: {x: {type: string}}\n'
        f'expression: {json.dumps(_escape(canary).replace("return out", "return {x: out"))}\n'
        .replace('join(" "); }', 'join(" ")}; }')),
}


@pytest.mark.parametrize('kind', list(JS_PACKAGES))
def test_finding_2_javascript_is_refused_where_the_deployer_disables_it(lenient, canary, kind):
    reply = deploy(lenient, JS_PACKAGES[kind](canary))
    assert reply.status_code == 400, reply.text
    assert 'JavaScript' in reply.json()['detail']
    assert_untouched(canary)


# -- finding 7 ------------------------------------------------------------------------------
FILE_FORMS = {
    'class File path': lambda path: {'class': 'File', 'path': str(path)},
    'class File location': lambda path: {'class': 'File', 'location': path.as_uri()},
    'href file url': lambda path: {'href': path.as_uri()},
    'plain string': lambda path: str(path),
    'directory': lambda path: {'class': 'Directory', 'location': path.parent.as_uri()},
}


@pytest.fixture(scope='module')
def cat_tool(sandbox):
    text = tool('cat-input', 'cat "$0" 2>&1 || ls -R "$0"',
                inputs='\n  src: {type: ["File", "Directory"], inputBinding: {position: 1}}')
    assert deploy(sandbox, text).status_code == 201
    return 'cat-input'


@pytest.mark.parametrize('form', list(FILE_FORMS))
def test_finding_7_cwl_file_input_with_a_host_path_is_refused(sandbox, cat_tool, canary,
                                                              shared_root, form):
    job = run_async(sandbox, 'alice', cat_tool, {'src': FILE_FORMS[form](canary / 'secret.txt')})
    assert job['status'] == 'failed', job
    assert 'allowed file roots' in job['message'], job['message']
    assert SECRET not in everything_said(sandbox, job)
    assert_untouched(canary)
    # the same form from a root the deployer allows is staged in and works
    if form != 'directory':
        allowed = run_async(sandbox, 'alice', cat_tool,
                            {'src': FILE_FORMS[form](shared_root / 'allowed.txt')})
        assert report(sandbox, allowed).strip() == 'ALLOWED-CONTENT'


# -- finding 8 ------------------------------------------------------------------------------
def _listing(entry: str) -> str:
    return f'  InitialWorkDirRequirement:\n    listing:\n      - {entry}\n'


REFERENCES = {
    'InitialWorkDir location': lambda c: tool('ref-iwd', 'cat secret.txt', requirements=_listing(
        f'{{class: File, location: "{(c / "secret.txt").as_uri()}"}}')),
    'InitialWorkDir path': lambda c: tool('ref-iwd-path', 'cat secret.txt', requirements=_listing(
        f'{{class: File, path: "{c / "secret.txt"}"}}')),
    'InitialWorkDir directory location': lambda c: tool('ref-iwd-dir', 'cat */secret.txt',
                                               requirements=_listing(
        f'{{class: Directory, location: "{c.as_uri()}"}}')),
    'File default location': lambda c: tool('ref-default', 'cat "$0"', inputs=(
        f'\n  src: {{type: File, inputBinding: {{position: 1}}, '
        f'default: {{class: File, location: "{(c / "secret.txt").as_uri()}"}}}}')),
    'secondaryFiles': lambda c: tool('ref-second', 'cat "$0"', inputs=(
        '\n  src:\n    type: File\n    default:\n      class: File\n      contents: x\n'
        f'      secondaryFiles: [{{class: File, location: "{(c / "secret.txt").as_uri()}"}}]')),
    '$include': lambda c: tool('ref-include', 'true').replace(
        'id: ref-include', f'id: ref-include\nlabel: {{$include: "{c / "secret.txt"}"}}'),
    '$import': lambda c: tool('ref-import', 'true').replace(
        'inputs: []', f'inputs: {{$import: "{c / "secret.txt"}"}}'),
    'run: file': lambda c: f"""cwlVersion: v1.2
class: Workflow
id: ref-run
inputs: []
outputs: []
steps:
  s: {{run: "{c / 'tool.cwl'}", in: [], out: []}}
""",
}


@pytest.mark.parametrize('kind', list(REFERENCES))
def test_finding_8_package_file_references_are_refused(sandbox, canary, kind):
    (canary / 'tool.cwl').write_text(tool('host-tool', f'id > {canary}/pwned'))
    try:
        reply = deploy(sandbox, REFERENCES[kind](canary))
        assert reply.status_code == 400, reply.text
        assert reply.headers['Content-Type'].startswith('application/problem+json')
        assert kind.split()[-1].replace('file', 'run') in reply.json()['detail']
        assert SECRET not in reply.text
    finally:
        (canary / 'tool.cwl').unlink()
    assert_untouched(canary)


def test_finding_8_files_named_by_expressions_at_run_time_are_refused(sandbox, canary):
    """An InitialWorkDir entry computed by JavaScript (no literal to check at deploy)."""
    secret = (canary / 'secret.txt').as_uri()
    text = tool('ref-iwd-js', 'cat secret.txt', requirements=(
        '  InlineJavascriptRequirement: {}\n'
        + _listing(f"'$({{\"class\": \"File\", \"location\": \"{secret}\"}})'")))
    assert deploy(sandbox, text).status_code == 201
    job = run_async(sandbox, 'alice', 'ref-iwd-js', {})
    assert job['status'] == 'failed'
    assert 'outside the job directory' in call(sandbox, 'GET', f"/jobs/{job['jobID']}/log",
                                               'alice').text
    assert SECRET not in everything_said(sandbox, job)
    assert_untouched(canary)


# -- finding 9 (cwltool's containers) -------------------------------------------------------
def test_finding_9_cwltool_containers_keep_the_container_contract(sandbox, canary):
    command = ('echo uid=$(id -u) gid=$(id -g); '
               'echo cap_eff=$(sed -n "s/^CapEff:[[:space:]]*//p" /proc/self/status); '
               'echo nnp=$(sed -n "s/^NoNewPrivs:[[:space:]]*//p" /proc/self/status); '
               'echo net=$(ls /sys/class/net | tr "\\n" " "); '
               'echo pids=$(cat /sys/fs/cgroup/pids.max 2>/dev/null '
               '|| cat /sys/fs/cgroup/pids/pids.max); '
               'echo mem=$(cat /sys/fs/cgroup/memory.max 2>/dev/null '
               '|| cat /sys/fs/cgroup/memory/memory.limit_in_bytes); '
               '(echo x > /escape) 2>/dev/null && echo root=WROTE || echo root=denied; '
               f'(echo x > {canary}/pwned) 2>/dev/null && echo canary=WROTE '
               '|| echo canary=denied')
    text = tool('contract', command, requirements='  NetworkAccess: {networkAccess: true}\n')
    assert deploy(sandbox, text).status_code == 201
    job = run_async(sandbox, 'alice', 'contract', {})
    said = dict(item.split('=', 1) for item in report(sandbox, job).split()
                if '=' in item)
    assert said['uid'] == '1000' and said['gid'] == '1000'
    assert said['cap_eff'] == '0000000000000000'
    assert said['nnp'] == '1'
    assert said['net'] == 'lo'  # NetworkAccess asked, but the deployer allows no network
    assert said['pids'] == '256'
    assert int(said['mem']) <= 1024 ** 3
    assert said['root'] == 'denied' and said['canary'] == 'denied'
    assert_untouched(canary)


def _labelled(job_id: str) -> list[str]:
    return subprocess.run(['docker', 'ps', '-aq', '--filter', f'label=eoorder.job={job_id}'],
                          capture_output=True, text=True, check=True).stdout.split()


def test_finding_9_dismiss_stops_cwltool_containers(sandbox):
    assert deploy(sandbox, tool('cwl-sleep', 'sleep 120')).status_code == 201
    reply = call(sandbox, 'POST', '/processes/cwl-sleep/execution', 'alice',
                 json={'inputs': {}}, headers={'Prefer': 'respond-async'})
    job_id = reply.json()['jobID']
    deadline = time.monotonic() + 60
    while not _labelled(job_id) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _labelled(job_id), 'the cwltool container carries no eoorder.job label'
    assert call(sandbox, 'DELETE', f'/jobs/{job_id}', 'alice').json()['status'] == 'dismissed'
    deadline = time.monotonic() + 10
    while _labelled(job_id) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _labelled(job_id) == [], 'container still there 10 s after dismissal'


# -- finding 5, cwltool's half: output links ------------------------------------------------
def test_finding_5_cwl_output_links_to_host_files_are_not_collected(sandbox, canary):
    secret = canary / 'secret.txt'
    command = (f'ln -s {secret} leak.txt; ln -s / rootfs; mkdir d; ln -s {secret} d/leak; '
               'echo plain > d/ok.txt; echo done')
    outputs = ('  leak: {type: "File?", outputBinding: {glob: leak.txt}}\n'
               '  rootfs: {type: "Directory?", outputBinding: {glob: rootfs}}\n'
               '  d: {type: Directory, outputBinding: {glob: d}}\n'
               '  report: {type: stdout}')
    assert deploy(sandbox, tool('links', command, outputs=outputs)).status_code == 201
    job = run_async(sandbox, 'alice', 'links', {})
    assert report(sandbox, job).strip() == 'done'
    document = call(sandbox, 'GET', f"/jobs/{job['jobID']}/results", 'alice',
                    params={'response': 'document'}).json()
    assert document['leak'] is None and document['rootfs'] is None
    base = f"/jobs/{job['jobID']}/results"
    for path in ('leak.txt', 'rootfs/etc/passwd', 'd/leak'):
        reply = call(sandbox, 'GET', f'{base}/{path}', 'alice')
        assert reply.status_code == 404 and SECRET not in reply.text, path
    assert call(sandbox, 'GET', f'{base}/d/ok.txt', 'alice').text.strip() == 'plain'
    job_dir = sandbox.data_dir / 'jobs' / job['jobID']
    for path in job_dir.rglob('*'):
        assert not path.is_symlink(), path
        assert not path.is_file() or SECRET not in path.read_text(errors='replace'), path
    assert_untouched(canary)


def _declared_outputs(canary: Path) -> dict[str, str]:
    """Packages whose outputs name host files (no link on disk: cwltool would copy them)."""
    secret = canary / 'secret.txt'
    listing = json.dumps({'a': {'class': 'File', 'location': secret.as_uri()},
                          'b': {'class': 'File', 'location': f'../../../../../../../..{secret}'}})
    return {
        'cwl.output.json': tool('out-json', f"echo '{listing}' > cwl.output.json",
                                outputs='  a: "File?"\n  b: "File?"'),
        'ExpressionTool': (
            'cwlVersion: v1.2\nclass: ExpressionTool\nid: out-expr\n'
            'requirements: {InlineJavascriptRequirement: {}}\ninputs: []\n'
            'outputs: {a: File}\n'
            f"expression: '$({{\"a\": {{\"class\": \"File\", "
            f"\"location\": \"{secret.as_uri()}\"}}}})'\n"),
    }


@pytest.mark.parametrize('kind', ['cwl.output.json', 'ExpressionTool'])
def test_finding_5_cwl_outputs_naming_host_files_are_not_collected(sandbox, canary, kind):
    text = _declared_outputs(canary)[kind]
    pid = 'out-json' if kind == 'cwl.output.json' else 'out-expr'
    assert deploy(sandbox, text).status_code == 201
    job = run_async(sandbox, 'alice', pid, {})
    assert job['status'] == 'failed', job
    log = call(sandbox, 'GET', f"/jobs/{job['jobID']}/log", 'alice').text
    assert 'outside the job directory' in log or 'within designated output' in log, log
    assert SECRET not in everything_said(sandbox, job)
    for path in (sandbox.data_dir / 'jobs' / job['jobID']).rglob('*'):
        assert not path.is_file() or SECRET not in path.read_text(errors='replace'), path
    assert_untouched(canary)


# -- finding 10 -----------------------------------------------------------------------------
def _retag(pid: str, requirement: str) -> str:
    return tool(pid, 'echo dev2 was here', image=None,
                requirements=f'  DockerRequirement:\n{requirement}')


RETAGS = {
    'dockerFile': f'    dockerFile: "FROM {PROBE}"\n    dockerImageId: {VICTIM}\n',
    'dockerImageId': f'    dockerImageId: {VICTIM}\n',
    'dockerLoad': f'    dockerLoad: /etc/passwd\n    dockerImageId: {VICTIM}\n',
    'dockerImport': f'    dockerImport: /etc/passwd\n    dockerImageId: {VICTIM}\n',
}


@pytest.mark.parametrize('kind', list(RETAGS))
def test_finding_10_image_builds_cannot_retag_an_image(sandbox, lenient, kind):
    before = _image_id(VICTIM)
    assert before
    reply = deploy(sandbox, _retag(f'retag-{kind.lower()}', RETAGS[kind]), user='dev2')
    assert reply.status_code == 400, reply.text
    assert kind in reply.json()['detail']
    if kind == 'dockerFile':  # where builds are allowed, a build still never replaces a tag
        pid = 'retag-allowed'
        assert deploy(lenient, _retag(pid, RETAGS[kind]), user='dev2').status_code == 201
        job = run_async(lenient, 'alice', pid, {})
        assert job['status'] == 'failed'
        assert 'exists already' in call(lenient, 'GET', f"/jobs/{job['jobID']}/log",
                                        'alice').text
    if kind in ('dockerLoad', 'dockerImport'):
        assert deploy(lenient, _retag(f'load-{kind}', RETAGS[kind])).status_code == 400
    assert _image_id(VICTIM) == before


def test_finding_10_an_allowed_build_makes_a_new_image_only(lenient):
    tag = f'eoorder-test/built-{int(time.time() * 1000)}:1.0'
    text = _retag('build-new', f'    dockerFile: "FROM {PROBE}"\n    dockerImageId: {tag}\n')
    try:
        assert deploy(lenient, text).status_code == 201
        job = run_async(lenient, 'alice', 'build-new', {})
        assert report(lenient, job).strip() == 'dev2 was here'
        assert _image_id(tag)
    finally:
        subprocess.run(['docker', 'image', 'rm', '-f', tag], capture_output=True)


# -- finding 21: a CWL File default ---------------------------------------------------------
def test_finding_21_cwl_file_default_is_not_a_server_error(sandbox, canary):
    text = tool('file-default', 'cat "$0"', inputs=(
        '\n  src: {type: File, inputBinding: {position: 1}, '
        'default: {class: File, basename: greeting.txt, contents: "hello from a default"}}'))
    reply = deploy(sandbox, text)
    assert reply.status_code == 201, reply.text
    described = call(sandbox, 'GET', '/processes/file-default', 'alice')
    assert described.status_code == 200
    assert report(sandbox, run_async(sandbox, 'alice', 'file-default', {})).strip() == \
        'hello from a default'
    # and a hostile image name in a DockerRequirement is a 400 too
    reply = deploy(sandbox, tool('bad-image', 'true', image='"x:1 --privileged"'))
    assert reply.status_code == 400 and 'image reference' in reply.json()['detail'], reply.text
    assert_untouched(canary)
