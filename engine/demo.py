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
    ("linfang", "林芳", "某街道办事处", [("signer", "某街道办事处"), ("unit_head", "某街道办事处")]),
]


# (kind, name, platform, host unit, attributes): the sites and accounts the demo units run.
ASSETS = [
    ("website", "某区人民政府门户网站", None, "某区", {"domain": "www.mouqu.gov.cn", "identifier_code": "1101000001"}),
    ("new_media", "区教育发布", "wechat", "区教育局", {}),
    ("new_media", "某区教育", "weibo", "区教育局", {}),
    ("new_media", "某街道发布", "wechat", "某街道办事处", {}),
]
# More registered assets for the demo's requests in flight (seed_demo_work), not for the tests' base data.
WORK_ASSETS = [
    ("new_media", "区教育发布", "toutiao", "区教育局", {}),
    ("new_media", "某街道发布", "weibo", "某街道办事处", {}),
    ("website", "区教育局网站", None, "区教育局", {"domain": "jyj.mouqu.gov.cn", "identifier_code": "1101000050",
                                                 "special_need": "全区教育公共服务（经批准）"}),
    ("column", "通知公告", None, "区教育局", {"column": {"owner": "张三", "update_frequency": "每周", "review": "三审三校"}}),
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
        _register_assets(session, rt.clock.now(), ASSETS)
        return logins


def _register_assets(session, now, assets) -> None:
    """Register each (kind, name, platform, unit, attributes) as online, unless it already is."""
    for kind, name, platform, unit, attributes in assets:
        same = select(Asset.id).where(Asset.name == name, Asset.kind == kind,
                                      Asset.platform.is_(None) if platform is None else Asset.platform == platform)
        if session.scalar(same) is None:
            unit_id = session.scalar(select(OrgUnit.id).where(OrgUnit.name == unit))
            session.add(Asset(kind=kind, name=name, platform=platform, org_unit_id=unit_id, state="online",
                              attributes=attributes, created_at=now, updated_at=now))


def seed_demo_work(rt) -> int:
    """Requests in flight in every process, so a new user of `make serve` finds real work.

    Runs once: nothing is started when the demo already has instances. Returns how many started.
    """
    from sqlalchemy import func

    from db.models import ProcessInstance
    from db.session import reading

    from . import assets
    from .commands import Actor, complete_task
    from .content import submit_content

    with reading(rt.session_factory) as session:
        if session.scalar(select(func.count()).select_from(ProcessInstance)):
            return 0
    with transaction(rt.session_factory) as session:
        _register_assets(session, rt.clock.now(), WORK_ASSETS)
    with reading(rt.session_factory) as session:
        who = {u.username: Actor(u.id) for u in session.scalars(select(User))}
        asset = {(a.name, a.platform): a.id for a in session.scalars(select(Asset))}

    def task(iid: int, bpmn_id: str) -> int:
        from db.models import HumanTask

        with reading(rt.session_factory) as session:
            return session.scalar(select(HumanTask.id).where(HumanTask.instance_id == iid, HumanTask.bpmn_id == bpmn_id,
                                                             HumanTask.state == "ready"))

    started = [
        submit_content(rt, who["zhangsan"], title="关于做好2026年秋季学期开学工作的通知", body="各中小学：……",
                       target_kind="portal_column", target_name="通知公告"),
    ]
    published = submit_content(rt, who["zhangsan"], title="区教育局召开安全生产工作会议", body="近日，……",
                               target_kind="wechat", target_name="区教育发布")
    complete_task(rt, task(published, "review"), who["lisi"], outcome="pass", opinion="内容准确")
    complete_task(rt, task(published, "sign"), who["wangwu"], outcome="pass", opinion="同意发布")
    started.append(published)
    started.append(assets.start_temporary_offline(rt, who["zhangsan"], asset[("某区教育", "weibo")], path="approval",
                                                  reason_kind="rectification", reason="账号内容全面整改"))
    started.append(assets.start_change_info(rt, who["zhangsan"], asset[("区教育发布", "wechat")],
                                            {"contacts": "010-66668888", "responsible_person": "王五"}))
    started.append(assets.start_migration(rt, who["zhangsan"], asset[("区教育局网站", None)], reason="网站改版，历史栏目归档"))
    started.append(assets.start_open_new_media(
        rt, who["zhangsan"], platform="douyin", name="区教育发布", purpose="unit", real_name_verified=True,
        plan={"leadership": "分管副局长牵头", "funding": "年度预算列支", "rules": "三审三校制度",
              "contact_person": "张三", "contact_phone": "010-12345678"}))
    started.append(assets.start_open_website(rt, who["huanglei"], name="某街道便民服务网", special_need="街道便民服务集中发布"))
    started.append(assets.start_app_launch(rt, who["zhangsan"], name="区教育通", tester="某软件测评中心",
                                           report_number="AQ-2026-07", report_date="2026-10-20"))
    started.append(assets.start_column_request(rt, who["zhangsan"], action="open", name="教育惠民政策",
                                               details={"owner": "张三", "update_frequency": "每周两次",
                                                        "review": "三审三校后由电子政务中心终审"}))
    started.append(assets.start_column_adjustment(rt, who["sunqi"], asset[("通知公告", None)],
                                                  proposal="拆分为“通知”“公告”两个子栏目"))
    started.append(assets.start_decommission(rt, who["huanglei"], asset[("某街道发布", "wechat")], grounds="consolidation",
                                             plan="内容并入区政务新媒体矩阵"))
    started.append(assets.start_exit_supervision(rt, who["zhangsan"], asset[("区教育发布", "toutiao")],
                                                 establishment_document="某编办〔2026〕12号",
                                                 reason="头条号职能并入区融媒体中心"))
    started.append(assets.start_account_cleanup(rt, who["zhouba"], asset[("某街道发布", "weibo")], grounds="not_updated",
                                                notice="该微博账号半年未更新，请整合内容后关停"))
    started.append(assets.start_correction(rt, who["sunqi"], asset[("区教育发布", "wechat")], urgency="general",
                                           finding="9月15日推文中学校名称有误"))
    started.append(assets.start_unit_contacts(rt, who["huanglei"], leader="林芳（副主任）",
                                              liaisons="黄磊 010-55556666"))
    from .demo_operations import seed_operations_work

    started.extend(seed_operations_work(rt, who, task))
    started += _seed_supervision(rt, who, asset)
    from .supervision import open_demo_supervision

    return len(started) + open_demo_supervision(rt)  # SUP-1 last year's report, SUP-2 this quarter's inspection


def _seed_supervision(rt, who: dict, asset: dict) -> list[int]:
    """Issue 7's security, supervision and violation work in flight: an open incident, an account
    below its weekly frequency in rectification, a column's violation awaiting 通报…"""
    from datetime import timedelta

    from . import annual, monitoring, security, violations
    from .clock import to_shanghai

    now = to_shanghai(rt.clock.now())
    with transaction(rt.session_factory) as session:
        bureau = session.scalar(select(OrgUnit.id).where(OrgUnit.name == "区教育局"))
    website, wechat, column = asset[("区教育局网站", None)], asset[("区教育发布", "wechat")], asset[("通知公告", None)]
    security.record_security_measure(rt, who["zhangsan"], website, kind="emergency_plan",
                                     occurred_on=(now - timedelta(days=90)).date().isoformat(),
                                     values={"title": "区教育局网站网络安全事件应急预案", "version": "区教发〔2026〕3号"})
    started = [
        security.start_security_incident(rt, who["zhangsan"], website, kind="incident", severity="large",
                                         description="网站首页疑似被植入暗链，已断开后台管理入口"),
        security.start_hazard_notice(rt, who["zhouba"], wechat, notifier="cac", hazard="公众号管理员账号使用弱口令",
                                     notice_document="区网信办通报〔2026〕12号"),
        security.start_counterfeit_report(rt, who["sunqi"], wechat, counterfeit="微信号“区教育發布”", source="public",
                                          details="群众举报该账号冒用区教育局名义推送培训广告"),
        security.start_vendor_onboarding(rt, who["zhangsan"], name="某信息技术有限公司",
                                         service="区教育局网站日常运维，驻场 1 人", assets="区教育局网站"),
        security.start_data_release(rt, who["zhangsan"], name="全区中小学学位数据",
                                    description="学校名称、学段、学位数；CSV；每学期更新"),
    ]
    # SUP-3 / SUP-5: last week's check of the WeChat account (1 update of 2) and of a column in the
    # responsibility table (none of 1): both in rectification, the column's unit criticised 通报批评.
    monitoring.set_responsibility(rt, who["zhouba"], column, owner_unit_id=bureau, updates=1, period="week",
                                  content="本局通知公告", quality="准确、及时，三审三校后发布")
    last_week, _ = monitoring.last_closed_period("week", rt.clock.now())
    monitoring.record_update(rt, who["zhangsan"], wechat, title="开学安全提示",
                             published_at=(last_week + timedelta(days=2, hours=10)).isoformat())
    started += [monitoring.check_asset(rt, wechat).instance_id, monitoring.check_asset(rt, column).instance_id]
    started += [
        annual.start_inspection_circular(rt, who["zhouba"], period=f"{now.year}年第三季度",
                                         findings="区教育局“通知公告”栏目两周未更新；某街道发布 1 条留言超期未回复"),
        annual.start_yearly_duty(rt, who["zhangsan"], "topic_plan"),
        annual.start_yearly_duty(rt, who["zhangsan"], "disclosure_report"),
        annual.start_yearly_duty(rt, who["zhouba"], "satisfaction_survey"),
        *annual.start_evaluations(rt, who["zhouba"], year=now.year - 1),
        violations.start_accountability(rt, who["zhouba"], unit_id=bureau, trigger="superior_circular",
                                        action="summons", summary="市政府办公室通报区教育局网站栏目更新不及时"),
    ]
    return started
