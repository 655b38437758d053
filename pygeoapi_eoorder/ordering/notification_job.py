"""The built-in process that POSTs one notification to a client (`_oseo_notification`):
SubmitResponse, CancelResponse or GetQuotationResponse, as `notify.send` queued it."""

from __future__ import annotations

from lxml import etree
from pygeoapi.process.base import ProcessorExecuteError

from ..execution.context import JobProcessor
from .notify import post
from .settings import OrderingSettings

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True)
_TEXT = {'title': 'text', 'minOccurs': 1, 'schema': {'type': 'string'}}

METADATA = {
    'version': '1.0.0', 'id': '_oseo_notification', 'title': 'OSEO notification',
    'description': 'Sends one OSEO notification message to a client endpoint (internal).',
    'jobControlOptions': ['async-execute'], 'keywords': ['OSEO'], 'idempotent': True,
    'inputs': {'binding': _TEXT, 'url': _TEXT, 'action': _TEXT, 'message': _TEXT},
    'outputs': {'sent': {'title': 'sent', 'schema': {'type': 'boolean'}}},
}


class NotificationProcess(JobProcessor):
    def __init__(self, processor_def):
        super().__init__(processor_def, METADATA)

    def execute(self, data, outputs=None):
        ctx = self.context
        message = etree.fromstring(str(data['message']).encode(), _PARSER)
        if not post(OrderingSettings(ctx.settings), str(data['binding']), str(data['url']),
                    message, str(data['action']), ctx.log):
            raise ProcessorExecuteError(user_msg=f'{data["action"]} to {data["url"]} was not '
                                        'delivered (see the job log)')
        return 'application/json', {'sent': True}
