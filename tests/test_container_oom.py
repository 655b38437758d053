"""The memory-limit kill read from the engine when it learns of it after the exit.

Docker learns of a container's out-of-memory kill and of its exit by two events, in either
order (CI once read `OOMKilled: false` at the exit of a container killed at its limit:
"exited with code 137"). That order cannot be made to happen on a real engine at will, so
this test stands a container in whose state the flag appears only on a later read (the one
mock here); tests/reliability/test_sandbox.py kills a real one at its limit."""

from __future__ import annotations

import time

from pygeoapi_eoorder.execution.containers import _killed_at_memory_limit


class Container:
    """A container whose engine sets OOMKilled after `late` reads of its state."""

    def __init__(self, late: int | None):
        self.late, self.reads, self.attrs = late, 0, {'State': {'OOMKilled': False}}

    def reload(self):
        self.reads += 1
        if self.late is not None and self.reads > self.late:
            self.attrs['State']['OOMKilled'] = True


def test_a_kill_the_engine_learns_of_late_is_a_memory_limit_kill():
    assert _killed_at_memory_limit(Container(late=3), 137)


def test_any_other_end_is_read_once_or_for_a_second_at_most():
    other = Container(late=None)
    assert not _killed_at_memory_limit(other, 1) and other.reads == 1
    killed = Container(late=None)
    started = time.monotonic()
    assert not _killed_at_memory_limit(killed, 137, settle=0.3)
    assert 0.3 <= time.monotonic() - started < 1.0 and killed.reads > 1
