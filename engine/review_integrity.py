"""Review integrity: what each reviewer approved is bound to the exact text, and an edit after
a sign-off voids the approvals and sends the item back (REV-1, REV-2).

Every completed review step of a content item writes a `sign_off` row with the sha256 of the
version it saw (`content_hash`: title and body as a JSON pair, so no two different splits of the
same characters collide). The next reviewer's page shows the difference between that version and
the one in front of them. When the editor changes the item after an approval, the approvals are
voided and the workflow goes back to the first of them, so the item is reviewed again from there:
nothing reaches publication unless every sign-off of the round bound the text being published.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from db.models import ContentItem, ContentVersion, HumanTask, ProcessInstance, SignOff, User
from db.prepared import Prepared
from db.session import transaction

from . import audit, instances
from .exceptions import ConflictError, Forbidden, InvalidInput, NotFound
from .forms import REASON_REQUIRED

MAX_REASON = 500
CHAR_DIFF_LIMIT = 20_000  # longer texts are compared line by line (character diff is quadratic)


def content_hash(title: str, body: str) -> str:
    """sha256 of the title and body as the JSON pair [title, body] (UTF-8)."""
    return hashlib.sha256(json.dumps([title, body], ensure_ascii=False, separators=(",", ":")).encode()).hexdigest()


def content_item_of(session: Session, row: ProcessInstance) -> ContentItem | None:
    kind, _, ident = (row.business_key or "").partition(":")
    return session.get(ContentItem, int(ident)) if kind == "content" and ident.isdigit() else None


@dataclass(frozen=True)
class ItemText:
    """What a sign-off binds: the item's id, its text and who created it."""

    id: int
    title: str
    body: str
    created_by_id: int


@dataclass(frozen=True)
class VersionRef:
    id: int
    number: int
    sha256: str


# Every review step runs these (the complete_task hook): prepared, on the driver's cursor.
_ITEM_TEXT = Prepared(select(ContentItem.id, ContentItem.title, ContentItem.body, ContentItem.created_by_id)
                      .where(ContentItem.id == bindparam("content_id")))
_LATEST_VERSION = Prepared(select(ContentVersion.id, ContentVersion.number, ContentVersion.sha256)
                           .where(ContentVersion.content_id == bindparam("content_id"))
                           .order_by(ContentVersion.number.desc()).limit(1))
_NEW_VERSION = Prepared(insert(ContentVersion).returning(ContentVersion.id), columns=[
    "content_id", "number", "title", "body", "sha256", "created_at", "created_by_id"])
_OTHER_APPROVAL = Prepared(select(SignOff.sha256).where(
    SignOff.instance_id == bindparam("instance_id"), SignOff.approved.is_(True), SignOff.voided_at.is_(None),
    SignOff.sha256 != bindparam("sha256")).limit(1))
_NEW_SIGN_OFF = Prepared(insert(SignOff).inline(), columns=[
    "instance_id", "task_id", "content_id", "version_id", "sha256", "user_id", "acted_by_id", "role", "step",
    "outcome", "approved", "signed_at"])


def _item_text(session: Session, row) -> ItemText | None:
    kind, _, ident = (row.business_key or "").partition(":")
    if kind != "content" or not ident.isdigit():
        return None
    found = _ITEM_TEXT.first(session, {"content_id": int(ident)})
    return ItemText(*found) if found else None


def current_version(session: Session, item, author_id: int | None, now: datetime) -> VersionRef:
    """The version of the item's text as it stands (an ItemText or the mapped item); a new one if it changed."""
    digest = content_hash(item.title, item.body)
    latest = _LATEST_VERSION.first(session, {"content_id": item.id})
    if latest is not None and latest[2] == digest:
        return VersionRef(*latest)
    number = latest[1] + 1 if latest else 1
    version_id = _NEW_VERSION.scalar(session, {
        "content_id": item.id, "number": number, "title": item.title, "body": item.body, "sha256": digest,
        "created_at": now, "created_by_id": author_id if latest else item.created_by_id})
    return VersionRef(version_id, number, digest)


def void_approvals(session: Session, instance_id: int, now: datetime, reason: str) -> list[SignOff]:
    """Void every standing approval of the item; returns them, oldest first."""
    standing = list(session.scalars(select(SignOff).where(SignOff.instance_id == instance_id, SignOff.approved.is_(True),
                                                          SignOff.voided_at.is_(None)).order_by(SignOff.id)))
    for sign_off in standing:
        sign_off.voided_at, sign_off.void_reason = now, reason
    return standing


def record_sign_off(rt, session: Session, row: ProcessInstance, task: HumanTask, user: User, outcome: str) -> None:
    """complete_task hook: bind the completed review step to the version it saw.

    The editor's resubmission after a return starts a new round: earlier approvals are voided.
    An approval over a text other than the one earlier approvals of the round bound is refused
    (the edit path voids them first, so this only catches a change made outside it).
    """
    item = _item_text(session, row)
    if item is None:
        return
    now = rt.clock.now()
    from .stand_ins import current_deputy

    deputy = current_deputy(session)
    if task.role == "editor":
        version = current_version(session, item, user.id, now)
        voided = void_approvals(session, row.id, now, "稿件退回后重新提交，进入新一轮审核")
        if voided:
            audit.record(session, now=now, action="approvals_voided", instance_id=row.id, org_unit_id=row.org_unit_id,
                         data={"reason": "resubmitted", "sign_offs": [s.id for s in voided], "version": version.number})
        return
    version = current_version(session, item, user.id, now)
    approved = outcome not in REASON_REQUIRED
    if approved:
        if _OTHER_APPROVAL.first(session, {"instance_id": row.id, "sha256": version.sha256}) is not None:
            raise ConflictError("稿件在前一环节审核通过后被改动过，此前的审核意见与现在的内容不一致，不能继续签发。请由编辑通过“修改稿件”重新送审。",
                                "The item changed after an earlier approval; the approvals no longer match the text. "
                                "The editor must resubmit it for review.")
    _NEW_SIGN_OFF.execute_many(session, [{
        "instance_id": row.id, "task_id": task.id, "content_id": item.id, "version_id": version.id,
        "sha256": version.sha256, "user_id": user.id,
        "acted_by_id": deputy.id if deputy and deputy.id != user.id else None, "role": task.role, "step": task.name,
        "outcome": outcome, "approved": approved, "signed_at": now}])


def record_countersign(session: Session, row: ProcessInstance, task: HumanTask, user: User, outcome: str,
                       now: datetime) -> None:
    """A 加签 signer's decision is a sign-off too, bound to the text they saw."""
    item = content_item_of(session, row)
    if item is None:
        return
    from .stand_ins import current_deputy

    deputy = current_deputy(session)
    version = current_version(session, item, user.id, now)
    session.add(SignOff(instance_id=row.id, task_id=task.id, content_id=item.id, version_id=version.id,
                        sha256=version.sha256, user_id=user.id, acted_by_id=deputy.id if deputy and deputy.id != user.id else None,
                        role=task.role, step=f"{task.name}（加签）", outcome=outcome,
                        approved=outcome not in REASON_REQUIRED, signed_at=now))


def edit_content(rt, actor, instance_id: int, *, title: str, body: str, reason: str) -> int:
    """The submitting editor changes an item under review; returns how many approvals were voided.

    Approvals given so far are voided and the item goes back to the first step that approved it;
    the change, the reason and the voided sign-offs are audited, in one transaction.
    """
    from .commands import load_actor
    from .content import CONTENT_FIELDS
    from .forms import Form, clean_values
    from .rewind import reopen

    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("修改已送审的稿件时必须说明修改理由。", "A reason is required to change an item under review.")
    if len(reason) > MAX_REASON:
        raise InvalidInput(f"理由不能超过 {MAX_REASON} 个字。", f"The reason may not exceed {MAX_REASON} characters.")
    values = clean_values(Form("content_edit", CONTENT_FIELDS, apply=lambda *a: None), {"title": title, "body": body})
    with transaction(rt.session_factory) as session:
        user = load_actor(session, actor)
        loaded = instances.load(rt, session, instance_id)
        row = loaded.row
        item = content_item_of(session, row)
        if item is None:
            raise NotFound("此事项没有可修改的稿件。", "This item has no content to change.")
        if row.started_by_id != user.id:
            raise Forbidden("只有提交稿件的编辑可以修改稿件。", "Only the editor who submitted the item may change it.")
        if row.status != "running" or item.status != "in_review":
            raise ConflictError("稿件已结束审核，不能修改。", "The item is no longer under review.")
        open_tasks = list(session.scalars(select(HumanTask).where(HumanTask.instance_id == row.id,
                                                                 HumanTask.state == "ready")))
        if not open_tasks:
            raise ConflictError("稿件正在发布，不能修改。", "The item is being published and cannot be changed.")
        if any(t.role == "editor" for t in open_tasks):
            raise InvalidInput("稿件已退回给您，请在“修改稿件”环节中修改后重新提交。",
                               "The item is back with you: change it in the revision step and resubmit.")
        now = rt.clock.now()
        before = current_version(session, item, user.id, now)
        if content_hash(values["title"], values["body"]) == before.sha256:
            raise InvalidInput("内容没有变化。", "Nothing was changed.")
        item.title, item.body = values["title"], values["body"]
        session.execute(update(ProcessInstance).where(ProcessInstance.id == row.id).values(title=values["title"]))
        row = loaded.row = replace(row, title=values["title"])
        after = current_version(session, item, user.id, now)
        voided = void_approvals(session, row.id, now, f"稿件已修改：{reason}")
        audit.record(session, now=now, action="content_edit", actor=user, role="editor", instance_id=row.id,
                     opinion=reason, client_addr=actor.client_addr,
                     data={"from_version": before.number, "to_version": after.number, "from_sha256": before.sha256,
                           "to_sha256": after.sha256, "voided": [s.id for s in voided]})
        # Back to the first step that approved and has completed; an approval given inside the
        # step open now (a 加签 signer's) only needs voiding: that step has not moved on yet.
        first = next((task for task in (session.get(HumanTask, s.task_id) for s in voided)
                      if task is not None and task.state == "completed"), None)
        if first is not None:
            reopen(rt, session, loaded, first.spiff_task_id)
        else:
            for task in open_tasks:  # 后加签: the owner's approval is void, so the step is theirs again
                if task.added_by_id is not None and any(s.task_id == task.id for s in voided):
                    task.assignee_id, task.added_by_id = task.added_by_id, None
            session.flush()
            instances.save(rt, session, loaded)
        if voided:
            from .notifications import notify

            notify(rt, session, [s.user_id for s in voided], kind="voided", title=f"审核意见已作废：{row.title}",
                   body=f"编辑修改了“{row.title}”（理由：{reason}），您此前的审核意见已作废，稿件将重新审核。",
                   instance_id=row.id)
        session.execute(update(HumanTask).where(HumanTask.instance_id == row.id, HumanTask.state == "ready")
                        .values(title=row.title))
        return len(voided)


@dataclass
class DiffPart:
    op: str  # equal, insert, delete
    text: str


@dataclass
class ReviewContext:
    """What the next reviewer sees: the version the previous approval bound, and the difference."""

    previous: SignOff | None
    previous_by: str
    previous_version: ContentVersion | None
    current_sha256: str
    current_number: int | None
    title_diff: list[DiffPart]
    body_diff: list[DiffPart]

    @property
    def unchanged(self) -> bool:
        return self.previous is not None and self.previous.sha256 == self.current_sha256


def diff_parts(old: str, new: str) -> list[DiffPart]:
    """Character differences (Chinese has no spaces to split words on); lines for long texts."""
    if len(old) + len(new) > CHAR_DIFF_LIMIT:
        a, b = old.splitlines(keepends=True), new.splitlines(keepends=True)
    else:
        a, b = list(old), list(new)
    parts: list[DiffPart] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op == "equal":
            parts.append(DiffPart("equal", "".join(a[i1:i2])))
        else:
            if i2 > i1:
                parts.append(DiffPart("delete", "".join(a[i1:i2])))
            if j2 > j1:
                parts.append(DiffPart("insert", "".join(b[j1:j2])))
    return parts


def review_context(session: Session, row: ProcessInstance) -> ReviewContext | None:
    """The latest approval of this item (standing or voided) against the text as it stands."""
    item = content_item_of(session, row)
    if item is None:
        return None
    current_sha = content_hash(item.title, item.body)
    number = session.scalar(select(ContentVersion.number).where(ContentVersion.content_id == item.id,
                                                                ContentVersion.sha256 == current_sha)
                            .order_by(ContentVersion.number.desc()).limit(1))
    previous = session.scalar(select(SignOff).where(SignOff.instance_id == row.id, SignOff.approved.is_(True))
                              .order_by(SignOff.id.desc()).limit(1))
    if previous is None:
        return ReviewContext(None, "", None, current_sha, number, [], [])
    version = session.get(ContentVersion, previous.version_id)
    who = session.get(User, previous.user_id).real_name
    if previous.acted_by_id:
        who = f"{session.get(User, previous.acted_by_id).real_name} 代 {who}"
    return ReviewContext(previous, who, version, current_sha, number,
                         diff_parts(version.title, item.title), diff_parts(version.body, item.body))


def sign_offs(session: Session, instance_id: int) -> list[SignOff]:
    return list(session.scalars(select(SignOff).where(SignOff.instance_id == instance_id).order_by(SignOff.id)))


def version_count(session: Session, content_id: int) -> int:
    return session.scalar(select(func.count()).select_from(ContentVersion)
                          .where(ContentVersion.content_id == content_id)) or 0
