"""The processes of a deployment: configured ones and those deployed at run time.

Configured processes (the `resources:` of the YAML, built in and immutable) win over a
deployed process of the same id. What a caller sees follows the auth rules: a private
deployed process only by its owner and admins; outside requests (in workers) all.
"""

from __future__ import annotations

import collections
from typing import Any

from pygeoapi.plugin import load_plugin
from pygeoapi.process.base import BaseProcessor, UnknownProcessError

from ..auth import Auth, current_user
from .registry import ProcessRegistry


class ProcessCatalogue:
    """Process definitions, their processors and their (cached) descriptions."""

    def __init__(self, configured: dict, registry: ProcessRegistry, auth: Auth):
        self.configured = collections.OrderedDict(
            (pid, dict(conf)) for pid, conf in configured.items())
        self.registry = registry
        self.auth = auth
        self._metadata: dict[str, tuple[Any, dict]] = {}

    def visible(self) -> collections.OrderedDict:
        """Configured processes, then the deployed ones the caller may see."""
        user = current_user()
        merged = collections.OrderedDict(self.configured)
        for pid, definition in self.registry.all().items():
            if user is None or self.auth.can_see_process(user, definition):
                merged.setdefault(pid, definition)
        return merged

    def definition(self, process_id: str) -> dict | None:
        """The configured or deployed definition of a process, whoever asks."""
        return self.configured.get(process_id) or self.registry.all().get(process_id)

    def processor(self, process_id: str, definition: dict | None = None) -> BaseProcessor:
        """A new processor of a visible process (pygeoapi's plug-in loader builds it from
        the resource's `processor`, as pygeoapi itself does)."""
        if definition is None:
            definition = self.visible().get(process_id)
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
