"""A TCP relay on loopback between the server and a real S3 server that can hold the
requests whose first bytes hold given patterns: a test's way to be "mid-upload" at will,
then crash the server, stop the S3 server or delete the workspace. Not a mock: every
byte that passes goes to the real S3 server, unchanged; `upstream` may be moved to an
S3 server restarted on another port."""

from __future__ import annotations

import socket
import threading


class S3Gate:
    def __init__(self, upstream: str):
        self.upstream = upstream  # http://127.0.0.1:<port>
        self.patterns: tuple[bytes, ...] = ()
        self.held = threading.Event()   # a request is being held
        self.batch = _Batch()            # what the requests held now wait for
        self.listener = socket.create_server(('127.0.0.1', 0))
        self.endpoint = f'http://127.0.0.1:{self.listener.getsockname()[1]}'
        threading.Thread(target=self._accept, daemon=True).start()

    def hold(self, *patterns: bytes) -> None:
        self.held.clear()
        if self.batch.opened.is_set():  # (requests still held stay in the batch)
            self.batch = _Batch()
        self.patterns = patterns

    def release(self, cut: bool = False) -> None:
        """Let the held requests go on (cut: drop their connections instead)."""
        self.patterns = ()
        self.batch.end(cut)

    def cut_and_hold_on(self) -> None:
        """Drop the requests held now and go on holding the next ones that match, with
        no moment in between when one would pass."""
        held, self.batch = self.batch, _Batch()
        self.held.clear()
        held.end(cut=True)

    def close(self) -> None:
        self.release(cut=True)
        self.listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._relay, args=(client,), daemon=True).start()

    def _relay(self, client: socket.socket) -> None:
        host, port = self.upstream.rsplit('//', 1)[1].split(':')
        try:
            server = socket.create_connection((host, int(port)), timeout=5)
        except OSError:
            client.close()
            return
        server.settimeout(None)
        threading.Thread(target=self._pump, args=(server, client, False), daemon=True).start()
        self._pump(client, server, True)

    def _pump(self, source: socket.socket, target: socket.socket, outgoing: bool) -> None:
        try:
            while chunk := source.recv(1 << 16):
                if outgoing and self.patterns and all(p in chunk for p in self.patterns):
                    batch = self.batch
                    self.held.set()
                    if batch.held_back():
                        break
                target.sendall(chunk)
        except OSError:
            pass
        for end in (source, target):
            try:
                end.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            end.close()


class _Batch:
    """The requests held since one `hold`: let go on together, or cut together."""

    def __init__(self):
        self.opened = threading.Event()
        self.cut = False

    def end(self, cut: bool) -> None:
        self.cut = cut
        self.opened.set()

    def held_back(self) -> bool:
        """Wait until the batch ends; whether the request is to be dropped."""
        self.opened.wait()
        return self.cut
