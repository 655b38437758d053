"""Everything a job-engine process (supervisor, worker, Celery task) needs.

Built by the component registry (`Components.runtime()`), which also names the
sweepers of the components above the job engine (e.g. orders whose item jobs went
missing); a forked child rebuilds its own with `after_fork`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Callable

from ..config import Settings
from .engine import JobEngine
from .manager import Manager
from .repository import JobRepository
from .services import JobServices

LOGGER = logging.getLogger('eoorder.sweeps')
Sweeper = Callable[[Manager, Settings], Any]


@dataclass
class Runtime:
    config: dict
    settings: Settings
    manager: Manager
    sweepers: tuple[Sweeper, ...] = ()
    rebuild: Callable[[], 'Runtime'] | None = None  # the registry's loader, for children

    @property
    def services(self) -> JobServices:
        return self.manager.services

    @property
    def repo(self) -> JobRepository:
        return self.manager.repo

    @property
    def engine(self) -> JobEngine:
        return self.manager.engine

    @property
    def base_url(self) -> str:
        """Links in callbacks of jobs whose submitter's URL is unknown."""
        return self.config['server'].get('url', '')

    def run_sweepers(self) -> None:
        """Every component's recovery sweep; one that fails is logged, never raised."""
        for sweep in self.sweepers:
            try:
                sweep(self.manager, self.settings)
            except Exception:  # a sweep must never break the engine
                LOGGER.exception('sweep %s failed', getattr(sweep, '__qualname__', sweep))

    def after_fork(self) -> 'Runtime':
        """A copy for a forked child: same configuration, its own store connections."""
        self.manager.store.dispose()
        if self.rebuild is None:
            raise RuntimeError('this runtime cannot be rebuilt in a child process')
        return self.rebuild()
