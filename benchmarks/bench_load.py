"""Client side of the benchmark: submitting jobs and checking that every one finishes.

Every loop is bounded by a count or a deadline, and every request by a timeout.
"""

from __future__ import annotations

import math
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import requests

EXECUTE_PATH = '/processes/noop/execution'
SUBMIT_HEADERS = {'Prefer': 'respond-async', 'Content-Type': 'application/json'}
SUBMIT_BODY = b'{"inputs": {}}'
FINAL = {'successful', 'failed', 'dismissed'}
MISSING = 'missing (404)'
REQUEST_TIMEOUT = 30.0
POLL_TIMEOUT = 10.0
POLL_PAUSE = 0.5
FINAL_ROUND_GRACE = 30.0


@dataclass
class Submission:
    """One async execute request: its duration and what came back."""

    seconds: float
    status: int | None  # None: no HTTP answer
    job_id: str | None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class Completion:
    """The last status seen for each submitted job, after waiting for them to finish."""

    statuses: dict[str, str]
    details: dict[str, str]
    seconds: float

    def count(self, *statuses: str) -> int:
        return sum(1 for status in self.statuses.values() if status in statuses)

    @property
    def not_final(self) -> int:
        return sum(1 for s in self.statuses.values() if s not in FINAL and s != MISSING)

    @property
    def lost(self) -> int:
        return len(self.statuses) - self.count('successful')

    def examples(self) -> dict[str, str]:
        """One job id and detail per status other than successful."""
        found: dict[str, str] = {}
        for job_id, status in self.statuses.items():
            if status != 'successful' and status not in found:
                found[status] = f'{job_id}: {self.details.get(job_id, "")}'.rstrip(': ')
        return found


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile (`pct` in 0..100); NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(1, math.ceil(pct / 100 * len(ordered))) - 1]


def submit(session: requests.Session, base_url: str) -> Submission:
    """POST one async execution; a success is 201 with a Location naming the job."""
    start = time.perf_counter()
    try:
        response = session.post(base_url + EXECUTE_PATH, data=SUBMIT_BODY,
                                headers=SUBMIT_HEADERS, timeout=REQUEST_TIMEOUT)
    except requests.RequestException as err:
        return Submission(time.perf_counter() - start, None, None,
                          f'{type(err).__name__}: {err}')
    seconds = time.perf_counter() - start
    location = response.headers.get('Location', '')
    job_id = location.rstrip('/').rsplit('/', 1)[-1] if '/jobs/' in location else None
    if response.status_code != 201:
        error = f'HTTP {response.status_code}: {response.text[:300]}'
    elif job_id is None:
        error = f'HTTP 201 without a job Location (Location: {location!r})'
    else:
        error = None
    return Submission(seconds, response.status_code, job_id, error)


def sequential(base_url: str, count: int,
               warmup: int) -> tuple[list[Submission], list[Submission]]:
    """`warmup` then `count` submissions one after another; returns (warm-up, measured)."""
    with requests.Session() as session:
        warm = [submit(session, base_url) for _ in range(warmup)]
        measured = [submit(session, base_url) for _ in range(count)]
    return warm, measured


def concurrent(base_url: str, clients: int, duration: float,
               total: int | None = None) -> tuple[list[Submission], float]:
    """`clients` threads submit until `duration` passes (or `total` are sent).

    Returns the submissions and the elapsed wall time.
    """
    deadline = time.monotonic() + duration
    quota = math.ceil(total / clients) if total else None
    stop = threading.Event()
    results: list[list[Submission]] = [[] for _ in range(clients)]

    def client(out: list[Submission]) -> None:
        with requests.Session() as session:
            while (not stop.is_set() and time.monotonic() < deadline
                   and (quota is None or len(out) < quota)):
                out.append(submit(session, base_url))

    threads = [threading.Thread(target=client, args=(out,), daemon=True) for out in results]
    start = time.perf_counter()
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()) + REQUEST_TIMEOUT + 5)
    finally:
        stop.set()
    elapsed = time.perf_counter() - start
    return [s for out in results for s in out], elapsed


def _job_status(session: requests.Session, base_url: str, job_id: str) -> tuple[str, str]:
    """(status, detail) of one job from GET /jobs/{id}."""
    try:
        response = session.get(f'{base_url}/jobs/{job_id}', timeout=POLL_TIMEOUT,
                               headers={'Accept': 'application/json'})
    except requests.RequestException as err:
        return 'no answer', f'{type(err).__name__}: {err}'
    if response.status_code == 404:
        return MISSING, response.text[:300]
    if response.status_code != 200:
        return f'HTTP {response.status_code}', response.text[:300]
    try:
        body = response.json()
    except ValueError:
        return 'unreadable', response.text[:300]
    return str(body.get('status')), str(body.get('message') or '')


def await_completion(base_url: str, job_ids: list[str], timeout: float,
                     clients: int) -> Completion:
    """Poll GET /jobs/{id} until every job is final or missing, or `timeout` passes.

    A full round over the pending jobs is only made once the newest pending one is
    final (and once more at the deadline), so that polling takes little from the server
    while it works off its queue.
    """
    start = time.monotonic()
    deadline = start + timeout
    hard_deadline = deadline + FINAL_ROUND_GRACE
    statuses = {job_id: 'never checked' for job_id in job_ids}
    details: dict[str, str] = {}
    local = threading.local()
    sessions: list[requests.Session] = []

    def check(job_id: str) -> None:
        if time.monotonic() >= hard_deadline:
            return
        if not hasattr(local, 'session'):
            local.session = requests.Session()
            sessions.append(local.session)
        statuses[job_id], details[job_id] = _job_status(local.session, base_url, job_id)

    def settled(job_id: str) -> bool:
        return statuses[job_id] in FINAL or statuses[job_id] == MISSING

    pending = list(statuses)
    with ThreadPoolExecutor(max_workers=clients) as pool:
        while pending:
            last_round = time.monotonic() >= deadline
            if not last_round:
                check(pending[-1])
                if not settled(pending[-1]):
                    time.sleep(POLL_PAUSE)
                    continue
            list(pool.map(check, pending))
            pending = [job_id for job_id in pending if not settled(job_id)]
            if last_round:
                break
            if pending:
                time.sleep(POLL_PAUSE)
    for session in sessions:
        session.close()
    return Completion(statuses, details, time.monotonic() - start)
