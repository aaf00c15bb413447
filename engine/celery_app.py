"""The Celery app: the beat schedule and the jobs (sweep, service-task jobs, notifications, webhooks).

The broker is GOVFLOW_BROKER_URL: Redis (`redis://…`) or RabbitMQ (`amqp://…`) in production,
any number of workers. Without it, `govflow serve` uses kombu's SQLAlchemy transport on a SQLite
file beside the database (`sqla+sqlite:///instance/broker.sqlite`): no server to run. The same
task code runs on both.

Delivery is at-least-once (acks_late, reject_on_worker_lost): a worker killed mid-job leaves its
message to be delivered again, and every job is idempotent under the instance lock, so it takes
effect once. Results are not stored; the database is where outcomes live.
"""

from __future__ import annotations

import os
from pathlib import Path

from celery import Celery

SWEEP_SECONDS = float(os.environ.get("GOVFLOW_SWEEP_SECONDS", "5"))
# Periodic duties (engine/periodic.py: update monitoring, yearly duties) act once per week or year.
PERIODIC_SECONDS = float(os.environ.get("GOVFLOW_PERIODIC_SECONDS", "60"))


def embedded_broker_url() -> str:
    instance = Path(os.environ.get("GOVFLOW_INSTANCE_DIR", "instance")).resolve()
    instance.mkdir(parents=True, exist_ok=True)
    return f"sqla+sqlite:///{instance / 'broker.sqlite'}"


def broker_url() -> str:
    return os.environ.get("GOVFLOW_BROKER_URL") or embedded_broker_url()


def transport_options(url: str) -> dict:
    # Redis hides an unacknowledged message for this long before handing it out again (a
    # killed worker's job comes back after it); the SQLAlchemy transport takes no such option.
    if url.startswith(("redis", "rediss", "sqs")):
        return {"visibility_timeout": int(os.environ.get("GOVFLOW_VISIBILITY_TIMEOUT", "3600"))}
    return {}


app = Celery("govflow")
app.conf.update(
    broker_url=broker_url(),
    broker_connection_retry_on_startup=True,
    broker_transport_options=transport_options(broker_url()),
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    task_ignore_result=True,
    timezone="Asia/Shanghai",
    enable_utc=True,
    worker_hijack_root_logger=False,
    beat_schedule={
        "govflow-sweep": {"task": "govflow.sweep", "schedule": SWEEP_SECONDS,
                          # a sweep still queued when the next one is due is dropped, not stacked up
                          "options": {"expires": SWEEP_SECONDS}},
        "govflow-periodic": {"task": "govflow.periodic", "schedule": PERIODIC_SECONDS,
                             "options": {"expires": PERIODIC_SECONDS}},
    },
)

_runtime = None


def runtime():
    """This worker process's runtime; its service jobs are sent back through the broker."""
    global _runtime
    if _runtime is None:
        from .runtime import make_runtime

        _runtime = make_runtime()
        _runtime.dispatcher = send_service_job
        _runtime.webhook_sender = send_webhook
        _runtime.notifier = lambda messages: app.send_task("govflow.deliver_notifications", args=[messages])
    return _runtime


def send_service_job(job_id: int) -> None:
    app.send_task("govflow.run_service_job", args=[job_id])


def send_webhook(delivery_id: int, attempt: int) -> None:
    app.send_task("govflow.deliver_webhook", args=[delivery_id, attempt])


@app.task(name="govflow.sweep")
def sweep_job() -> dict:
    from .sweep import sweep

    result = sweep(runtime())
    return {"timers": result.timers, "jobs": result.jobs, "reminders": result.reminders, "webhooks": result.webhooks}


@app.task(name="govflow.periodic")
def periodic_job() -> int:
    from .periodic import run_periodic

    return run_periodic(runtime())
@app.task(name="govflow.run_service_job")
def run_service_job_task(job_id: int) -> str:
    from .jobs import run_service_job

    return run_service_job(runtime(), job_id)


@app.task(name="govflow.deliver_webhook")
def deliver_webhook_task(delivery_id: int, attempt: int) -> str:
    from .webhooks import deliver

    return deliver(runtime(), delivery_id, attempt)


@app.task(name="govflow.deliver_notifications")
def deliver_notifications_task(messages: list) -> None:
    from handlers.channels import deliver

    deliver(runtime().session_factory, [tuple(message) for message in messages])
