"""Everything a job-engine process (supervisor, worker, Celery task) needs.

Built by the component registry (`Components.runtime()`), which also names the
sweepers of the components above the job engine (e.g. orders whose item jobs went
missing); a forked child rebuilds its own with `after_fork`.
"""

from __future__ import annotations

import importlib
import logging
import threading
from dataclasses import dataclass
from typing import Any, Callable

from ..config import Settings
from .engine import JobEngine
from .manager import Manager
from .repository import JobRepository
from .services import JobServices

LOGGER = logging.getLogger('eoorder.sweeps')
Sweeper = Callable[[Manager, Settings], Any]


def start_warm_up(hooks: list[Callable[[Settings], Any]], settings: Settings) -> threading.Thread:
    """Run warm-up hooks in a daemon thread of this process (start it after any fork); a
    hook that fails is logged: its processor loads when a job needs it, as without."""
    def run() -> None:
        for hook in hooks:
            try:
                hook(settings)
            except Exception:  # never break a worker over a warm-up
                LOGGER.exception('warm-up %s failed', getattr(hook, '__qualname__', hook))
    thread = threading.Thread(target=run, name='warm-up', daemon=True)
    thread.start()
    return thread


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

    def warm_up_hooks(self) -> list[Callable[[Settings], Any]]:
        """`warm_up(settings)` of each configured processor class that has one: what its
        first job would otherwise wait for (e.g. importing heavy libraries)."""
        hooks: list = []
        for definition in self.manager.catalogue.configured.values():
            module, _, name = str((definition.get('processor') or {}).get('name', '')) \
                .rpartition('.')
            try:
                hook = getattr(getattr(importlib.import_module(module), name), 'warm_up',
                               None) if module else None
            except (ImportError, AttributeError):
                continue
            if callable(hook) and hook not in hooks:
                hooks.append(hook)
        return hooks

    def warm_up(self) -> threading.Thread:
        """Run the warm-up hooks in a daemon thread (see `start_warm_up`)."""
        return start_warm_up(self.warm_up_hooks(), self.settings)

    def after_fork(self) -> 'Runtime':
        """A copy for a forked child: same configuration, its own store connections."""
        self.manager.store.dispose()
        if self.rebuild is None:
            raise RuntimeError('this runtime cannot be rebuilt in a child process')
        return self.rebuild()
