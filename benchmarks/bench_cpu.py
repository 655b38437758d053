"""CPU time spent by the processes of a server under test, read from /proc (Linux).

On a machine with few CPUs a job's latency depends on all the CPU its server spends while
the job is on its way (the web workers answering polls, the job engine's processes), not
only on the steps in its path: this tells how much each kind of process spent per job.
"""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path

TICKS = os.sysconf('SC_CLK_TCK')


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, CPU seconds: user + system) of a process; None once it is gone."""
    try:
        fields = Path(f'/proc/{pid}/stat').read_text().rsplit(')', 1)[1].split()
    except OSError:
        return None
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / TICKS


def _command(pid: int) -> str:
    try:
        return Path(f'/proc/{pid}/cmdline').read_bytes().replace(b'\0', b' ').decode()
    except OSError:
        return ''


def process_tree(root: int) -> dict[int, int]:
    """Every process under `root` (itself included), each with its parent."""
    parents = {}
    for entry in os.listdir('/proc'):
        if entry.isdigit() and (found := _stat(int(entry))) is not None:
            parents[int(entry)] = found[0]
    children = defaultdict(list)
    for pid, parent in parents.items():
        children[parent].append(pid)
    tree, todo = {}, [root]
    while todo:
        pid = todo.pop()
        tree[pid] = parents.get(pid, 0)
        todo.extend(children[pid])
    return tree


def role(pid: int, tree: dict[int, int]) -> str:
    """`web` (the HTTP server's processes), `supervisor` or `job worker` (this server's
    job engine), `job process` (the bare server's)."""
    command = _command(pid)
    if 'supervise' in command:
        return 'job worker' if 'supervise' in _command(tree.get(pid, 0)) else 'supervisor'
    if ' runner ' in command:
        return 'job process'
    return 'web'


class CpuMeter:
    """CPU seconds of the processes under some roots, summed by role between `start`
    and `stop` (processes started meanwhile are not counted: take it once they run)."""

    def __init__(self, *roots: int):
        self.tree: dict[int, int] = {}
        for root in roots:
            self.tree.update(process_tree(root))
        self.roles = {pid: role(pid, self.tree) for pid in self.tree}
        self.spent: dict[str, float] = defaultdict(float)
        self._since: dict[int, float] = {}

    def _now(self) -> dict[int, float]:
        return {pid: found[1] for pid in self.tree if (found := _stat(pid)) is not None}

    def start(self) -> None:
        self._since = self._now()

    def stop(self) -> None:
        for pid, seconds in self._now().items():
            if pid in self._since:
                self.spent[self.roles[pid]] += seconds - self._since[pid]
        self._since = {}
