"""Separation of duties (REV-3): within one item a person acts in one lane only.

Editing, reviewing and signing rights are separated (004 §19(二)), so whoever acted in one
lane of an instance (started it as the editor, or completed a task) may not act in another.
Acting again in the same lane (an editor revising a returned item) is allowed.
"""

from __future__ import annotations

from sqlalchemy import bindparam, or_, select
from sqlalchemy.orm import Session

from db.models import ROLES, AuditEvent, User
from db.prepared import Prepared

from .exceptions import SeparationOfDutiesViolation

# A 加签 signer's approval (countersign) is an act in the lane too (issue 8).
ACTING = ("start", "complete", "countersign")


# An act of the person `user_id`, themselves or through a stand-in (written without IN so that the
# one-item form can be prepared: db/prepared.py takes no expanding parameters).
_ACT_OF_USER = (or_(AuditEvent.actor_id == bindparam("user_id"), AuditEvent.on_behalf_of_id == bindparam("user_id")),
                or_(*(AuditEvent.action == action for action in ACTING)))
_ROLES_ACTED = Prepared(select(AuditEvent.role).distinct().where(
    AuditEvent.instance_id == bindparam("instance_id"), *_ACT_OF_USER))


def roles_acted(session: Session, instance_id: int, user: User) -> set[str]:
    """The lanes `user` has acted in on this item (its audit trail says); a stand-in's act (委托)
    counts for both who clicked and whom they stood in for."""
    rows = _ROLES_ACTED.all(session, {"instance_id": instance_id, "user_id": user.id})
    return {role for (role,) in rows if role}


_ACTED_IN = select(AuditEvent.instance_id, AuditEvent.role).distinct().where(
    AuditEvent.instance_id.in_(bindparam("instance_ids", expanding=True)), *_ACT_OF_USER)


def roles_acted_in(session: Session, instance_ids: list[int], user_id: int) -> dict[int, set[str]]:
    """`roles_acted` for many items at once (a 待办 page): instance id → the lanes acted in."""
    acted: dict[int, set[str]] = {}
    if instance_ids:
        for instance_id, role in session.execute(_ACTED_IN, {"instance_ids": instance_ids, "user_id": user_id}):
            if role:
                acted.setdefault(instance_id, set()).add(role)
    return acted


def check_separation_of_duties(session: Session, instance_id: int, user: User, role: str) -> None:
    """REV-3: refuse `user` acting as `role` if they already acted in another lane of this item.

    When a stand-in acts for `user` (委托), the stand-in is held to the same rule."""
    from .stand_ins import current_deputy

    deputy = current_deputy(session)
    if deputy is not None and deputy.id != user.id:
        _check_one(session, instance_id, deputy, role)
    _check_one(session, instance_id, user, role)


def _check_one(session: Session, instance_id: int, user: User, role: str) -> None:
    other = sorted(roles_acted(session, instance_id, user) - {role})
    if other:
        before = "、".join(f"“{ROLES.get(r, r)}”" for r in other)
        raise SeparationOfDutiesViolation(
            f"您已在本事项中以{before}身份办理过。按照三审三校的规定，编辑、审核、签发权限相互分离，"
            f"同一人对同一事项只能办理一个环节，请由其他“{ROLES.get(role, role)}”人员办理。",
            f"You already acted on this item as {', '.join(other)}. Editing, reviewing and signing are "
            f"separated (REV-3): one person acts at most once on one item; another {role} must do this step.")
