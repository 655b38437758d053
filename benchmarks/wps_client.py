"""Client side of the WPS benchmark: timed WPS 1.0.0 requests and answer checks.

Every check is made against the answer's XML (and, after the timed loops, against the
official WPS 1.0.0 schema shipped in pygeoapi_eoorder/schemas/ogc), never against what
the server under test says about itself.
"""

from __future__ import annotations

import functools
import math
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import requests
from lxml import etree

WPS = 'http://www.opengis.net/wps/1.0.0'
OWS = 'http://www.opengis.net/ows/1.1'
NS = {'wps': WPS, 'ows': OWS}
SCHEMAS = Path(__file__).resolve().parents[1] / 'pygeoapi_eoorder' / 'schemas' / 'ogc'
TIMEOUT = 30.0
RUNNING = ('ProcessAccepted', 'ProcessStarted', 'ProcessPaused')
SUCCEEDED = 'ProcessSucceeded'
FAILED = 'ProcessFailed'
NO_ANSWER = 'no answer'


def process_ids(count: int) -> list[str]:
    """The process identifiers both servers use: noop_000 ... noop_{count-1}."""
    return [f'noop_{i:03d}' for i in range(count)]


def execute_body(process_id: str) -> bytes:
    """An async WPS 1.0.0 Execute: stored response with status updates, one literal input."""
    return (f'<wps:Execute xmlns:wps="{WPS}" xmlns:ows="{OWS}" service="WPS" version="1.0.0">'
            f'<ows:Identifier>{process_id}</ows:Identifier><wps:DataInputs><wps:Input>'
            '<ows:Identifier>note</ows:Identifier><wps:Data><wps:LiteralData>bench'
            '</wps:LiteralData></wps:Data></wps:Input></wps:DataInputs><wps:ResponseForm>'
            '<wps:ResponseDocument storeExecuteResponse="true" status="true"><wps:Output>'
            '<ows:Identifier>result</ows:Identifier></wps:Output></wps:ResponseDocument>'
            '</wps:ResponseForm></wps:Execute>').encode()


class _Shipped(etree.Resolver):
    """Resolves the schemas' http:// imports to the copies shipped with the package."""

    def resolve(self, url, pubid, context):
        for scheme in ('http://', 'https://'):
            path = SCHEMAS / url[len(scheme):] if url.startswith(scheme) else None
            if path is not None and path.is_file():
                return self.resolve_filename(str(path), context)
        return None


@functools.lru_cache(maxsize=1)
def schema() -> etree.XMLSchema:
    parser = etree.XMLParser(no_network=True)
    parser.resolvers.add(_Shipped())
    root = SCHEMAS / 'schemas.opengis.net' / 'wps' / '1.0.0' / 'wpsAll.xsd'
    return etree.XMLSchema(etree.parse(str(root), parser))


def schema_errors(bodies: list[bytes], root_tag: str) -> list[str]:
    """Why each body is not a schema-valid WPS 1.0.0 `root_tag` document (empty: all are)."""
    errors = []
    for body in bodies:
        try:
            root = etree.fromstring(body)
        except etree.XMLSyntaxError as err:
            errors.append(f'not XML: {err}')
            continue
        if root.tag != f'{{{WPS}}}{root_tag}':
            errors.append(f'{root.tag} instead of {root_tag}: {body[:200]!r}')
        elif not schema().validate(root):
            errors.append(str(schema().error_log.last_error).split(':', 4)[-1])
    return errors


@dataclass
class Timed:
    """One request: its duration, HTTP status, body and what was wrong with it (if anything)."""

    seconds: float
    status: int | None
    body: bytes = b''
    error: str | None = None
    status_location: str | None = None


def _get(session: requests.Session, url: str, params: dict | None = None) -> Timed:
    start = time.perf_counter()
    try:
        reply = session.get(url, params=params, timeout=TIMEOUT)
    except requests.RequestException as err:
        return Timed(time.perf_counter() - start, None, error=f'{type(err).__name__}: {err}')
    seconds = time.perf_counter() - start
    error = None if reply.status_code == 200 else f'HTTP {reply.status_code}'
    return Timed(seconds, reply.status_code, reply.content, error)


def submit(session: requests.Session, url: str, body: bytes) -> Timed:
    """POST an async Execute; a success is 200 with an ExecuteResponse, a status and a
    statusLocation."""
    start = time.perf_counter()
    try:
        reply = session.post(url, data=body, timeout=TIMEOUT,
                             headers={'Content-Type': 'text/xml'})
    except requests.RequestException as err:
        return Timed(time.perf_counter() - start, None, error=f'{type(err).__name__}: {err}')
    done = Timed(time.perf_counter() - start, reply.status_code, reply.content)
    try:
        root = etree.fromstring(reply.content)
    except etree.XMLSyntaxError:
        root = None
    if reply.status_code != 200 or root is None or root.tag != f'{{{WPS}}}ExecuteResponse':
        done.error = f'HTTP {reply.status_code}: {reply.text[:200]}'
    elif not root.get('statusLocation'):
        done.error = 'ExecuteResponse without statusLocation'
    elif _status_name(root) not in (*RUNNING, SUCCEEDED):
        done.error = f'status {_status_name(root)}'
    done.status_location = root.get('statusLocation') if root is not None else None
    return done


def sequential(call, count: int, warmup: int) -> list[Timed]:
    """`warmup` unmeasured then `count` measured calls of `call(session)`, one at a time."""
    with requests.Session() as session:
        for _ in range(warmup):
            call(session)
        return [call(session) for _ in range(count)]


def kvp(url: str, **params):
    """A call doing GET url?service=WPS&version=1.0.0&... ."""
    params = {'service': 'WPS', 'version': '1.0.0', **params}
    return lambda session: _get(session, url, params)


def concurrent_submits(url: str, body: bytes, total: int, clients: int) -> list[Timed]:
    """`total` async Executes sent by `clients` threads (each with its own session)."""
    local = threading.local()
    sessions: list[requests.Session] = []

    def one(_):
        if not hasattr(local, 'session'):
            local.session = requests.Session()
            sessions.append(local.session)
        return submit(local.session, url, body)

    with ThreadPoolExecutor(max_workers=clients) as pool:
        done = list(pool.map(one, range(total)))
    for session in sessions:
        session.close()
    return done


def _status_name(root) -> str | None:
    status = root.find(f'{{{WPS}}}Status')
    if status is None or not len(status):
        return None
    return etree.QName(status[0]).localname


@dataclass
class Completion:
    """The last status document seen at each status location, and when each was first
    seen final (seconds after `since`)."""

    states: dict[str, str] = field(default_factory=dict)
    bodies: dict[str, bytes] = field(default_factory=dict)
    finished: dict[str, float] = field(default_factory=dict)

    def count(self, state: str) -> int:
        return sum(1 for value in self.states.values() if value == state)

    @property
    def lost(self) -> int:
        return len(self.states) - self.count(SUCCEEDED)

    @property
    def seconds(self) -> float:
        """Until the last job was seen succeeded."""
        done = [self.finished[loc] for loc, state in self.states.items() if state == SUCCEEDED]
        return max(done) if done else math.nan

    @property
    def per_second(self) -> float:
        """Jobs seen succeeded per second (lost ones are counted apart)."""
        return self.count(SUCCEEDED) / self.seconds if self.count(SUCCEEDED) else math.nan


def _poll(session: requests.Session, location: str) -> tuple[str, bytes]:
    try:
        reply = session.get(location, timeout=TIMEOUT)
    except requests.RequestException as err:
        return NO_ANSWER, str(err).encode()
    if reply.status_code != 200:
        return f'HTTP {reply.status_code}', reply.content
    try:
        return _status_name(etree.fromstring(reply.content)) or 'no status', reply.content
    except etree.XMLSyntaxError:
        return 'not XML', reply.content


def await_all(locations: list[str], since: float, wait: float, clients: int,
              pause: float = 0.05, stall: float = 30.0) -> Completion:
    """Poll every status location until all are final, `wait` seconds pass, or no job
    became final for `stall` seconds (a job stuck in a queue).

    Both queues are first come, first served: each round polls the `clients` oldest
    pending jobs and the newest one, and all pending ones once the newest is final, so
    that polling takes little from the servers while they work.
    """
    found = Completion({loc: 'never checked' for loc in locations})
    deadline = time.perf_counter() + wait
    local = threading.local()
    sessions: list[requests.Session] = []

    def check(location: str) -> None:
        if not hasattr(local, 'session'):
            local.session = requests.Session()
            sessions.append(local.session)
        found.states[location], found.bodies[location] = _poll(local.session, location)
        if final(location):
            found.finished.setdefault(location, time.perf_counter() - since)

    def final(location: str) -> bool:
        return found.states[location] in (SUCCEEDED, FAILED)

    pending = list(locations)
    with ThreadPoolExecutor(max_workers=clients) as pool:
        progress = time.perf_counter()
        while pending and time.perf_counter() < min(deadline, progress + stall):
            check(pending[-1])
            batch = pending[:-1] if final(pending[-1]) else pending[:clients]
            list(pool.map(check, batch))
            still = [loc for loc in pending if not final(loc)]
            if len(still) < len(pending):
                progress = time.perf_counter()
            pending = still
            if pending:
                time.sleep(pause)
        if pending:  # given up: one last look at every job not seen final
            list(pool.map(check, pending))
    for session in sessions:
        session.close()
    return found
