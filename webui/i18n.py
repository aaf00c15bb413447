"""UI words in Simplified Chinese (default) and English; `?lang=en` switches and remembers."""

from __future__ import annotations

from flask import g, request

LANGS = ("zh", "en")

MESSAGES = {
    "app.name": ("GovFlow 政务流程平台", "GovFlow"),
    "nav.todo": ("待办", "To do"),
    "nav.done": ("已办", "Done"),
    "nav.started": ("我发起的", "Started by me"),
    "nav.new_content": ("新建稿件", "New content"),
    "nav.logout": ("退出", "Log out"),
    "nav.lang": ("English", "中文"),
    "login.title": ("登录", "Log in"),
    "login.username": ("用户名", "Username"),
    "login.password": ("密码", "Password"),
    "login.submit": ("登录", "Log in"),
    "login.failed": ("用户名或密码不正确，或账号已停用。", "Wrong username or password, or the account is disabled."),
    "login.required": ("请先登录。", "Please log in first."),
    "list.empty": ("暂无事项。", "Nothing here."),
    "col.title": ("标题", "Title"),
    "col.step": ("当前环节", "Step"),
    "col.process": ("流程", "Process"),
    "col.unit": ("申请单位", "Unit"),
    "col.starter": ("发起人", "Started by"),
    "col.received": ("到达时间", "Arrived"),
    "col.status": ("状态", "Status"),
    "col.due": ("办理期限", "Deadline"),
    "col.due_exact": ("截止时间（北京时间）", "Due (Beijing time)"),
    "col.result": ("办理结果", "Result"),
    "col.done_at": ("办理时间", "Done at"),
    "col.started_at": ("发起时间", "Started at"),
    "task.claimed": ("已签收", "Claimed"),
    "task.group": ("待签收", "Unclaimed"),
    "task.item": ("稿件内容", "Content"),
    "task.target": ("发布渠道", "Publish to"),
    "task.opinion": ("办理意见", "Opinion"),
    "task.opinion_hint": ("退回时必须填写理由", "A reason is required to return"),
    "task.claim": ("签收", "Claim"),
    "task.history": ("办理记录", "History"),
    "task.form": ("修改稿件", "Revise"),
    "task.refused": ("您不能办理此环节", "You cannot work this step"),
    "task.done": ("已办理：", "Done: "),
    "hist.time": ("时间", "Time"),
    "hist.actor": ("办理人", "By"),
    "hist.role": ("身份", "Role"),
    "hist.action": ("操作", "Action"),
    "hist.opinion": ("意见", "Opinion"),
    "content.new": ("新建稿件", "New content item"),
    "content.title": ("标题", "Title"),
    "content.body": ("正文", "Body"),
    "content.target_kind": ("发布渠道", "Publish to"),
    "content.target_name": ("栏目或账号名称", "Column or account"),
    "content.submit": ("提交审核", "Submit for review"),
    "content.submitted": ("稿件已提交，进入三审三校流程。", "Submitted for three-level review."),
    "instance.title": ("事项详情", "Item"),
    "instance.open_tasks": ("当前环节", "Current steps"),
    "instance.cancel": ("撤销", "Withdraw"),
    "instance.cancel_reason": ("撤销理由", "Reason for withdrawal"),
    "status.running": ("办理中", "In progress"),
    "status.completed": ("已办结", "Completed"),
    "status.cancelled": ("已撤销", "Withdrawn"),
    "content.in_review": ("审核中", "In review"),
    "content.published": ("已发布", "Published"),
    "content.cancelled": ("已撤销", "Withdrawn"),
    "error.title": ("无法完成操作", "The action could not be completed"),
    "error.back": ("返回待办", "Back to my tasks"),
    "error.csrf": ("页面已过期或请求来源不明，请刷新页面后重试。", "The page expired or the request was not from this site; reload and try again."),
    "error.403": ("您没有权限打开此页面。", "You are not allowed to open this page."),
    "error.404": ("您要找的页面不存在。", "The page does not exist."),
    "error.500": ("系统出现内部错误，操作未保存。请稍后重试或联系管理员。", "An internal error occurred; nothing was saved."),
    "done.flash": ("已办理。", "Done."),
    "claim.flash": ("已签收。", "Claimed."),
    "cancel.flash": ("事项已撤销。", "The item was withdrawn."),
    "nav.calendar": ("工作日历", "Working calendar"),
    "cal.title": ("工作日历", "Working calendar"),
    "cal.covered": ("{year} 年的节假日安排已录入，工作日期限可以计算。", "The {year} schedule is entered; working-day deadlines can be computed."),
    "cal.uncovered": ("{year} 年节假日安排尚未录入：落在该年的工作日期限无法计算。请按国务院办公厅通知逐日录入放假和调休上班日，然后确认全年已录入。",
                      "The {year} schedule is not entered: working-day deadlines in that year cannot be computed. Enter its holidays and make-up working days, then confirm the year."),
    "cal.next_uncovered": ("提醒：{year} 年节假日安排尚未录入，国务院办公厅通知发布后请及时录入。",
                           "Reminder: the {year} schedule is not entered yet; enter it when the State Council publishes it."),
    "cal.covered_years": ("已录入的年份", "Covered years"),
    "cal.declared_years": ("其中由管理员录入", "entered by administrators"),
    "cal.workday": ("工作日", "Working day"),
    "cal.weekend": ("周末", "Weekend"),
    "cal.holiday": ("法定节假日", "Public holiday"),
    "cal.makeup": ("调休上班", "Make-up working day"),
    "cal.override_rest": ("管理员设为放假", "Set off by an administrator"),
    "cal.override_work": ("管理员设为上班", "Set working by an administrator"),
    "cal.month": ("月", ""),
    "cal.weekdays": ("一,二,三,四,五,六,日", "Mo,Tu,We,Th,Fr,Sa,Su"),
    "cal.overrides": ("本年的修改", "Corrections this year"),
    "cal.no_overrides": ("本年没有修改，使用国务院办公厅公布的安排。", "No corrections this year: the published schedule applies."),
    "cal.day": ("日期", "Date"),
    "cal.kind": ("类型", "Kind"),
    "cal.kind_rest": ("放假", "Day off"),
    "cal.kind_work": ("上班", "Working day"),
    "cal.kind_year": ("全年安排已录入", "Year entered"),
    "cal.name": ("名称", "Name"),
    "cal.name_hint": ("例如：春节、调休上班", "e.g. Spring Festival"),
    "cal.reason": ("理由", "Reason"),
    "cal.reason_hint": ("例如：国办发明电〔2026〕X号", "e.g. the State Council notice number"),
    "cal.by": ("修改人", "By"),
    "cal.remove": ("撤销", "Withdraw"),
    "cal.remove_reason": ("撤销理由", "Reason"),
    "cal.add": ("修改某一天", "Correct a day"),
    "cal.save": ("保存", "Save"),
    "cal.declare": ("确认 {year} 年安排已全部录入", "Confirm the {year} schedule is complete"),
    "cal.declare_hint": ("确认前请逐日录入该年全部放假日和调休上班日；确认后，未录入的日子按周一至周五上班、周末休息计算。",
                         "Before confirming, enter every holiday and make-up working day of the year; afterwards, other days count as Monday–Friday working days."),
    "cal.declare_button": ("确认 {year} 年已录入", "Confirm {year}"),
    "cal.saved": ("已保存。{moved} 个未到期的期限已按新日历重新计算。", "Saved. {moved} open deadlines were recomputed."),
    "cal.removed": ("已撤销。{moved} 个未到期的期限已按新日历重新计算。", "Withdrawn. {moved} open deadlines were recomputed."),
    "cal.declared": ("已确认。{moved} 个未到期的期限已按新日历重新计算。", "Confirmed. {moved} open deadlines were recomputed."),
    "cal.bad_date": ("日期格式不正确，请选择一个日期。", "That is not a date; pick one."),
    "cal.bad_year": ("请指明年份。", "Say which year."),
}


def current_lang() -> str:
    lang = request.args.get("lang") or request.cookies.get("lang") or "zh"
    return lang if lang in LANGS else "zh"


def t(key: str) -> str:
    zh, en = MESSAGES[key]
    return en if getattr(g, "lang", "zh") == "en" else zh


def remember_lang(response):
    """Keep an explicit ?lang= choice in a cookie."""
    lang = request.args.get("lang")
    if lang in LANGS:
        response.set_cookie("lang", lang, max_age=365 * 24 * 3600, samesite="Lax")
    return response
