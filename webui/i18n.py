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
    "error.404": ("您要找的页面不存在。", "The page does not exist."),
    "error.500": ("系统出现内部错误，操作未保存。请稍后重试或联系管理员。", "An internal error occurred; nothing was saved."),
    "done.flash": ("已办理。", "Done."),
    "claim.flash": ("已签收。", "Claimed."),
    "cancel.flash": ("事项已撤销。", "The item was withdrawn."),
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
