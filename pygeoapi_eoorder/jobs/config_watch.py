"""Whether a supervisor's configuration file changed since it loaded it.

A supervisor started by a web server (pygeoapi serving the configuration itself, not
`eoorder serve`) outlives that server; without this, a deployer who edits the
configuration and restarts the server would have the job engine run jobs with the old
one. Such a supervisor restarts with the new file once it has settled and loads
(`supervisor.serve`), and starts no job while the file differs from the one it runs (a job
of a process the file adds would fail); a file that does not load is logged and the
running one kept.
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


class ConfigWatch:
    """The configuration file as it was loaded; `changed()` is asked every loop."""

    def __init__(self, path: Path, settle: float = SETTLE_SECONDS):
        self.path = Path(path)
        self.settle = settle
        self.loaded = self.seen = _stamp(self.path)
        self.content = _digest(self.path)
        self.since = time.monotonic()
        self.differs = False  # the file is not the one running (as of `changed()`)

    def changed(self) -> bool:
        """The file differs from the loaded one, has not changed for `settle` seconds,
        and loads (a file that does not is reported once and ignored)."""
        stamp, now = _stamp(self.path), time.monotonic()
        if stamp != self.seen:
            self.seen, self.since = stamp, now
        self.differs = stamp is not None and stamp != self.loaded
        if not self.differs or now - self.since < self.settle:
            return False
        if _digest(self.path) == self.content:  # touched, not changed
            self.loaded, self.differs = stamp, False
            return False
        try:
            load(self.path)
        except Exception as err:  # YAML, schema or settings errors: keep what runs
            why = (str(err).splitlines() or [type(err).__name__])[0][:500]
            LOGGER.error('the changed configuration %s does not load, the job engine keeps '
                         'the one it runs: %s', self.path, why)
            self.loaded, self.differs = stamp, False
            return False
        return True
