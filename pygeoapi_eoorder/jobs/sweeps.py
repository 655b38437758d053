"""Components' recovery sweeps, run by whichever job engine is in use (local or Celery)."""

from __future__ import annotations

import importlib
import importlib.util
import logging

LOGGER = logging.getLogger('eoorder.sweeps')
SWEEPERS = ('pygeoapi_eoorder.ordering.recovery:sweep',)


def run(manager, settings) -> None:
    """Run every present component's sweep (e.g. orders whose item jobs went missing)."""
    for sweeper in SWEEPERS:
        module_name, _, function = sweeper.partition(':')
        if importlib.util.find_spec(module_name.rsplit('.', 1)[0]) is None:
            continue
        try:
            getattr(importlib.import_module(module_name), function)(manager, settings)
        except Exception:  # a sweep must never stop the engine
            LOGGER.exception('sweep %s failed', sweeper)
