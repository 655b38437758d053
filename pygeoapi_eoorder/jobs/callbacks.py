"""Job notifications through the notification service: the subscriber callbacks of OGC API
- Processes (successUri, inProgressUri, failedUri; http(s) or mailto:) and the response
handlers a protocol stored with the job (`subscriber.handlers`, e.g. WPS
`ows:ResponseHandler`), rendered at the end by the message format the protocol named."""

from __future__ import annotations

import logging
from typing import Callable

from ..notifications import Message, Notifier

# a protocol's final message of a job: (job, base_url) -> Message
MessageFormat = Callable[[dict, str], Message]
INTERNAL_HINT = ('internal addresses are not allowed for this process unless it sets '
                 'allow_internal_requests: true')


def send(url: str | None, payload: dict, *, timeout: float, allow_internal: bool,
         logger: logging.Logger, block: dict | None = None,
         subject: str | None = None) -> bool:
    """Send `payload` (a JSON document) to `url` under the egress policy of `block` (the
    eoorder block; widened by the process's `allow_internal_requests`): POSTed to a
    webhook, attached to an e-mail for mailto:. Failures are logged, never raised."""
    if not url:
        return False
    subject = subject or f"Job {payload.get('jobID', '')} {payload.get('status', '')}".strip()
    text = f'{subject}.\n\nThe JSON document is attached.\n'
    return Notifier(block, timeout).send(url, Message.of_json(subject, text, payload),
                                         allow_internal, logger, 'callback', INTERNAL_HINT)


def handlers_of(job: dict) -> list[dict]:
    """The response handlers stored with a job (`[{uri, format}]`)."""
    handlers = (job.get('subscriber') or {}).get('handlers')
    return [h for h in handlers or [] if isinstance(h, dict) and h.get('uri')]


def tell_handlers(job: dict, base_url: str, formats: dict[str, MessageFormat], *,
                  timeout: float, allow_internal: bool, logger: logging.Logger,
                  block: dict | None = None) -> None:
    """Send a finished job's final message to each of its response handlers."""
    handlers = handlers_of(job)
    if not handlers:
        return
    notifier = Notifier(block, timeout)
    for handler in handlers:
        render = formats.get(str(handler.get('format')))
        if render is None:
            logger.warning('no message format %r for the handler %s: not notified',
                           handler.get('format'), handler['uri'])
            continue
        try:
            message = render(job, base_url)
        except Exception as err:  # a notification never fails the job
            logger.warning('the message to %s could not be built: %s', handler['uri'], err)
            continue
        notifier.send(handler['uri'], message, allow_internal, logger, 'notification',
                      INTERNAL_HINT)
