"""Everything a command needs, built once per process: sessions, clock, specs, handlers."""

from __future__ import annotations

import gc
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from db.models import ProcessInstance
from db.session import make_engine, make_session_factory
from handlers.registry import Handler, registered_handlers

from .clock import Clock
from .policy import Policy, load_policy
from .specs import DefinitionCache
from .timers import install_clock
from .workflow_cache import WorkflowCache


@dataclass
class Runtime:
    session_factory: sessionmaker[Session]
    clock: Clock
    definitions: DefinitionCache = field(default_factory=DefinitionCache)
    # Workflows of recently saved instances, reused while their stored version is unchanged.
    workflows: WorkflowCache = field(default_factory=WorkflowCache)
    handlers: dict[str, Handler] = field(default_factory=registered_handlers)
    # Business-object hooks by business-key prefix ("content:12" → "content"), run in the
    # cancelling command's transaction so the object and the instance end together.
    on_cancel: dict[str, Callable[[Session, ProcessInstance], None]] = field(default_factory=dict)
    # Run inside complete_task's transaction after the task completed: (rt, session, instance, task, user, outcome).
    on_complete: list[Callable] = field(default_factory=list)
    # Policy: roll a calendar-day deadline that falls on a rest day to the next working day.
    roll_calendar_days: bool = False
    # Where uploaded attachments are kept (outside the web root).
    files_dir: str = field(default_factory=lambda: os.environ.get("GOVFLOW_FILES_DIR")
                           or str(Path(os.environ.get("GOVFLOW_INSTANCE_DIR", "instance")) / "attachments"))
    # The regional policy profile diagrams read as `policy[...]` (engine/policy.py).
    policy: Policy = field(default_factory=load_policy)
    # Hands a committed service job to whoever runs it: Celery in production (engine.celery_app);
    # by default the job runs at once in this process, right after the command commits.
    dispatcher: Callable[[int], None] | None = None

    # Delivers notifications to the channels beyond the in-app inbox (e-mail…), after commit.
    notifier: Callable[[list], None] | None = None

    def deliver(self, messages: list) -> None:
        if self.notifier is not None:
            self.notifier(messages)
        else:
            from handlers.channels import deliver

            deliver(self.session_factory, messages)

    # Hands a committed webhook delivery (id, attempt) to whoever sends it: Celery in production;
    # by default it is sent at once in this process, right after the command commits.
    webhook_sender: Callable[[int, int], None] | None = None

    def send_webhook(self, delivery_id: int, attempt: int) -> None:
        if self.webhook_sender is not None:
            self.webhook_sender(delivery_id, attempt)
        else:
            from .webhooks import deliver

            deliver(self, delivery_id, attempt)

    def dispatch(self, job_id: int) -> None:
        if self.dispatcher is not None:
            self.dispatcher(job_id)
        else:
            from .jobs import run_service_job

            run_service_job(self, job_id)


_GC_TUNED: list[bool] = []


def tune_garbage_collector() -> None:
    """Collect the young generation every 20,000 allocations instead of 700 (once per process).

    A command allocates thousands of short-lived objects (parsed state, task objects, rows), and
    the workflows kept between commands (engine/workflow_cache.py) make each full collection long:
    with CPython's defaults the collector took a fifth of a timer's CPU time. Cycles are still
    collected, just in fewer, larger passes. GOVFLOW_GC_THRESHOLD="a,b,c" sets other thresholds;
    "default" leaves CPython's.
    """
    if _GC_TUNED:
        return
    _GC_TUNED.append(True)
    setting = os.environ.get("GOVFLOW_GC_THRESHOLD", "20000,20,20")
    if setting != "default":
        gc.set_threshold(*(int(part) for part in setting.split(",")))


def make_runtime(database_url: str | None = None, clock: Clock | None = None) -> Runtime:
    """A runtime on the configured database (GOVFLOW_DATABASE_URL or the SQLite default).

    GOVFLOW_ROLL_CALENDAR_DAYS=1 turns on rolling calendar-day deadlines off rest days.
    With GOVFLOW_BROKER_URL set (or GOVFLOW_JOBS=celery) background jobs go to Celery;
    otherwise they run in this process right after the command that queued them.
    """
    from .content import on_content_cancelled
    from .messages import on_message_cancelled
    from .review_integrity import record_sign_off
    from .stand_ins import record_stand_in_completion

    clock = clock or Clock()
    install_clock(clock)
    tune_garbage_collector()
    rt = Runtime(session_factory=make_session_factory(make_engine(database_url)), clock=clock,
                 on_cancel={"content": on_content_cancelled, "message": on_message_cancelled},
                 on_complete=[record_stand_in_completion, record_sign_off],
                 roll_calendar_days=os.environ.get("GOVFLOW_ROLL_CALENDAR_DAYS", "") in ("1", "true", "yes"))
    if (os.environ.get("GOVFLOW_JOBS") or ("celery" if os.environ.get("GOVFLOW_BROKER_URL") else "")) == "celery":
        from .celery_app import app, send_service_job, send_webhook

        rt.dispatcher = send_service_job
        rt.webhook_sender = send_webhook
        rt.notifier = lambda messages: app.send_task("govflow.deliver_notifications", args=[messages])
    return rt
