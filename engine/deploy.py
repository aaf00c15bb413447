"""Deploying diagrams: validate, then store a new version (or nothing, if unchanged)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select

from db.models import ROLES, ProcessDefinition, User
from db.session import transaction

from . import audit
from .exceptions import DeploymentRejected
from .forms import FORMS
from .parsing import find_problems, validate_diagram


@dataclass(frozen=True)
class DeployResult:
    definition_id: int
    key: str
    version: int
    created: bool


def check_diagram(rt, data: bytes):
    """Every deploy check, without storing anything (the editor's "validate" uses this)."""
    diagram = validate_diagram(data, ROLES, set(rt.handlers))
    for problem in _form_problems(diagram):
        raise problem
    return diagram


def diagram_problems(rt, data: bytes) -> list[DeploymentRejected]:
    """The same checks as `check_diagram`, every problem found (each names its element)."""
    diagram, problems = find_problems(data, ROLES, set(rt.handlers))
    if diagram is not None:
        problems.extend(_form_problems(diagram))
    return problems


def _form_problems(diagram) -> list[DeploymentRejected]:
    return [DeploymentRejected(f"用户任务 {bpmn_id} 引用的表单“{info['form']}”不存在。",
                               f"User task {bpmn_id} names the form \"{info['form']}\", which does not exist.",
                               element_id=bpmn_id)
            for bpmn_id, info in diagram.task_info.items() if info["form"] and info["form"] not in FORMS]


def deploy(rt, data: bytes, *, deployed_by: str, note: str = "", actor=None, client_addr: str | None = None,
           session_hook=None) -> DeployResult:
    """Validate `data` and store it as the next version of its process key.

    Deploying bytes identical to the newest version stores nothing (so seeding twice is safe).
    `actor` (a User id), when given, is audited with the note; `session_hook(session, result)`
    runs in the same transaction (the console clears the draft it deployed).
    """
    diagram = check_diagram(rt, data)
    digest = hashlib.sha256(data).hexdigest()
    with transaction(rt.session_factory) as session:
        latest = session.scalar(select(ProcessDefinition).where(ProcessDefinition.key == diagram.key)
                                .order_by(ProcessDefinition.version.desc()).limit(1))
        if latest is not None and latest.sha256 == digest:
            return DeployResult(latest.id, latest.key, latest.version, created=False)
        version = (session.scalar(select(func.max(ProcessDefinition.version))
                                  .where(ProcessDefinition.key == diagram.key)) or 0) + 1
        definition = ProcessDefinition(key=diagram.key, version=version, name=diagram.name,
                                       bpmn_xml=data.decode("utf-8"), sha256=digest, task_info=diagram.task_info,
                                       start_role=diagram.start_role, deployed_by=deployed_by,
                                       deployed_at=rt.clock.now(), note=note)
        session.add(definition)
        session.flush()
        result = DeployResult(definition.id, definition.key, version, created=True)
        if actor is not None:
            user = session.get(User, actor)
            audit.record(session, now=rt.clock.now(), action="deploy", actor=user, role="admin", opinion=note,
                         client_addr=client_addr, data={"definition": definition.key, "version": version,
                                                        "sha256": digest})
        if session_hook is not None:
            session_hook(session, result)
        return result


def deploy_directory(rt, directory: Path, *, deployed_by: str) -> list[DeployResult]:
    """Deploy every *.bpmn under `directory` (the process library), in name order."""
    return [deploy(rt, path.read_bytes(), deployed_by=deployed_by, note=f"从 {path.name} 部署")
            for path in sorted(Path(directory).glob("*.bpmn"))]
