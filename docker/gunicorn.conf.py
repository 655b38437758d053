"""Production gunicorn settings for `pygeoapi_eoorder.app:APP` (used by docker/Dockerfile).

    gunicorn -c docker/gunicorn.conf.py pygeoapi_eoorder.app:APP

Every setting can be changed without editing this file through the environment:
EOORDER_BIND, WEB_CONCURRENCY (web worker processes), EOORDER_THREADS, EOORDER_TIMEOUT,
EOORDER_FORWARDED_ALLOW_IPS, EOORDER_LOGLEVEL. PYGEOAPI_CONFIG names the configuration.

Web workers only serve HTTP: jobs run in the job engine (with `jobs.engine: local` the app
starts one supervisor per data directory, with `celery` they run in `eoorder worker`
containers). `eoorder serve` is the same thing with a watchdog that restarts the local
engine; this file is for deployments where the container runtime restarts processes.
"""

import multiprocessing
import os
import sys


def _int(name: str, default: int) -> int:
    try:
        return int(os.environ.get(name, default))
    except ValueError:
        sys.exit(f'eoorder: config error: env {name}: not a whole number; fix: set a number')


bind = os.environ.get('EOORDER_BIND', '0.0.0.0:5000')
# gthread: a synchronous execution holds its request until the job ends or is turned into
# an asynchronous one (jobs.sync_timeout_seconds), so threads, not processes, wait for it
worker_class = 'pygeoapi_eoorder.web.gunicorn_worker.Worker'  # gthread, errors as problem+json
workers = _int('WEB_CONCURRENCY', min(2 * multiprocessing.cpu_count() + 1, 8))
threads = _int('EOORDER_THREADS', 8)
os.environ['EOORDER_WEB_THREADS'] = str(threads)  # (jobs.max_sync_waits: auto)
# above jobs.sync_timeout_seconds (default 300): a waiting synchronous request is not killed
timeout = _int('EOORDER_TIMEOUT', 360)
graceful_timeout = 30
keepalive = 5
# recycle workers now and then (bounded memory growth), not all at once
max_requests = 5000
max_requests_jitter = 500
# the app is built in each worker (it binds per-process resources: store pools, sockets)
preload_app = False
worker_tmp_dir = '/dev/shm' if os.path.isdir('/dev/shm') else None
# behind a reverse proxy: trust its X-Forwarded-* headers (server.url must be the public URL)
forwarded_allow_ips = os.environ.get('EOORDER_FORWARDED_ALLOW_IPS', '127.0.0.1')
# application packages and OSEO requests are bodies, not headers: keep header limits strict
limit_request_line = 8190
limit_request_fields = 100
accesslog = '-'
errorlog = '-'
loglevel = os.environ.get('EOORDER_LOGLEVEL', 'info')
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms'
proc_name = 'eoorder'


def on_starting(server):
    """Check the configuration once, in the master: a bad file stops start-up with one line
    naming the key, instead of every worker failing to boot."""
    from pygeoapi_eoorder import config as eoconfig
    path = os.environ.get(eoconfig.ENV_CONFIG)
    if not path:
        sys.exit(f'eoorder: config error: {eoconfig.ENV_CONFIG}: not set; fix: point it at a '
                 'pygeoapi YAML file with an eoorder: block')
    try:
        eoconfig.load(path)
    except eoconfig.ConfigError as err:
        sys.exit(f'eoorder: config error: {err}')
