"""Push notifications through the one notification service: WPS 2.0 ows:ResponseHandler
(webhook + mailto:), the OGC API subscriber with mailto:, an OSEO order notified by e-mail.
A real SMTP server (aiosmtpd) and a real HTTP receiver listen on loopback; the statuses
expected are read from the job's own state and mapped by the standard's table."""

from __future__ import annotations

import email
import json
import threading
import time
from email.message import EmailMessage
from email.policy import default as default_policy
from xml.sax.saxutils import escape

import pytest
import requests
from lxml import etree

from pygeoapi_eoorder.notifications import Message, NotificationRefused, Notifier
from pygeoapi_eoorder.notifications.addresses import mail_address
from tests.support import oseo
from tests.support.oseo import Receiver
from tests.support.wps_schemas import assert_valid

from .conftest import free_port

WPS = 'http://www.opengis.net/wps/2.0'
OWS = 'http://www.opengis.net/ows/2.0'
NS = {'wps': WPS, 'ows': OWS}
# WPS 2.0 (OGC 14-065r2, Table 31) names of the final job states
WPS_STATUS = {'successful': 'Succeeded', 'failed': 'Failed'}
INJECTIONS = ['mailto:a@example.org%0D%0ABcc:%20evil@example.org',
              'mailto:a@example.org%0ABcc:evil@example.org',
              'mailto:a@example.org?cc=evil@example.org',
              'mailto:a@example.org,evil@example.org',
              'mailto:a@example.org;evil@example.org',
              'mailto:%22a%0D%0ABcc:evil@example.org%22@example.org',
              'mailto:Evil <evil@example.org>',
              'mailto:a@example.org\r\nBcc: evil@example.org']


class Mailbox:
    """A real SMTP server on loopback (aiosmtpd) that keeps what it receives."""

    def __init__(self):
        from aiosmtpd.controller import Controller
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.lock = threading.Lock()
        outer = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                with outer.lock:
                    outer.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
                    outer.messages.append(email.message_from_bytes(
                        envelope.original_content or envelope.content, policy=default_policy))
                return '250 Message accepted for delivery'

        self.port = free_port()
        self.controller = Controller(Handler(), hostname='127.0.0.1', port=self.port)
        self.controller.start()

    def wait_for(self, predicate, timeout: float = 30) -> EmailMessage:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                for message in self.messages:
                    if predicate(message):
                        return message
            time.sleep(0.05)
        raise AssertionError(f'no matching e-mail; got {len(self.messages)}')

    def recipients(self) -> set[str]:
        with self.lock:
            return {r for _, rcpts in self.envelopes for r in rcpts}

    def stop(self):
        self.controller.stop()


def smtp_block(mailbox: Mailbox) -> dict:
    return {'smtp': {'host': '127.0.0.1', 'port': mailbox.port, 'from': 'ades@example.org'},
            'timeout_seconds': 5}


@pytest.fixture(scope='module')
def mailbox():
    box = Mailbox()
    yield box
    box.stop()


@pytest.fixture(scope='module')
def products(tmp_path_factory):
    root = tmp_path_factory.mktemp('products')
    oseo.make_products(root, ['p1'])
    return root


@pytest.fixture(scope='module')
def server(tmp_path_factory, mailbox, products):
    from .conftest import TEST_PROCESSES, Server
    block = oseo.eoorder_block(products)
    block['notifications'] = smtp_block(mailbox)
    server = Server(tmp_path_factory.mktemp('notify'), block, TEST_PROCESSES).start()
    yield server
    server.stop()



def post_wps(server, body: str) -> requests.Response:
    return requests.post(f'{server.url}/wps', data=body.encode(), timeout=60,
                         headers={'Content-Type': 'application/xml'})


def execute(process: str, handlers: list[str], mode: str = 'async', **inputs) -> str:
    extension = ''.join(f'<ows:ResponseHandler>{h}</ows:ResponseHandler>' for h in handlers)
    parts = ''.join(f'<wps:Input id="{k}"><wps:Data>{v}</wps:Data></wps:Input>'
                    for k, v in inputs.items())
    return (f'<wps:Execute xmlns:wps="{WPS}" xmlns:ows="{OWS}" service="WPS" version="2.0.0" '
            f'mode="{mode}" response="document">'
            f'{f"<wps:Extension>{extension}</wps:Extension>" if extension else ""}'
            f'<ows:Identifier>{process}</ows:Identifier>{parts}</wps:Execute>')


def exception(reply: requests.Response) -> tuple[str, str, int]:
    root = assert_valid(reply.content)
    assert root.tag == f'{{{OWS}}}ExceptionReport', reply.text
    found = root.find(f'{{{OWS}}}Exception')
    return found.get('exceptionCode'), found.findtext(f'{{{OWS}}}ExceptionText'), \
        reply.status_code


def started_job(server, body: str) -> str:
    reply = post_wps(server, body)
    assert reply.status_code == 200, reply.text
    root = assert_valid(reply.content)
    assert root.tag == f'{{{WPS}}}StatusInfo', reply.text
    return root.findtext('wps:JobID', namespaces=NS)


def attachment(message: EmailMessage) -> tuple[str, bytes]:
    [part] = list(message.iter_attachments())
    return part.get_content_type(), part.get_payload(decode=True)


def xml_webhook(webhook: Receiver, job_id: str) -> tuple[dict, etree._Element]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for headers, body in list(webhook.messages):
            root = etree.fromstring(body)
            if root.findtext(f'{{{WPS}}}JobID') == job_id:
                return headers, root
        time.sleep(0.05)
    raise AssertionError(f'no StatusInfo for {job_id}; got {len(webhook.messages)}')


# -- WPS 2.0 -------------------------------------------------------------------------------
@pytest.mark.parametrize('fail', [False, True])
def test_wps_async_execute_notifies_webhook_and_mail(server, mailbox, webhook, fail):
    to = f"client-{'failed' if fail else 'ok'}@example.org"
    inputs = {'steps': 1, 'delay': 0, **({'fail': 'true'} if fail else {})}
    job_id = started_job(server, execute('countdown', [webhook.url, f'mailto:{to}'],
                                         **inputs))
    job = server.wait_for(job_id)
    expected = WPS_STATUS[job['status']]
    assert expected == ('Failed' if fail else 'Succeeded')

    headers, status = xml_webhook(webhook, job_id)
    assert headers['Content-Type'].split(';')[0] == 'application/xml'
    links = requests.utils.parse_header_links(headers['Link'])
    assert [(link['rel'], link['url'].split('&request=')[1]) for link in links] == [
        ('monitor', f'GetStatus&jobId={job_id}'), ('cancel', f'Dismiss&jobId={job_id}')]
    assert_valid(etree.tostring(status))  # the official WPS 2.0 schema
    assert status.tag == f'{{{WPS}}}StatusInfo'
    assert status.findtext('wps:Status', namespaces=NS) == expected

    mail = mailbox.wait_for(lambda m: m['To'] == to)
    assert job_id in mail['Subject'] and expected in mail['Subject']
    assert mail['From'] == 'ades@example.org'
    text = mail.get_body(('plain',)).get_content()
    get_status = (f'{server.url}/wps?service=WPS&version=2.0.0&request=GetStatus'
                  f'&jobId={job_id}')
    assert get_status in text and expected in text
    assert ('request=GetResult' in text) is (not fail)
    kind, body = attachment(mail)
    assert kind == 'application/xml'
    attached = assert_valid(body)
    assert attached.findtext('wps:JobID', namespaces=NS) == job_id
    assert attached.findtext('wps:Status', namespaces=NS) == expected
    assert requests.get(get_status, timeout=10).status_code == 200  # the URL answers


def test_capabilities_list_the_handler_schemes(server):
    reply = requests.get(f'{server.url}/wps', params={'service': 'WPS', 'request':
                                                       'GetCapabilities'}, timeout=30)
    root = assert_valid(reply.content)
    values = root.xpath('//ows:Operation[@name="Execute"]/ows:Constraint'
                        '[@name="ResponseHandler"]/ows:AllowedValues/ows:Value/text()',
                        namespaces=NS)
    assert sorted(values) == ['http', 'https', 'mailto']


def test_handler_with_a_synchronous_execute_is_refused(server, webhook):
    for mode in ('sync', 'auto'):  # countdown runs sync in auto mode
        code, text, status = exception(post_wps(server, execute(
            'countdown', [webhook.url], mode=mode, steps=1, delay=0)))
        assert (code, status) == ('InvalidParameterValue', 400)
        assert 'async' in text
    assert webhook.messages == []


@pytest.mark.parametrize('uri', ['ftp://example.org/x', 'file:///etc/passwd',
                                 'javascript:alert(1)', 'urn:x:y'])
def test_unsupported_scheme_is_refused(server, uri):
    code, text, status = exception(post_wps(server, execute('countdown', [uri])))
    assert (code, status) == ('OptionNotSupported', 501)
    assert 'mailto' in text  # names what is offered


@pytest.mark.parametrize('uri', INJECTIONS)
def test_header_injection_in_mailto_is_impossible(server, mailbox, uri):
    uri = escape(uri).replace('\r', '&#13;').replace('\n', '&#10;')  # as XML carries them
    code, _, status = exception(post_wps(server, execute('countdown', [uri], steps=1,
                                                         delay=0)))
    assert (code, status) == ('InvalidParameterValue', 400)
    assert 'evil@example.org' not in mailbox.recipients()


def test_internal_webhook_refused_unless_allowed(server, webhook):
    # countdown-external does not set allow_internal_requests; egress allows no host
    code, text, status = exception(post_wps(server, execute('countdown-external',
                                                            [webhook.url])))
    assert (code, status) == ('InvalidParameterValue', 400)
    assert 'internal' in text
    job_id = started_job(server, execute('countdown', [webhook.url], steps=1, delay=0))
    xml_webhook(webhook, job_id)  # the process that may reach internal addresses


# -- OGC API - Processes ---------------------------------------------------------------------
def test_ogcapi_subscriber_with_mailto(server, mailbox):
    to = 'ogc-subscriber@example.org'
    job_id = server.submit('countdown', {'steps': 1, 'delay': 0},
                           subscriber={'successUri': f'mailto:{to}'})
    job = server.wait_for(job_id)
    mail = mailbox.wait_for(lambda m: m['To'] == to)
    assert job_id in mail['Subject'] and job['status'] in mail['Subject']
    kind, body = attachment(mail)
    assert kind == 'application/json'
    assert json.loads(body) == {'count': 1}  # countdown's one output: its number of steps


@pytest.mark.parametrize('uri', INJECTIONS)
def test_ogcapi_subscriber_mailto_injection_refused(server, uri):
    reply = server.execute('countdown', {'steps': 1}, subscriber={'successUri': uri})
    assert reply.status_code == 400 and 'subscriber.successUri' in reply.json()['detail']


# -- OSEO ------------------------------------------------------------------------------------
def test_oseo_order_notified_by_mail(server, mailbox):
    to = 'orders@example.org'
    headers = (f'<wsa:MessageID>urn:uuid:mail-1</wsa:MessageID><wsa:ReplyTo><wsa:Address>'
               f'mailto:{to}</wsa:Address></wsa:ReplyTo>')
    order_id = oseo.order_id(server, oseo.soap12(oseo.submit(oseo.item('m1', 'p1'),
                                                             notification='Final'), headers),
                             'application/soap+xml')
    status, _ = oseo.wait_status(server, order_id, ('Completed', 'Failed'), timeout=60)
    mail = mailbox.wait_for(lambda m: m['To'] == to and order_id in m['Subject'])
    assert 'SubmitResponse' in mail['Subject']
    _, body = attachment(mail)
    envelope = etree.fromstring(body)
    response = envelope.find(f'{{{oseo.SOAP12}}}Body')[0]
    oseo.validate(response)
    assert response.tag == f'{{{oseo.OSEO}}}SubmitResponse'
    assert response.findtext('.//oseo:orderId', namespaces=oseo.NS) == order_id
    assert response.findtext('oseo:orderMonitorSpecification/oseo:orderStatusInfo/'
                             'oseo:status', namespaces=oseo.NS) == status


def test_oseo_reply_to_injection_refused(server, mailbox):
    headers = ('<wsa:MessageID>urn:uuid:mail-2</wsa:MessageID><wsa:ReplyTo><wsa:Address>'
               'mailto:a@example.org%0D%0ABcc:evil@example.org</wsa:Address></wsa:ReplyTo>')
    reply = oseo.post(server, oseo.soap12(oseo.submit(oseo.item('m2', 'p1'),
                                                      notification='Final'), headers),
                      'application/soap+xml')
    code, locator = oseo.exception(reply)
    assert (code, locator) == ('InvalidParameterValue', 'ReplyTo')
    assert 'evil@example.org' not in mailbox.recipients()


# -- without SMTP, and across a restart ---------------------------------------------------------
def test_mailto_without_smtp_is_refused_everywhere(make_server, products):
    server = make_server(oseo.eoorder_block(products))
    code, text, status = exception(post_wps(server, execute('countdown',
                                                            ['mailto:a@example.org'])))
    assert (code, status) == ('OptionNotSupported', 501) and 'SMTP' in text
    capabilities = assert_valid(requests.get(f'{server.url}/wps', params={
        'service': 'WPS', 'request': 'GetCapabilities'}, timeout=30).content)
    assert sorted(capabilities.xpath('//ows:Constraint[@name="ResponseHandler"]//ows:Value'
                                     '/text()', namespaces=NS)) == ['http', 'https']
    reply = server.execute('countdown', {}, subscriber={'successUri': 'mailto:a@example.org'})
    assert reply.status_code == 400 and 'SMTP' in reply.json()['detail']
    headers = ('<wsa:MessageID>urn:uuid:mail-3</wsa:MessageID><wsa:ReplyTo><wsa:Address>'
               'mailto:a@example.org</wsa:Address></wsa:ReplyTo>')
    reply = oseo.post(server, oseo.soap12(oseo.submit(oseo.item('m3', 'p1'),
                                                      notification='Final'), headers),
                      'application/soap+xml')
    assert oseo.exception(reply) == ('InvalidParameterValue', 'ReplyTo')


def test_handlers_survive_a_restart(make_server, webhook):
    import os
    import signal
    server = make_server({'jobs': {'workers': 1}})
    lock = server.data_dir / 'run' / 'supervisor.lock'
    os.kill(int(lock.read_text().split()[0]), signal.SIGSTOP)  # the engine takes nothing
    try:
        job_id = started_job(server, execute('countdown', [webhook.url], steps=1, delay=0))
    finally:
        os.kill(int(lock.read_text().split()[0]), signal.SIGKILL)
        server.kill()
    assert webhook.messages == []
    server.start()
    headers, status = xml_webhook(webhook, job_id)
    assert status.findtext('wps:Status', namespaces=NS) == \
        WPS_STATUS[server.wait_for(job_id)['status']]


# -- the service itself (no server) -------------------------------------------------------------
@pytest.mark.parametrize('uri', INJECTIONS + ['mailto:', 'mailto:@example.org',
                                              'mailto:a@', 'mailto:a@-x.org'])
def test_mail_address_accepts_one_plain_address_only(uri):
    with pytest.raises(NotificationRefused):
        mail_address(uri)


def test_mail_address_and_schemes():
    assert mail_address('mailto:first.last+tag@sub.example.org') == \
        'first.last+tag@sub.example.org'
    assert Notifier({}).schemes == ('http', 'https')
    with pytest.raises(NotificationRefused) as refused:
        Notifier({}).check('mailto:a@example.org')
    assert refused.value.unsupported


def test_send_never_raises(mailbox):
    """A dead SMTP server or webhook is logged, not raised (the job goes on)."""
    dead = {'notifications': {'smtp': {'host': '127.0.0.1', 'port': free_port(),
                                       'from': 'x@example.org'}, 'timeout_seconds': 2},
            'egress': {'allowed_hosts': ['127.0.0.1']}}
    message = Message('s', 't', b'{}', 'application/json', 'a.json')
    notifier = Notifier(dead)
    assert notifier.send('mailto:a@example.org', message) is False
    assert notifier.send(f'http://127.0.0.1:{free_port()}/x', message) is False
    assert notifier.send('mailto:a@example.org\r\nBcc: evil@example.org', message) is False
    live = Notifier({'notifications': smtp_block(mailbox)})
    assert live.send('mailto:direct@example.org', message) is True
    assert mailbox.wait_for(lambda m: m['To'] == 'direct@example.org')
