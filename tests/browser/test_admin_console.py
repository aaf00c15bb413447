"""The administrators' console in a real browser (Debian chromium, Playwright): editing the review
process with the bundled bpmn-js modeler and GovFlow's properties panel, deploying version 2, and
refusing malicious uploads with the validator's sentence shown on the element.

How the modeler is driven: every element is created through bpmn-js's own UI — the palette's
"create task" entry dropped onto a sequence flow (bpmn-js splits the flow), the context pad's
"change element" menu, the palette's "create event" entry dropped on the task's border (a boundary
event) and the context pad's "append end event". Every property is set through GovFlow's panel
inputs (outcomes, rule ID, timer expression) or bpmn-js's in-place label editor. page.evaluate is
only used to read the model for assertions, never to change it.

Skipped, saying why, where /usr/bin/chromium is absent (.ci/run installs it)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sqlalchemy import func, select

from db.models import ProcessDefinition
from db.session import reading
from engine import complete_task
from tests.browser.test_walkthrough import CHROMIUM, login, page, pytestmark, server  # noqa: F401
from tests.helpers import instance, ready, submit, task_id

BASE = (Path(__file__).resolve().parents[2] / "processes" / "content_review.bpmn").read_text(encoding="utf-8")
MALICIOUS = BASE.replace("<bpmn:conditionExpression>target_kind == 'wechat'</bpmn:conditionExpression>",
                         "<bpmn:conditionExpression>__import__('os').system('id')</bpmn:conditionExpression>")
XXE = BASE.replace('<?xml version="1.0" encoding="UTF-8"?>',
                   '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE d [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>', 1
                   ).replace("Lane ids name the roles of RULES.md.", "&xxe;")
NEW_TASKS = "() => window.govflowEditor.modeler.get('elementRegistry').filter(e => e.type === '%s').map(e => e.id)"


def version_of(rt, iid) -> int:
    with reading(rt.session_factory) as session:
        return session.get(ProcessDefinition, instance(rt, iid).definition_id).version


def versions(rt) -> int:
    with reading(rt.session_factory) as session:
        return session.scalar(select(func.count()).select_from(ProcessDefinition)
                              .where(ProcessDefinition.key == "content_review"))


def center(page, selector: str) -> tuple[float, float, dict]:  # noqa: F811
    box = page.locator(selector).bounding_box()
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2, box


def drop_from_palette(page, action: str, x: float, y: float) -> None:  # noqa: F811
    """Click a palette entry (bpmn-js then carries the new shape with the mouse) and drop it at (x, y)."""
    page.click(f'.djs-palette .entry[data-action="{action}"]')
    page.mouse.move(x - 30, y - 30)
    page.mouse.move(x, y, steps=6)
    page.mouse.click(x, y)


def wait_validated(page, previous: str | None) -> None:  # noqa: F811
    page.wait_for_function("prev => { const r = document.querySelector('[data-bpmn-modeler]');"
                           " return r.dataset.validated && r.dataset.validated !== prev && r.dataset.validating === 'false'; }",
                           arg=previous)


def test_an_administrator_adds_a_timed_step_in_the_signer_lane_and_deploys_version_2(
        server, page, sqlite_rt, sqlite_users, clock):  # noqa: F811
    rt, users = sqlite_rt, sqlite_users
    clock.set(datetime.fromisoformat("2026-03-03T10:00:00+08:00"))  # a Tuesday
    old = submit(rt, users["zhangsan"], kind="wechat", title="旧版本稿件")
    page.set_viewport_size({"width": 1440, "height": 1000})

    login(page, server, "gaoyuan")
    page.get_by_test_id("nav-console").click()
    page.get_by_role("link", name="流程管理", exact=True).first.click()
    page.get_by_test_id("edit-content_review").click()
    editor = page.locator("[data-bpmn-modeler]")
    page.wait_for_selector("[data-bpmn-modeler][data-ready=true][data-validated]")
    assert editor.get_attribute("data-problems") == "0"
    assert page.locator('.djs-palette .entry[data-action="create.task"]').get_attribute("aria-label") == "创建任务"

    # A task dropped onto the WeChat branch (gateway → publish) lands in the signer lane.
    x, y, _ = center(page, '.djs-connection[data-element-id="f_target_wechat"]')
    user_tasks = set(page.evaluate(NEW_TASKS % "bpmn:UserTask"))
    boundary_events = set(page.evaluate(NEW_TASKS % "bpmn:BoundaryEvent"))
    drop_from_palette(page, "create.task", x, y)
    page.keyboard.type("发布前复核")
    page.keyboard.press("Enter")
    page.click('.djs-context-pad .entry[data-action="replace"]')
    page.click('.djs-popup .entry[data-id="replace-with-user-task"]')
    [step] = [i for i in page.evaluate(NEW_TASKS % "bpmn:UserTask") if i not in user_tasks]
    lanes = page.evaluate(f"() => window.govflowEditor.modeler.get('elementRegistry').get('{step}')"
                          ".businessObject.lanes.map(l => l.id)")
    assert lanes == ["signer"]
    panel = page.get_by_test_id("properties-panel")
    assert panel.get_by_test_id("element-name").input_value() == "发布前复核"
    panel.get_by_test_id("outcome-add").click()
    panel.get_by_label("结果标识 1").fill("pass")
    panel.get_by_label("按钮文字 1").fill("同意发布")
    panel.get_by_label("按钮文字 1").press("Tab")
    panel.get_by_test_id("rule-picker").select_option("REV-2")
    assert panel.get_by_test_id("documentation").input_value().startswith("REV-2")

    # A boundary timer on the new step: dropped on its lower border, made a non-interrupting timer.
    _, _, box = center(page, f'.djs-shape[data-element-id="{step}"]')
    drop_from_palette(page, "create.intermediate-event", box["x"] + box["width"] / 2, box["y"] + box["height"] - 2)
    page.keyboard.type("复核超时提醒")
    page.keyboard.press("Enter")
    page.click('.djs-context-pad .entry[data-action="replace"]')
    page.click('.djs-popup .entry[data-id="replace-with-non-interrupting-timer-boundary"]')
    [timer] = [i for i in page.evaluate(NEW_TASKS % "bpmn:BoundaryEvent") if i not in boundary_events]
    assert page.evaluate(f"() => window.govflowEditor.modeler.get('elementRegistry').get('{timer}').host.id") == step
    previous = editor.get_attribute("data-validated")
    panel.get_by_test_id("timer-expression").fill("add_working_days(start, 3")  # a typo first
    panel.get_by_test_id("timer-expression").press("Tab")
    wait_validated(page, previous)
    note = page.locator(f'.djs-overlays[data-container-id="{timer}"] [data-testid=problem-on-element]')
    assert "不是合法的表达式" in note.inner_text()
    previous = editor.get_attribute("data-validated")
    panel.get_by_test_id("timer-expression").fill("add_working_days(start, 3)")
    panel.get_by_test_id("timer-expression").press("Tab")
    wait_validated(page, previous)
    # The timer is still selected with its context pad open: append the reminder's end event.
    page.click('.djs-context-pad .entry[data-action="append.end-event"]')
    page.keyboard.type("已提醒")
    page.keyboard.press("Enter")
    previous = editor.get_attribute("data-validated")
    wait_validated(page, previous)
    assert editor.get_attribute("data-problems") == "0", page.get_by_test_id("problems").inner_text()

    page.get_by_test_id("deploy-note").fill("依据某办〔2026〕5号：微信稿件发布前由签发人复核，3 个工作日内办结")
    page.get_by_test_id("deploy").click()
    page.wait_for_selector("[data-bpmn-modeler][data-deployed-version='2']")
    assert "已部署为版本 2" in page.get_by_test_id("editor-status").inner_text()

    # A new item follows version 2 (the new step, with its deadline); the old one stays on version 1.
    new = submit(rt, users["zhangsan"], kind="wechat", title="新版本稿件")
    for iid in (old, new):
        complete_task(rt, task_id(rt, iid, "review"), users["lisi"], outcome="pass")
        complete_task(rt, task_id(rt, iid, "sign"), users["wangwu"], outcome="pass")
    assert (version_of(rt, old), version_of(rt, new)) == (1, 2)
    assert instance(rt, old).status == "completed"
    check = ready(rt, new)[step]
    assert (check.name, check.role) == ("发布前复核", "signer")
    assert check.due_at == datetime.fromisoformat("2026-03-06T23:59:59+08:00")
    page.goto(f"{server}/admin/instances/?key=content_review")
    rows = {row.get_attribute("data-instance"): row.get_by_test_id("instance-version").inner_text()
            for row in page.locator("[data-instance]").all()}
    assert (rows[str(old)], rows[str(new)]) == ("v1", "v2")


def test_malicious_uploads_are_refused_with_the_sentence_on_the_element(server, page, sqlite_rt):  # noqa: F811
    page.set_viewport_size({"width": 1440, "height": 1000})
    login(page, server, "gaoyuan")
    page.goto(f"{server}/admin/processes/")

    # XXE: refused before anything is parsed or stored; the file's contents never reach the page.
    page.get_by_test_id("upload-file").set_input_files(
        {"name": "xxe.bpmn", "mimeType": "application/xml", "buffer": XXE.encode()})
    page.get_by_test_id("upload-submit").click()
    alert = page.get_by_role("alert")
    assert "上传被拒绝：流程图中不允许包含 DOCTYPE 或实体声明" in alert.inner_text()
    assert "root:" not in page.content()

    # __import__ in a condition: the editor opens the upload as a draft and marks the flow.
    page.get_by_test_id("upload-file").set_input_files(
        {"name": "import.bpmn", "mimeType": "application/xml", "buffer": MALICIOUS.encode()})
    page.get_by_test_id("upload-submit").click()
    page.wait_for_selector("[data-bpmn-modeler][data-ready=true][data-validated]")
    flow = '.djs-connection[data-element-id="f_target_wechat"]'
    assert page.locator(flow).get_attribute("class").count("gf-invalid") == 1
    note = page.locator('.djs-overlays[data-container-id="f_target_wechat"] [data-testid=problem-on-element]')
    assert "元素 f_target_wechat 的表达式不被允许" in note.inner_text()
    assert "__import__" in page.get_by_test_id("problems").inner_text()

    page.get_by_test_id("deploy-note").fill("试图部署")
    page.get_by_test_id("deploy").click()
    page.wait_for_function("() => document.querySelector('[data-testid=editor-status]').textContent.includes('未部署')")
    assert versions(sqlite_rt) == 1
