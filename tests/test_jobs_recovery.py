"""No job stays accepted/running forever: crashes of the server and of workers."""

import os
import signal
import time

import requests


def wait_file(path, timeout=15):
    deadline = time.monotonic() + timeout
    while not path.exists() or not path.read_text():
        assert time.monotonic() < deadline, f'{path} never appeared'
        time.sleep(0.05)
    return int(path.read_text())


def test_server_crash_fails_interrupted_requeues_idempotent_runs_queued(make_server, tmp_path):
    server = make_server({'jobs': {'workers': 2}})
    plain = server.submit('countdown', {'steps': 400, 'delay': 0.1,
                                        'pid_file': str(tmp_path / 'a')})
    again = server.submit('countdown-idempotent', {'steps': 3, 'delay': 0.5,
                                                   'pid_file': str(tmp_path / 'b')})
    queued = server.submit('countdown', {'steps': 1})
    wait_file(tmp_path / 'a')
    wait_file(tmp_path / 'b')
    assert server.job(queued)['status'] == 'accepted'

    server.kill()
    server.start()

    failed = server.wait_for(plain)
    assert failed['status'] == 'failed'
    assert 'interrupted' in failed['message'] and 'crash or restart' in failed['message']
    retried = server.wait_for(again)
    assert retried['status'] == 'successful'
    assert server.wait_for(queued)['status'] == 'successful'
    log = requests.get(f'{server.url}/jobs/{again}/log', timeout=10).text
    assert 'attempt 1' in log and 'attempt 2' in log


def test_killed_worker_fails_its_job_and_is_replaced(make_server, tmp_path):
    server = make_server({'jobs': {'workers': 1}})
    job_id = server.submit('countdown', {'steps': 400, 'delay': 0.1,
                                         'pid_file': str(tmp_path / 'w')})
    os.kill(wait_file(tmp_path / 'w'), signal.SIGKILL)
    job = server.wait_for(job_id)
    assert job['status'] == 'failed'
    assert 'worker process died (signal 9)' in job['message']
    assert server.wait_for(server.submit('countdown', {'steps': 1}))['status'] == 'successful'


def test_graceful_restart_keeps_finished_jobs(make_server):
    server = make_server()
    done = server.submit('countdown', {'steps': 1})
    server.wait_for(done)
    server.stop()
    server.start()
    job = server.job(done)
    assert job['status'] == 'successful'
    assert requests.get(f'{server.url}/jobs/{done}/results', timeout=10).json()['value'] == 1


def test_supervisor_is_restarted_when_missing(make_server):
    """`eoorder serve` restarts a job engine that died, so queued work still runs."""
    server = make_server()
    lock = server.data_dir / 'run' / 'supervisor.lock'
    pid = int(lock.read_text().split()[0])
    os.kill(pid, signal.SIGKILL)
    job_id = server.submit('countdown', {'steps': 1})
    assert server.wait_for(job_id, timeout=60)['status'] == 'successful'
    new_pid = int(lock.read_text().split()[0])
    assert new_pid != pid
    with open(f'/proc/{new_pid}/stat') as fh:  # attached to `eoorder serve`, not detached
        assert int(fh.read().split(')')[-1].split()[1]) == server.process.pid


def test_graceful_stop_lets_jobs_finish_then_ends_the_rest(make_server, tmp_path):
    server = make_server({'jobs': {'workers': 2, 'shutdown_grace_seconds': 4}})
    short = server.submit('countdown', {'steps': 10, 'delay': 0.2,
                                        'pid_file': str(tmp_path / 's')})
    long = server.submit('countdown', {'steps': 400, 'delay': 0.1,
                                       'pid_file': str(tmp_path / 'l')})
    wait_file(tmp_path / 's')
    wait_file(tmp_path / 'l')
    os.killpg(server.process.pid, signal.SIGTERM)  # as Ctrl-C or a service manager would
    server.process.wait(30)
    server.start()
    assert server.wait_for(short)['status'] == 'successful'
    ended = server.wait_for(long)
    assert ended['status'] == 'failed'
    assert 'the server was stopped while it ran' in ended['message']
