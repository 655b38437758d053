"""Whether what a supervisor runs changed since it loaded it: its configuration file
(`ConfigWatch`) or the installed package (`CodeWatch`).

A supervisor started by a web server (pygeoapi serving the configuration itself, not
`eoorder serve`) outlives that server; without this, a deployer who edits the
configuration, or upgrades the package, and restarts the server would have the job
engine run jobs with the old configuration or the old code (and its workers, which
import some modules when a job first needs them, a mix of both). Such a supervisor
restarts in place once the change has settled (`supervisor.serve`: the same process
executes the program again), and starts no job while a file differs from the one it
runs (a job of a process the configuration adds would fail); a configuration file that
does not load is logged and the running one kept. An upgrade changes the package's
`__init__.py` (it holds the version): a file rewritten with the same content restarts
nothing.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from pathlib import Path

from ..config import load

LOGGER = logging.getLogger('eoorder.supervisor')
SETTLE_SECONDS = 1.0  # an editor's write in several steps is one change
UPGRADE_SETTLE_SECONDS = 5.0  # an installer's writes of the whole package are one change


def _digest(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def _stamp(path: Path) -> tuple | None:
    try:
        found = os.stat(path)
    except OSError:
        return None
    return found.st_mtime_ns, found.st_size, found.st_ino


class FileWatch:
    """A file as it was when loaded; `changed()` is asked every loop."""

    def __init__(self, path: Path, what: str, settle: float = SETTLE_SECONDS):
        self.path = Path(path)
        self.what = what  # (for the log: "<what> changed")
        self.settle = settle
        self.loaded = self.seen = _stamp(self.path)
        self.content = _digest(self.path)
        self.since = time.monotonic()
        self.differs = False  # the file is not the one running (as of `changed()`)

    def changed(self) -> bool:
        """The file differs from the loaded one in content, has not changed for `settle`
        seconds, and `usable()`."""
        stamp, now = _stamp(self.path), time.monotonic()
        if stamp != self.seen:
            self.seen, self.since = stamp, now
        self.differs = stamp is not None and stamp != self.loaded
        if not self.differs or now - self.since < self.settle:
            return False
        if _digest(self.path) == self.content or not self.usable():  # touched, not changed
            self.loaded, self.differs = stamp, False
            return False
        return True

    def usable(self) -> bool:
        """Can the changed file be run (else it is ignored until it changes again)?"""
        return True


class ConfigWatch(FileWatch):
    """The configuration file: a change that does not load is reported once and ignored."""

    def __init__(self, path: Path, settle: float = SETTLE_SECONDS):
        super().__init__(path, f'configuration {path}', settle)

    def usable(self) -> bool:
        try:
            load(self.path)
        except Exception as err:  # YAML, schema or settings errors: keep what runs
            why = (str(err).splitlines() or [type(err).__name__])[0][:500]
            LOGGER.error('the changed configuration %s does not load, the job engine keeps '
                         'the one it runs: %s', self.path, why)
            return False
        return True


class CodeWatch(FileWatch):
    """The installed package, by its `__init__.py` (an upgrade replaces it: the version);
    it settles longer than a configuration (an installer writes many files after it)."""

    def __init__(self, settle: float = UPGRADE_SETTLE_SECONDS):
        from .. import __file__ as package_file
        package = Path(package_file)
        super().__init__(package, f'the installed package ({package.parent})', settle)
