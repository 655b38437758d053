"""The processes of a deployment: configured ones and those deployed at run time.

Configured processes (the `resources:` of the YAML, built in and immutable) win over a
deployed process of the same id. What a caller sees follows the auth rules: a private
deployed process only by its owner and admins; outside requests (in workers) all. Of
several deployed processes of one id (users' private ones are kept per owner), the
caller's own wins, then the public one, then (for admins) the others in key order.
"""

from __future__ import annotations

import collections
from typing import Any

from pygeoapi.plugin import load_plugin
from pygeoapi.process.base import BaseProcessor, UnknownProcessError

from ..auth import Auth, User, current_user
from .registry import ProcessRegistry, process_id_of


class ProcessCatalogue:
    """Process definitions, their processors and their (cached) descriptions."""

    def __init__(self, configured: dict, registry: ProcessRegistry, auth: Auth):
        self.configured = collections.OrderedDict(
            (pid, dict(conf)) for pid, conf in configured.items())
        self.registry = registry
        self.auth = auth
        self._metadata: dict[str, tuple[Any, dict]] = {}

    def deployed(self, user: User | None, everyone: bool = False) -> dict[str, tuple[str, dict]]:
        """Process id -> (row key, definition) of the deployed processes `user` may see
        (`everyone`: all of them), one per id as the module's docstring says."""
        chosen: dict[str, tuple[int, str, dict]] = {}
        for key, definition in self.registry.all().items():
            if not everyone and not self.auth.can_see_process(user, definition):
                continue
            pid, rank = process_id_of(key), self._rank(user, definition)
            if pid not in chosen or rank < chosen[pid][0]:
                chosen[pid] = (rank, key, definition)
        return {pid: (key, definition) for pid, (_, key, definition) in sorted(chosen.items())}

    @staticmethod
    def _rank(user: User | None, definition: dict) -> int:
        if definition.get('visibility', 'public') != 'private':
            return 1
        return 0 if user is not None and definition.get('owner') == user.name else 2

    def resolve(self, process_id: str, user: User | None) -> tuple[str, dict] | None:
        """(row key, definition) of the deployed process `user` gets under this id."""
        return self.deployed(user).get(process_id)

    def visible(self) -> collections.OrderedDict:
        """Configured processes, then the deployed ones the caller may see."""
        user = current_user()
        merged = collections.OrderedDict(self.configured)
        for pid, (_, definition) in self.deployed(user, everyone=user is None).items():
            merged.setdefault(pid, definition)
        return merged

    def definition(self, process_id: str) -> dict | None:
        """The configured or deployed definition of a process, as the caller (outside a
        request: anyone) gets it."""
        return self.configured.get(process_id) or self.visible().get(process_id)

    def processor(self, process_id: str, definition: dict | None = None) -> BaseProcessor:
        """A new processor of a visible process (pygeoapi's plug-in loader builds it from
        the resource's `processor`, as pygeoapi itself does)."""
        if definition is None:  # a configured process: no store read (as `metadata`)
            definition = self.configured.get(process_id) or self.visible().get(process_id)
        if definition is None:
            raise UnknownProcessError('Invalid process identifier')
        processor = load_plugin('process', definition['processor'])
        processor.allow_internal_requests = definition.get('allow_internal_requests', False)
        return processor

    def metadata(self, process_id: str) -> dict:
        """A process description, cached while its definition is unchanged."""
        # a configured process wins over a deployed one of the same id: no store read
        conf = self.configured.get(process_id) or self.visible().get(process_id)
        if conf is None:
            raise UnknownProcessError('Invalid process identifier')
        cached = self._metadata.get(process_id)
        if cached is None or cached[0] != conf:
            cached = (conf, self.processor(process_id, conf).metadata)
            self._metadata[process_id] = cached
        return cached[1]

    def is_idempotent(self, process_id: str) -> bool:
        conf = self.configured.get(process_id) or self.visible().get(process_id, {})
        return bool(conf.get('idempotent') or self.metadata(process_id).get('idempotent'))
