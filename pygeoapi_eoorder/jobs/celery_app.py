"""The Celery side of the cluster engine shared by servers and workers: the app with its
delivery semantics (see `cluster.py`), and publishing "job <id> is ready"."""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

from ..config import Settings

LOGGER = logging.getLogger('eoorder.cluster')
TASK = 'eoorder.run_job'


def celery_app(settings: Settings, *, worker: bool = False):
    """A Celery app for `settings` (the broker, queue and delivery semantics above)."""
    from celery import Celery

    jobs = settings.jobs
    app = Celery('eoorder', broker=jobs.broker_url, set_as_current=worker)
    app.conf.update(
        task_default_queue=jobs.queue,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_acks_on_failure_or_timeout=True,
        task_ignore_result=True,           # results live in the store, not a result backend
        task_serializer='json', accept_content=['json'],
        worker_prefetch_multiplier=jobs.prefetch,
        worker_enable_remote_control=False,  # no pidbox queues: dismissal goes through the store
        worker_send_task_events=False,
        worker_hijack_root_logger=False,
        worker_redirect_stdouts=False,
        broker_connection_retry_on_startup=True,
        broker_connection_timeout=5,
        # RabbitMQ closes the channel of a delivery left unacknowledged longer than its
        # consumer_timeout (30 min by default; with late acks, a job's run time): reconnect
        # instead of shutting down. The redelivery meets the job's lease and is dropped.
        broker_channel_error_retry=True,
        broker_transport_options={'visibility_timeout': 3600},
    )
    return app


_APPS: dict[tuple[str, str, int], Any] = {}
_APPS_LOCK = threading.Lock()  # the first submissions of a server arrive on several threads


def _publisher(settings: Settings):
    key = (settings.jobs.broker_url, settings.jobs.queue, os.getpid())
    app = _APPS.get(key)
    if app is None:
        with _APPS_LOCK:  # celery's lazy modules fail when two threads import them at once
            app = _APPS.get(key)
            if app is None:
                app = _APPS[key] = celery_app(settings)
    return app


def publish(settings: Settings, job_id: str, countdown: float | None = None) -> bool:
    """Publish "run job <id>" (delivered `countdown` seconds from now, if given); False
    (logged) if the broker cannot be reached now."""
    app = _publisher(settings)
    try:
        app.send_task(TASK, args=[job_id], queue=settings.jobs.queue, retry=True,
                      countdown=countdown,
                      retry_policy={'max_retries': 2, 'interval_start': 0,
                                    'interval_step': 0.25, 'interval_max': 0.5})
        return True
    except Exception as err:  # the job is committed: the sweep publishes it later
        LOGGER.warning('job %s: broker %s unreachable (%s); it stays queued in the store and '
                       'is published when a worker sweeps', job_id,
                       settings.jobs.broker_url.split('@')[-1], err)
        return False
