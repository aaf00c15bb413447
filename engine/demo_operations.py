"""Demo work for the daily-operations processes (run once by `govflow seed`, from seed_demo_work).

Some items are started in the past on purpose, so the demo opens in interesting states: a citizen
message already past its deadline (circulated, urged, entered as violations), an urgent
correction 20 minutes into its 30, an emergency item published and awaiting its formalities.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from sqlalchemy import select

from db.models import Asset, OrgUnit
from db.session import reading

from .calendar import CalendarNotCovered, calendar_for
from .clock import SHANGHAI, ManualClock, to_shanghai
from .timers import install_clock

log = logging.getLogger(__name__)


@contextmanager
def _clock_at(rt, instant: datetime) -> Iterator[None]:
    """Run demo commands as if at `instant` (engine and SpiffWorkflow timers alike), then restore."""
    real = rt.clock
    rt.clock = ManualClock(instant)
    install_clock(rt.clock)
    try:
        yield
    finally:
        rt.clock = real
        install_clock(real)


def _working_days_ago(rt, days: int) -> datetime:
    """10:00 Beijing time on the `days`-th working day before today."""
    calendar = calendar_for()
    day = to_shanghai(rt.clock.now()).date()
    for _ in range(days):
        day = calendar.previous_working_day(day)
    return datetime(day.year, day.month, day.day, 10, 0, tzinfo=SHANGHAI)


def seed_operations_work(rt, who: dict, task: Callable[[int, str], int]) -> list[int]:
    """Start the operations processes in the demo's interesting states; returns the instances started.

    An item whose deadline falls in a year whose holidays are not entered is skipped with a log
    line (the calendar is never guessed), so `govflow seed` still works late in a year.
    """
    from . import assets, duty, messages, opinion
    from .commands import complete_task
    from .content import start_consultation, submit_content
    from .sweep import sweep

    started: list[int] = []
    with reading(rt.session_factory) as session:
        unit = {u.name: u.id for u in session.scalars(select(OrgUnit))}
        asset = {(a.name, a.platform): a.id for a in session.scalars(select(Asset))}

    def attempt(label: str, start: Callable[[], int | list[int] | None]) -> None:
        try:
            result = start()
        except CalendarNotCovered as err:
            log.warning("demo: %s skipped: %s", label, err.message)
            return
        started.extend(result if isinstance(result, list) else [result] if result else [])

    def overdue_message() -> int:
        # MSG-1: a consultation accepted 6 working days ago and never answered: past its 5 working days.
        with _clock_at(rt, _working_days_ago(rt, 6)):
            return messages.accept_message(
                rt, who["sunqi"], message_type="consultation", unit_id=unit["区教育局"],
                asset_id=asset[("某区人民政府门户网站", None)], subject="转学手续需要哪些材料？",
                body="孩子下学期从外区转入，请问需要准备哪些材料、到哪里办理？", citizen_name="李先生",
                citizen_contact="139****2046")

    def replied_message() -> int:
        iid = messages.accept_message(rt, who["sunqi"], message_type="suggestion", unit_id=unit["区教育局"],
                                      subject="建议延长学校图书馆开放时间", body="建议周末开放学校图书馆。",
                                      citizen_name="张女士", citizen_contact="137****5512")
        complete_task(rt, task(iid, "reply_general"), who["zhangsan"], outcome="replied",
                      form={"reply": "感谢建议，我局将在寒假试点周末开放。", "reply_public": "同意公开"})
        return iid  # awaiting the operator's initial review (half a working day)

    def error_report() -> int:
        duty.set_duty(rt, who["zhaoliu"], unit_id=unit["区教育局"], day=to_shanghai(rt.clock.now()).date(),
                      user_id=who["zhangsan"].user_id)
        return messages.accept_message(rt, who["sunqi"], message_type="error_report", unit_id=unit["区教育局"],
                                       asset_id=asset[("某区人民政府门户网站", None)], subject="招生栏目链接打不开",
                                       body="“义务教育招生”栏目第二条链接显示404。", citizen_name="网民",
                                       citizen_contact="（匿名）")

    def urgent_correction() -> int:
        # REV-11: dispatched 20 minutes ago; 10 minutes of its 30 left when the demo starts.
        with _clock_at(rt, rt.clock.now() - timedelta(minutes=20)):
            return assets.start_correction(rt, who["sunqi"], asset[("区教育发布", "wechat")], urgency="urgent",
                                           finding="今日推文中“副局长”姓名错误，须立即更正")

    def emergency() -> int:
        iid = submit_content(rt, who["zhangsan"], mode="emergency", title="关于明日全区中小学停课的紧急通知",
                             body="受强降雨影响，明日全区中小学停课一天。", target_kind="wechat",
                             target_name="区教育发布", reason="气象台发布暴雨红色预警")
        complete_task(rt, task(iid, "emergency_publish"), who["sunqi"], outcome="publish", opinion="已核实，立即发布")
        return iid  # published; the unit's review and sign-off (formalities) are due by the next working day

    def repost() -> int:
        return submit_content(rt, who["zhangsan"], mode="repost", title="转载：市教育局关于做好冬季校园安全工作的通知",
                              body="（转载全文）", target_kind="wechat", target_name="区教育发布",
                              repost_trigger="request", source="区委宣传部转载通知〔2026〕18号")

    def out_of_scope() -> int:
        planned = to_shanghai(rt.clock.now()).date() + timedelta(days=5)
        return submit_content(rt, who["zhangsan"], mode="out_of_scope", title="区属企业招聘教育辅助人员公告",
                              body="……", target_kind="portal_column", target_name="通知公告",
                              planned_on=planned.isoformat(), reason="受区人社局委托发布，不属本单位常规公开范围")

    def consultation() -> int:
        notice = submit_content(rt, who["zhangsan"], title="关于《区中小学课后服务实施方案（征求意见稿）》公开征求意见的公告",
                                body="现将征求意见稿全文公布，欢迎社会各界提出意见建议。", target_kind="portal_column",
                                target_name="意见征集")
        complete_task(rt, task(notice, "review"), who["lisi"], outcome="pass", opinion="内容准确")
        complete_task(rt, task(notice, "sign"), who["wangwu"], outcome="pass", opinion="同意发布")
        complete_task(rt, task(notice, "egov_review"), who["sunqi"], outcome="pass", opinion="同意上线")
        from .content import content_of

        with reading(rt.session_factory) as session:
            from db.models import ProcessInstance

            item_id = content_of(session, session.get(ProcessInstance, notice)).id
        return [notice, start_consultation(rt, who["zhangsan"], notice_item_id=item_id)]

    def public_opinion() -> int:
        return opinion.start_public_opinion(rt, who["zhangsan"], trigger="public_attention",
                                            asset_id=asset[("区教育发布", "wechat")],
                                            summary="网传“下学期取消课后服务”，评论区质疑增多", source="区教育发布评论区")

    for label, start in [("overdue message", overdue_message), ("replied message", replied_message),
                         ("error report", error_report), ("urgent correction", urgent_correction),
                         ("emergency item", emergency), ("repost", repost), ("out-of-scope item", out_of_scope),
                         ("consultation", consultation), ("public opinion", public_opinion)]:
        attempt(label, start)
    sweep(rt)  # what is already due fires now: the overdue message is circulated, urged and recorded
    return started
