"""Policy profiles (RULES.md "Policy profiles"): regional values chosen by configuration, read by diagrams."""

import pytest

from engine import GovFlowError
from engine.assets import start_temporary_offline
from engine.policy import load_policy, profile_values
from tests.helpers import ready
from tests.rules.test_off import _asset, _website_of_the_bureau


def test_the_default_profile_takes_the_strictest_value_of_each():
    values = profile_values("strictest")
    assert values["error_report_reply_working_days"] == 1  # 000: 2, 002: 3, 004: 1 → 1
    assert values["staff_change_working_days"] == 0  # same day
    assert values["force_majeure_path"] == "per_asset_type"
    assert profile_values("fujin")["error_report_reply_working_days"] == 3


def test_a_bad_profile_or_override_fails_at_start_up_with_a_sentence():
    with pytest.raises(GovFlowError, match="未知的政策配置"):
        load_policy("beijing")
    with pytest.raises(GovFlowError, match="未知的配置项"):
        load_policy("strictest", '{"no_such_value": 1}')
    with pytest.raises(GovFlowError, match="类型不对"):
        load_policy("strictest", '{"interpretation_forms": "two"}')
    policy = load_policy("weiyang", '{"interpretation_forms": 3}')
    assert policy.values["interpretation_forms"] == 3 and policy.overridden == {"interpretation_forms"}


def _report(rt, users, asset_id):
    return start_temporary_offline(rt, users["zhangsan"], asset_id, path="force_majeure", reason_kind="",
                                   reason="断电")


@pytest.mark.parametrize(("profile", "new_media_first", "website_first"), [
    ("strictest", "fm_district", "fm_city"),   # by asset type
    ("gaocheng", "fm_district", "fm_district"),  # 003: 主管单位 → 区 → 市 for every asset
    ("yongzhou", "fm_city", "fm_city"),        # 004: 主办单位 → 审批局 for every asset
])
def test_off_4_the_force_majeure_report_path_follows_the_profile(sqlite_rt, sqlite_users, profile, new_media_first,
                                                                 website_first):
    sqlite_rt.policy = load_policy(profile, "")
    new_media = _report(sqlite_rt, sqlite_users, _asset(sqlite_rt).id)
    website = _report(sqlite_rt, sqlite_users, _website_of_the_bureau(sqlite_rt))
    assert set(ready(sqlite_rt, new_media)) == {new_media_first}
    assert set(ready(sqlite_rt, website)) == {website_first}


def test_the_policy_page_shows_the_profile_in_force(client, auth, sqlite_rt):
    sqlite_rt.policy = load_policy("fujin", '{"interpretation_forms": 3}')
    auth.login("chenjing")
    html = client.get("/admin/calendar/policy").get_data(as_text=True)
    assert "富锦市（002）" in html and "已单项覆盖" in html and "error_report_reply_working_days" in html
    auth.logout()
    auth.login("zhangsan")
    assert client.get("/admin/calendar/policy").status_code == 403
