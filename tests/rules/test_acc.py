"""ACC — the system's own accounts: real-name accounts (ACC-1), passwords (ACC-2), departures (ACC-3),
resets on a written request (ACC-4), leaks (ACC-5), background checks before website roles (ACC-6),
new-media password custody (ACC-7)."""

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select
from werkzeug.security import check_password_hash

from db.models import AccountLeak, Asset, AuditEvent, Notification, OrgUnit, PasswordReset, User
from db.session import reading
from engine import Actor, authenticate, claim_task, complete_task
from engine.account_records import (
    custody_overview,
    decide_accountability,
    record_background_check,
    record_custody,
    record_leak,
    reset_password,
)
from engine.departures import deactivate_user, unheld_tasks
from engine.exceptions import ConflictError, Forbidden, InvalidInput, NotFound
from engine.passwords import change_password, change_required, check_strength
from engine.people import (
    _ID_CHECK,
    _ID_WEIGHTS,
    create_user,
    grant_role,
    revoke_role,
)
from tests.helpers import ready, submit, task_id

LETTER = b"%PDF-1.4 \xe5\x87\xbd: request to reset the password of our staff member"


def id_number(prefix17: str) -> str:
    """A resident ID number with a correct GB 11643 check digit."""
    total = sum(int(d) * w for d, w in zip(prefix17, _ID_WEIGHTS, strict=True))
    return prefix17 + _ID_CHECK[total % 11]


def unit_id(rt, name: str) -> int:
    with reading(rt.session_factory) as session:
        return session.scalar(select(OrgUnit.id).where(OrgUnit.name == name))


def user(rt, user_id: int) -> User:
    with reading(rt.session_factory) as session:
        return session.get(User, user_id)


def new_person(rt, users, *, username="zhangwei", real_name="张伟", unit="区教育局", phone="13800000001",
               id_prefix="11010519800101001", admin="liuyang") -> tuple[int, str]:
    return create_user(rt, users[admin].user_id, username=username, real_name=real_name, unit_id=unit_id(rt, unit),
                       phone=phone, id_number=id_number(id_prefix) if id_prefix else "")


def checked(rt, users, person_id: int, admin="liuyang") -> None:
    record_background_check(rt, users[admin].user_id, person_id, checked_on="2026-02-01",
                            conducted_by="某区委网信办", reference="背审〔2026〕3号")


# --- ACC-1 ------------------------------------------------------------------------------------

def test_acc_1_an_account_belongs_to_one_named_person_identified_by_phone_or_id(sqlite_rt, sqlite_users):
    rt, users = sqlite_rt, sqlite_users
    with pytest.raises(InvalidInput) as refused:
        new_person(rt, users, phone="", id_prefix="")
    assert "手机号码或身份证号码" in refused.value.message
    with pytest.raises(InvalidInput):
        new_person(rt, users, id_prefix=None, phone="12345")
    with pytest.raises(InvalidInput) as bad_id:
        create_user(rt, users["liuyang"].user_id, username="zhangwei", real_name="张伟",
                    unit_id=unit_id(rt, "区教育局"), id_number="110105198001010010")  # wrong check digit
    assert "身份证号码无效" in bad_id.value.message
    person_id, password = new_person(rt, users)
    person = user(rt, person_id)
    assert (person.real_name, person.phone) == ("张伟", "13800000001")
    assert person.id_number_masked.startswith("110") and "*" in person.id_number_masked
    assert id_number("11010519800101001") not in repr(person.__dict__)  # only a mask and a digest are kept
    check_strength(password, person.username)  # the issued initial password passes the policy itself


@pytest.mark.parametrize("username, real_name", [
    ("admin2", "张伟"), ("office", "张伟"), ("test01", "张伟"), ("shared_account", "张伟"),
    ("zhangwei", "办公室"), ("zhangwei", "值班人员"), ("zhangwei", "区教育局"), ("zhangwei", "公共账号"),
])
def test_acc_1_generic_and_shared_accounts_are_refused(sqlite_rt, sqlite_users, username, real_name):
    with pytest.raises(InvalidInput) as refused:
        new_person(sqlite_rt, sqlite_users, username=username, real_name=real_name)
    assert "ACC-1" in refused.value.message or "真实姓名" in refused.value.message


def test_acc_1_one_person_one_account_by_id_number_and_by_name_and_phone(rt, users):
    first, _ = new_person(rt, users)
    with pytest.raises(ConflictError) as same_id:  # the same person cannot get a second account, in any unit
        new_person(rt, users, username="zhangwei2", unit="某街道办事处", phone="13900000009")
    assert "一人一号" in same_id.value.message and "zhangwei" in same_id.value.message
    with pytest.raises(ConflictError):  # same name and phone in the same unit, no ID given
        new_person(rt, users, username="zhangwei3", id_prefix="")
    new_person(rt, users, username="zhangwei_b", real_name="张伟", phone="13900000009",
               id_prefix="11010519900202002")  # a namesake with his own phone and ID is another person
    deactivate_user(rt, users["liuyang"].user_id, first, reason="调离")
    new_person(rt, users, username="zhangwei_new", unit="某街道办事处")  # after departure, a new account is fine


def test_acc_1_an_administrator_manages_only_their_unit_and_the_units_below(sqlite_rt, sqlite_users):
    rt, users = sqlite_rt, sqlite_users
    with pytest.raises(Forbidden):
        new_person(rt, users, unit="某省")  # 刘洋 administers 某区, not the province
    with pytest.raises(Forbidden):
        new_person(rt, users, admin="zhouba")  # the district office is not an administrator
    new_person(rt, users, unit="某省", admin="gaoyuan")


# --- ACC-2 ------------------------------------------------------------------------------------

@pytest.mark.parametrize("password, why", [
    ("Ab1!", "长度"), ("abcdefgh1", "3 类"), ("ABCDEFGH", "3 类"), ("Zhangwei@2026", "用户名"),
])
def test_acc_2_weak_passwords_are_refused(password, why):
    with pytest.raises(InvalidInput) as refused:
        check_strength(password, "zhangwei")
    assert why in refused.value.message


def test_acc_2_an_initial_password_must_be_changed_and_the_new_one_starts_the_rotation(sqlite_rt, sqlite_users, clock):
    rt, users = sqlite_rt, sqlite_users
    person_id, initial = new_person(rt, users)
    assert change_required(user(rt, person_id), clock.now(), 90) == "initial"
    with pytest.raises(InvalidInput):
        change_password(rt, person_id, current="wrong", new="Qiuyue#2026")
    with pytest.raises(InvalidInput):
        change_password(rt, person_id, current=initial, new=initial)
    change_password(rt, person_id, current=initial, new="Qiuyue#2026")
    assert change_required(user(rt, person_id), clock.now(), 90) is None
    clock.advance(days=90)
    assert change_required(user(rt, person_id), clock.now(), 90) is None
    clock.advance(days=1)
    assert change_required(user(rt, person_id), clock.now(), 90) == "expired"


def test_acc_2_first_login_leads_to_the_password_page_until_it_is_changed(client, auth, sqlite_rt, sqlite_users):
    person_id, initial = new_person(sqlite_rt, sqlite_users)
    auth.login("zhangwei", initial)
    for page in ("/inbox/", "/admin/", "/assets/"):
        response = client.get(page)
        assert response.status_code == 302 and response.headers["Location"].endswith("/account/password")
    page = client.get("/account/password").get_data(as_text=True)
    assert "初始或重置密码" in page
    response = auth.post("/account/password", {"current": initial, "new": "zhangwei#2026A", "confirm": "zhangwei#2026A"})
    assert response.status_code == 400 and "不能包含用户名" in response.get_data(as_text=True)
    response = auth.post("/account/password", {"current": initial, "new": "Qiuyue#2026", "confirm": "Qiuyue#2026"})
    assert response.status_code == 303
    assert client.get("/inbox/").status_code == 200


def test_acc_2_an_expired_password_leads_to_the_password_page(client, auth, sqlite_rt, sqlite_users, clock):
    person_id, initial = new_person(sqlite_rt, sqlite_users)
    change_password(sqlite_rt, person_id, current=initial, new="Qiuyue#2026")
    clock.advance(days=91)
    auth.login("zhangwei", "Qiuyue#2026")
    assert client.get("/inbox/").headers["Location"].endswith("/account/password")
    assert "超过 90 天" in client.get("/account/password").get_data(as_text=True)


def test_acc_2_seeded_demo_accounts_are_not_forced_to_change_the_demo_password(client, auth, clock):
    """Product choice: accounts created by the demo seed have no password date; Demo@2026 keeps working."""
    clock.advance(days=400)
    auth.login("zhangsan")
    assert client.get("/inbox/").status_code == 200


# --- ACC-3 ------------------------------------------------------------------------------------

def test_acc_3_a_departure_ends_the_session_at_once(client, auth, sqlite_rt, sqlite_users):
    auth.login("zhangsan")
    assert client.get("/inbox/").status_code == 200
    deactivate_user(sqlite_rt, sqlite_users["liuyang"].user_id, sqlite_users["zhangsan"].user_id, reason="调离本单位")
    response = client.get("/inbox/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    with reading(sqlite_rt.session_factory) as session:
        assert authenticate(session, "zhangsan", "Demo@2026") is None


def test_acc_3_a_claimed_task_goes_back_to_the_group_of_the_remaining_holders(rt, users):
    person_id, _ = new_person(rt, users)
    checked(rt, users, person_id)
    grant_role(rt, users["liuyang"].user_id, person_id, role="signer", unit_id=unit_id(rt, "区教育局"), reason="新任签发人")
    iid = submit(rt, users["zhangsan"])
    complete_task(rt, task_id(rt, iid, "review"), users["lisi"], outcome="pass")
    claim_task(rt, task_id(rt, iid, "sign"), users["wangwu"])
    departure = deactivate_user(rt, users["liuyang"].user_id, users["wangwu"].user_id, reason="退休")
    assert (departure.released, departure.rerouted, departure.flagged) == (1, 0, 0)
    sign = ready(rt, iid)["sign"]
    assert sign.assignee_id is None and sign.claimed_at is None
    complete_task(rt, sign.id, Actor(person_id), outcome="pass")  # 张伟 now signs it


def test_acc_3_an_open_task_is_rerouted_up_the_tree_when_its_unit_has_no_holder_left(rt, users):
    person_id, _ = new_person(rt, users, unit="某区", username="liqiang", real_name="李强")
    checked(rt, users, person_id)
    grant_role(rt, users["liuyang"].user_id, person_id, role="reviewer", unit_id=unit_id(rt, "某区"), reason="区级审核")
    iid = submit(rt, users["zhangsan"])
    departure = deactivate_user(rt, users["liuyang"].user_id, users["lisi"].user_id, reason="调离")
    assert (departure.rerouted, departure.flagged) == (1, 0)
    assert ready(rt, iid)["review"].org_unit_id == unit_id(rt, "某区")
    complete_task(rt, task_id(rt, iid, "review"), Actor(person_id), outcome="pass")


def test_acc_3_a_task_nobody_else_may_work_is_flagged_to_the_administrators_the_same_day(rt, users):
    iid = submit(rt, users["zhangsan"])
    departure = deactivate_user(rt, users["liuyang"].user_id, users["lisi"].user_id, reason="调离")
    assert departure.flagged == 1
    with reading(rt.session_factory) as session:
        admin = session.get(User, users["liuyang"].user_id)
        assert [t.bpmn_id for t in unheld_tasks(session, admin)] == ["review"]
        note = session.scalar(select(Notification).where(Notification.kind == "unheld"))
        assert note.user_id == users["liuyang"].user_id and "李四离岗后" in note.body
        event = session.scalar(select(AuditEvent).where(AuditEvent.action == "task_unheld"))
        assert event.instance_id == iid and event.opinion == "调离"
        assert session.scalar(select(AuditEvent.opinion).where(AuditEvent.action == "user_deactivated")) == "调离"


def test_acc_3_deactivation_needs_a_reason_and_cannot_be_undone_by_repeating_it(sqlite_rt, sqlite_users):
    rt, users = sqlite_rt, sqlite_users
    with pytest.raises(InvalidInput):
        deactivate_user(rt, users["liuyang"].user_id, users["zhangsan"].user_id, reason="")
    with pytest.raises(InvalidInput):
        deactivate_user(rt, users["liuyang"].user_id, users["liuyang"].user_id, reason="自己")
    with pytest.raises(Forbidden):
        deactivate_user(rt, users["liuyang"].user_id, users["zhengshi"].user_id, reason="省厅人员")
    deactivate_user(rt, users["liuyang"].user_id, users["zhangsan"].user_id, reason="调离")
    with pytest.raises(ConflictError):
        deactivate_user(rt, users["liuyang"].user_id, users["zhangsan"].user_id, reason="再次")


# --- ACC-4 ------------------------------------------------------------------------------------

def test_acc_4_a_reset_needs_the_units_letter_which_is_kept_with_it(rt, users):
    admin, lisi = users["liuyang"].user_id, users["lisi"].user_id
    with pytest.raises(InvalidInput):
        reset_password(rt, admin, lisi, letter_number="", filename="函.pdf", data=LETTER)
    with pytest.raises(InvalidInput):
        reset_password(rt, admin, lisi, letter_number="区教育局函〔2026〕8号", filename="", data=b"")
    with pytest.raises(InvalidInput):
        reset_password(rt, admin, lisi, letter_number="区教育局函〔2026〕8号", filename="函.exe", data=LETTER)
    assert check_password_hash(user(rt, lisi).password_hash, "Demo@2026")  # nothing changed so far

    password = reset_password(rt, admin, lisi, letter_number="区教育局函〔2026〕8号", filename="重置申请函.pdf", data=LETTER)
    with reading(rt.session_factory) as session:
        assert authenticate(session, "lisi", "Demo@2026") is None
        assert authenticate(session, "lisi", password) is not None
        reset = session.scalar(select(PasswordReset).where(PasswordReset.user_id == lisi))
    assert (reset.letter_number, reset.document_name) == ("区教育局函〔2026〕8号", "重置申请函.pdf")
    assert reset.requesting_unit_id == unit_id(rt, "区教育局")
    stored = Path(rt.files_dir) / reset.document_sha256[:2] / reset.document_sha256
    assert stored.read_bytes() == LETTER
    assert user(rt, lisi).must_change_password


# --- ACC-5 ------------------------------------------------------------------------------------

def test_acc_5_a_leak_is_recorded_against_the_unit_and_voids_the_password(rt, users):
    leak_id = record_leak(rt, users["liuyang"].user_id, users["wangwu"].user_id,
                          description="密码写在便签上被他人拍照外传", discovered_on="2026-03-01", adverse_effects=False)
    with reading(rt.session_factory) as session:
        leak = session.get(AccountLeak, leak_id)
    assert leak.org_unit_id == unit_id(rt, "区教育局") and leak.discovered_on == date(2026, 3, 1)
    assert user(rt, users["wangwu"].user_id).must_change_password
    with pytest.raises(ConflictError):
        decide_accountability(rt, users["liuyang"].user_id, leak_id, decision="通报批评")


def test_acc_5_accountability_for_a_leak_with_adverse_effects_is_a_recorded_decision(sqlite_rt, sqlite_users):
    rt, users = sqlite_rt, sqlite_users
    leak_id = record_leak(rt, users["liuyang"].user_id, users["wangwu"].user_id, description="账号被盗发布不实信息",
                          discovered_on="2026-03-01", adverse_effects=True)
    with pytest.raises(InvalidInput):
        decide_accountability(rt, users["liuyang"].user_id, leak_id, decision=" ")
    decide_accountability(rt, users["liuyang"].user_id, leak_id, decision="对单位通报批评，责任人诫勉谈话")
    with pytest.raises(ConflictError):
        decide_accountability(rt, users["liuyang"].user_id, leak_id, decision="再次决定")
    with reading(rt.session_factory) as session:
        leak = session.get(AccountLeak, leak_id)
        assert leak.decision.startswith("对单位通报批评") and leak.decided_by_id == users["liuyang"].user_id


# --- ACC-6 ------------------------------------------------------------------------------------

def test_acc_6_a_website_role_is_granted_only_after_the_background_check_is_recorded(rt, users):
    person_id, _ = new_person(rt, users)
    unit = unit_id(rt, "区教育局")
    with pytest.raises(Forbidden) as refused:
        grant_role(rt, users["liuyang"].user_id, person_id, role="editor", unit_id=unit, reason="新进编辑")
    assert "安全背景审查" in refused.value.message
    grant_role(rt, users["liuyang"].user_id, person_id, role="unit_head", unit_id=unit, reason="任命")  # not website staff
    with pytest.raises(InvalidInput):
        record_background_check(rt, users["liuyang"].user_id, person_id, checked_on="2099-01-01",
                                conducted_by="某区委网信办", reference="背审〔2099〕1号")
    checked(rt, users, person_id)
    grant_role(rt, users["liuyang"].user_id, person_id, role="editor", unit_id=unit, reason="新进编辑")
    with pytest.raises(ConflictError):
        grant_role(rt, users["liuyang"].user_id, person_id, role="editor", unit_id=unit, reason="重复")
    with pytest.raises(InvalidInput):
        grant_role(rt, users["liuyang"].user_id, person_id, role="state_council", unit_id=unit, reason="外部机关")


# --- ACC-7 ------------------------------------------------------------------------------------

def test_acc_7_each_new_media_account_records_its_keeper_device_and_vpn(rt, users):
    with reading(rt.session_factory) as session:
        wechat = session.scalar(select(Asset.id).where(Asset.name == "区教育发布", Asset.platform == "wechat"))
        portal = session.scalar(select(Asset.id).where(Asset.kind == "website"))
    admin = users["liuyang"].user_id
    with pytest.raises(InvalidInput):  # the keeper must be a person of the account's unit
        record_custody(rt, admin, wechat, keeper_id=users["huanglei"].user_id, device="专用手机", mobile_via_vpn=True)
    with pytest.raises(InvalidInput):
        record_custody(rt, admin, wechat, keeper_id=users["zhangsan"].user_id, device=" ", mobile_via_vpn=True)
    with pytest.raises(NotFound):  # a website has no new-media password
        record_custody(rt, admin, portal, keeper_id=users["zhangsan"].user_id, device="电脑", mobile_via_vpn=True)
    record_custody(rt, admin, wechat, keeper_id=users["zhangsan"].user_id, device="办公室专用电脑 PC-07",
                   mobile_via_vpn=False)
    with reading(rt.session_factory) as session:
        overview = {asset.id: custody for asset, custody, _ in custody_overview(session, session.get(User, admin))}
    assert overview[wechat].device == "办公室专用电脑 PC-07" and overview[wechat].mobile_via_vpn is False
    assert any(custody is None for custody in overview.values())  # the other accounts are still undeclared
    record_custody(rt, admin, wechat, keeper_id=users["zhangsan"].user_id, device="专用手机（VPN）", mobile_via_vpn=True)
    with reading(rt.session_factory) as session:
        overview = {asset.id: custody for asset, custody, _ in custody_overview(session, session.get(User, admin))}
    assert overview[wechat].mobile_via_vpn is True  # the newest declaration is the one in force



def test_acc_3_revoking_a_role_releases_only_the_claims_made_in_that_role(sqlite_rt, sqlite_users):
    rt, users = sqlite_rt, sqlite_users
    iid = submit(rt, users["zhangsan"])
    claim_task(rt, task_id(rt, iid, "review"), users["lisi"])
    with reading(rt.session_factory) as session:
        grants = {g.role: g.id for g in session.get(User, users["lisi"].user_id).grants}
    revoke_role(rt, users["liuyang"].user_id, users["lisi"].user_id, grant_id=grants["signer"], reason="不再签发")
    assert ready(rt, iid)["review"].assignee_id == users["lisi"].user_id
    revoke_role(rt, users["liuyang"].user_id, users["lisi"].user_id, grant_id=grants["reviewer"], reason="调整分工")
    assert ready(rt, iid)["review"].assignee_id is None
    with reading(rt.session_factory) as session:
        actions = [e.action for e in session.scalars(select(AuditEvent).where(AuditEvent.instance_id == iid))]
    assert actions[-2:] == ["task_released", "task_unheld"]


def test_acc_2_an_auditor_with_an_expired_password_can_change_it(client, auth, sqlite_rt, sqlite_users, clock):
    """Auditors change no record, but their own password they must: ACC-2 sends them to that page."""
    change_password(sqlite_rt, sqlite_users["chenjing"].user_id, current="Demo@2026", new="Shenji#2026x")
    clock.advance(days=91)
    auth.login("chenjing", "Shenji#2026x")
    assert client.get("/audit/").headers["Location"].endswith("/account/password")
    response = auth.post("/account/password", {"current": "Shenji#2026x", "new": "Shenji#2027a",
                                                "confirm": "Shenji#2027a"})
    assert response.status_code == 303
    assert client.get("/audit/").status_code == 200
