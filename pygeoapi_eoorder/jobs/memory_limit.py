"""The memory a job worker process may take (`jobs.memory_limit`): its data (the heap and
private anonymous mappings, where arrays live: RLIMIT_DATA), so that a job asking for
more fails with MemoryError and the machine keeps running (a graph of the openEO API
once grew a worker to 19 GB)."""

from __future__ import annotations

import os
import resource

from ..execution.containers import size_bytes

AUTO_SHARE = 0.8  # of the machine's memory, shared among the workers (`auto`)
# ... and never less: a worker's data counts the address space its threads and malloc
# arenas reserve (1.4 GiB measured after the openEO demo graph, 0.3 GiB resident)
AUTO_AT_LEAST = 4 * 1024 ** 3


def limit_bytes(setting: int | str | None, workers: int) -> int | None:
    """The limit a `jobs.memory_limit` value sets for each of `workers` (None: none)."""
    if setting in (None, 'none'):
        return None
    if setting == 'auto':
        total = os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES')
        return max(AUTO_AT_LEAST, int(total * AUTO_SHARE / max(1, workers)))
    return size_bytes(setting)


def apply(setting: int | str | None, workers: int) -> int | None:
    """Limit this process (and what it starts) to its share; the limit set, if any."""
    limit = limit_bytes(setting, workers)
    if limit is None:
        return None
    _, hard = resource.getrlimit(resource.RLIMIT_DATA)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))
    return limit
