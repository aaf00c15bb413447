"""Policy profiles: where the five regulations disagree, the number or path is a profile value.

A deployment picks a profile with GOVFLOW_POLICY_PROFILE (default: `strictest`, the strictest
value of each) and may override single values with GOVFLOW_POLICY_OVERRIDES (JSON). Diagrams
read the values as `policy['…']` in their expressions (e.g. a timer
`add_working_days(start, policy['national_filing_working_days'])`), so changing a profile
changes behaviour without touching a diagram. See "Policy profiles" in RULES.md.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

from .exceptions import GovFlowError

# Each value: (label, default = the strictest, {profile: value where the seed says otherwise}).
VALUES: dict[str, tuple[str, object, dict[str, object]]] = {
    "error_report_reply_working_days": ("网民找错回复时限（工作日，MSG-1）", 1,
                                        {"tongliang": 2, "fujin": 3, "yongzhou": 1}),
    "staff_change_working_days": ("人员变动报告时限（工作日，0 为当日，ACC-3/CHG-1）", 0,
                                  {"fujin": 3, "yongzhou": 0, "gaocheng": 5}),
    "national_update_working_days": ("信息变更后全国系统更新时限（工作日，CHG-1）", 5, {}),
    "national_filing_working_days": ("注销后全国系统备案时限（工作日，DEC-5）", 5, {}),
    "repost_trigger": ("转载触发（REV-7）：request 上级要求 / policy 上级网站发布 / both 两者", "both",
                       {"tongliang": "request", "yongzhou": "policy"}),
    "urgent_correction_minutes": ("紧急纠错时限（分钟，REV-11）", 30, {}),
    "office_end_minutes": ("下班时间（距 0 点的分钟数，1050 即 17:30；“当日下班前”按此计算）", 17 * 60 + 30, {}),
    "interpretation_forms": ("政策解读最少形式数（REV-8，0 为不限）", 2, {"weiyang": 0}),
    "annual_report_owner": ("年度报表编制角色（SUP-1）", "district_office", {"fujin": "egov_center",
                                                                           "yongzhou": "egov_center"}),
    "force_majeure_path": ("不可抗力下线报备路径（OFF-4）：per_asset_type 按类型 / via_district 经区政府办 / "
                           "direct_to_city 直报市级", "per_asset_type",
                           {"gaocheng": "via_district", "yongzhou": "direct_to_city"}),
    "password_max_age_days": ("密码最长使用天数（ACC-2：每 3 个月更换）", 90, {}),
}

PROFILES = {
    "strictest": "最严默认（各项取最严值）",
    "tongliang": "重庆市铜梁区（000）",
    "weiyang": "西安市未央区（001）",
    "fujin": "富锦市（002）",
    "gaocheng": "石家庄市藁城区（003）",
    "yongzhou": "永州市（004）",
}


@dataclass(frozen=True)
class Policy:
    profile: str
    values: dict
    overridden: frozenset[str]

    def rows(self) -> list[tuple[str, str, object, bool]]:
        """(key, label, value, overridden) for the admin page."""
        return [(key, VALUES[key][0], self.values[key], key in self.overridden) for key in VALUES]


def profile_values(profile: str) -> dict:
    if profile not in PROFILES:
        raise GovFlowError(f"未知的政策配置“{profile}”，可选：{'、'.join(PROFILES)}。",
                           f"Unknown policy profile {profile!r}; choose one of {', '.join(PROFILES)}.")
    return {key: regional.get(profile, default) for key, (_, default, regional) in VALUES.items()}


def load_policy(profile: str | None = None, overrides: str | None = None) -> Policy:
    """The configured policy; a bad profile name or override fails at start-up, with a sentence."""
    profile = profile or os.environ.get("GOVFLOW_POLICY_PROFILE") or "strictest"
    values = profile_values(profile)
    raw = overrides if overrides is not None else os.environ.get("GOVFLOW_POLICY_OVERRIDES", "")
    changed: dict = {}
    if raw.strip():
        try:
            changed = json.loads(raw)
        except ValueError as err:
            raise GovFlowError(f"GOVFLOW_POLICY_OVERRIDES 不是合法的 JSON：{err}。") from None
        unknown = set(changed) - set(VALUES)
        if not isinstance(changed, dict) or unknown:
            raise GovFlowError(f"GOVFLOW_POLICY_OVERRIDES 中有未知的配置项：{'、'.join(sorted(unknown))}。")
        for key, value in changed.items():
            if type(value) is not type(VALUES[key][1]):
                raise GovFlowError(f"配置项 {key} 的值类型不对：应为 {type(VALUES[key][1]).__name__}。")
    return Policy(profile, {**values, **changed}, frozenset(changed))


DEFAULT_VALUES = profile_values("strictest")
