"""Hostile XML and JSON bodies: a standard error, fast, no file read, no connection made,
bounded memory."""

import os
import socket
import threading
import time

import pytest
import requests

from ..support import oseo

SECRET = 'eoorder-secret-marker'


@pytest.fixture(scope='module')
def ordering_server(tmp_path_factory):
    from ..conftest import Server
    root = tmp_path_factory.mktemp('attacks')
    (root / 'products').mkdir()
    server = Server(root, oseo.eoorder_block(root / 'products'), {}).start()
    yield server
    server.stop()


class Listener:
    """A loopback socket that counts connection attempts (none may arrive)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(('127.0.0.1', 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.running = True
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while self.running:
            try:
                conn, _ = self.sock.accept()
                self.connections += 1
                conn.close()
            except OSError:
                pass

    def close(self):
        self.running = False
        self.thread.join(2)
        self.sock.close()


@pytest.fixture
def listener():
    listener = Listener()
    yield listener
    listener.close()


def attacks(secret_file, port):
    url = f'http://127.0.0.1:{port}/evil'
    laughs = '<!ENTITY a0 "lol">' + ''.join(
        f'<!ENTITY a{i} "{"&a" + str(i - 1) + ";" * 1}{("&a" + str(i - 1) + ";") * 9}">'
        for i in range(1, 10))
    return {
        'external entity (file)': f'<!DOCTYPE x [<!ENTITY e SYSTEM "file://{secret_file}">]>'
                                  f'<GetCapabilities xmlns="{oseo.OSEO}" service="OS">&e;'
                                  '</GetCapabilities>',
        'external entity (network)': f'<!DOCTYPE x [<!ENTITY e SYSTEM "{url}">]>'
                                     f'<GetCapabilities xmlns="{oseo.OSEO}">&e;'
                                     '</GetCapabilities>',
        'billion laughs': f'<!DOCTYPE x [{laughs}]><GetCapabilities xmlns="{oseo.OSEO}">'
                          '&a9;</GetCapabilities>',
        'quadratic blow-up': f'<!DOCTYPE x [<!ENTITY big "{"x" * 50000}">]>'
                             f'<GetCapabilities xmlns="{oseo.OSEO}">{"&big;" * 2000}'
                             '</GetCapabilities>',
        'external DTD': f'<!DOCTYPE GetCapabilities SYSTEM "{url}.dtd">'
                        f'<GetCapabilities xmlns="{oseo.OSEO}"/>',
        'XInclude (file)': f'<GetCapabilities xmlns="{oseo.OSEO}" '
                           'xmlns:xi="http://www.w3.org/2001/XInclude" service="OS">'
                           f'<xi:include href="file://{secret_file}" parse="text"/>'
                           '</GetCapabilities>',
        'XInclude (network)': f'<GetCapabilities xmlns="{oseo.OSEO}" '
                              'xmlns:xi="http://www.w3.org/2001/XInclude">'
                              f'<xi:include href="{url}" parse="text"/></GetCapabilities>',
        'deep nesting': '<a>' * 100000 + '</a>' * 100000,
        'schema location (network)': f'<GetCapabilities xmlns="{oseo.OSEO}" '
                                     'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
                                     f'xsi:schemaLocation="{oseo.OSEO} {url}.xsd" '
                                     'service="OS"/>',
    }


ATTACKS = list(attacks('/x', 1))
CPU_BOUND = 0.1  # seconds of server CPU a refusal may cost; an expanding parser costs seconds


def web_cpu_seconds(server) -> float:
    """CPU time used so far by the web server's processes (the job engine's left out): the
    bound is on the server's work, which the machine's other load does not inflate."""
    children: dict[int, list[int]] = {}
    for entry in filter(str.isdigit, os.listdir('/proc')):
        try:
            with open(f'/proc/{entry}/stat') as fh:
                fields = fh.read().rsplit(')', 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry))
    total, todo = 0, [server.process.pid]
    while todo:
        pid = todo.pop()
        try:
            with open(f'/proc/{pid}/cmdline', 'rb') as fh:
                if b'pygeoapi_eoorder.supervise' in fh.read():
                    continue
            with open(f'/proc/{pid}/stat') as fh:
                fields = fh.read().rsplit(')', 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime + stime, in clock ticks
        todo.extend(children.get(pid, []))
    return total / os.sysconf('SC_CLK_TCK')


def post_three_times(server, path: str, body: bytes, content_type: str) -> tuple[list, float]:
    """Three identical requests and the server CPU seconds they cost on average."""
    before = web_cpu_seconds(server)
    replies = [requests.post(f'{server.url}{path}', data=body, timeout=30,
                             headers={'Content-Type': content_type}) for _ in range(3)]
    return replies, (web_cpu_seconds(server) - before) / 3


@pytest.mark.parametrize('name', ATTACKS)
def test_oseo_refuses_hostile_xml(ordering_server, listener, tmp_path, name):
    secret = tmp_path / 'secret.txt'
    secret.write_text(SECRET)
    body = attacks(secret, listener.port)[name].encode()
    replies, cpu = post_three_times(ordering_server, '/oseo', body, 'application/xml')
    reply = replies[-1]
    assert SECRET not in reply.text
    assert listener.connections == 0, 'the server opened a connection'
    if name.startswith('schema location'):
        assert reply.status_code == 200, reply.text  # valid request; the hint is ignored
        return
    assert reply.status_code in (400, 413), reply.text
    assert oseo.exception(reply)[0]
    assert cpu < CPU_BOUND, (cpu, [r.elapsed for r in replies])


def test_oseo_refuses_a_100_mb_body_quickly(ordering_server):
    chunk = b'<a>' + b'x' * (1 << 20)

    def body():
        for _ in range(100):
            yield chunk

    started = time.monotonic()
    reply = requests.post(f'{ordering_server.url}/oseo', data=body(), timeout=60,
                          headers={'Content-Type': 'application/xml'})
    assert reply.status_code == 413
    assert oseo.exception(reply)[0]
    assert time.monotonic() - started < 30


def test_application_packages_refuse_hostile_xml(server, listener, tmp_path):
    secret = tmp_path / 'secret.txt'
    secret.write_text(SECRET)
    for name, text in attacks(secret, listener.port).items():
        replies, cpu = post_three_times(server, '/processes', text.encode(),
                                        'application/atom+xml')
        reply = replies[-1]
        assert reply.status_code == 400, (name, reply.text)
        assert reply.headers['Content-Type'] == 'application/problem+json'
        assert SECRET not in reply.text
        assert cpu < CPU_BOUND, (name, cpu, replies)
    assert listener.connections == 0


def test_json_depth_and_size_limits(server):
    deep = b'{"inputs": ' + b'[' * 100000 + b']' * 100000 + b'}'
    reply = requests.post(f'{server.url}/processes/countdown/execution', data=deep, timeout=30,
                          headers={'Content-Type': 'application/json'})
    assert reply.status_code == 400 and reply.headers['Content-Type'] == \
        'application/problem+json'
    huge = b'{"inputs": {"x": "' + b'a' * (80 << 20) + b'"}}'
    reply = requests.post(f'{server.url}/processes/countdown/execution', data=huge, timeout=60,
                          headers={'Content-Type': 'application/json'})
    assert reply.status_code == 413 and reply.headers['Content-Type'] == \
        'application/problem+json'
    for kind in ('application/ogcapppkg+json', 'application/cwl+json'):
        reply = requests.post(f'{server.url}/processes', data=deep, timeout=30,
                              headers={'Content-Type': kind})
        assert reply.status_code == 400, (kind, reply.text)
