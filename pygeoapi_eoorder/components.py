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
- `urls`: how this configuration's base URL is found (:class:`~.urls.BaseURL`);
  `catalogue`: what its record providers need to know (settings, resources;
  :class:`~.catalogue.runtime.CatalogueContext`). The web layer makes both current for
  each request of the app built from this registry; nothing else in the process is changed.

`load_config(path)` loads a configuration with this package's built-in processes added to
its `resources:` (see `BUILTIN_PROCESSES`); every entry point that serves processes
loads through it.
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
from .catalogue.runtime import CatalogueContext
from .config import Settings
from .datacube.job import GraphProcess
from .execution.runner import ExecutionRunner
from .jobs import Manager
from .jobs.dispatch import Dispatcher
from .jobs.engine import JobEngine
from .jobs.result_store import ResultStore
from .jobs.runtime import Runtime
from .jobs.service import JobService
from .jobs.services import JobServices
from .ordering import recovery as order_recovery
from .ordering.item_job import OrderItemProcess
from .ordering.notification_job import NotificationProcess
from .ordering.repository import OrderRepository
from .ordering.service import OrderService
from .plugins import PluginError, resolve
from .processes.builtin import DeployProcess, UndeployProcess
from .processes.catalogue import ProcessCatalogue
from .processes.deployment import Deployment
from .processes.registry import ProcessRegistry
from .store import Store
from .urls import BaseURL
from .workspaces import failed_jobs as workspace_bookings
from .workspaces import uploads as workspace_uploads
from .wps import notify as wps_notify

__all__ = ['BUILTIN_PROCESSES', 'Components', 'PluginError', 'load_config', 'plugin_name',
           'resolve']

BUILTIN_PROCESSES: dict[str, type] = {  # processes every configuration serves
    'DeployProcess': DeployProcess,          # Testbed-13 ADES transactions, as processes
    'UndeployProcess': UndeployProcess,
    '_oseo_order_item': OrderItemProcess,    # internal: one OSEO order item
    '_oseo_notification': NotificationProcess,  # internal: an OSEO status notification
    '_openeo_graph': GraphProcess,           # internal: an openEO batch job
}

_CACHE: dict[tuple[str, int], 'Components'] = {}
_CACHE_LOCK = threading.RLock()


def plugin_name(cls: type) -> str:
    """The dotted name pygeoapi's plug-in loader imports `cls` by. pygeoapi reads processors
    from `resources:` (its process manager, its OpenAPI document) only by such names, so the
    built-in processes are named here, from their classes, in this one place."""
    return f'{cls.__module__}.{cls.__qualname__}'


def load_config(path: str | os.PathLike, strict: bool = False) -> tuple[dict, Settings]:
    """`config.load`, with the built-in processes added to `resources:` (a deployer's
    resource of the same id wins)."""
    config, settings = eoconfig.load(path, strict=strict)
    resources = config.setdefault('resources', {})
    for process_id, processor in BUILTIN_PROCESSES.items():
        resources.setdefault(process_id, {'type': 'process',
                                          'processor': {'name': plugin_name(processor)}})
    return config, settings


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
    urls: BaseURL = field(default_factory=BaseURL)
    catalogue: CatalogueContext = field(default_factory=CatalogueContext)

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
        # the final message of a job's WPS ows:ResponseHandler (wps sits above the engine)
        services.engine.message_formats[wps_notify.FORMAT] = \
            wps_notify.message_format(settings.jobs.retention_seconds)
        # a user's active order items in their quota usage (ordering sits above the engine)
        services.quotas.order_items = OrderRepository(services.store).active_items_of
        manager_def = dict(config['server']['manager'], processes=configured)
        manager = Manager(manager_def, services=services)
        components = cls(config=config, settings=settings, services=services, manager=manager,
                         sweepers=(order_recovery.sweep, workspace_bookings.sweep_bookings,
                                   workspace_uploads.sweep_uploads),
                         record_listeners=_record_listeners(settings, manager),
                         urls=BaseURL.for_config(config, settings.public_url),
                         catalogue=CatalogueContext.of_config(config, settings))
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
                config, settings = load_config(key[0])
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
