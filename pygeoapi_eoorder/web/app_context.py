"""The app's own context for the length of each request (app hook: `install`).

Services read the base URL (`urls`) and the catalogue context (`catalogue.runtime`) of the
app serving the request through context variables: this hook sets both first thing in
each request and resets them when it ends, so two apps in one process (or one app and a
CLI) never see each other's.
"""

from __future__ import annotations

from flask import Flask, g, request

from .. import urls
from ..catalogue import runtime as catalogue_runtime
from ..catalogue.runtime import CatalogueContext

TOKENS = 'eoorder_app_context_tokens'


def install(app: Flask, base: urls.BaseURL, catalogue: CatalogueContext) -> None:
    """Register the hooks; the entering one runs before every other before_request hook
    (an early answer of one of them still has its app's links)."""
    def _enter():
        setattr(g, TOKENS, (urls.enter(base, request.root_url),
                            catalogue_runtime.enter(catalogue)))

    app.before_request_funcs.setdefault(None, []).insert(0, _enter)

    @app.teardown_request
    def _leave(_error=None):
        tokens = g.pop(TOKENS, None)
        if tokens is not None:
            catalogue_runtime.leave(tokens[1])
            urls.leave(tokens[0])
