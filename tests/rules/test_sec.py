"""SEC-1 … SEC-7: security hazards, incidents, intrusions, counterfeits, emergency plans, vendors and
secrecy review, driven as the users would.

Dates by hand: the demo clock starts Mon 2026-03-02 09:00 Beijing. The seeds say only 立即/及时, so
the deadlines are the profile's defaults: a hazard 24 hours, a report to the office 60 minutes, an
intrusion cut off in 30 minutes, a counterfeit reported in 24 hours.
"""

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from db.models import Asset, AssetEvent, AuditEvent, HumanTask, User, Vendor, Violation
from db.session import reading
from engine import Forbidden, InvalidInput, SeparationOfDutiesViolation, complete_task
from engine.policy import load_policy
from engine.security import (
    record_security_measure,
    security_page,
    start_counterfeit_report,
    start_data_release,
    start_hazard_notice,
    start_security_incident,
    start_vendor_onboarding,
)
from engine.sweep import sweep
from handlers.assets import approved_offlines
from tests.helpers import attach, instance, ready, register_asset, task_id

WECHAT = "区教育发布"
NOON = datetime.fromisoformat("2026-03-02T12:00:00+08:00")


def _asset_id(rt, name=WECHAT) -> int:
    with reading(rt.session_factory) as session:
        return session.scalar(select(Asset.id).where(Asset.name == name))


def _asset(rt, name=WECHAT) -> Asset:
    with reading(rt.session_factory) as session:
        return session.scalar(select(Asset).where(Asset.name == name))


def _violations(rt) -> list[Violation]:
    with reading(rt.session_factory) as session:
        return list(session.scalars(select(Violation).order_by(Violation.id)))


def _website(rt) -> int:
    return register_asset(rt, "website", "区教育局网站", attributes={"identifier_code": "1101000050"})


def _done(rt, iid, step, who, outcome="done", form=None, opinion=""):
    complete_task(rt, task_id(rt, iid, step), who, outcome=outcome, form=form or {}, opinion=opinion)


REPORT = {"recipient": "区网信办 值班员王某", "method": "电话", "summary": "网站首页被篡改，已启动应急预案"}
HANDLING = {"measures": "恢复页面，修补漏洞", "result": "已恢复，加强监测"}


# -- SEC-1 ------------------------------------------------------------------------------------

def test_sec_1_a_notified_hazard_opens_an_immediate_rectification_closed_only_after_feedback(rt, users, clock):
    clock.set(NOON)
    iid = start_hazard_notice(rt, users["zhouba"], _asset_id(rt), notifier="cac", hazard="后台存在弱口令",
                              notice_document="区网信办通报〔2026〕3号")
    task = ready(rt, iid)["rectify"]
    assert (task.role, task.due_at) == ("editor", NOON + timedelta(hours=24))
    assert task.org_unit_id == _asset(rt).org_unit_id  # the host unit, though the office notified it
    _done(rt, iid, "rectify", users["zhangsan"], form={"measures": "修改全部口令", "result": "已整改"})
    # Rectified but not yet closed: the feedback to the notifier comes first.
    assert set(ready(rt, iid)) == {"feedback"} and instance(rt, iid).status == "running"
    _done(rt, iid, "feedback", users["zhangsan"], form={"recipient": "区网信办", "reference": "书面反馈",
                                                         "content": "已完成整改"})
    _done(rt, iid, "office_confirm", users["zhouba"], outcome="return", opinion="请附整改后的检测结果")
    assert set(ready(rt, iid)) == {"rectify"}
    _done(rt, iid, "rectify", users["zhangsan"], form={"measures": "修改口令并复测", "result": "复测通过"})
    _done(rt, iid, "feedback", users["zhangsan"], form={"recipient": "区网信办", "reference": "书面反馈",
                                                         "content": "已完成整改并复测"})
    _done(rt, iid, "office_confirm", users["zhouba"], outcome="pass")
    assert instance(rt, iid).status == "completed" and _violations(rt) == []


def test_sec_1_only_the_office_notifies_and_a_late_rectification_is_recorded(sqlite_rt, sqlite_users, clock):
    rt, users = sqlite_rt, sqlite_users
    with pytest.raises(Forbidden, match="SEC-1"):
        start_hazard_notice(rt, users["zhangsan"], _asset_id(rt), notifier="office", hazard="x", notice_document="y")
    with pytest.raises(InvalidInput):
        start_hazard_notice(rt, users["zhouba"], _asset_id(rt), notifier="police", hazard="x", notice_document="y")
    clock.set(NOON)
    iid = start_hazard_notice(rt, users["zhouba"], _asset_id(rt), notifier="office", hazard="证书过期",
                              notice_document="电话通知")
    clock.set(NOON + timedelta(hours=23, minutes=59))
    sweep(rt)
    assert _violations(rt) == []
    clock.set(NOON + timedelta(hours=24, minutes=1))
    sweep(rt)
    (late,) = _violations(rt)
    assert (late.rule, late.category, late.instance_id) == ("SEC-1", "7", iid)
    assert set(ready(rt, iid)) == {"rectify"}  # still to be done


# -- SEC-2 ------------------------------------------------------------------------------------

def _report_times(rt, iid) -> dict[str, datetime]:
    with reading(rt.session_factory) as session:
        return {e.task_name: e.occurred_at for e in session.scalars(select(AuditEvent).where(
            AuditEvent.instance_id == iid, AuditEvent.action == "complete"))}


def test_sec_2_an_incident_is_reported_to_the_office_then_by_severity_to_cac_and_police_each_time_stamped(
        rt, users, clock):
    website = _website(rt)
    clock.set(NOON)
    record_security_measure(rt, users["zhangsan"], website, kind="emergency_plan", occurred_on="2026-01-10",
                            values={"title": "区教育局网站网络安全应急预案", "version": "区教发〔2026〕1号"})
    iid = start_security_incident(rt, users["zhangsan"], website, kind="incident", severity="large",
                                  description="首页被篡改")
    with reading(rt.session_factory) as session:
        start = session.scalar(select(AuditEvent).where(AuditEvent.instance_id == iid, AuditEvent.action == "start"))
    assert "已启动应急预案“区教育局网站网络安全应急预案”" in start.opinion  # the plan starts at once
    task = ready(rt, iid)["office_report"]
    assert (task.role, task.due_at) == ("egov_center", NOON + timedelta(minutes=60))
    for minutes, step in ((5, "office_report"), (20, "report_cac"), (40, "report_police")):
        clock.set(NOON + timedelta(minutes=minutes))
        _done(rt, iid, step, users["sunqi"], form=REPORT)
        if step == "office_report":
            assert set(ready(rt, iid)) == {"report_cac", "report_police"}  # 较大: to 网信 and 公安
    times = _report_times(rt, iid)
    assert (times["向政府办公室报告"], times["向网信部门报告"], times["向公安机关报告"]) == (
        NOON + timedelta(minutes=5), NOON + timedelta(minutes=20), NOON + timedelta(minutes=40))
    _done(rt, iid, "handle", users["sunqi"], form=HANDLING)
    _done(rt, iid, "office_review", users["zhouba"], outcome="pass")
    assert instance(rt, iid).status == "completed" and _violations(rt) == []


@pytest.mark.parametrize(("profile", "severity", "external"), [
    ("strictest", "general", True),   # the default reports every incident to 网信 and 公安
    ("fujin", "general", False),      # 002 §32: 视严重程度 — 一般 stays with the operator
    ("fujin", "large", True),
])
def test_sec_2_the_severity_that_goes_to_cac_and_police_is_a_policy_value(sqlite_rt, sqlite_users, profile, severity,
                                                                         external):
    rt, users = sqlite_rt, sqlite_users
    rt.policy = load_policy(profile, "")
    iid = start_security_incident(rt, users["zhangsan"], _website(rt), kind="incident", severity=severity,
                                  description="遭受扫描攻击")
    _done(rt, iid, "office_report", users["sunqi"], form=REPORT)
    assert set(ready(rt, iid)) == ({"report_cac", "report_police"} if external else {"handle"})


def test_sec_2_a_report_to_the_office_later_than_the_policy_allows_is_recorded(sqlite_rt, sqlite_users, clock):
    rt, users = sqlite_rt, sqlite_users
    clock.set(NOON)
    iid = start_security_incident(rt, users["zhangsan"], _website(rt), kind="incident", severity="general",
                                  description="服务器异常")
    with reading(rt.session_factory) as session:
        opinion = session.scalar(select(AuditEvent.opinion).where(AuditEvent.instance_id == iid))
    assert "未登记应急预案" in opinion  # SEC-5 missing is said, the incident still starts
    clock.set(NOON + timedelta(minutes=61))
    sweep(rt)
    (late,) = _violations(rt)
    assert (late.rule, late.category) == ("SEC-2", "8") and "office_report" in ready(rt, iid)
    with pytest.raises(Forbidden, match="SEC-2"):  # another unit cannot report for this site
        start_security_incident(rt, users["huanglei"], _website(rt), kind="incident", severity="general",
                                description="x")


# -- SEC-3 ------------------------------------------------------------------------------------

def test_sec_3_an_intrusion_is_cut_off_evidence_kept_reported_and_the_downtime_reported_as_off_4(rt, users, clock):
    clock.set(NOON)
    account = _asset_id(rt)
    iid = start_security_incident(rt, users["zhangsan"], account, kind="intrusion", severity="general",
                                  description="账号被盗发布异常信息")
    cut = ready(rt, iid)["cut_access"]
    assert set(ready(rt, iid)) == {"cut_access"} and cut.due_at == NOON + timedelta(minutes=30)
    _done(rt, iid, "cut_access", users["zhangsan"], form={"measures": "冻结账号，修改密码"})
    with pytest.raises(InvalidInput, match="上传"):  # the evidence is a file, not a sentence
        _done(rt, iid, "keep_evidence", users["zhangsan"], form={"evidence": "异常登录截图"})
    attach(rt, iid, "keep_evidence", users["zhangsan"], "异常登录截图.png")
    _done(rt, iid, "keep_evidence", users["zhangsan"], form={"evidence": "异常登录截图"})
    assert _asset(rt).state == "offline"
    with reading(rt.session_factory) as session:
        event = session.scalar(select(AssetEvent).where(AssetEvent.asset_id == account))
    assert (event.data, event.instance_id) == ({"path": "force_majeure"}, iid)
    # The downtime report (new media: district office, then city) runs beside the incident handling.
    assert set(ready(rt, iid)) == {"fm_district", "office_report"}
    _done(rt, iid, "fm_district", users["zhouba"])
    _done(rt, iid, "fm_city", users["wujiu"])
    _done(rt, iid, "office_report", users["sunqi"], form=REPORT)
    assert set(ready(rt, iid)) == {"report_cac", "report_police"}  # an intrusion always goes to 网信 and 公安
    _done(rt, iid, "report_cac", users["sunqi"], form=REPORT)
    _done(rt, iid, "report_police", users["sunqi"], form=REPORT)
    _done(rt, iid, "handle", users["sunqi"], form=HANDLING)
    _done(rt, iid, "office_review", users["zhouba"], outcome="pass")
    assert set(ready(rt, iid)) == {"restore"} and _asset(rt).state == "offline"
    _done(rt, iid, "restore", users["zhangsan"])
    assert _asset(rt).state == "online" and instance(rt, iid).status == "completed"
    with reading(rt.session_factory) as session:
        assert approved_offlines(session, account, 2026) == 0  # as OFF-4: not counted towards OFF-2


def test_sec_3_the_cut_off_is_due_at_once_and_only_running_accounts_take_the_intrusion_path(sqlite_rt, sqlite_users,
                                                                                           clock):
    rt, users = sqlite_rt, sqlite_users
    with pytest.raises(InvalidInput, match="SEC-3"):
        start_security_incident(rt, users["zhangsan"], _website(rt), kind="intrusion", severity="general",
                                description="x")
    clock.set(NOON)
    iid = start_security_incident(rt, users["zhangsan"], _asset_id(rt), kind="intrusion", severity="major",
                                  description="账号被盗")
    clock.set(NOON + timedelta(minutes=31))
    sweep(rt)
    (late,) = _violations(rt)
    assert (late.rule, late.category, late.instance_id) == ("SEC-3", "8", iid)


# -- SEC-4 ------------------------------------------------------------------------------------

def test_sec_4_a_verified_counterfeit_is_reported_to_cac_and_police_and_the_handling_to_the_office(rt, users, clock):
    clock.set(NOON)
    iid = start_counterfeit_report(rt, users["sunqi"], _asset_id(rt), counterfeit="微信号“区教育發布”",
                                   source="public", details="群众举报该账号冒用我局名义收费")
    assert ready(rt, iid)["verify"].role == "editor"  # the imitated unit verifies
    _done(rt, iid, "verify", users["zhangsan"], outcome="confirmed")
    assert set(ready(rt, iid)) == {"report_cac", "report_police"}
    assert ready(rt, iid)["report_cac"].due_at == NOON + timedelta(hours=24)
    clock.set(NOON + timedelta(hours=1))
    _done(rt, iid, "report_cac", users["zhangsan"], form=REPORT)
    clock.set(NOON + timedelta(hours=2))
    _done(rt, iid, "report_police", users["zhangsan"], form=REPORT)
    _done(rt, iid, "joint_handling", users["zhangsan"], form={"measures": "平台已封禁该账号"})
    _done(rt, iid, "report_office", users["zhangsan"], form={"summary": "已封禁，已发布辟谣声明"})
    _done(rt, iid, "office_receive", users["zhouba"], outcome="pass")
    assert instance(rt, iid).status == "completed"
    times = _report_times(rt, iid)
    assert times["向网信部门报告"] == NOON + timedelta(hours=1) and times["向公安机关报告"] == NOON + timedelta(hours=2)


def test_sec_4_nothing_is_reported_before_verification_and_a_late_report_is_recorded(sqlite_rt, sqlite_users, clock):
    rt, users = sqlite_rt, sqlite_users
    with pytest.raises(Forbidden, match="SEC-4"):
        start_counterfeit_report(rt, users["zhangsan"], _asset_id(rt), counterfeit="x", source="public", details="y")
    first = start_counterfeit_report(rt, users["sunqi"], _asset_id(rt), counterfeit="抖音号“区教育”",
                                     source="monitoring", details="名称相近")
    with pytest.raises(InvalidInput, match="理由"):
        _done(rt, first, "verify", users["zhangsan"], outcome="reject")
    _done(rt, first, "verify", users["zhangsan"], outcome="reject", opinion="系本局下属学校的合法账号")
    assert instance(rt, first).status == "completed" and ready(rt, first) == {}
    clock.set(NOON)
    second = start_counterfeit_report(rt, users["sunqi"], _asset_id(rt), counterfeit="网站 jyj-mouqu.com",
                                      source="monitoring", details="仿冒页面")
    _done(rt, second, "verify", users["zhangsan"], outcome="confirmed")
    _done(rt, second, "report_police", users["zhangsan"], form=REPORT)
    clock.set(NOON + timedelta(hours=25))
    sweep(rt)
    (late,) = _violations(rt)
    assert (late.rule, late.category) == ("SEC-4", "8") and "网信" in late.description


# -- SEC-5 ------------------------------------------------------------------------------------

def test_sec_5_emergency_plans_filings_and_drills_are_recorded_per_asset(sqlite_rt, sqlite_users, clock):
    rt, users = sqlite_rt, sqlite_users
    account, website = _asset_id(rt), _website(rt)

    def status(asset_id):
        with reading(rt.session_factory) as session:
            page = security_page(rt, session, session.get(User, users["zhangsan"].user_id), asset_id)
        return {row["kind"]: row["overdue"] for row in page["status"]}

    assert status(account) == {"emergency_plan": True, "drill": True}
    with pytest.raises(InvalidInput, match="断网预案"):  # 003 四(二): a new-media plan has a network-cut plan
        record_security_measure(rt, users["zhangsan"], account, kind="emergency_plan", occurred_on="2026-02-01",
                                values={"title": "公众号应急预案", "version": "v1"})
    record_security_measure(rt, users["zhangsan"], account, kind="emergency_plan", occurred_on="2026-02-01",
                            values={"title": "公众号应急预案", "version": "v1", "network_cut_plan": "发现入侵立即冻结"})
    record_security_measure(rt, users["zhangsan"], account, kind="drill", occurred_on="2026-02-20",
                            values={"scenario": "账号被盗", "participants": "张三、李四", "summary": "30 分钟内完成冻结"})
    assert status(account) == {"emergency_plan": False, "drill": False}
    # Websites also file the plan with 公安 and 网信 (000 §29).
    assert set(status(website)) == {"emergency_plan", "drill", "plan_filing", "security_test"}
    with pytest.raises(InvalidInput, match="SEC-5"):
        record_security_measure(rt, users["zhangsan"], account, kind="plan_filing", occurred_on="2026-02-01",
                                values={"police": "1", "cac": "2"})
    with pytest.raises(InvalidInput, match="未来"):
        record_security_measure(rt, users["zhangsan"], account, kind="drill", occurred_on="2026-12-01",
                                values={"scenario": "x", "participants": "y", "summary": "z"})
    with pytest.raises(Forbidden):
        record_security_measure(rt, users["huanglei"], account, kind="drill", occurred_on="2026-02-01",
                                values={"scenario": "x", "participants": "y", "summary": "z"})
    clock.set(datetime.fromisoformat("2027-02-21T10:00:00+08:00"))  # a year and a day after the drill
    assert status(account) == {"emergency_plan": False, "drill": True}


# -- SEC-6 ------------------------------------------------------------------------------------

def _vendor(rt, iid) -> Vendor:
    with reading(rt.session_factory) as session:
        return session.scalar(select(Vendor).where(Vendor.instance_id == iid))


REVIEW = {"capability": "具备政府网站运维经验", "qualifications": "信息安全服务资质三级", "management": "ISO27001",
          "product_review": "所采购防火墙已通过安全认证"}


def test_sec_6_a_vendor_starts_only_after_qualification_review_and_a_signed_confidentiality_agreement(rt, users):
    iid = start_vendor_onboarding(rt, users["zhangsan"], name="某信息技术有限公司", service="网站日常运维，驻场 1 人",
                                  assets="区教育局网站")
    assert _vendor(rt, iid).state == "reviewing" and ready(rt, iid)["qualification_review"].role == "unit_head"
    with pytest.raises(InvalidInput, match="上传"):
        _done(rt, iid, "qualification_review", users["zhaoliu"], outcome="pass", form=REVIEW)
    attach(rt, iid, "qualification_review", users["zhaoliu"], "资质证书.pdf")
    _done(rt, iid, "qualification_review", users["zhaoliu"], outcome="pass", form=REVIEW)
    assert _vendor(rt, iid).state == "reviewing"  # reviewed, but no agreement yet: no work
    agreement = {"agreement_number": "BM-2026-01", "signed_on": "2026-03-02", "scope": "人员、内容、质量和信息保护"}
    with pytest.raises(InvalidInput, match="上传"):
        _done(rt, iid, "confidentiality", users["zhangsan"], form=agreement)
    attach(rt, iid, "confidentiality", users["zhangsan"], "保密协议.pdf")
    _done(rt, iid, "confidentiality", users["zhangsan"], form=agreement)
    vendor = _vendor(rt, iid)
    assert vendor.state == "approved" and vendor.agreement["agreement_number"] == "BM-2026-01"
    assert instance(rt, iid).status == "completed"


def test_sec_6_a_rejected_vendor_is_registered_as_such_and_the_website_is_tested_periodically(sqlite_rt, sqlite_users,
                                                                                             clock):
    rt, users = sqlite_rt, sqlite_users
    iid = start_vendor_onboarding(rt, users["zhangsan"], name="某公司", service="运维", assets="区教育发布")
    _done(rt, iid, "qualification_review", users["zhaoliu"], outcome="reject", opinion="无相关资质", form=REVIEW)
    assert _vendor(rt, iid).state == "rejected" and instance(rt, iid).status == "completed"
    website = _website(rt)
    record_security_measure(rt, users["zhangsan"], website, kind="security_test", occurred_on="2026-03-01",
                            values={"tester": "某测评中心", "report_number": "CP-2026-9", "findings": "无高危漏洞"})
    with reading(rt.session_factory) as session:
        user = session.get(User, users["zhangsan"].user_id)
        assert {r["kind"]: r["overdue"] for r in security_page(rt, session, user, website)["status"]}[
            "security_test"] is False
        clock.set(datetime.fromisoformat("2027-03-03T10:00:00+08:00"))
        assert {r["kind"]: r["overdue"] for r in security_page(rt, session, user, website)["status"]}[
            "security_test"] is True


# -- SEC-7 ------------------------------------------------------------------------------------

def test_sec_7_an_uncertain_item_is_referred_to_the_secrecy_bureau_whose_decision_is_recorded_with_its_document(
        rt, users):
    iid = start_data_release(rt, users["zhangsan"], name="全区中小学学位数据", description="学校、学位数，CSV，每学期")
    _done(rt, iid, "secrecy_review", users["lisi"], outcome="refer", opinion="含学校安保信息，难以确定是否涉密")
    assert set(ready(rt, iid)) == {"bureau_decision"}  # the data set waits for the bureau
    decision = {"document_number": "区保密局〔2026〕5号", "conclusion": "删除安保人员信息后不涉密"}
    with pytest.raises(InvalidInput, match="上传"):
        _done(rt, iid, "bureau_decision", users["lisi"], outcome="pass", form=decision)
    attach(rt, iid, "bureau_decision", users["lisi"], "保密局审核意见.pdf")
    _done(rt, iid, "bureau_decision", users["lisi"], outcome="pass", form=decision)
    assert set(ready(rt, iid)) == {"desensitise"}
    _done(rt, iid, "desensitise", users["zhangsan"], form={"fields": "安保人员姓名、电话", "method": "删除"})
    _done(rt, iid, "desensitise_check", users["lisi"], outcome="pass")
    with pytest.raises(SeparationOfDutiesViolation):  # 李四 reviewed it: he may not also sign it
        _done(rt, iid, "sign", users["lisi"], outcome="pass")
    _done(rt, iid, "sign", users["wangwu"], outcome="pass")
    assert instance(rt, iid).status == "completed"


def test_sec_7_a_data_set_is_released_only_desensitised_and_never_when_the_bureau_finds_it_secret(
        sqlite_rt, sqlite_users):
    rt, users = sqlite_rt, sqlite_users
    clear = start_data_release(rt, users["zhangsan"], name="办事指南目录", description="事项名称、办理地点")
    _done(rt, clear, "secrecy_review", users["lisi"], outcome="pass")
    assert set(ready(rt, clear)) == {"desensitise"}  # even a set found not secret is desensitised first
    secret = start_data_release(rt, users["zhangsan"], name="校舍安全台账", description="校舍结构、安防布点")
    _done(rt, secret, "secrecy_review", users["lisi"], outcome="refer", opinion="可能涉密")
    attach(rt, secret, "bureau_decision", users["lisi"])
    _done(rt, secret, "bureau_decision", users["lisi"], outcome="reject", opinion="属工作秘密",
          form={"document_number": "区保密局〔2026〕6号", "conclusion": "涉密"})
    assert instance(rt, secret).status == "completed"
    with reading(rt.session_factory) as session:
        steps = set(session.scalars(select(HumanTask.bpmn_id).where(HumanTask.instance_id == secret)))
    assert "sign" not in steps and "desensitise" not in steps
