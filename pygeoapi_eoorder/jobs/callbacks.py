"""Subscriber callbacks (successUri, inProgressUri, failedUri) of OGC API - Processes."""

from __future__ import annotations

import logging

import requests
from pygeoapi.util import is_request_allowed


def send(url: str | None, payload: dict, *, timeout: float, allow_internal: bool,
         logger: logging.Logger) -> bool:
    """POST `payload` as JSON to `url`; failures are logged to the job log, never raised."""
    if not url:
        return False
    if not is_request_allowed(url, allow_internal):
        logger.warning('callback to %s refused: internal addresses are not allowed for this '
                       'process (set allow_internal_requests: true on it)', url)
        return False
    try:
        reply = requests.post(url, json=payload, timeout=timeout, allow_redirects=False)
        logger.info('callback %s answered %s', url, reply.status_code)
        return reply.ok
    except requests.RequestException as err:
        logger.warning('callback %s failed: %s', url, err)
        return False
