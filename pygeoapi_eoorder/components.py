"""The component registry: every service of one configuration, as objects, built once.

`Components.for_config(path)` (or `Components.for_settings(settings)`) returns the
registry of a configuration file in this process, building it on first use. It is the
composition root: adapters (HTTP blueprints, CLIs) take services from it. Every plug-in
named by dotted path in the `eoorder:` block is resolved through the one helper
:func:`~.plugins.resolve` when the registry is built (item processors here, the
authenticators when the access rules are built for the job engine's services).

Attributes (stable; adapters and entry points rely on them):

- `config`: the pygeoapi configuration as loaded (`config.load`), `settings`: the
  validated `eoorder:` block (:class:`~pygeoapi_eoorder.config.Settings`).
- `store`: the shared SQL store (engines and sessions, :class:`~.store.Store`).
- `auth`: the access rules (:class:`~.auth.Auth`, its authenticators resolved here).
- `processes`: the process catalogue (configured + deployed processes, processors,
  descriptions; :class:`~.processes.catalogue.ProcessCatalogue`); `registry`: the
  deployed processes in the store (:class:`~.processes.registry.ProcessRegistry`);
  `deployment`: deploy / replace / undeploy of application packages
  (:class:`~.processes.deployment.Deployment`).
- `jobs`: the job service: submit, start, wait, results, dismiss
  (:class:`~.jobs.service.JobService`); `services`: the job engine's parts for this
  configuration (:class:`~.jobs.services.JobServices`, shared with the process manager);
  `manager`: the pygeoapi process manager over them (:class:`~.jobs.Manager`); `engine`: the
  engine core (recovery, dismissal, retention, container stop;
  :class:`~.jobs.engine.JobEngine`); `dispatcher`: how jobs reach the workers (local
  supervisor or Celery; :class:`~.jobs.dispatch.Dispatcher`); `results`: where results
  and logs are kept (:class:`~.jobs.result_store.ResultStore`).
- `runners`: execution runners by unit kind (`docker`, `cwl`;
  :class:`~.execution.runner.ExecutionRunner`).
- `sweepers`: recovery sweeps the job engine runs periodically, `(manager, settings)`.
- `record_listeners`: called with `(store_url, collection)` after new catalogue records
  are committed (e.g. ordering's subscriptions).
- `item_processors`: the ordering item processor classes resolved so far, by dotted name
  (`item_processor(name)` resolves one when first asked: a broken plug-in fails the
  order items that use it, never the start-up).
- `runtime()`: what a job-engine process needs (:class:`~.jobs.runtime.Runtime`).
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from . import config as eoconfig
from .auth import Auth
from .catalogue import repository as record_events
from .config import Settings
from .execution.runner import ExecutionRunner
from .jobs import Manager
from .jobs.dispatch import Dispatcher
from .jobs.engine import JobEngine
from .jobs.result_store import ResultStore
from .jobs.runtime import Runtime
from .jobs.service import JobService
from .jobs.services import JobServices
from .ordering import recovery as order_recovery
from .ordering.service import OrderService
from .plugins import PluginError, resolve
from .processes.catalogue import ProcessCatalogue
from .processes.deployment import Deployment
from .processes.registry import ProcessRegistry
from .store import Store

__all__ = ['Components', 'PluginError', 'resolve']

_CACHE: dict[tuple[str, int], 'Components'] = {}
_CACHE_LOCK = threading.RLock()


def _configured_processes(config: dict) -> dict:
    """The `type: process` resources, as pygeoapi hands them to its process manager."""
    return {pid: conf for pid, conf in (config.get('resources') or {}).items()
            if isinstance(conf, dict) and conf.get('type') == 'process'}


def _record_listeners(settings: Settings, manager: Manager) -> tuple[Callable, ...]:
    """Ordering's subscriptions serve new catalogue records (when ordering is on)."""
    if not settings.block['ordering']['enabled']:
        return ()
    return (OrderService(settings, manager).records_inserted,)


@dataclass(eq=False)
class Components:
    """The services of one configuration (see the module docstring for each attribute)."""

    config: dict
    settings: Settings
    services: JobServices
    manager: Manager
    sweepers: tuple[Callable, ...] = ()
    record_listeners: tuple[Callable[[str, str], Any], ...] = ()
    item_processors: dict[str, type] = field(default_factory=dict)

    resolve = staticmethod(resolve)

    # -- the job engine's parts, by their own names -------------------------------------
    @property
    def jobs(self) -> JobService:
        return self.services.jobs

    @property
    def store(self) -> Store:
        return self.services.store

    @property
    def auth(self) -> Auth:
        return self.services.auth

    @property
    def processes(self) -> ProcessCatalogue:
        return self.services.processes

    @property
    def registry(self) -> ProcessRegistry:
        return self.services.registry

    @property
    def results(self) -> ResultStore:
        return self.services.results

    @property
    def dispatcher(self) -> Dispatcher:
        return self.services.dispatcher

    @property
    def engine(self) -> JobEngine:
        return self.services.engine

    @property
    def runners(self) -> dict[str, ExecutionRunner]:
        return self.services.runners

    @property
    def deployment(self) -> Deployment:
        return Deployment(self.processes, self.auth, self.runners, self.settings)

    def item_processor(self, dotted: str) -> type:
        """The item processor class named `dotted` (resolved when first asked)."""
        if dotted not in self.item_processors:
            self.item_processors[dotted] = resolve(dotted, 'item processor')
        return self.item_processors[dotted]

    def runtime(self) -> Runtime:
        """What a job-engine process needs; a forked child rebuilds its own."""
        config, settings = self.config, self.settings
        return Runtime(config=config, settings=settings, manager=self.manager,
                       sweepers=self.sweepers,
                       rebuild=lambda: Components.for_loaded(config, settings).runtime())

    # -- building -------------------------------------------------------------------------
    @classmethod
    def build(cls, config: dict, settings: Settings) -> 'Components':
        """Every service of a loaded configuration (`config.load`)."""
        configured = _configured_processes(config)
        services = JobServices.for_settings(settings, configured)
        manager_def = dict(config['server']['manager'], processes=configured)
        manager = Manager(manager_def, services=services)
        components = cls(config=config, settings=settings, services=services, manager=manager,
                         sweepers=(order_recovery.sweep,),
                         record_listeners=_record_listeners(settings, manager))
        for position, listener in enumerate(components.record_listeners):
            record_events.listen(settings.store_url, f'{settings.config_path}#{position}',
                                 listener)
        return components

    @classmethod
    def for_config(cls, path: str | os.PathLike) -> 'Components':
        """The registry of the configuration file at `path` in this process."""
        key = (str(Path(path).resolve()), os.getpid())
        with _CACHE_LOCK:
            found = _CACHE.get(key)
            if found is None:
                config, settings = eoconfig.load(key[0])
                found = _CACHE[key] = cls.build(config, settings)
        return found

    @classmethod
    def for_loaded(cls, config: dict, settings: Settings) -> 'Components':
        """The registry of an already loaded configuration in this process (a forked
        child: the file is not read again)."""
        key = (str(Path(settings.config_path).resolve()), os.getpid())
        with _CACHE_LOCK:
            found = _CACHE.get(key)
            if found is None:
                found = _CACHE[key] = cls.build(config, settings)
        return found

    @classmethod
    def for_settings(cls, settings: Settings) -> 'Components':
        """The registry of the configuration file `settings` were loaded from."""
        return cls.for_config(settings.config_path)

    @classmethod
    def forget(cls, path: str | os.PathLike | None = None) -> None:
        """Drop cached registries (all, or that of `path`): the next call rebuilds."""
        with _CACHE_LOCK:
            if path is None:
                _CACHE.clear()
                return
            resolved = str(Path(path).resolve())
            for key in [k for k in _CACHE if k[0] == resolved]:
                del _CACHE[key]
