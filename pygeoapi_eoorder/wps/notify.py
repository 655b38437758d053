"""WPS 2.0 push notification (Testbed-13 ER, OGC 17-024 §6.6.6): the `ows:ResponseHandler`
addresses of an asynchronous Execute, stored with the job, and the final message they get —
the job's `wps:StatusInfo` (POSTed to a webhook as application/xml with the monitor and
cancel controls in its Link header, attached to an e-mail that names the GetStatus and
GetResult URLs)."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import quote

from lxml import etree

from ..notifications import Message, NotificationRefused, Notifier
from . import v2
from .errors import WpsError
from .xmlns import XML_TYPE, serialize

FORMAT = 'wps-2.0'
FINAL = ('successful', 'failed', 'dismissed')


def handler_uris(extension: etree._Element | None) -> list[str]:
    """The text of every `ResponseHandler` inside `wps:Extension`."""
    if extension is None:
        return []
    return [(e.text or '').strip() for e in extension.iter()
            if isinstance(e.tag, str) and etree.QName(e).localname == 'ResponseHandler']


def checked_handlers(notifier: Notifier, uris: list[str], asynchronous: bool,
                     allow_internal: bool) -> list[dict]:
    """The handlers to store with the job; WPS exceptions for a synchronous execution,
    a scheme not offered, a malformed or refused address."""
    if not uris:
        return []
    if not asynchronous:
        raise WpsError('InvalidParameterValue', 'ows:ResponseHandler needs an asynchronous '
                       'execution (mode="async"): a synchronous Execute answers with the '
                       'result itself', 'mode')
    handlers = []
    for uri in uris:
        try:
            handlers.append({'uri': notifier.check(uri, allow_internal), 'format': FORMAT})
        except NotificationRefused as err:
            raise WpsError('OptionNotSupported' if err.unsupported
                           else 'InvalidParameterValue', str(err), 'ResponseHandler') from None
    return handlers


def endpoint(base_url: str) -> str:
    return f"{base_url.rstrip('/')}/wps"


def operation_url(base_url: str, operation: str, job_id: str) -> str:
    return (f'{endpoint(base_url)}?service=WPS&version=2.0.0&request={operation}'
            f'&jobId={quote(job_id)}')


def message_format(retention_seconds: float):
    """The `wps-2.0` message format of the job engine (see `jobs.callbacks`)."""
    def final_status(job: dict, base_url: str) -> Message:
        expiration = job['finished'] + timedelta(seconds=retention_seconds) \
            if job['status'] in FINAL and job.get('finished') else None
        status = v2.STATUS.get(job['status'], job['status'])
        lines = [f"WPS job {job['id']} ({job['process_id']}) ended: {status}.", '',
                 f"GetStatus: {operation_url(base_url, 'GetStatus', job['id'])}"]
        if job['status'] == 'successful':
            lines.append(f"GetResult: {operation_url(base_url, 'GetResult', job['id'])}")
        if job['status'] == 'failed' and job.get('message'):
            lines.append(f"Reason: {job['message']}")
        lines += ['', 'The final wps:StatusInfo is attached.']
        links = v2.links(operation_url(base_url, 'GetStatus', job['id']),
                         operation_url(base_url, 'Dismiss', job['id']))
        return Message(subject=f"WPS job {job['id']} {status}", text='\n'.join(lines) + '\n',
                       body=serialize(v2.status_info(job, expiration)),
                       content_type=XML_TYPE, filename='StatusInfo.xml',
                       headers={'Link': links})  # as the KVP/XML bindings answer
    return final_status
