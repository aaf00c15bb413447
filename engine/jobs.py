"""Service tasks as background jobs, with retries, backoff and incidents.

A command that reaches a service task leaves it READY (see specs.defer_service_tasks) and
writes a `service_job` row in its own transaction; once that commits, the job is handed to the
runtime's dispatcher (Celery in production, run at once in-process by default). Running a job
is itself one transaction under the instance lock: the handler, the engine steps after it,
the new state, inbox rows and audit events commit together, or not at all.

The `service_job` row, not the broker, is the truth. A job is retried with backoff when its
handler fails; after MAX_ATTEMPTS it opens an incident that an administrator retries. A lost
message (broker down, worker killed) is sent again by the sweep once the job's lease passes;
a duplicate finds the job done and does nothing, so a job takes effect once.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from SpiffWorkflow.bpmn.specs.mixins.service_task import ServiceTask
from SpiffWorkflow.task import TaskState
from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from db.models import Incident, ProcessInstance, ServiceJob, User
from db.prepared import Prepared
from db.session import after_commit, transaction

from . import audit, notifications
from .exceptions import ConflictError, Forbidden, GovFlowError, InvalidInput, NotFound

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3
BACKOFF = (timedelta(seconds=30), timedelta(minutes=2))  # before the 2nd and the 3rd attempt
LEASE = timedelta(minutes=5)  # a dispatched job not finished by then is sent again


def ready_service_tasks(workflow) -> list:
    return [task for task in workflow.get_tasks(state=TaskState.READY, manual=True)
            if isinstance(task.task_spec, ServiceTask)]


_KNOWN_JOBS = Prepared(select(ServiceJob.spiff_task_id).where(ServiceJob.instance_id == bindparam("instance_id")))
_NEW_JOB = Prepared(insert(ServiceJob).returning(ServiceJob.id),
                    columns=["instance_id", "spiff_task_id", "bpmn_id", "handler", "state", "attempts", "created_at",
                             "next_attempt_at"])


def queue_service_tasks(rt, session: Session, row, workflow) -> None:
    """A `service_job` row for each READY service task that has none; dispatched after commit."""
    tasks = ready_service_tasks(workflow)
    if not tasks:
        return
    known = {spiff_task_id for (spiff_task_id,) in _KNOWN_JOBS.all(session, {"instance_id": row.id})}
    now = rt.clock.now()
    for task in tasks:
        if str(task.id) in known:
            continue
        job_id = _NEW_JOB.scalar(session, {
            "instance_id": row.id, "spiff_task_id": str(task.id), "bpmn_id": task.task_spec.bpmn_id,
            "handler": task.task_spec.operation_name, "state": "queued", "attempts": 0, "created_at": now,
            "next_attempt_at": now + LEASE})
        after_commit(session, _dispatcher(rt, job_id))


def _dispatcher(rt, job_id: int):
    return lambda: rt.dispatch(job_id)


_FINISH_JOB = Prepared(update(ServiceJob).where(ServiceJob.id == bindparam("job_id")).values(
    state="done", finished_at=bindparam("now"), next_attempt_at=None, attempts=ServiceJob.attempts + bindparam("ran")))


def run_service_job(rt, job_id: int) -> str:
    """Run one job; returns done, skipped (already done or no longer waiting), retry or incident."""
    from . import instances

    try:
        with transaction(rt.session_factory) as session:
            found = instances.lock_job(session, job_id)
            if found is None:
                return "skipped"
            row, job_state, spiff_task_id = found
            if job_state != "queued" or row.status != "running" or row.has_incident:
                return "skipped"
            if row.suspended:
                return "skipped"  # stays queued: resume_instance sends it again
            loaded = instances.rebuild(rt, session, row)
            task = next((t for t in ready_service_tasks(loaded.workflow) if str(t.id) == spiff_task_id), None)
            if task is None:
                _FINISH_JOB.execute(session, {"job_id": job_id, "now": rt.clock.now(), "ran": 0})
                return "skipped"
            task.run()
            loaded.workflow.do_engine_steps()
            _FINISH_JOB.execute(session, {"job_id": job_id, "now": rt.clock.now(), "ran": 1})
            instances.save(rt, session, loaded)
            return "done"
    except ConflictError:
        return "retry"  # someone changed the instance meanwhile; the lease brings the job back
    except Exception as err:  # the handler's failure rolled everything back; now count it
        return _record_failure(rt, job_id, err)


def _plain(err: Exception) -> str:
    if isinstance(err, GovFlowError):
        return err.message
    return f"处理时出现错误：{err}"


def _record_failure(rt, job_id: int, err: Exception) -> str:
    message = _plain(err)
    log.warning("service job %s failed: %s", job_id, message)
    with transaction(rt.session_factory) as session:
        job = session.scalar(select(ServiceJob).where(ServiceJob.id == job_id).with_for_update())
        if job is None or job.state != "queued":
            return "skipped"
        now = rt.clock.now()
        job.attempts += 1
        job.last_error = message
        row = session.get(ProcessInstance, job.instance_id)
        audit.record(session, now=now, action="service_failed", instance_id=job.instance_id,
                     org_unit_id=row.org_unit_id,
                     data={"task": job.bpmn_id, "handler": job.handler, "attempt": job.attempts, "error": message})
        if job.attempts < MAX_ATTEMPTS:
            job.next_attempt_at = now + BACKOFF[min(job.attempts, len(BACKOFF)) - 1]
            return "retry"
        job.state, job.next_attempt_at = "failed", None
        open_incident(rt, session, row, kind="service_task", error=message, job=job)
        return "incident"


def open_incident(rt, session: Session, row: ProcessInstance, *, kind: str, error: str,
                  job: ServiceJob | None = None, bpmn_id: str | None = None) -> Incident:
    """Stop the instance where it is and tell its administrators, in the caller's transaction."""
    now = rt.clock.now()
    incident = Incident(instance_id=row.id, kind=kind, job_id=job.id if job else None,
                        bpmn_id=job.bpmn_id if job else bpmn_id, error=error, created_at=now)
    session.add(incident)
    session.execute(update(ProcessInstance).where(ProcessInstance.id == row.id).values(has_incident=True)
                    .execution_options(synchronize_session=False))
    session.flush()
    audit.record(session, now=now, action="incident", instance_id=row.id, org_unit_id=row.org_unit_id,
                 data={"incident": incident.id, "kind": kind, "task": incident.bpmn_id, "error": error})
    notifications.notify_admins(rt, session, row, kind="incident",
                                title=f"流程故障：{row.title}",
                                body=f"“{row.title}”在“{incident.bpmn_id or '定时器'}”处停止：{error}"
                                     "请在“故障处理”中查看并重试。")
    return incident


def retry_incident(rt, incident_id: int, user_id: int, *, reason: str, client_addr: str | None = None) -> None:
    """An administrator of the instance's unit (or above) retries; audited with the reason."""
    from .assignment import holds_role_at_or_above

    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("请填写重试的理由（例如已修复的问题）。", "Give a reason for the retry.")
    with transaction(rt.session_factory) as session:
        incident = session.scalar(select(Incident).where(Incident.id == incident_id).with_for_update())
        if incident is None:
            raise NotFound(f"故障 {incident_id} 不存在。", f"Incident {incident_id} does not exist.")
        row = session.get(ProcessInstance, incident.instance_id)
        user = session.get(User, user_id)
        if user is None or not user.active or not holds_role_at_or_above(session, user, "admin", row.org_unit_id):
            raise Forbidden("只有本单位及上级单位的系统管理员可以重试故障。",
                            "Only an administrator of the item's unit or above may retry an incident.")
        if incident.resolved_at is not None:
            raise ConflictError("此故障已处理，无需重试。", "This incident has already been dealt with.")
        now = rt.clock.now()
        incident.resolved_at, incident.resolved_by_id, incident.resolution = now, user.id, reason
        session.execute(update(ProcessInstance).where(ProcessInstance.id == row.id).values(has_incident=False)
                        .execution_options(synchronize_session=False))
        audit.record(session, now=now, action="incident_retry", actor=user, role="admin", instance_id=row.id,
                     opinion=reason, client_addr=client_addr,
                     data={"incident": incident.id, "kind": incident.kind, "task": incident.bpmn_id})
        if incident.job_id is not None:
            job = session.get(ServiceJob, incident.job_id)
            job.state, job.attempts, job.next_attempt_at = "queued", 0, now + LEASE
            after_commit(session, _dispatcher(rt, job.id))
        # A timer incident needs nothing more: without the flag the next sweep fires it again.


def dispatch_due_jobs(rt, limit: int = 200) -> int:
    """Send again every queued job whose backoff or lease has passed; returns how many."""
    now = rt.clock.now()
    with transaction(rt.session_factory) as session:
        due = list(session.scalars(
            select(ServiceJob).join(ProcessInstance, ProcessInstance.id == ServiceJob.instance_id)
            .where(ServiceJob.state == "queued", ServiceJob.next_attempt_at <= now,
                   ProcessInstance.has_incident.is_(False), ProcessInstance.suspended.is_(False))
            .order_by(ServiceJob.next_attempt_at).limit(limit)
            .with_for_update(of=ServiceJob, skip_locked=True)))
        for job in due:
            job.next_attempt_at = now + LEASE  # our lease: another sweep leaves it alone
            after_commit(session, _dispatcher(rt, job.id))
        return len(due)

