"""`eoorder serve`: gunicorn in front of the app, with the job engine beside it."""

from __future__ import annotations

import os

from gunicorn.app.base import BaseApplication

from .config import ENV_CONFIG, Settings
from .jobs import control


class Server(BaseApplication):
    """A gunicorn application serving `pygeoapi_eoorder.app:APP`."""

    def __init__(self, options: dict):
        self.options = options
        super().__init__()

    def load_config(self):
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        from .app import create_app
        return create_app()


def run(settings: Settings, host: str, port: int, workers: int, threads: int) -> None:
    """Start the supervisor (attached), wait for it, then serve until stopped."""
    from .app import ENV_SUPERVISOR
    os.environ[ENV_CONFIG] = str(settings.config_path)
    os.environ[ENV_SUPERVISOR] = 'external'
    supervisor = control.spawn_supervisor(settings, attached=True)
    if not control.wait_until_alive(settings, supervisor):
        raise RuntimeError(f'the job engine did not start; see {settings.log_dir}/supervisor.log')
    options = {
        'bind': f'{host}:{port}', 'workers': workers, 'threads': threads,
        'worker_class': 'gthread', 'timeout': 0, 'graceful_timeout': 10,
        'accesslog': '-', 'errorlog': '-', 'loglevel': 'info',
        'access_log_format': '%(h)s "%(r)s" %(s)s %(b)s %(M)sms',
    }
    try:
        Server(options).run()
    finally:
        if supervisor.poll() is None:
            supervisor.terminate()
            try:
                supervisor.wait(15)
            except Exception:
                supervisor.kill()
