"""Fixtures of the reliability tests.

`inprocess_app`: the real WSGI app (`pygeoapi_eoorder.app.create_app`) built once per test
session in this process, with ordering and a records collection enabled, for fuzzing through
Flask's test client (thousands of requests in seconds, no sockets); every fuzz module
shares it.
"""

from __future__ import annotations

import logging
import os

import pytest

from ..support import oseo
from ..support.catalogue import records_resource


class ErrorLog(logging.Handler):
    """Collects this package's ERROR records (the app's handlers log unhandled exceptions)."""

    def __init__(self):
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record):
        # pygeoapi.api logs every refused request (a 400) at ERROR: not a defect
        if record.name.startswith('pygeoapi_eoorder'):
            self.records.append(record)

    def take(self) -> list[str]:
        formatter = logging.Formatter()
        taken = [f'{r.name}: {r.getMessage()}'
                 + (f'\n{formatter.formatException(r.exc_info)}' if r.exc_info else '')
                 for r in self.records]
        self.records.clear()
        return taken


@pytest.fixture(scope='session')
def inprocess_app(tmp_path_factory):
    from ..conftest import TEST_PROCESSES, make_config
    from pygeoapi_eoorder.jobs import supervisor_control as control

    root = tmp_path_factory.mktemp('inprocess')
    (root / 'products').mkdir()
    oseo.make_products(root / 'products', ['P1', 'P2', 'a', 'b'])
    resources = {**TEST_PROCESSES, 'products': records_resource('EO products')}
    path = make_config(root, 5999, oseo.eoorder_block(root / 'products'), resources)
    saved = {k: os.environ.get(k) for k in ('PYGEOAPI_CONFIG', control.ENV_SUPERVISOR)}
    # no job engine: the fuzzers only enqueue; nothing needs to run
    os.environ[control.ENV_SUPERVISOR] = 'external'
    from pygeoapi_eoorder.app import create_app
    try:
        app = create_app(str(path))
    finally:  # the servers other tests start must not inherit any of it
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    app.testing = False  # exceptions go through the app's handlers, as in production
    errors = ErrorLog()
    logging.getLogger().addHandler(errors)
    app.logger.addHandler(errors)
    app.error_log = errors
    yield app
    logging.getLogger().removeHandler(errors)


@pytest.fixture(autouse=True)
def _no_job_engine_in_process(request, monkeypatch):
    """While a test uses the in-process app, its submissions must not start a supervisor
    (the manager starts one on submit unless it is supervised externally)."""
    if 'inprocess_app' in request.fixturenames:
        from pygeoapi_eoorder.jobs import supervisor_control as control
        monkeypatch.setenv(control.ENV_SUPERVISOR, 'external')
