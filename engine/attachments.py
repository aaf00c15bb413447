"""Attachments: a document uploaded at a step (an external body's decision, a test report).

Files are stored content-addressed (named by their sha256) under the runtime's files directory,
outside the web root, and served only to people who may see the item. The file is written
first (a failed command leaves at most an unreferenced copy); the row and its audit event
commit together.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path, PurePath

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import Attachment, ProcessInstance, User
from db.session import reading, transaction

from . import audit
from .commands import Actor, _authorize, _ready_task, load_actor
from .exceptions import InvalidInput, NotFound

MAX_BYTES = 10 * 1024 * 1024
ALLOWED = {"pdf": "application/pdf", "ofd": "application/ofd", "jpg": "image/jpeg", "jpeg": "image/jpeg",
           "png": "image/png", "doc": "application/msword",
           "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
           "xls": "application/vnd.ms-excel",
           "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "txt": "text/plain"}


def files_dir(rt) -> Path:
    return Path(rt.files_dir)


def _clean_name(filename: str) -> tuple[str, str]:
    name = PurePath((filename or "").replace("\\", "/")).name.strip()
    extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if not name or extension not in ALLOWED:
        raise InvalidInput(f"只能上传以下类型的文件：{'、'.join(sorted(ALLOWED))}。",
                           f"Only these file types may be uploaded: {', '.join(sorted(ALLOWED))}.")
    return name[-200:], ALLOWED[extension]


def store_file(rt, filename: str, data: bytes, *, empty: tuple[str, str]) -> tuple[str, str, str]:
    """Check an upload and keep it content-addressed outside the web root (written once, atomically).

    Returns (clean file name, content type, sha256); `empty` is the sentence for an empty file.
    """
    name, content_type = _clean_name(filename)
    if not data:
        raise InvalidInput(*empty)
    if len(data) > MAX_BYTES:
        raise InvalidInput(f"文件不能超过 {MAX_BYTES // 1024 // 1024} MB。", "The file is too large.")
    digest = hashlib.sha256(data).hexdigest()
    target = files_dir(rt) / digest[:2] / digest
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(f".{os.getpid()}.part")
        partial.write_bytes(data)
        partial.replace(target)
    return name, content_type, digest


def add_attachment(rt, actor: Actor, task_id: int, filename: str, data: bytes) -> int:
    """Attach a file to the step `task_id`, by someone who may work it; returns the attachment id."""
    name, content_type, digest = store_file(rt, filename, data,
                                            empty=("上传的文件是空的。", "The uploaded file is empty."))
    with transaction(rt.session_factory) as session:
        user = load_actor(session, actor, rt.clock.now())
        task, _row = _ready_task(session, task_id)
        _authorize(session, user, task)
        now = rt.clock.now()
        row = Attachment(instance_id=task.instance_id, task_id=task.id, filename=name, content_type=content_type,
                         size=len(data), sha256=digest, uploaded_by_id=user.id, uploaded_at=now)
        session.add(row)
        session.flush()
        audit.record(session, now=now, action="attachment", actor=user, role=task.role, instance_id=task.instance_id,
                     task=task, client_addr=actor.client_addr,
                     data={"attachment": row.id, "filename": name, "size": len(data), "sha256": digest})
        return row.id


def attachments_of(session: Session, instance_id: int) -> list[Attachment]:
    return list(session.scalars(select(Attachment).where(Attachment.instance_id == instance_id)
                                .order_by(Attachment.id)))


def has_attachment(session: Session, task_id: int) -> bool:
    return session.scalar(select(Attachment.id).where(Attachment.task_id == task_id).limit(1)) is not None


def open_attachment(rt, user_id: int, attachment_id: int) -> tuple[Attachment, Path]:
    """The attachment and its file, for someone who may see its item; Forbidden otherwise."""
    from .queries import may_view_instance

    with reading(rt.session_factory) as session:
        row = session.get(Attachment, attachment_id)
        if row is None:
            raise NotFound("附件不存在。", "The attachment does not exist.")
        user = session.get(User, user_id)
        if user is None or not user.active or not may_view_instance(
                session, user, session.get(ProcessInstance, row.instance_id), rt.clock.now()):
            raise NotFound("附件不存在或您无权查看。", "The attachment does not exist or is not yours to see.")
        path = files_dir(rt) / row.sha256[:2] / row.sha256
        if not path.exists():
            raise NotFound("附件文件已丢失，请联系管理员。", "The attachment's file is missing.")
        return row, path
