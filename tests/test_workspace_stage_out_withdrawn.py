"""A job's stage-out whose area is withdrawn while it writes (its order cancelled or the
job dismissed: `job_areas.discard` removes what it listed and gives the booking back,
before the job's worker is stopped): what the stage-out writes after that goes too, and
the usage stays what the workspace holds. Real store (SQLite), real directory storage;
the discard is run between two uploads of the stage-out (the moment of the race, made
deterministic). Oracle: the storage's files on disk and the store's usage row."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import pytest
import yaml
from sqlalchemy import insert, select

from pygeoapi_eoorder.config import load
from pygeoapi_eoorder.execution.errors import ExecutionError
from pygeoapi_eoorder.processes import workspace_stage_out
from pygeoapi_eoorder.store import get_store, utcnow
from pygeoapi_eoorder.workspaces import bookings, job_areas, make_storage
from pygeoapi_eoorder.workspaces.service import WorkspaceService
from pygeoapi_eoorder.workspaces.tables import WORKSPACE
from tests.conftest import REPO


def test_what_a_stage_out_writes_after_its_area_was_withdrawn_goes_uncounted(tmp_path):
    config = yaml.safe_load((REPO / 'config' / 'local.yml').read_text())
    config['eoorder']['data_dir'] = str(tmp_path / 'data')
    (tmp_path / 'config.yml').write_text(yaml.safe_dump(config))
    _, settings = load(tmp_path / 'config.yml')
    block = settings.block['workspaces']
    service = WorkspaceService(settings.store_url, make_storage(block['storage'],
                                                                settings.data_dir),
                               None, block)
    with get_store(settings.store_url).write() as session:
        session.execute(insert(WORKSPACE).values(id='w', owner='alice', quota_bytes=10_000,
                                                 personal=False, created=utcnow(),
                                                 used_bytes=0))
    with get_store(settings.store_url).read() as session:
        workspace = service._load(session, 'w')
    job_dir = tmp_path / 'job'
    (job_dir / 'results' / 'out').mkdir(parents=True)
    for name, size in (('a.bin', 300), ('b.bin', 500)):
        (job_dir / 'results' / 'out' / name).write_bytes(b'x' * size)
    ctx = SimpleNamespace(settings=settings, job_id='job1', job_dir=job_dir,
                          base_url='http://localhost', log=logging.getLogger('test'),
                          job={'owner': 'alice', 'details': {}})
    put, calls = service.storage.put, []
    stored = settings.data_dir / block['storage']['directory']

    def job_files() -> list[str]:
        return sorted(p.name for p in stored.rglob('*') if p.is_file() and 'job1' in str(p))

    def put_after_a_withdrawal(workspace_id, key, stream):
        calls.append(key)
        if len(calls) == 2:  # the cancel lands between the two uploads
            assert job_files() == ['a.bin']
            job_areas.discard(service, workspace_id, ['job1'])
            assert job_files() == []
        return put(workspace_id, key, stream)
    service.storage.put = put_after_a_withdrawal
    with pytest.raises(ExecutionError, match='withdrawn'):
        workspace_stage_out.stage_out(ctx, {'out': {'href': 'http://localhost/jobs/job1/'
                                                    'results/out'}}, (service, workspace))
    assert calls == ['jobs/job1/out/a.bin', 'jobs/job1/out/b.bin']
    assert job_files() == []
    with get_store(settings.store_url).read() as session:
        assert session.execute(select(WORKSPACE.c.used_bytes).where(
            WORKSPACE.c.id == 'w')).scalar_one() == 0
    assert bookings.open_of(settings.store_url, 'w') == []
