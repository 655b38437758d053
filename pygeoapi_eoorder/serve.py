"""`eoorder serve`: gunicorn in front of the app, with the job engine beside it."""

from __future__ import annotations

import gc
import os
import sys
import threading

from gunicorn.app.base import BaseApplication
from gunicorn.arbiter import Arbiter

from .config import ENV_BIND_URL, ENV_CONFIG, ConfigError, Settings, bind_url
from .jobs import supervisor_control as control
from .jobs.sync_waits import ENV_WEB_THREADS


class Server(BaseApplication):
    """A gunicorn application serving `pygeoapi_eoorder.app:APP`."""

    def __init__(self, options: dict):
        self.options = options
        super().__init__()

    def load_config(self):
        for key, value in self.options.items():
            if key in self.cfg.settings:  # (a setting of a newer gunicorn: left out)
                self.cfg.set(key, value)

    def load(self):
        from .app import create_app
        try:
            app = create_app()
        except ConfigError as err:
            # checked before serving already; if a worker still finds one, it says so in
            # one line and stops the server (gunicorn halts on a worker's boot error)
            print(f'eoorder: config error: {err}', file=sys.stderr, flush=True)
            sys.exit(Arbiter.WORKER_BOOT_ERROR)
        gc.freeze()  # the app's long-lived objects: full collections (300 ms seen) skip them
        return app


def check_components(settings: Settings) -> None:
    """Run each component's configuration check (`check(settings)`, if it has one) before
    the web workers are forked: a config error is then one line, not a traceback per
    worker. Raises ConfigError."""
    from .app import components
    for component in components():
        check = getattr(component, 'check', None)
        if check is not None:
            check(settings)


class Watchdog(threading.Thread):
    """Keeps one attached supervisor running beside the web server."""

    def __init__(self, settings: Settings):
        super().__init__(name='eoorder-watchdog', daemon=True)
        self.settings = settings
        self.stopping = threading.Event()
        self.process = self.start_supervisor()

    def start_supervisor(self):
        process = control.spawn_supervisor(self.settings, attached=True)
        if not control.wait_until_alive(self.settings, process):
            raise RuntimeError('the job engine did not start; see '
                               f'{self.settings.log_dir}/supervisor.log')
        return process

    def run(self):
        while not self.stopping.wait(1.0):
            # an engine that was asked to stop (shutdown) is not restarted; a crashed one is
            if self.process.poll() is not None and \
                    not control.stopping_path(self.settings).exists():
                try:
                    self.process = self.start_supervisor()
                except RuntimeError:
                    continue

    def stop(self):
        self.stopping.set()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(self.settings.jobs.shutdown_grace_seconds + 10)
            except Exception:
                self.process.kill()


def run(settings: Settings, host: str, port: int, workers: int, threads: int) -> None:
    """Start the job engine, then serve until stopped; a dead engine is restarted.

    With `jobs.engine: celery` the server only enqueues: jobs run in `eoorder worker`
    processes, so no local supervisor (and no watchdog) is started.
    """
    check_components(settings)
    os.environ[ENV_CONFIG] = str(settings.config_path)
    os.environ[ENV_BIND_URL] = bind_url({}, host, port)  # links outside requests
    os.environ[control.ENV_SUPERVISOR] = 'external'
    os.environ[ENV_WEB_THREADS] = str(threads)  # (`jobs.max_sync_waits: auto`)
    watchdog = Watchdog(settings) if settings.jobs.engine == 'local' else None
    if watchdog is None:
        _check_store(settings)
    else:
        watchdog.start()
    options = {
        'bind': f'{host}:{port}', 'workers': workers, 'threads': threads,
        'worker_class': 'pygeoapi_eoorder.web.gunicorn_worker.Worker',  # (gthread)
        'timeout': 0, 'graceful_timeout': 10,
        # a request line of up to 8 KiB (GET filters of catalogue searches; the default 4)
        'limit_request_line': 8190,
        # idle keep-alive connections live 5 s (gunicorn's default, 2 s, races clients that
        # reuse one after a 2 s pause, e.g. stac-api-validator's transaction steps: reset)
        'keepalive': 5,
        'accesslog': '-', 'errorlog': '-', 'loglevel': 'info',
        'access_log_format': '%(h)s "%(r)s" %(s)s %(b)s %(M)sms',
        # X-Forwarded-* are the app's to honour (web.trusted_proxies), not gunicorn's
        'forwarded_allow_ips': '', 'secure_scheme_headers': {},
        # no control socket (gunicorn >= 25: one path per user, shared by every server)
        'control_socket_disable': True,
    }
    try:
        Server(options).run()
    finally:
        if watchdog is not None:
            watchdog.stop()


def _check_store(settings: Settings) -> None:
    """Open (and migrate) the shared store before forking web workers: a store that is
    unreachable stops start-up with one line instead of failing every request."""
    from sqlalchemy.exc import SQLAlchemyError

    from .store import get_store
    try:
        get_store(settings.store_url).dispose()
    except SQLAlchemyError as err:
        reason = str(getattr(err, 'orig', None) or err).strip().splitlines()[0]
        raise RuntimeError(f'store {settings.store_url.split("@")[-1]} unreachable ({reason});'
                           ' fix: start the database or correct eoorder.store.url') from None
