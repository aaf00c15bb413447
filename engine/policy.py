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
    # --- content review paths and citizen messages (issue 7); "立即/及时" in the seeds become these defaults ---
    "office_start_minutes": ("上班时间（距 0 点的分钟数，540 即 9:00；“0.5个工作日”按上下班时间计算）", 9 * 60, {}),
    "emergency_formalities_working_days": ("紧急信息发布后补办审批手续时限（工作日，REV-6，原文“后补手续”）", 1, {}),
    "repost_hours": ("上级要求或上级网站重要政策的转载时限（小时，REV-7）", 12, {}),
    "clarification_hours": ("政策误读误解发布权威信息时限（小时，REV-12）", 24, {}),
    "out_of_scope_notice_days": ("规定范围外信息提前申请天数（自然日，REV-10）", 3, {}),
    "opinion_leader_report_minutes": ("舆情发生后向单位主要负责人报告时限（分钟，REV-13，原文“第一时间”）", 30, {}),
    "opinion_office_report_hours": ("舆情处置期间续报或上报办公室时限（小时，REV-13，原文“及时”）", 24, {}),
    "consultation_days": ("意见征集期限（自然日，REV-18；重大行政决策一般不少于30日）", 30, {}),
    "consultation_feedback_working_days": ("意见征集结束后公开结果和反馈时限（工作日，REV-18，原文“及时”）", 5, {}),
    "message_consultation_working_days": ("咨询类留言办结时限（工作日，MSG-1）", 5, {}),
    "message_other_working_days": ("建议、投诉等其他类留言办结时限（工作日，MSG-1）", 15, {}),
    "message_simple_working_days": ("简单常见问题办结时限（工作日，MSG-1）", 1, {}),
    "inquiry_circulation_working_days": ("咨询未回应予以通报的时限（工作日，MSG-1）", 3, {}),
    "message_urge_working_days": ("留言到期前催办提前量（工作日，MSG-2，原文“催办”）", 1, {}),
    # --- security, supervision and violations (issue 7). The seeds say only 立即/及时/定期 for the
    # security deadlines: each is a product default an operator can override.
    "hazard_rectification_hours": ("安全隐患整改时限（小时，SEC-1；种子规定“立即整改”）", 24, {}),
    "incident_report_minutes": ("安全事件向政府办公室报告时限（分钟，SEC-2；“立即”）", 60, {}),
    "incident_external_rank": ("安全事件报网信、公安的最低级别（SEC-2：1 一般 / 2 较大 / 3 重大 / 4 特别重大）", 1,
                               {"fujin": 2}),
    "intrusion_cutoff_minutes": ("账号遭入侵后中止网络访问时限（分钟，SEC-3；“第一时间”）", 30, {}),
    "counterfeit_report_hours": ("假冒网站和账号核实后报网信、公安时限（小时，SEC-4；“及时”）", 24, {}),
    "drill_interval_days": ("应急演练周期（天，SEC-5；“定期”）", 365, {}),
    "security_test_interval_days": ("网站安全检测评估周期（天，SEC-6；“定期”）", 365, {}),
    "account_weekly_updates": ("政务新媒体每周最少更新次数（SUP-3）", 2, {}),
    "service_account_weekly_updates": ("微信服务号每周最少更新次数（SUP-3）", 1, {}),
    "update_rectification_working_days": ("更新不及时限期整改时限（工作日，REV-17；种子规定“限期整改”）", 5, {}),
    "topic_plan_due": ("专题制作计划报送截止日（MM-DD，SUP-4：第一季度末）", "03-31", {}),
    "disclosure_report_due": ("政府信息公开工作年度报告截止日（MM-DD，SUP-7；002 未规定，默认按条例 1 月 31 日）", "01-31", {}),
    "satisfaction_survey_due": ("年度网站满意度调查截止日（MM-DD，SUP-6：每年一次）", "12-31", {}),
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
