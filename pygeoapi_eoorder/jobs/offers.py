"""Offering a started job straight to the idle worker on call (the local engine).

A server that queued one job sends its head to the offer socket (`run/offer.sock`)
besides waking the supervisor. While its queue is empty the supervisor keeps one idle
worker on call, listening there (`Supervisor.call_in`): that worker claims the job
itself, without the supervisor between the start and the job, and tells the supervisor
it took it. An offer is a hint: the claim takes only a queued job never claimed before,
and an offer older than `FRESH_SECONDS` is dropped (by then the supervisor's looks, once
a quarter second, have found the job).
"""

from __future__ import annotations

import socket
import time

from ..config import Settings
from . import supervisor_control as control

FRESH_SECONDS = 1.0


def offer_address(settings: Settings) -> str:
    return control.socket_address(settings, settings.run_dir / 'offer.sock', 'offer')


def offer(settings: Settings, job: dict) -> bool:
    """Offer the queued job `job` to the worker on call; True if the socket took it (a
    worker may or may not be listening)."""
    message = control.wake_up_message(job, offered=time.time())
    return message != b'!' and control.send_datagram(offer_address(settings), message)


def take(sock: socket.socket) -> dict | None:
    """The head of the next offer waiting on `sock` if it is fresh; None if there was
    none, or it was stale or malformed."""
    try:
        message = sock.recv(control.MAX_WAKE_UP)
    except (BlockingIOError, InterruptedError):
        return None
    head = control.announced_head([message])
    offered = head.get('offered') if head else None
    if not isinstance(offered, (int, float)) or isinstance(offered, bool) or \
            not 0 <= time.time() - offered <= FRESH_SECONDS:
        return None
    return head
