"""pygeoapi's API object for this server: base URL and OpenAPI document per request."""

from __future__ import annotations

import copy
import threading
from typing import Callable

from pygeoapi.api import API

from .. import urls
from . import request_root
from ..auth import current_user
from ..auth import scope as request_scope

_PER_URL_LOCK = threading.Lock()


class EOOrderAPI(API):
    """pygeoapi's API object whose base URL is the request's, by its app's rules (`urls`, a
    :class:`~pygeoapi_eoorder.urls.BaseURL`; see that module): pygeoapi reads
    `base_url` and `openapi` (its `servers`: a cached copy per URL) per request; the
    OpenAPI document comes from `openapi_source` (rebuilt when the processes change). Its
    templates' `config.server.url` is `urls.IN_PAGES`, which the app replaces in each page
    (pygeoapi caches the templates' config once per locale). Deployed processes (absent
    from the configuration's resources) use the server's templates; `manager` is the
    component registry's process manager."""

    MAX_CACHED_URLS = 16  # Host is the client's: keep a few copies, not one per value
    # () -> {collection id: resource} declared at run time for the caller (workspaces)
    runtime_resources: Callable[[], dict] | None = None

    def __init__(self, config: dict, openapi_source: Callable[[], dict], manager=None,
                 asyncapi: dict | None = None, *, base: urls.BaseURL):
        self._openapi_source = openapi_source
        self.urls = base  # before pygeoapi's __init__, which reads `base_url`
        super().__init__(config, openapi_source(), asyncapi or {})
        if manager is not None:  # the component registry's (pygeoapi built its own)
            self.manager = manager
        if not self.urls.fixed:
            self.tpl_config['server']['url'] = urls.IN_PAGES

    @property
    def config(self) -> dict:
        """The configuration; in a request, its resources with the collections declared at
        run time that the caller may see (`runtime_resources`, read once a request)."""
        return self._with_caller_resources(self.__dict__['_config'])

    @config.setter
    def config(self, value: dict) -> None:
        self.__dict__['_config'] = value

    @property
    def tpl_config(self) -> dict:
        """The templates' configuration, with the same collections as `config`."""
        return self._with_caller_resources(self.__dict__['_tpl_config'])

    @tpl_config.setter
    def tpl_config(self, value: dict) -> None:
        self.__dict__['_tpl_config'] = value

    def _with_caller_resources(self, configured: dict) -> dict:
        extra = self._caller_resources()
        if not extra:
            return configured
        resources = configured.get('resources') or {}
        added = {cid: r for cid, r in extra.items() if cid not in resources}
        return {**configured, 'resources': {**resources, **added}}

    def _caller_resources(self) -> dict:
        scope = request_scope.current()
        if self.runtime_resources is None or scope is None:  # not before the caller is known
            return {}
        user = current_user()
        key = ('runtime_resources', id(self), user.name if user is not None else None)
        if key not in scope.memo:
            scope.memo[key] = self.runtime_resources()
        return scope.memo[key]

    @property
    def base_url(self) -> str:
        return self.urls.at(request_root())

    @base_url.setter
    def base_url(self, value: str) -> None:  # pygeoapi sets the configured one
        pass

    @property
    def openapi(self) -> dict:
        return self._for_url(self._openapi_source(), lambda url, doc: [
            server.update(url=url) for server in doc.get('servers') or []])

    @openapi.setter
    def openapi(self, value: dict) -> None:  # pygeoapi sets the document it was given
        pass

    def _for_url(self, original: dict, rebase) -> dict:
        """`original` with the request's base URL (a cached copy)."""
        url = self.base_url
        per_url = self.__dict__.setdefault('_per_url', {})
        cached = per_url.get(url)
        if cached is not None and cached[0] is original:
            return cached[1]
        document = copy.deepcopy(original)
        rebase(url, document)
        with _PER_URL_LOCK:
            if len(per_url) >= self.MAX_CACHED_URLS:
                per_url.pop(next(iter(per_url)))
            per_url[url] = (original, document)
        return document

    def get_dataset_templates(self, dataset: str) -> dict:
        if dataset not in self.config.get('resources', {}):
            return self.tpl_config['server']['templates']
        return super().get_dataset_templates(dataset)
