"""The demo organisation and its real-name users (one per role), for `make serve`.

Idempotent: units and users are looked up by name before anything is created.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from db.models import ROLES, Asset, OrgUnit, RoleGrant, User
from db.session import transaction

from .accounts import hash_password

DEMO_PASSWORD = "Demo@2026"

# (username, real name, home unit, [(role, unit where the role is held)])
UNITS = [("某省", "province", None), ("某市", "city", "某省"), ("某区", "district", "某市"),
         ("区教育局", "unit", "某区"), ("某街道办事处", "unit", "某区")]
USERS = [
    ("zhangsan", "张三", "区教育局", [("editor", "区教育局")]),
    ("lisi", "李四", "区教育局", [("reviewer", "区教育局"), ("signer", "区教育局")]),
    ("wangwu", "王五", "区教育局", [("signer", "区教育局")]),
    ("zhaoliu", "赵六", "区教育局", [("unit_head", "区教育局")]),
    ("sunqi", "孙七", "某区", [("egov_center", "某区")]),
    ("zhouba", "周八", "某区", [("district_office", "某区")]),
    ("wujiu", "吴九", "某市", [("city_office", "某市")]),
    ("zhengshi", "郑十", "某省", [("province_office", "某省")]),
    ("chenjing", "陈静", "某区", [("auditor", "某区")]),
    ("liuyang", "刘洋", "某区", [("admin", "某区")]),
    # The working calendar is the same for the whole deployment: its administrator is at the top.
    ("gaoyuan", "高远", "某省", [("admin", "某省")]),
    ("huanglei", "黄磊", "某街道办事处", [("editor", "某街道办事处"), ("reviewer", "某街道办事处")]),
    ("linfang", "林芳", "某街道办事处", [("signer", "某街道办事处")]),
]


# (kind, name, platform, host unit, attributes): the sites and accounts the demo units run.
ASSETS = [
    ("website", "某区人民政府门户网站", None, "某区", {"domain": "www.mouqu.gov.cn", "identifier_code": "1101000001"}),
    ("new_media", "区教育发布", "wechat", "区教育局", {}),
    ("new_media", "某区教育", "weibo", "区教育局", {}),
    ("new_media", "某街道发布", "wechat", "某街道办事处", {}),
]


@dataclass(frozen=True)
class DemoLogin:
    username: str
    real_name: str
    unit: str
    roles: list[str]


def seed_demo(rt, password: str = DEMO_PASSWORD, password_hash: str | None = None) -> list[DemoLogin]:
    """Create (or find) the demo units and users; returns their logins.

    `password_hash` lets tests skip hashing the same password for every user.
    """
    password_hash = password_hash or hash_password(password)
    with transaction(rt.session_factory) as session:
        units: dict[str, OrgUnit] = {}
        for name, level, parent in UNITS:
            unit = session.scalar(select(OrgUnit).where(OrgUnit.name == name))
            if unit is None:
                unit = OrgUnit(name=name, level=level, parent_id=units[parent].id if parent else None)
                session.add(unit)
                session.flush()
            units[name] = unit
        logins = []
        for username, real_name, home, grants in USERS:
            user = session.scalar(select(User).where(User.username == username))
            if user is None:
                user = User(username=username, real_name=real_name, password_hash=password_hash,
                            org_unit_id=units[home].id, active=True, created_at=rt.clock.now())
                session.add(user)
                session.flush()
            for role, scope in grants:
                exists = session.scalar(select(RoleGrant).where(
                    RoleGrant.user_id == user.id, RoleGrant.role == role, RoleGrant.org_unit_id == units[scope].id))
                if exists is None:
                    session.add(RoleGrant(user_id=user.id, role=role, org_unit_id=units[scope].id))
            logins.append(DemoLogin(username, real_name, home, [ROLES[r] for r, _ in grants]))
        for kind, name, platform, unit, attributes in ASSETS:
            if session.scalar(select(Asset.id).where(Asset.name == name)) is None:
                now = rt.clock.now()
                session.add(Asset(kind=kind, name=name, platform=platform, org_unit_id=units[unit].id, state="online",
                                  attributes=attributes, created_at=now, updated_at=now))
        return logins
