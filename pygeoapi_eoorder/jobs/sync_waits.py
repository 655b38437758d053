"""How many synchronous requests of one web process may wait for their jobs at once
(`jobs.max_sync_waits`): each holds a web thread until its job ends, so past the limit a
synchronous request is refused before anything is queued (503, the protocol's own error)
and the process keeps threads for everything else."""

from __future__ import annotations

import os
import threading
from contextlib import contextmanager
from collections.abc import Iterator

ENV_WEB_THREADS = 'EOORDER_WEB_THREADS'  # set by `eoorder serve`: threads per web process
KEPT_FREE = 2  # threads `auto` keeps for other requests
RETRY_AFTER = 5  # seconds a refused client is told to wait


class ServerBusy(Exception):
    """Every synchronous slot of this web process is taken."""

    retry_after = RETRY_AFTER

    def __init__(self, limit: int):
        super().__init__(f'the server is running {limit} synchronous requests already; '
                         f'retry in {RETRY_AFTER} s or execute asynchronously')


def limit_of(value: int | str, environ=os.environ) -> int | None:
    """The limit a `jobs.max_sync_waits` value sets (None: none). `auto`: the threads of
    an `eoorder serve` web process less two (at least one); no limit under another
    server, whose threads are not known."""
    if value == 'none':
        return None
    if value == 'auto':
        threads = environ.get(ENV_WEB_THREADS)
        return max(1, int(threads) - KEPT_FREE) if threads else None
    return int(value)


class SyncWaits:
    """The slots of one process's synchronous waits."""

    def __init__(self, limit: int | None):
        self.limit = limit
        self._free = threading.BoundedSemaphore(limit) if limit is not None else None

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold a slot while the body submits a job and waits for it; ServerBusy if
        none is free (at once: a waiting request would hold a thread itself)."""
        if self._free is None:
            yield
            return
        if not self._free.acquire(blocking=False):
            raise ServerBusy(self.limit)
        try:
            yield
        finally:
            self._free.release()
