"""A job's success and what it writes as it succeeds (its result records) are one
transaction: both or neither, whatever happens meanwhile (a dismissal, a failing write).
Likewise at its start: on the local engine the claim records what the job runs (its
provenance's `process`) in the same statement, so the worker starts without a write."""

from __future__ import annotations

import json
import os
import logging
import time
from datetime import timedelta
from types import SimpleNamespace

import pytest
import requests
import yaml
from sqlalchemy import text

from pygeoapi_eoorder.catalogue.repository import RecordRepository
from pygeoapi_eoorder.components import Components
from pygeoapi_eoorder.execution.context import JobContext
from pygeoapi_eoorder.jobs.quotas import QuotaPolicy
from pygeoapi_eoorder.jobs.repository import (
    DISMISSED, RUNNING, SUCCESSFUL, JobRepository)
from pygeoapi_eoorder.jobs.scheduling import FairScheduler
from pygeoapi_eoorder.jobs.supervisor import Supervisor
from pygeoapi_eoorder.jobs.worker import run_job
from pygeoapi_eoorder.store import get_store, utcnow
from tests.conftest import LOCAL_CONFIG, TEST_PROCESSES, Server
from tests.support.cluster import Database

REGISTERING = {'type': 'process', 'processor': {'name': 'tests.support.processes.Registering'}}


@pytest.fixture(params=['sqlite', 'postgresql'])
def store_url(request, tmp_path):
    if request.param == 'sqlite':
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    database = Database('eoorder_completion').create()
    yield database.url
    database.drop()


def _record(identifier: str) -> dict:
    return {'id': identifier, 'type': 'Feature', 'geometry': None,
            'properties': {'title': identifier, 'datetime': '2024-06-01T00:00:00Z'}}


def _identifiers(url: str) -> list[str]:
    """The record identifiers in the store, read with plain SQL."""
    with get_store(url).write_engine.connect() as connection:
        return sorted(connection.execute(text('SELECT identifier FROM eoorder_record')).scalars())


def _running(url: str) -> tuple[JobRepository, str]:
    jobs = JobRepository(get_store(url))
    job = jobs.add('echo', job_type='process', inputs={})
    assert jobs.claim_id(job['id'], 'w') is not None
    return jobs, job['id']


def _writer(url: str, identifier: str):
    records = RecordRepository(url, 'results')
    return lambda connection: records.upsert_on(connection, [_record(identifier)])


def test_success_and_its_writes_are_committed_together(store_url):
    jobs, job_id = _running(store_url)
    assert jobs.finish(job_id, SUCCESSFUL, also=[_writer(store_url, f'{job_id}/a'),
                                                 _writer(store_url, f'{job_id}/b')])
    assert jobs.get(job_id)['status'] == SUCCESSFUL
    assert _identifiers(store_url) == [f'{job_id}/a', f'{job_id}/b']


def test_a_job_ends_once_what_it_writes_as_it_succeeds_is_written(store_url):
    """Its end time (`finished`, `updated`) is taken after its completing writes, which
    are committed with it (a client sees it ended only then); its duration runs to it."""
    jobs, job_id = _running(store_url)
    written = []

    def slow(connection):
        time.sleep(0.3)
        written.append(utcnow())
    before = utcnow()
    assert jobs.finish(job_id, SUCCESSFUL, also=[_writer(store_url, f'{job_id}/a'), slow])
    job = jobs.get(job_id)
    assert job['finished'] >= written[0] >= before + timedelta(seconds=0.3)
    assert job['updated'] == job['finished']
    assert job['duration'] == pytest.approx(
        (job['finished'] - job['started']).total_seconds(), abs=0.002)


def test_a_job_dismissed_before_it_completes_writes_nothing(store_url):
    jobs, job_id = _running(store_url)
    assert jobs.transition(job_id, DISMISSED)
    assert jobs.finish(job_id, SUCCESSFUL, also=[_writer(store_url, f'{job_id}/a')]) is False
    assert jobs.get(job_id)['status'] == DISMISSED
    assert _identifiers(store_url) == []


def test_a_failing_write_undoes_the_success_and_the_other_writes(store_url):
    jobs, job_id = _running(store_url)

    def failing(connection):
        raise RuntimeError('disk full')
    with pytest.raises(RuntimeError):
        jobs.finish(job_id, SUCCESSFUL, also=[_writer(store_url, f'{job_id}/a'), failing])
    assert jobs.get(job_id)['status'] == RUNNING
    assert _identifiers(store_url) == []


def test_the_result_document_is_on_disk_before_the_job_is_successful(store_url, tmp_path):
    """The result document is written in place and put on disk while the job's
    completing transaction runs; the job is successful only once it is there."""
    from pygeoapi_eoorder.jobs.results import Syncing, write_result
    jobs, job_id = _running(store_url)
    name, media_type, syncing = write_result(tmp_path, None, {'files': []})
    assert (name, media_type) == ('results/result.json', 'application/json')
    assert (tmp_path / name).read_text() == '{"files": []}'
    write_result(tmp_path, None, {'files': ['a']})[2].wait()  # (run again: replaced)
    assert (tmp_path / name).read_text() == '{"files": ["a"]}'
    assert jobs.finish(job_id, SUCCESSFUL, result_file=name, also=[syncing.wait])
    _, other = _running(store_url)
    unsyncable, pipe_end = os.pipe()  # (fsync refuses a pipe: e.g. a disk that failed)
    lost = Syncing(unsyncable)
    with pytest.raises(OSError):
        jobs.finish(other, SUCCESSFUL, also=[_writer(store_url, f'{other}/a'), lost.wait])
    os.close(pipe_end)
    assert jobs.get(other)['status'] == RUNNING
    assert _identifiers(store_url) == []


def test_the_result_document_goes_to_disk_while_its_writer_goes_on(tmp_path, monkeypatch):
    """The syncing thread has taken the document when `write_result` returns: the job's
    next steps (Python, holding the GIL) overlap its fsync instead of delaying it to
    the completing transaction's first blocking call. (The writer waits at most
    `HAND_OVER`, 2 ms: under a loaded machine's scheduling that may pass first, so the
    test allows it 10 s: what it checks is the hand-over, not the machine.)"""
    from pygeoapi_eoorder.jobs.results import Syncing, write_result
    monkeypatch.setattr(Syncing, 'HAND_OVER', 10.0)
    for number in range(20):
        syncing = write_result(tmp_path / f'job-{number}', None, {'n': number})[2]
        assert syncing.under_way
        syncing.wait()


@pytest.mark.filterwarnings('ignore:This process .* is multi-threaded')
def test_result_documents_are_put_on_disk_by_one_thread_of_each_process(tmp_path):
    """The thread that syncs result documents is started once per process (a forked
    child starts its own) and goes on after a file it could not sync."""
    import threading
    from pygeoapi_eoorder.jobs.results import Syncing, write_result

    def syncing_threads() -> int:
        return sum(t.name == 'eoorder-fsync' for t in threading.enumerate())

    for number in range(3):
        write_result(tmp_path / f'job-{number}', None, {'n': number})[2].wait()
    unsyncable, pipe_end = os.pipe()
    with pytest.raises(OSError):
        Syncing(unsyncable).wait()
    os.close(pipe_end)
    write_result(tmp_path / 'after', None, {'n': 'after'})[2].wait()
    assert syncing_threads() == 1
    assert json.loads((tmp_path / 'after' / 'results' / 'result.json').read_text()) == {
        'n': 'after'}
    reader, writer = os.pipe()
    child = os.fork()
    if child == 0:  # (the parent's thread is not in the child: it starts its own)
        try:
            write_result(tmp_path / 'child', None, {'n': 'child'})[2].wait()
            os.write(writer, str(syncing_threads()).encode())
        finally:
            os._exit(0)
    os.close(writer)
    assert os.read(reader, 8) == b'1'
    os.waitpid(child, 0)
    assert json.loads((tmp_path / 'child' / 'results' / 'result.json').read_text()) == {
        'n': 'child'}


@pytest.mark.parametrize('planted', ['link', 'fifo'])
def test_the_result_document_replaces_a_link_or_fifo_a_process_left_in_its_place(
        tmp_path, planted):
    """A link where the result document (or another file written in place) goes, e.g.
    among a workflow's outputs, is replaced, never written through; a FIFO there is
    replaced, never waited on."""
    from pygeoapi_eoorder.jobs.results import write_in_place, write_result
    outside = tmp_path / 'outside.txt'
    outside.write_text('host file')
    place = tmp_path / 'job' / 'results' / 'result.json'
    place.parent.mkdir(parents=True)
    if planted == 'link':
        place.symlink_to(outside)
    else:
        os.mkfifo(place)
    name, _, syncing = write_result(tmp_path / 'job', None, {'files': []})
    syncing.wait()
    assert outside.read_text() == 'host file'
    assert not place.is_symlink() and place.read_text() == '{"files": []}'
    beside = place.parent / 'catalog.json'  # (files written in place alike)
    if planted == 'link':
        beside.symlink_to(outside)
    else:
        os.mkfifo(beside)
    write_in_place({beside: b'{}'})
    assert outside.read_text() == 'host file' and beside.read_bytes() == b'{}'


def test_file_work_left_to_a_thread_is_on_disk_before_the_job_succeeds(store_url, tmp_path):
    """What a job leaves to a thread of its own (`JobContext.in_background`, e.g. its
    STAC catalog) is waited for in the completing transaction: written whole before the
    job is successful, and a failure there fails the job with nothing committed."""
    from pygeoapi_eoorder.execution.context import Completion
    from pygeoapi_eoorder.jobs.results import write_in_background
    jobs, job_id = _running(store_url)
    completion = Completion()
    ctx = JobContext(jobs, jobs.get(job_id), tmp_path / job_id, None, None, '',
                     completion=completion)
    files = {tmp_path / 'out' / job_id / 'item.json': b'{"id": 1}' * 5000,
             tmp_path / 'out' / 'catalog.json': b'{}'}
    ctx.in_background(write_in_background(files))
    ctx.on_success(_writer(store_url, f'{job_id}/a'))
    assert jobs.finish(job_id, SUCCESSFUL, also=completion.writes)
    assert {path: path.read_bytes() for path in files} == files
    _, other = _running(store_url)
    completion = Completion()
    ctx = JobContext(jobs, jobs.get(other), tmp_path / other, None, None, '',
                     completion=completion)
    (tmp_path / 'blocked').write_text('a file where its directory should be')
    ctx.in_background(write_in_background({tmp_path / 'blocked' / 'item.json': b'{}'}))
    ctx.on_success(_writer(store_url, f'{other}/a'))
    with pytest.raises(OSError):
        jobs.finish(other, SUCCESSFUL, also=completion.writes)
    assert jobs.get(other)['status'] == RUNNING
    assert _identifiers(store_url) == [f'{job_id}/a']


def test_a_jobs_file_work_is_done_before_its_worker_lets_go_of_it(tmp_path):
    """Whatever the job's end (failed or dismissed: nobody waited in a completing
    transaction), `settle` waits for its threads' file work, and swallows their errors;
    a context that no engine completes waits at once."""
    from pygeoapi_eoorder.execution.context import Completion
    from pygeoapi_eoorder.jobs.results import InBackground

    def late(path):
        def write():
            time.sleep(0.3)
            path.write_text('{}')
        return write

    def broken():
        raise OSError('the disk went away')

    completion = Completion()
    completion.background += [InBackground(late(tmp_path / 'late.json'), 'late'),
                              InBackground(broken, 'broken')]
    completion.settle()
    assert (tmp_path / 'late.json').read_text() == '{}'
    JobContext(None, {'id': 'x'}, tmp_path, None, None, '').in_background(
        InBackground(late(tmp_path / 'alone.json'), 'alone'))
    assert (tmp_path / 'alone.json').read_text() == '{}'


def test_without_an_engine_a_write_is_made_at_once_unless_the_job_ended(store_url, tmp_path):
    """A context nobody completes (e.g. a process run inside an order item) writes at
    once, in a transaction that reads the job's status."""
    jobs, running = _running(store_url)
    _, dismissed = _running(store_url)
    assert jobs.transition(dismissed, DISMISSED)
    told = []
    for job_id in (running, dismissed):
        ctx = JobContext(jobs, jobs.get(job_id), tmp_path / job_id, None, None, '')
        ctx.on_success(_writer(store_url, f'{job_id}/a'), lambda: told.append(job_id))
    assert _identifiers(store_url) == [f'{running}/a']
    assert told == [running]


@pytest.fixture(scope='module')
def site(tmp_path_factory):
    results = yaml.safe_load(LOCAL_CONFIG.read_text())['resources']['results']
    server = Server(tmp_path_factory.mktemp('completion'),
                    {'jobs': {'workers': 2}, 'catalogue': {'results_collection': 'results'}},
                    resources={**TEST_PROCESSES, 'registering': REGISTERING,
                               'results': results}).start()
    yield server
    server.stop()


def _results(server, job_id: str) -> list[str]:
    items = requests.get(f'{server.url}/collections/results/items', timeout=10).json()
    return sorted(f['id'] for f in items['features'] if f['id'].startswith(f'{job_id}/'))


def test_a_successful_job_has_its_records(site):
    job_id = site.submit('registering', {})
    assert site.wait_for(job_id)['status'] == 'successful'
    assert _results(site, job_id) == [f'{job_id}/scene']
    log = requests.get(f'{site.url}/jobs/{job_id}/log', timeout=10).text
    assert 'registered 1 STAC item(s)' in log


def test_a_failing_completion_write_fails_the_job_and_registers_nothing(site):
    job_id = site.submit('registering', {'fail_after': True})
    job = site.wait_for(job_id)
    assert job['status'] == 'failed'
    assert 'the second completion write failed' in job['message']
    assert _results(site, job_id) == []


def test_work_left_for_once_the_result_is_written_runs_before_the_job_ends(site):
    """A step a job leaves for once its result document is written
    (`JobContext.once_result_written`, e.g. an openEO job's STAC catalog and records) runs
    after that document is on its way to disk and before the job ends: its records come
    with the success; a step that fails fails the job, and nothing is registered."""
    job_id = site.submit('registering', {'after_result': True})
    assert site.wait_for(job_id)['status'] == 'successful'
    assert _results(site, job_id) == [f'{job_id}/scene']
    log = requests.get(f'{site.url}/jobs/{job_id}/log', timeout=10).text
    assert 'result document written before this step: True' in log
    assert log.index('registered 1 STAC item(s)') < log.index('job complete')
    failing = site.submit('registering', {'fail_after_result': True})
    job = site.wait_for(failing)
    assert job['status'] == 'failed'
    assert 'the step once the result was written failed' in job['message']
    assert _results(site, failing) == []


def test_a_job_dismissed_after_it_registered_leaves_no_records(site, tmp_path):
    hold = tmp_path / 'hold'
    hold.write_text('')
    job_id = site.submit('registering', {'hold_file': str(hold)})
    site.wait_for(job_id, ('running',))
    log = f'{site.url}/jobs/{job_id}/log'
    for _ in range(200):
        if 'registered 1 STAC item(s)' in requests.get(log, timeout=10).text:
            break
        time.sleep(0.05)
    else:
        raise AssertionError('the job never registered its item')
    assert requests.delete(f'{site.url}/jobs/{job_id}', timeout=30).status_code == 200
    hold.unlink()
    assert site.wait_for(job_id)['status'] == 'dismissed'
    assert _results(site, job_id) == []


def test_a_changed_record_replaces_the_stored_one_unchanged_ones_stay(store_url):
    """Registering again (a requeued job): a changed record is replaced, columns and
    document, an unchanged one is kept, another owner's is refused."""
    from pygeoapi_eoorder.catalogue.visibility import PRIVATE, Ownership
    records = RecordRepository(store_url, 'results')
    alice, bob = (Ownership(owner=name, visibility=PRIVATE) for name in ('alice', 'bob'))
    first = [_record('j/a'), _record('j/b')]
    assert records.upsert(first, alice).inserted == 2
    changed = _record('j/a')
    changed['properties'].update(title='second run', cloudCover=7.5)
    with get_store(store_url).write_engine.begin() as connection:
        result = records.upsert_on(connection, [changed, _record('j/b')], alice)
    assert (result.updated, result.unchanged, result.inserted) == (1, 1, 0)
    with get_store(store_url).write_engine.connect() as connection:
        stored = connection.execute(text(
            "SELECT title, cloud_cover, owner FROM eoorder_record WHERE identifier = 'j/a'")
        ).one()
    assert tuple(stored) == ('second run', 7.5, 'alice')
    with get_store(store_url).write_engine.begin() as connection:
        refused = records.upsert_on(connection, [_record('j/b')], bob)
    assert refused.refused == 1
    # one record at a time (what a job registers: its own statement), each way
    changed['properties'].update(title='third run')
    with get_store(store_url).write_engine.begin() as connection:
        alone = [records.upsert_on(connection, [document], alice)
                 for document in (_record('j/b'), changed, _record('j/c'))]
    assert [(r.unchanged, r.updated, r.inserted) for r in alone] == \
        [(1, 0, 0), (0, 1, 0), (0, 0, 1)]
    with get_store(store_url).write_engine.connect() as connection:
        titles = dict(connection.execute(text(
            "SELECT identifier, title FROM eoorder_record WHERE identifier LIKE 'j/%'")).all())
    assert titles['j/a'] == 'third run' and set(titles) == {'j/a', 'j/b', 'j/c'}


def _stored_provenance(url: str, job_id: str):
    """The job's provenance column, read with plain SQL (the JSON text parsed)."""
    with get_store(url).write_engine.connect() as connection:
        value = connection.execute(text('SELECT provenance FROM eoorder_job WHERE id = :id'),
                                   {'id': job_id}).scalar()
    return json.loads(value) if isinstance(value, str) else value


def test_a_claim_records_the_provenance_it_is_given_in_the_same_statement(store_url):
    jobs = JobRepository(get_store(store_url))
    job = jobs.add('echo', job_type='process', inputs={})
    facts = {'process': {'id': 'echo', 'kind': 'built-in', 'processor': 'Echo'}}
    claimed = jobs.claim_id(job['id'], 'w1', provenance=facts)
    assert claimed['status'] == 'running' and claimed['worker'] == 'w1'
    assert claimed['provenance'] == facts == _stored_provenance(store_url, job['id'])
    # a second claim (a duplicate delivery) gets nothing and changes nothing
    assert jobs.claim_id(job['id'], 'w2', provenance={'process': {'id': 'other'}}) is None
    assert _stored_provenance(store_url, job['id']) == facts
    # a claim without provenance keeps what the job had
    other = jobs.add('echo', job_type='process', inputs={})
    jobs.record_provenance(other['id'], {'images': [{'reference': 'a:1'}]})
    assert jobs.claim_id(other['id'], 'w1')['provenance'] == {'images': [{'reference': 'a:1'}]}


def test_a_running_jobs_provenance_names_its_process(make_server, tmp_path):
    """While the job runs (held by a file), its PROV document already has the process it
    runs as a prov:Plan with the facts the claim recorded (a built-in: its processor)."""
    server = make_server({'jobs': {'workers': 1}}, {'countdown': TEST_PROCESSES['countdown']})
    hold = tmp_path / 'hold'
    hold.touch()
    reply = requests.post(f'{server.url}/processes/countdown/execution', timeout=30,
                          json={'inputs': {'steps': 0, 'hold_file': str(hold)}},
                          headers={'Prefer': 'respond-async'})
    assert reply.status_code == 201, reply.text
    job_id = reply.json()['jobID']
    deadline = time.monotonic() + 60
    while requests.get(f'{server.url}/jobs/{job_id}', timeout=10).json()['status'] != 'running':
        assert time.monotonic() < deadline
        time.sleep(0.05)
    document = requests.get(f'{server.url}/jobs/{job_id}/prov', timeout=10).json()
    [plan] = [entity for entity in document['entity'].values()
              if entity['prov:type'] == 'prov:Plan']
    assert plan['prov:label'] == 'countdown'
    assert plan['eoorder:kind'] == 'built-in'
    assert plan['eoorder:processor'] == TEST_PROCESSES['countdown']['processor']['name']
    hold.unlink()


def test_when_the_process_facts_fail_the_claim_goes_on_without_them(store_url):
    """The supervisor asks the catalogue for the process facts its claim records; when
    that raises (a stub catalogue: a store failing on demand cannot be made here), the
    job is still claimed, keeping what it had (without `process`: its worker, seeing
    none, records it, and a failure there is the job's)."""
    class Failing:
        configured: dict = {}
        registry = None

        def resolve(self, *_):
            raise RuntimeError('the store is busy')

    supervisor = SimpleNamespace(runtime=SimpleNamespace(
        manager=SimpleNamespace(auth=None, catalogue=Failing())))
    jobs = JobRepository(get_store(store_url))
    job = jobs.add('echo', job_type='process', inputs={})
    jobs.record_provenance(job['id'], {'images': [{'reference': 'a:1'}]})
    facts = (lambda found: Supervisor.claim_provenance(supervisor, found))
    claimed = FairScheduler(jobs, QuotaPolicy({})).next_job('w', provenance=facts)
    assert claimed['id'] == job['id'] and claimed['status'] == 'running'
    assert claimed['provenance'] == {'images': [{'reference': 'a:1'}]}


def test_a_worker_records_the_process_facts_its_claim_did_not(make_server):
    """A job claimed without process facts (a Celery claim, or a retry whose earlier
    attempt recorded facts of a process since redeployed) gets the facts of the process
    it runs now from its worker; facts the claim recorded are not written again."""
    server = make_server(None, {'countdown': TEST_PROCESSES['countdown']}, start=False)
    runtime = Components.for_config(str(server.config)).runtime()
    jobs = runtime.repo
    job = jobs.add('countdown', job_type='process', inputs={'steps': 0})
    stale = {'process': {'id': 'countdown', 'kind': 'deployed', 'packageDigest': 'sha256:0'}}
    jobs.record_provenance(job['id'], stale)
    run_job(runtime, jobs.claim_id(job['id'], 'w'))
    ended = jobs.get(job['id'])
    assert ended['status'] == 'successful', ended
    assert ended['provenance']['process'] == {
        'id': 'countdown', 'kind': 'built-in',
        'processor': TEST_PROCESSES['countdown']['processor']['name']}


@pytest.mark.parametrize('root_level', [logging.WARNING, logging.INFO, logging.DEBUG])
def test_a_job_log_holds_what_libraries_log_at_info_whatever_the_worker_s_level(
        tmp_path, root_level):
    """A job's log gets every logger's INFO lines (DEBUG too when the worker logs at
    DEBUG); the worker's own level is the same afterwards."""
    from pygeoapi_eoorder.jobs.worker import job_log
    root = logging.getLogger()
    before = root.level
    root.setLevel(root_level)
    try:
        with job_log(tmp_path / 'job.log') as log:
            log.info('job line')
            logging.getLogger('some.library').info('library line')
            logging.getLogger('some.library').debug('library detail')
        assert root.level == root_level
    finally:
        root.setLevel(before)
    text = (tmp_path / 'job.log').read_text()
    assert 'INFO eoorder.job: job line' in text
    assert 'INFO some.library: library line' in text
    assert ('library detail' in text) == (root_level == logging.DEBUG)


def test_a_job_process_logs_at_info_from_its_start_and_its_jobs_keep_the_level_caches(
        tmp_path):
    """A process that runs jobs drops its parent's handlers and admits INFO once; its
    jobs then leave every logger's cached level alone (setting a level at each job
    emptied the caches of hundreds of loggers)."""
    from pygeoapi_eoorder.jobs.worker import job_log, job_process_logging
    root = logging.getLogger()
    saved = root.level, list(root.handlers)
    parent = logging.StreamHandler()
    root.addHandler(parent)
    root.setLevel(logging.WARNING)
    try:
        job_process_logging()
        assert root.level == logging.INFO and parent not in root.handlers
        library = logging.getLogger('some.cached.library')
        assert library.isEnabledFor(logging.INFO)  # (cached now)
        with job_log(tmp_path / 'job.log'):
            library.info('library line')
        assert library._cache == {logging.INFO: True}, 'a job emptied the level caches'
        assert root.level == logging.INFO
    finally:
        root.handlers[:] = saved[1]
        root.setLevel(saved[0])
    assert 'INFO some.cached.library: library line' in (tmp_path / 'job.log').read_text()


@pytest.mark.parametrize('running_limit', [None, 1])
def test_a_claim_tells_how_many_jobs_of_all_users_stay_queued(store_url, running_limit):
    """`next_job` says how many queued jobs its read saw left after its claim (0: none;
    the local supervisor reads the store for the next claim only while some are);
    expected counts from the jobs added here. A job that may not start yet (its user is
    at the running-jobs limit) still counts as queued."""
    jobs = JobRepository(get_store(store_url))
    scheduler = FairScheduler(jobs, QuotaPolicy({'running_jobs': running_limit}))
    assert scheduler.next_job('w') is None and scheduler.queued_left == 0
    owners = ['alice', 'alice', 'bob', None]
    for owner in owners:
        jobs.add('echo', job_type='process', inputs={}, owner=owner)
    claimed, left = [], []
    while (job := scheduler.next_job('w')) is not None:
        claimed.append(job['owner'])
        left.append(scheduler.queued_left)
    held_back = 1 if running_limit == 1 else 0  # alice's second job waits for her first
    assert sorted(claimed, key=str) == sorted(owners[held_back:], key=str)
    assert left == list(range(len(owners) - 1, held_back - 1, -1))
    assert scheduler.queued_left == held_back


@pytest.mark.parametrize('case', ['succeeds', 'fails', 'dismissed while it ran'])
def test_a_worker_says_whether_it_ended_its_job(make_server, case):
    """`run_job` is True when it moved the job to a final status itself (the supervisor
    then has nothing to read or clean up), False when the job was dismissed meanwhile
    (its files are then the supervisor's to remove)."""
    server = make_server(None, {'countdown': TEST_PROCESSES['countdown']}, start=False)
    runtime = Components.for_config(str(server.config)).runtime()
    jobs = runtime.repo
    job = jobs.add('countdown', job_type='process',
                   inputs={'steps': 0, 'fail': case == 'fails'})
    claimed = jobs.claim_id(job['id'], 'w')
    if case == 'dismissed while it ran':
        assert jobs.dismiss(job['id']) == 'running'
    ended = run_job(runtime, claimed)
    assert ended == (case != 'dismissed while it ran')
    assert jobs.get(job['id'])['status'] == {
        'succeeds': 'successful', 'fails': 'failed', 'dismissed while it ran': 'dismissed'}[case]


def test_files_a_job_left_to_its_threads_are_published_with_its_results(make_server):
    """Where servers read results from the shared store (`result_store: database`),
    what the job's threads write is there too: the worker waits for them before it
    copies the results."""
    late = {'type': 'process', 'processor': {'name': 'tests.support.processes.LateFiles'}}
    server = make_server({'jobs': {'result_store': 'database'}}, {'late-files': late},
                         start=False)
    runtime = Components.for_config(str(server.config)).runtime()
    job = runtime.repo.add('late-files', job_type='process', inputs={})
    assert run_job(runtime, runtime.repo.claim_id(job['id'], 'w'))
    assert runtime.repo.get(job['id'])['status'] == SUCCESSFUL
    results = runtime.manager.results
    assert results.read(job['id'], 'results/late/late.json') == b'{"late": true}'
    assert json.loads(results.read(job['id'], 'results/result.json')) == {
        'written': 'late/late.json'}
