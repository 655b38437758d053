"""The job engine's collaborators for one configuration, built once per process.

The pygeoapi process manager (`Manager`, built by pygeoapi from `server.manager.name`)
and the component registry (`components.py`) share one `JobServices` per configuration
and process: `JobServices.for_settings`.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from functools import cached_property

from ..auth import Auth
from ..config import Settings
from ..execution import runners as builtin_runners
from ..execution.runner import ExecutionRunner
from ..processes.catalogue import ProcessCatalogue
from ..processes.registry import ProcessRegistry
from ..store import Store, get_store
from . import dispatch, result_store, sync_waits
from .dispatch import Dispatcher
from .engine import JobEngine
from .quotas import QuotaPolicy, QuotaService
from .repository import JobRepository
from .result_store import ResultStore
from .service import JobService
from .sync_waits import SyncWaits

_SHARED: dict[tuple, 'JobServices'] = {}
_SHARED_LOCK = threading.Lock()


@dataclass(eq=False)
class JobServices:
    """Store, job repository, auth, processes, result store, dispatcher, runners, engine,
    and the job service over them."""

    settings: Settings
    store: Store
    repo: JobRepository
    registry: ProcessRegistry
    results: ResultStore
    dispatcher: Dispatcher
    runners: dict[str, ExecutionRunner]
    configured_processes: dict

    @cached_property
    def auth(self) -> Auth:
        """The access rules (authenticators, roles, permissions), built on first use."""
        return Auth(self.settings.block['auth'], self.settings.config_path.parent,
                    self.settings.store_url)

    @cached_property
    def processes(self) -> ProcessCatalogue:
        return ProcessCatalogue(self.configured_processes, self.registry, self.auth)

    @cached_property
    def engine(self) -> JobEngine:
        return JobEngine(self.settings, self.repo, self.results, self.dispatcher,
                         self.runners, self.processes)

    @cached_property
    def jobs(self) -> JobService:
        return JobService(self.repo, self.processes, self.dispatcher, self.results,
                          self.engine, self.quotas, SyncWaits(sync_waits.limit_of(
                              self.settings.jobs.max_sync_waits)))

    @cached_property
    def quotas(self) -> QuotaService:
        """Per-user limits and usage (`eoorder.quotas`)."""
        return QuotaService(QuotaPolicy.from_settings(self.settings), self.repo)

    @classmethod
    def build(cls, settings: Settings, configured_processes: dict,
              runners: dict[str, ExecutionRunner] | None = None) -> 'JobServices':
        store = get_store(settings.store_url)
        repo = JobRepository(store)
        return cls(settings=settings, store=store, repo=repo, registry=ProcessRegistry(store),
                   results=result_store.build(settings, store),
                   dispatcher=dispatch.build(settings, repo),
                   runners=runners if runners is not None else builtin_runners.build(settings),
                   configured_processes=configured_processes)

    @classmethod
    def for_settings(cls, settings: Settings, configured_processes: dict) -> 'JobServices':
        """The services of this configuration in this process (built on first call)."""
        key = (json.dumps(settings.to_dict(), sort_keys=True, default=str),
               json.dumps(configured_processes, sort_keys=True, default=str), os.getpid())
        with _SHARED_LOCK:
            services = _SHARED.get(key)
            if services is None:
                services = _SHARED[key] = cls.build(settings, configured_processes)
        return services
