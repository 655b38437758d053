"""What the HTTP client itself costs per request on this machine, whatever the server.

The benchmarks' client is `requests` (one keep-alive session), as the openeo Python
client's is. Here it talks to a bare socket server on loopback that answers every request
at once with a fixed 201 and no body (no framework, no application): the round trip is
the client library's own work plus the loopback's, which no server can take off a job's
two requests (create, start).
"""

from __future__ import annotations

import socket
import statistics
import threading
import time
from typing import Callable

import requests

ANSWER = (b'HTTP/1.1 201 CREATED\r\nLocation: http://127.0.0.1/jobs/0\r\n'
          b'Content-Length: 0\r\n\r\n')


def _read_until(connection: socket.socket, pending: bytes,
                enough: Callable[[bytes], bool]) -> bytes | None:
    """`pending` and what `connection` sends next, until `enough` of it (None: closed)."""
    while not enough(pending):
        data = connection.recv(65536)
        if not data:
            return None
        pending += data
    return pending


def _answer_each(connection: socket.socket) -> None:
    """Answer each request on `connection` (its head and its Content-Length body)."""
    pending = b''
    with connection:
        while (pending := _read_until(connection, pending,
                                      lambda got: b'\r\n\r\n' in got)) is not None:
            head, _, pending = pending.partition(b'\r\n\r\n')
            length = next((int(line.split(b':', 1)[1]) for line in head.split(b'\r\n')
                           if line.lower().startswith(b'content-length:')), 0)
            pending = _read_until(connection, pending, lambda got: len(got) >= length)
            if pending is None:
                return
            pending = pending[length:]
            connection.sendall(ANSWER)


def _serve(listener: socket.socket) -> None:
    while True:
        try:
            connection, _ = listener.accept()
        except OSError:  # closed
            return
        threading.Thread(target=_answer_each, args=(connection,), daemon=True).start()


def p50_after_idle(call: Callable[[], object], count: int = 100, idle: float = 0.02) -> float:
    """p50 ms of `call()`, each after `idle` seconds (as a job's requests come after the
    client's pauses)."""
    times = []
    for _ in range(count):
        time.sleep(idle)
        began = time.perf_counter()
        call()
        times.append(time.perf_counter() - began)
    return statistics.median(times) * 1000


def client_round_trip(body: dict, count: int = 100, idle: float = 0.02) -> float:
    """p50 ms of a `requests` POST of the JSON `body` to the bare server (see
    `p50_after_idle`)."""
    listener = socket.create_server(('127.0.0.1', 0))
    threading.Thread(target=_serve, args=(listener,), daemon=True).start()
    url = f'http://127.0.0.1:{listener.getsockname()[1]}/jobs'
    try:
        with requests.Session() as session:
            return p50_after_idle(
                lambda: session.post(url, json=body, timeout=10).raise_for_status(),
                count, idle)
    finally:
        listener.close()
