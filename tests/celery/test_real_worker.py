"""A real Celery worker (with beat) on Redis at 127.0.0.1:6379, against a SQLite database file.

Skipped, saying why, where Redis does not answer. The worker is `govflow worker --beat`, the
command production runs; it sweeps every second here (GOVFLOW_SWEEP_SECONDS=1).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from db.models import AuditEvent, HumanTask, ProcessInstance, ServiceJob
from db.session import reading
from engine import deploy, start_process

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
REDIS_URL = os.environ.get("GOVFLOW_TEST_REDIS_URL", "redis://127.0.0.1:6379/7")


def _redis_reason() -> str | None:
    try:
        import redis

        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except Exception as err:  # any failure means: no Redis here
        return f"Redis does not answer at {REDIS_URL} ({type(err).__name__}); the real-worker tests need it"
    return None


pytestmark = [pytest.mark.skipif(_redis_reason() is not None, reason=_redis_reason() or ""),
              pytest.mark.timeout(180)]


@pytest.fixture
def redis_broker():
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()
    yield REDIS_URL
    client.flushdb()


class Worker:
    """`govflow worker --beat` in its own process group, so SIGKILL takes the pool child too."""

    def __init__(self, db_url: str, broker: str, tmp_path: Path):
        self.env = {**os.environ, "GOVFLOW_DATABASE_URL": db_url, "GOVFLOW_BROKER_URL": broker,
                    "GOVFLOW_SWEEP_SECONDS": "1", "GOVFLOW_INSTANCE_DIR": str(tmp_path),
                    "GOVFLOW_VISIBILITY_TIMEOUT": "3", "GOVFLOW_HANDLER_MODULES": "tests.celery.plugins",
                    "GOVFLOW_TEST_MARKER": str(tmp_path / "stamp-started"), "PYTHONPATH": str(ROOT)}
        self.log = tmp_path / "worker.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "webui.cli", "worker", "--beat", "--concurrency", "1"],
                cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def kill(self) -> None:
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)


@pytest.fixture
def worker(sqlite_url, redis_broker, tmp_path):
    started = Worker(sqlite_url, redis_broker, tmp_path)
    yield started
    started.stop()


def _wait_for(condition, seconds: float, worker: Worker, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}; worker log:\n{worker.log.read_text(errors='replace')[-3000:]}")


def test_a_due_timer_is_fired_by_beat_and_the_worker(sqlite_rt, sqlite_users, clock, worker):
    # Started 13 hours ago (by the injected clock), the 12-hour timer is an hour overdue by the
    # worker's real clock.
    clock.set(datetime.now(UTC) - timedelta(hours=13))
    deploy(sqlite_rt, (FIXTURES / "timer_escalation.bpmn").read_bytes(), deployed_by="tests")
    instance_id = start_process(sqlite_rt, "timer_escalation", sqlite_users["zhangsan"], title="真实定时器",
                                business_key="test:celery-timer")
    worker.start()

    def escalated():
        with reading(sqlite_rt.session_factory) as session:
            return session.scalar(select(HumanTask.state).where(HumanTask.instance_id == instance_id,
                                                                HumanTask.bpmn_id == "escalate")) == "ready"

    _wait_for(escalated, 60, worker, "beat + worker to fire the timer")
    time.sleep(2.5)  # two more sweeps: nothing fires twice
    with reading(sqlite_rt.session_factory) as session:
        fired = session.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.action == "timer", AuditEvent.instance_id == instance_id))
        assert fired == 1
        assert session.get(ProcessInstance, instance_id).next_timer_at is None


def test_a_worker_killed_mid_job_leaves_the_instance_consistent_and_the_job_runs_once(
        sqlite_rt, sqlite_users, worker, tmp_path):
    from celery import Celery

    from handlers.registry import HANDLERS
    from tests.celery import plugins  # noqa: F401  (registers test_stamp)

    sqlite_rt.handlers["test_stamp"] = HANDLERS["test_stamp"]
    sender = Celery("govflow-test-sender", broker=worker.env["GOVFLOW_BROKER_URL"])
    sqlite_rt.dispatcher = lambda job_id: sender.send_task("govflow.run_service_job", args=[job_id])
    deploy(sqlite_rt, (FIXTURES / "service_stamp.bpmn").read_bytes(), deployed_by="tests")

    worker.start()
    instance_id = start_process(sqlite_rt, "service_stamp", sqlite_users["zhangsan"], title="盖章",
                                business_key="test:celery-kill")
    marker = tmp_path / "stamp-started"
    _wait_for(marker.exists, 60, worker, "the worker to start the job")
    worker.kill()  # SIGKILL, in the middle of the handler, before its transaction commits

    with reading(sqlite_rt.session_factory) as session:
        row = session.get(ProcessInstance, instance_id)
        job = session.scalar(select(ServiceJob).where(ServiceJob.instance_id == instance_id))
        stamps = session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "test_stamp"))
        assert (row.status, row.version, job.state, job.attempts, stamps) == ("running", 1, "queued", 0, 0)

    worker.start()  # a new worker: Redis hands the unacknowledged job out again (acks_late)

    def completed():
        with reading(sqlite_rt.session_factory) as session:
            return session.get(ProcessInstance, instance_id).status == "completed"

    _wait_for(completed, 90, worker, "the redelivered job to complete the instance")
    time.sleep(2)
    with reading(sqlite_rt.session_factory) as session:
        job = session.scalar(select(ServiceJob).where(ServiceJob.instance_id == instance_id))
        stamps = session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "test_stamp"))
        ends = session.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.action == "end", AuditEvent.instance_id == instance_id))
        assert (job.state, job.attempts, stamps, ends) == ("done", 1, 1, 1)


def test_a_webhook_delivery_goes_out_through_the_worker_once(sqlite_rt, sqlite_users, clock, worker):
    from celery import Celery

    from db.models import WebhookDelivery
    from engine import complete_task
    from engine.webhook_admin import create_webhook
    from tests.helpers import submit, task_id
    from tests.test_webhooks import Receiver, verify

    clock.set(datetime.now(UTC))  # the worker's sweep reads the real clock: the delivery is not yet due for it
    receiver = Receiver()
    try:
        _, secret = create_webhook(sqlite_rt, sqlite_users["gaoyuan"].user_id, process_key="content_review",
                                   url=receiver.url)
        sender = Celery("govflow-test-sender", broker=worker.env["GOVFLOW_BROKER_URL"])
        sqlite_rt.webhook_sender = lambda delivery_id, attempt: sender.send_task(
            "govflow.deliver_webhook", args=[delivery_id, attempt])
        worker.start()
        iid = submit(sqlite_rt, sqlite_users["zhangsan"], kind="wechat")
        complete_task(sqlite_rt, task_id(sqlite_rt, iid, "review"), sqlite_users["lisi"], outcome="pass")
        complete_task(sqlite_rt, task_id(sqlite_rt, iid, "sign"), sqlite_users["wangwu"], outcome="pass")

        def delivered():
            with reading(sqlite_rt.session_factory) as session:
                return session.scalar(select(WebhookDelivery.state)) == "delivered"

        _wait_for(delivered, 60, worker, "the worker to deliver the webhook")
        time.sleep(2.5)  # two more sweeps: nothing is sent twice
        assert len(receiver.requests) == 1
        assert verify(secret, receiver.requests[0])["instance_id"] == iid
    finally:
        receiver.close()
