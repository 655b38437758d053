"""OSEO operations: each module answers one request element with one response element."""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from ...ordering.service import OrderService
from ...ordering.soap import Message


@dataclass
class Call:
    """One operation call: the request, who made it, and the services it may use."""

    message: Message
    service: OrderService
    owner: str | None
    base_url: str
    user: object = None
    auth: object = None

    @property
    def admin(self) -> bool:
        return self.auth is not None and self.auth.is_admin(self.user)

    @property
    def request(self) -> etree._Element:
        return self.message.body

    @property
    def conf(self):
        return self.service.conf


def registry() -> dict:
    """Request element name -> operation function."""
    from . import capabilities, cancel, options, quotation, results, status, submit
    return {
        'GetCapabilities': capabilities.get_capabilities,
        'GetOptions': options.get_options,
        'GetQuotation': quotation.get_quotation,
        'Submit': submit.submit,
        'GetStatus': status.get_status,
        'DescribeResultAccess': results.describe_result_access,
        'Cancel': cancel.cancel,
    }


# messages a client endpoint receives, not this service
CLIENT_MESSAGES = ('SubmitResponse', 'CancelResponse', 'GetQuotationResponse')
