"""The machine's processes as /proc shows them, and those of a configuration's job engine
(its supervisor, started as `python -m pygeoapi_eoorder.supervise CONFIG`, and the worker
processes it forks, which share that command line)."""

from __future__ import annotations

import os
from dataclasses import dataclass

SUPERVISE = 'pygeoapi_eoorder.supervise'


@dataclass(frozen=True)
class Process:
    pid: int
    ppid: int
    state: str  # 'R', 'S'... ('Z': exited, not yet reaped)
    args: tuple[str, ...]  # the command line, one argument each (empty for a zombie)


def processes() -> list[Process]:
    """Every process now (one that ends while it is read is left out)."""
    found = []
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        try:
            with open(f'/proc/{entry}/stat') as fh:
                state, ppid = fh.read().rsplit(')', 1)[1].split()[:2]
            with open(f'/proc/{entry}/cmdline', 'rb') as fh:
                raw = fh.read()
        except OSError:
            continue
        args = tuple(raw.decode(errors='replace').split('\0')[:-1]) if raw else ()
        found.append(Process(int(entry), int(ppid), state, args))
    return found


def of_engine(config_path) -> list[Process]:
    """The processes of `config_path`'s job engine: its supervisors and their workers."""
    return [p for p in processes() if SUPERVISE in p.args and str(config_path) in p.args]


def supervisor_pids(config_path) -> list[int]:
    """The supervisors of `config_path` (their forked workers left out)."""
    engine = {p.pid: p.ppid for p in of_engine(config_path)}
    return sorted(pid for pid, parent in engine.items() if parent not in engine)


def job_workers(config_path) -> list[int]:
    """The processes the job engine of `config_path` started (its workers, and what a
    worker started)."""
    table = processes()
    engine = {p.pid for p in table if SUPERVISE in p.args and str(config_path) in p.args}
    return [p.pid for p in table if p.ppid in engine]
