"""Components' recovery sweeps, run by whichever job engine is in use (local or Celery)."""

from __future__ import annotations

import logging

from ..hooks import call_all

LOGGER = logging.getLogger('eoorder.sweeps')
SWEEPERS = ('pygeoapi_eoorder.ordering.recovery:sweep',)


def run(manager, settings) -> None:
    """Run every present component's sweep (e.g. orders whose item jobs went missing)."""
    call_all(SWEEPERS, manager, settings, logger=LOGGER)
