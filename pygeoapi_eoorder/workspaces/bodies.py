"""Upload bodies read exactly to their announced size (`Content-Length`).

A server may hand a body cut off by its client (the connection closed or half-shut
before the last byte) as a stream that just ends early. `ExactBody` reads the announced
size and no more; a body that ends before raises `IncompleteBody`, which fails the write:
the storage keeps nothing of it and a previous file of the key stays as it was.
"""

from __future__ import annotations

from typing import BinaryIO


class IncompleteBody(Exception):
    """The body ended before its announced size."""

    def __init__(self, received: int, expected: int):
        super().__init__(f'request body ended after {received} of the {expected} bytes '
                         'its Content-Length announced: upload refused, nothing stored')
        self.received, self.expected = received, expected


class ExactBody:
    """A read-only stream of exactly `size` bytes of `stream`: each `read(n)` returns
    min(n, what is left) bytes, or raises IncompleteBody if the body ends first."""

    def __init__(self, stream: BinaryIO, size: int):
        self.stream, self.size, self.received = stream, size, 0

    def readable(self) -> bool:
        return True

    def read(self, n: int | None = -1) -> bytes:
        wanted = self.size - self.received
        if n is not None and n >= 0:
            wanted = min(n, wanted)
        parts = []
        while wanted > 0:
            try:
                chunk = self.stream.read(wanted)
            except (OSError, ValueError):  # the connection broke
                chunk = b''
            if not chunk:
                raise IncompleteBody(self.received, self.size)
            parts.append(chunk)
            self.received += len(chunk)
            wanted -= len(chunk)
        return b''.join(parts)
