"""People and organisation: units, real-name accounts, roles per unit.

ACC-1 one person, one real-name account: a person is identified by a phone number or an ID
number; a generic or shared account ("办公室", "admin2") is refused. ACC-6 a website role is only
granted after the security background check is on record. Departures (ACC-3) are
engine.departures.

Every change is one transaction with its audit event (actor, reason). An administrator manages
the units where they hold `admin` and every unit below.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from db.models import LEVELS, ROLES, BackgroundCheck, HumanTask, OrgUnit, RoleGrant, User
from db.session import transaction

from . import audit
from .exceptions import ConflictError, Forbidden, InvalidInput, NotFound
from .passwords import generate_initial_password, issue_password

# ACC-6: the roles of website staff (004 §19(六)); granting one needs a background check on record.
WEBSITE_ROLES = ("editor", "reviewer", "signer", "egov_center", "admin")
# External bodies hold no accounts (their decisions are recorded by the level that receives them).
UNGRANTABLE_ROLES = ("state_council",)
# ACC-1: words that make an account generic or shared rather than one person's.
GENERIC_USERNAMES = {"admin", "administrator", "root", "test", "tester", "guest", "user", "office", "public",
                     "shared", "share", "common", "system", "sys", "manager", "duty", "temp", "demo", "staff",
                     "editor", "reviewer", "signer", "operator", "service", "info", "webmaster", "account",
                     "group", "team", "dept", "unit"}
GENERIC_NAME_WORDS = ("管理员", "办公室", "公用", "共用", "共享", "公共", "测试", "值班", "临时", "系统", "编辑部",
                      "科室", "账号", "帐号", "用户", "部门", "单位", "中心", "小组", "大家", "匿名")
USERNAME = re.compile(r"^[a-z][a-z0-9_.-]{2,31}$")
REAL_NAME = re.compile(r"^[\u4e00-\u9fff·]{2,20}$|^[A-Za-z][A-Za-z .'-]{1,39}$")
PHONE = re.compile(r"^(1\d{10}|0\d{2,3}-?\d{7,8})$")
ID_NUMBER = re.compile(r"^\d{17}[\dX]$")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def _clean_reason(reason: str, what: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput(f"请填写{what}的理由。", f"A reason is required ({what}).")
    return reason


def load_admin(session: Session, actor_id: int) -> User:
    user = session.get(User, actor_id)
    if user is None or not user.active:
        raise Forbidden("用户不存在或已停用。", "The user does not exist or has been deactivated.")
    return user


def managed_unit_ids(session: Session, user: User) -> set[int]:
    """The units `user` administers: where they hold `admin`, and every unit below those."""
    children: dict[int | None, list[int]] = {}
    for unit_id, parent_id in session.execute(select(OrgUnit.id, OrgUnit.parent_id)):
        children.setdefault(parent_id, []).append(unit_id)
    found: set[int] = set()
    stack = list(session.scalars(select(RoleGrant.org_unit_id).where(RoleGrant.user_id == user.id,
                                                                    RoleGrant.role == "admin")))
    while stack:
        unit_id = stack.pop()
        if unit_id not in found:
            found.add(unit_id)
            stack.extend(children.get(unit_id, ()))
    return found


def require_manages(session: Session, user: User, unit_id: int) -> None:
    if unit_id not in managed_unit_ids(session, user):
        raise Forbidden("只有本单位及上级单位的系统管理员可以管理此单位的人员和事项。",
                        "Only an administrator of this unit or a unit above may manage it.")


# --- units ----------------------------------------------------------------------------------

def create_unit(rt, actor_id: int, *, name: str, level: str, parent_id: int, reason: str = "") -> int:
    """Add a unit under one the administrator manages; names are unique among siblings."""
    name = (name or "").strip()
    if not 2 <= len(name) <= 120:
        raise InvalidInput("单位名称须为 2–120 个字。", "A unit name needs 2–120 characters.")
    if level not in LEVELS:
        raise InvalidInput(f"单位层级只能是：{'、'.join(LEVELS.values())}。", "Unknown unit level.")
    with transaction(rt.session_factory) as session:
        admin = load_admin(session, actor_id)
        if session.get(OrgUnit, parent_id) is None:
            raise NotFound("上级单位不存在。", "The parent unit does not exist.")
        require_manages(session, admin, parent_id)
        if session.scalar(select(exists().where(OrgUnit.parent_id == parent_id, OrgUnit.name == name))):
            raise ConflictError(f"上级单位下已有名为“{name}”的单位。", f"A unit named {name} already exists there.")
        unit = OrgUnit(name=name, level=level, parent_id=parent_id)
        session.add(unit)
        session.flush()
        audit.record(session, now=rt.clock.now(), action="unit_created", actor=admin, role="admin",
                     opinion=reason or None, org_unit_id=unit.id, data={"unit": name, "level": level})
        return unit.id


# --- accounts (ACC-1) ---------------------------------------------------------------------------

def id_number_valid(number: str) -> bool:
    """GB 11643 check digit of an 18-character resident ID number."""
    if not ID_NUMBER.match(number):
        return False
    total = sum(int(digit) * weight for digit, weight in zip(number[:17], _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11] == number[17]


def identity_digest(id_number: str) -> str:
    return hashlib.sha256(f"govflow-id:{id_number}".encode()).hexdigest()


def mask_id_number(id_number: str) -> str:
    return f"{id_number[:3]}{'*' * 11}{id_number[-4:]}"


def _check_real_person(username: str, real_name: str, unit_name: str) -> None:
    """ACC-1: one person's account, never a generic or shared one."""
    if not USERNAME.match(username):
        raise InvalidInput("用户名须为 3–32 位小写字母、数字或 . _ -，以字母开头。",
                           "A username is 3–32 lower-case letters, digits or . _ -, starting with a letter.")
    parts = {part for part in re.split(r"[\d._-]+", username) if part} | {re.sub(r"[\d._-]+", "", username)}
    if parts & GENERIC_USERNAMES:
        raise InvalidInput(f"用户名“{username}”是通用或共用账号的名称；一人一号，请使用本人姓名拼音（ACC-1）。",
                           f"\"{username}\" is a generic or shared account name; one person, one account (ACC-1).")
    if not REAL_NAME.match(real_name):
        raise InvalidInput("请填写本人真实姓名（2–20 个汉字，或外文姓名）。", "Give the person's real name.")
    if any(word in real_name for word in GENERIC_NAME_WORDS) or real_name == unit_name:
        raise InvalidInput(f"“{real_name}”不是个人的真实姓名；不得开设共用或通用账号（ACC-1）。",
                           f"\"{real_name}\" is not a person's real name; shared accounts are not allowed (ACC-1).")


def create_user(rt, actor_id: int, *, username: str, real_name: str, unit_id: int, phone: str = "",
                id_number: str = "", email: str = "") -> tuple[int, str]:
    """Open a real-name account (ACC-1); returns (user id, the initial password to hand over once).

    The person is identified by a phone number and/or an ID number (at least one). Refused: a
    generic name; an ID number that already has an active account anywhere; the same real name
    with the same phone or ID number in the unit. The initial password must be changed at first
    login (ACC-2).
    """
    username, real_name = (username or "").strip().lower(), (real_name or "").strip()
    phone, id_number, email = (phone or "").strip(), (id_number or "").strip().upper(), (email or "").strip()
    if not phone and not id_number:
        raise InvalidInput("请至少填写手机号码或身份证号码之一，用于实名核验（ACC-1）。",
                           "Give a phone number or an ID number for real-name verification (ACC-1).")
    if phone and not PHONE.match(phone):
        raise InvalidInput("手机号码格式不正确。", "The phone number is not valid.")
    if id_number and not id_number_valid(id_number):
        raise InvalidInput("身份证号码无效（须为 18 位且校验位正确）。", "The ID number is not valid.")
    with transaction(rt.session_factory) as session:
        admin = load_admin(session, actor_id)
        unit = session.get(OrgUnit, unit_id)
        if unit is None:
            raise NotFound("单位不存在。", "The unit does not exist.")
        require_manages(session, admin, unit_id)
        _check_real_person(username, real_name, unit.name)
        if session.scalar(select(exists().where(User.username == username))):
            raise ConflictError(f"用户名“{username}”已被使用。", f"The username {username} is taken.")
        digest = identity_digest(id_number) if id_number else None
        if digest:
            holder = session.scalar(select(User).where(User.identity_digest == digest, User.active.is_(True)))
            if holder is not None:
                raise ConflictError(f"此身份证号码已有账号“{holder.username}”（{holder.real_name}）；一人一号，"
                                    "不能再开设账号（ACC-1）。",
                                    f"This ID number already has the account {holder.username} (ACC-1).")
        if phone and session.scalar(select(exists().where(
                User.org_unit_id == unit_id, User.real_name == real_name, User.phone == phone, User.active.is_(True)))):
            raise ConflictError(f"本单位已有姓名为“{real_name}”、手机号相同的账号；一人一号（ACC-1）。",
                                f"The unit already has an account for {real_name} with this phone (ACC-1).")
        password = generate_initial_password()
        now = rt.clock.now()
        user = User(username=username, real_name=real_name, org_unit_id=unit_id, active=True, created_at=now,
                    email=email or None, phone=phone or None, identity_digest=digest,
                    id_number_masked=mask_id_number(id_number) if id_number else None, password_hash="",
                    password_changed_at=now)
        issue_password(session, user, password)
        session.add(user)
        session.flush()
        audit.record(session, now=now, action="user_created", actor=admin, role="admin", org_unit_id=unit_id,
                     data={"user": username, "real_name": real_name})
        return user.id, password


# --- roles (ACC-6) ----------------------------------------------------------------------------

def has_background_check(session: Session, user_id: int) -> bool:
    return session.scalar(select(exists().where(BackgroundCheck.user_id == user_id))) or False


def grant_role(rt, actor_id: int, user_id: int, *, role: str, unit_id: int, reason: str) -> None:
    """Give `user` the `role` in `unit_id`. ACC-6: a website role needs the background check first."""
    reason = _clean_reason(reason, "授予角色")
    if role not in ROLES or role in UNGRANTABLE_ROLES:
        raise InvalidInput(f"“{role}”不是可授予的角色。", f"{role} is not a role that can be granted.")
    with transaction(rt.session_factory) as session:
        admin = load_admin(session, actor_id)
        user = _managed_user(session, admin, user_id)
        if not user.active:
            raise ConflictError("此账号已停用，不能授予角色。", "The account is deactivated.")
        if session.get(OrgUnit, unit_id) is None:
            raise NotFound("单位不存在。", "The unit does not exist.")
        require_manages(session, admin, unit_id)
        if role in WEBSITE_ROLES and not has_background_check(session, user.id):
            raise Forbidden(f"授予“{ROLES[role]}”等网站工作人员角色前，须先登记{user.real_name}的安全背景审查（ACC-6）。",
                            f"Record {user.real_name}'s security background check before granting {role} (ACC-6).")
        if session.scalar(select(exists().where(RoleGrant.user_id == user.id, RoleGrant.role == role,
                                                RoleGrant.org_unit_id == unit_id))):
            raise ConflictError("此人已在该单位担任此角色。", "The user already holds this role in this unit.")
        session.add(RoleGrant(user_id=user.id, role=role, org_unit_id=unit_id))
        audit.record(session, now=rt.clock.now(), action="role_granted", actor=admin, role="admin", opinion=reason,
                     org_unit_id=unit_id, data={"user": user.username, "granted_role": role})


def revoke_role(rt, actor_id: int, user_id: int, *, grant_id: int, reason: str) -> None:
    """Take a role away; the person's claimed tasks in it go back to the group (as on departure)."""
    reason = _clean_reason(reason, "撤销角色")
    with transaction(rt.session_factory) as session:
        admin = load_admin(session, actor_id)
        user = _managed_user(session, admin, user_id)
        grant = session.get(RoleGrant, grant_id)
        if grant is None or grant.user_id != user.id:
            raise NotFound("角色授予记录不存在。", "The role grant does not exist.")
        require_manages(session, admin, grant.org_unit_id)
        role, unit_id = grant.role, grant.org_unit_id
        session.delete(grant)
        session.flush()
        now = rt.clock.now()
        audit.record(session, now=now, action="role_revoked", actor=admin, role="admin", opinion=reason,
                     org_unit_id=unit_id, data={"user": user.username, "revoked_role": role})
        from .departures import open_tasks_of, reroute_tasks

        reroute_tasks(rt, session, admin, user, open_tasks_of(session, user, [(role, unit_id)], only_these_grants=True),
                      reason)


def _managed_user(session: Session, admin: User, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"用户 {user_id} 不存在。", f"User {user_id} does not exist.")
    require_manages(session, admin, user.org_unit_id)
    return user


# --- reading ----------------------------------------------------------------------------------

def unit_tree(session: Session, admin: User) -> list[tuple[OrgUnit, int]]:
    """The units the administrator manages, depth-first, with their depth below the first shown."""
    managed = managed_unit_ids(session, admin)
    units = {u.id: u for u in session.scalars(select(OrgUnit).order_by(OrgUnit.id))}
    children: dict[int | None, list[OrgUnit]] = {}
    for unit in units.values():
        children.setdefault(unit.parent_id, []).append(unit)
    tops = [u for u in units.values() if u.id in managed and u.parent_id not in managed]
    ordered: list[tuple[OrgUnit, int]] = []

    def walk(unit: OrgUnit, depth: int) -> None:
        ordered.append((unit, depth))
        for child in children.get(unit.id, []):
            walk(child, depth + 1)

    for top in tops:
        walk(top, 0)
    return ordered


def people_of(session: Session, admin: User, *, unit_id: int | None = None, text: str = "",
              include_inactive: bool = False, limit: int = 500) -> list[User]:
    units = managed_unit_ids(session, admin)
    if unit_id is not None:
        units &= {unit_id}
    query = select(User).where(User.org_unit_id.in_(units or {-1}))
    if not include_inactive:
        query = query.where(User.active.is_(True))
    if text.strip():
        pattern = f"%{text.strip()}%"
        query = query.where((User.username.like(pattern)) | (User.real_name.like(pattern)))
    return list(session.scalars(query.order_by(User.org_unit_id, User.id).limit(limit)))


@dataclass
class PersonDetail:
    user: User
    unit: OrgUnit
    grants: list[tuple[RoleGrant, OrgUnit]]
    background_checks: list
    resets: list
    leaks: list
    open_tasks: list[HumanTask]


def person_detail(session: Session, admin: User, user_id: int) -> PersonDetail:
    from db.models import AccountLeak, PasswordReset

    user = _managed_user(session, admin, user_id)
    grants = [(g, session.get(OrgUnit, g.org_unit_id)) for g in
              session.scalars(select(RoleGrant).where(RoleGrant.user_id == user.id).order_by(RoleGrant.id))]
    return PersonDetail(
        user=user, unit=session.get(OrgUnit, user.org_unit_id), grants=grants,
        background_checks=list(session.scalars(select(BackgroundCheck).where(BackgroundCheck.user_id == user.id)
                                               .order_by(BackgroundCheck.id.desc()))),
        resets=list(session.scalars(select(PasswordReset).where(PasswordReset.user_id == user.id)
                                    .order_by(PasswordReset.id.desc()))),
        leaks=list(session.scalars(select(AccountLeak).where(AccountLeak.user_id == user.id)
                                   .order_by(AccountLeak.id.desc()))),
        open_tasks=list(session.scalars(select(HumanTask).where(HumanTask.assignee_id == user.id,
                                                                HumanTask.state == "ready"))))
