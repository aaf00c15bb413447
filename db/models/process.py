"""Deployed definitions, running instances and the inbox rows (`human_task`)."""

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint, false, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, UTCDateTime


class ProcessDefinition(Base):
    """One deployed version of a diagram; never changed after deployment."""

    __tablename__ = "process_definition"
    __table_args__ = (UniqueConstraint("key", "version", name="uq_process_definition_key_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(120), index=True)
    version: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    bpmn_xml: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    # What the validator learnt: {bpmn_id: {"role", "name", "form", "outcomes", ...}}
    task_info: Mapped[dict] = mapped_column(JSON)
    start_role: Mapped[str] = mapped_column(String(40))
    deployed_by: Mapped[str] = mapped_column(String(120))
    deployed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    note: Mapped[str] = mapped_column(Text, default="")


class ProcessInstance(Base):
    __tablename__ = "process_instance"
    # 我发起的: newest first, one range scan per person (issue 8).
    __table_args__ = (Index("ix_process_instance_started_list", "started_by_id", "id"),
                      # The sweep: running instances by due instant, earliest first (engine/timer_batch.py).
                      Index("ix_process_instance_due", "status", "next_timer_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    definition_id: Mapped[int] = mapped_column(ForeignKey("process_definition.id"), index=True)
    status: Mapped[str] = mapped_column(String(20), index=True)  # running, completed, cancelled
    # Serialized workflow state: only ever written by engine.serialization.
    state: Mapped[str] = mapped_column(Text)
    # Optimistic lock: every command does UPDATE … WHERE version = the version it loaded.
    version: Mapped[int] = mapped_column(Integer, default=1)
    business_key: Mapped[str] = mapped_column(String(120), index=True)
    title: Mapped[str] = mapped_column(String(300))
    org_unit_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"), index=True)
    started_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    end_reason: Mapped[str | None] = mapped_column(Text)
    next_timer_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # indexed with status: ix_process_instance_due
    # An open incident stops the sweep from firing this instance again until an admin retries.
    has_incident: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Suspended by an administrator: no timers fire, no jobs run, no task is claimed or completed.
    suspended: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # The calling system's own key for the item (e.g. the CMS's article number), given when it was
    # started through the API; one running instance per process, unit and key.
    external_key: Mapped[str | None] = mapped_column(String(120), index=True)
    # A sweep that took this instance's due timers to fire (engine/timer_batch.py): other sweeps
    # leave it alone until then. Every save clears it; a sweep that died leaves it to run out.
    timer_lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)

    definition: Mapped[ProcessDefinition] = relationship()


class HumanTask(Base):
    """One row per user task that is or was READY: what the inbox queries, never the JSON."""

    __tablename__ = "human_task"
    __table_args__ = (
        Index("ix_human_task_candidates", "state", "role", "org_unit_id"),
        Index("ix_human_task_assignee", "assignee_id", "state"),
        Index("ix_human_task_reminders", "state", "remind_at"),
        Index("ix_human_task_overdue", "state", "due_at"),
        # The inbox's keyset pages (issue 8): each 待办 branch is one range scan in deadline order,
        # over open rows only (partial indexes: completed rows, the vast majority, are not in them).
        Index("ix_human_task_inbox_assignee", "assignee_id", "due_at", "id",
              sqlite_where=text("state = 'ready'"), postgresql_where=text("state = 'ready'")),
        Index("ix_human_task_inbox_group", "role", "org_unit_id", "due_at", "id",
              sqlite_where=text("state = 'ready' AND assignee_id IS NULL"),
              postgresql_where=text("state = 'ready' AND assignee_id IS NULL")),
        Index("ix_human_task_inbox_delegate", "delegate_id", "due_at", "id",
              sqlite_where=text("state = 'ready'"), postgresql_where=text("state = 'ready'")),
        Index("ix_human_task_done", "completed_by_id", "completed_at", "id"),
        Index("ix_human_task_acted", "acted_by_id", "completed_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"), index=True)
    spiff_task_id: Mapped[str] = mapped_column(String(36))
    bpmn_id: Mapped[str] = mapped_column(String(120))
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(40))
    # Candidates: holders of `role` in this unit (resolved up the tree when the task opened).
    org_unit_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    state: Mapped[str] = mapped_column(String(20))  # ready, completed, cancelled
    form_key: Mapped[str | None] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    outcome: Mapped[str | None] = mapped_column(String(40))
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Reminders (站内消息): when to warn before the deadline, and which warnings went out.
    remind_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    overdue_notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Copied from the instance when the row opens, so every inbox filter reads this table only.
    process_key: Mapped[str | None] = mapped_column(String(120))
    title: Mapped[str | None] = mapped_column(String(300))
    business_key: Mapped[str | None] = mapped_column(String(120))
    request_unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id"))
    asset_id: Mapped[int | None] = mapped_column(Integer)
    # The OA actions (engine/oa_actions.py): 委派 / 前加签 hand the task to `delegate_id` until
    # they give it back to the assignee; 后加签 names who added this signer; 催办 is counted.
    delegate_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    delegate_kind: Mapped[str | None] = mapped_column(String(20))  # delegate, sign_before
    added_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    urge_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_urged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # 委托: the stand-in who actually completed the task for `completed_by_id` ("赵六 代 王五").
    acted_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))

    instance: Mapped[ProcessInstance] = relationship()


# How a deadline was computed, so a calendar correction can compute it again.
DEADLINE_RULES = {
    "working_days": "个工作日", "calendar_days": "个自然日", "calendar_days_rolled": "个自然日（遇节假日顺延）",
    "hours": "小时", "minutes": "分钟", "end_of_workday": "当日下班前", "fixed": "固定时间",
    "half_working_day": "半个工作日（按上班时间计）",
    "end_of_month": "个月后的月末",
}


class Deadline(Base):
    """One waiting timer of one instance: when it is due and what that was computed from."""

    __tablename__ = "deadline"
    __table_args__ = (Index("ix_deadline_open_rule", "state", "rule"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"), index=True)
    spiff_task_id: Mapped[str] = mapped_column(String(36))
    bpmn_id: Mapped[str] = mapped_column(String(120))
    rule: Mapped[str] = mapped_column(String(24))
    start_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    amount: Mapped[int | None] = mapped_column(Integer)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    state: Mapped[str] = mapped_column(String(10))  # open, closed (fired or no longer waiting)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class WorkflowTask(Base):
    """A settled task of an instance's workflow state (finished, or predicted and still empty),
    stored once instead of being rewritten with the instance on every command. The instance's
    `state` holds the rest: the workflow's own fields and the tasks still in motion
    (engine/serialization.py `dump_changes`)."""

    __tablename__ = "workflow_task"

    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"), primary_key=True)
    task_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    data: Mapped[str] = mapped_column(Text)
