"""Crash safety: 1,000 OSEO orders and 1,000 process executions are submitted by concurrent
clients while the server (kill -9 of its whole process group) and the job workers (kill -9
of each worker process) are killed at random moments, and the server is restarted.

Afterwards every order and job the server accepted (SubmitAck / 201) exists exactly once
and reaches a final state, and every successful job's result is whole (it parses, and its
content matches its own digest): results are written then renamed."""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from lxml import etree

from ..support import oseo
from ..support.process_table import job_workers

# a load test measures the server under its own load: it runs alone, after the parallel
# part of the suite (scripts/test)
pytestmark = pytest.mark.serial


ORDERS = EXECUTIONS = 1000
CLIENTS = 8
PRODUCTS = [f'P{i}' for i in range(10)]
FINAL_JOB = ('successful', 'failed', 'dismissed')
FINAL_ORDER = ('Completed', 'Failed', 'Cancelled', 'Terminated', 'Downloaded')
SEED = int(os.environ.get('EOORDER_CRASH_SEED', random.randrange(1 << 30)))


class Load:
    """Clients submitting orders and executions; what the server accepted is recorded."""

    def __init__(self, server):
        self.server = server
        self.lock = threading.Lock()
        self.orders: dict[str, str] = {}     # order id -> our orderReference
        self.jobs: dict[str, str] = {}       # job id -> our tag
        self.sent = Counter()
        self.unanswered = Counter()          # no answer: the server was down
        self.errors: list[str] = []          # error replies: there must be none
        self.next = Counter()

    def _name(self, kind: str) -> str:
        with self.lock:
            self.next[kind] += 1
            return f'{kind}-{self.next[kind]}'

    def submit_order(self) -> None:
        reference = self._name('order')
        body = oseo.submit(oseo.item('1', random.choice(PRODUCTS)), reference=reference)
        self.sent['order'] += 1
        try:
            reply = requests.post(f'{self.server.url}/oseo', data=body.encode(), timeout=30,
                                  headers={'Content-Type': 'application/xml'})
        except requests.RequestException:
            self.unanswered['order'] += 1
            time.sleep(0.05)
            return
        if reply.status_code != 200:
            self.errors.append(f'Submit: {reply.status_code} {reply.text[:300]}')
            return
        order_id = etree.fromstring(reply.content).findtext('oseo:orderId', namespaces=oseo.NS)
        with self.lock:
            assert order_id not in self.orders
            self.orders[order_id] = reference

    def execute(self) -> None:
        tag = self._name('job')
        self.sent['job'] += 1
        try:
            reply = requests.post(f'{self.server.url}/processes/payload/execution',
                                  json={'inputs': {'tag': tag}}, timeout=30,
                                  headers={'Prefer': 'respond-async'})
        except requests.RequestException:
            self.unanswered['job'] += 1
            time.sleep(0.05)
            return
        if reply.status_code != 201:
            self.errors.append(f'execute: {reply.status_code} {reply.text[:300]}')
            return
        job_id = reply.json()['jobID']
        with self.lock:
            assert job_id not in self.jobs
            self.jobs[job_id] = tag

    def done(self) -> bool:
        return len(self.orders) >= ORDERS and len(self.jobs) >= EXECUTIONS

    def client(self, deadline: float) -> None:
        while not self.done() and time.monotonic() < deadline:
            want_order = len(self.orders) < ORDERS and (
                len(self.jobs) >= EXECUTIONS or random.random() < 0.5)
            (self.submit_order if want_order else self.execute)()


def _all(server, path: str, key: str, **params) -> list[dict]:
    found, offset = [], 0
    for _ in range(100):
        body = requests.get(f'{server.url}{path}', params={**params, 'limit': 1000,
                                                             'offset': offset}, timeout=30).json()
        found += body[key]
        offset += len(body[key])
        if not body[key] or offset >= body['numberMatched']:
            return found
    raise AssertionError('paging did not end')


def _job_workers_once_started(config, patience: float = 60) -> list[int]:
    deadline = time.monotonic() + patience
    while not (pids := job_workers(config)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return pids


def test_orders_and_jobs_survive_kill_9(make_server, tmp_path):
    random.seed(SEED)
    products = tmp_path / 'products'
    oseo.make_products(products, PRODUCTS)
    resources = {'payload': {'type': 'process',
                             'processor': {'name': 'tests.support.crash_processes.Payload'}}}
    server = make_server(oseo.eoorder_block(products, jobs={'workers': 3}), resources)
    load = Load(server)
    started = time.monotonic()
    deadline = started + 150
    kills: list[str] = []
    pool = ThreadPoolExecutor(CLIENTS)
    clients = [pool.submit(load.client, deadline) for _ in range(CLIENTS)]

    # the killer: at random moments while the clients run, alternately the whole server
    # and the workers alone; at least two of each
    plan = ['server', 'workers', 'server', 'workers', random.choice(['server', 'workers'])]
    for what in plan:
        accepted = len(load.orders) + len(load.jobs)
        goal = accepted + random.randint(150, 350)
        while len(load.orders) + len(load.jobs) < goal and not load.done() and \
                time.monotonic() < deadline:
            time.sleep(0.02)
        if load.done():
            break
        if what == 'server':
            server.kill()
            time.sleep(random.uniform(0, 0.5))
            server.start()
        else:
            # (a server just restarted answers before its supervisor has forked them)
            pids = _job_workers_once_started(server.config)
            assert pids, 'no job workers found within 60 s'
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        kills.append(f'{what} after {len(load.orders)} orders and {len(load.jobs)} jobs')
    for future in clients:
        future.result()
    pool.shutdown()
    # and once more with the queue still full: running jobs are interrupted
    pids = job_workers(server.config)
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    kills.append(f'{len(pids)} workers with the queue full')
    server.kill()
    server.start()
    kills.append('server with the queue full')
    print(f'\ncrash test (seed {SEED}): kills: {kills}; sent {dict(load.sent)}, '
          f'unanswered {dict(load.unanswered)}, error replies {len(load.errors)}; '
          f'load phase {time.monotonic() - started:.0f} s')
    assert not load.errors, load.errors[:5]
    assert len(load.orders) >= ORDERS and len(load.jobs) >= EXECUTIONS, \
        f'only {len(load.orders)} orders and {len(load.jobs)} jobs accepted'
    assert len(kills) >= 5

    # every job reaches a final state
    limit = time.monotonic() + 90
    while True:
        pending = requests.get(f'{server.url}/jobs', params={
            'status': 'accepted,running', 'limit': 1}, timeout=30).json()['numberMatched']
        if pending == 0:
            break
        assert time.monotonic() < limit, f'{pending} jobs still pending'
        time.sleep(0.5)
    jobs = _all(server, '/jobs', 'jobs', type='process')
    ids = Counter(job['jobID'] for job in jobs)
    assert not [i for i, n in ids.items() if n > 1], 'a job is listed twice'
    listed = {job['jobID']: job for job in jobs}
    missing = [job_id for job_id in load.jobs if job_id not in listed]
    assert not missing, f'{len(missing)} accepted jobs are lost, e.g. {missing[:3]}'
    statuses = Counter(job['status'] for job in listed.values())
    assert set(statuses) <= set(FINAL_JOB), statuses

    # every successful job's result is whole, on disk and as served
    checked = 0
    for job_id, job in listed.items():
        if job['status'] != 'successful':
            continue
        results = server.data_dir / 'jobs' / job_id / 'results'
        files = sorted(p.name for p in results.iterdir())
        assert files == ['result.json'], (job_id, files)  # no leftover temporary file
        document = json.loads((results / 'result.json').read_bytes())
        assert hashlib.sha256(document['data'].encode()).hexdigest() == document['sha256']
        if job_id in load.jobs:
            assert document['tag'] == load.jobs[job_id]
        checked += 1
    for job_id in random.sample(sorted(j for j in listed if listed[j]['status'] ==
                                       'successful'), min(50, checked)):
        served = requests.get(f'{server.url}/jobs/{job_id}/results', timeout=30).json()
        assert hashlib.sha256(served['data'].encode()).hexdigest() == served['sha256']
    assert checked >= EXECUTIONS // 2, statuses  # most of the work was done, not failed

    # every accepted order exists once and settles (GetStatus settles items whose job ended)
    orders = _all(server, '/orders', 'orders')
    references = Counter(order['reference'] for order in orders)
    assert not [r for r, n in references.items() if n > 1], 'an order was stored twice'
    by_id = {order['id']: order for order in orders}
    lost = [order_id for order_id in load.orders if order_id not in by_id]
    assert not lost, f'{len(lost)} accepted orders are lost, e.g. {lost[:3]}'
    for order_id, reference in load.orders.items():
        assert by_id[order_id]['reference'] == reference

    def settled(order_id: str) -> str:
        end = time.monotonic() + 60
        while True:
            reply = oseo.post(server, oseo.get_status(order_id, 'brief'))
            root = oseo.payload(reply)
            status = root.findtext('oseo:orderMonitorSpecification/oseo:orderStatusInfo/'
                                   'oseo:status', namespaces=oseo.NS)
            assert status, (order_id, reply.text[:1000])
            if status in FINAL_ORDER or time.monotonic() > end:
                return status
            time.sleep(0.2)

    unsettled = [order_id for order_id, order in by_id.items()
                 if order['status'] not in FINAL_ORDER]
    jobs_done = time.monotonic() - started
    with ThreadPoolExecutor(CLIENTS) as settle:
        final = {order_id: order['status'] for order_id, order in by_id.items()}
        final.update(zip(unsettled, settle.map(settled, unsettled)))
    order_statuses = Counter(final.values())
    stuck = [requests.get(f'{server.url}/orders/{order_id}', timeout=30).json()
             for order_id, status in final.items() if status not in FINAL_ORDER][:3]
    for order in stuck:
        order['accepted'] = order['id'] in load.orders
        for item in order.get('items', []):
            if item.get('jobID'):
                reply = requests.get(f'{server.url}/jobs/{item["jobID"]}', timeout=30)
                item['job'] = reply.json() if reply.status_code == 200 else reply.status_code
    print(f'jobs: {dict(statuses)}, {checked} results checked; orders: '
          f'{dict(order_statuses)} ({len(unsettled)} settled by GetStatus); jobs final '
          f'after {jobs_done:.0f} s, total {time.monotonic() - started:.0f} s')
    if stuck:
        print('stuck orders:', json.dumps(stuck, indent=1)[:6000])
    assert set(order_statuses) <= set(FINAL_ORDER), (order_statuses, stuck)
    assert order_statuses['Completed'] >= ORDERS // 2, order_statuses
