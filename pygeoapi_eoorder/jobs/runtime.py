"""Everything a job-engine process needs, built from one configuration file."""

from __future__ import annotations

from dataclasses import dataclass

from pygeoapi.process.manager.base import get_manager

from .. import config as eoconfig
from ..config import Settings
from .manager import Manager
from .repository import JobRepository


@dataclass
class Runtime:
    config: dict
    settings: Settings
    manager: Manager

    @property
    def repo(self) -> JobRepository:
        return self.manager.repo

    @classmethod
    def load(cls, config_path: str) -> 'Runtime':
        config, settings = eoconfig.load(config_path)
        return cls(config=config, settings=settings, manager=get_manager(config))

    def after_fork(self) -> 'Runtime':
        """A copy for a forked child: same configuration, its own store connections."""
        self.manager.store.dispose()
        return Runtime(config=self.config, settings=self.settings,
                       manager=get_manager(self.config))
