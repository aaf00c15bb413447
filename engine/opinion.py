"""舆情应对 (REV-13): a unit reports a 舆情 to its principal leader at once and handles it.

The diagram (processes/public_opinion.bpmn) carries the reports; this module starts one, in the
unit that met it, about one of its sites or accounts or about the unit as a whole.
"""

from __future__ import annotations

from sqlalchemy import func, select

from db.models import Asset, OrgUnit, ProcessInstance
from db.session import transaction

from .commands import Actor, load_actor, start_in_session
from .exceptions import InvalidInput
from .forms import Field, Form, register_form

PROCESS_KEY = "public_opinion"
# 004 §19(四): what makes a website's issue go to the leader in charge and 市行政审批服务局.
TRIGGERS = {"public_attention": "引发舆情关注", "superior_notice": "被上级部门通报"}
MAX_TEXT = 2000

register_form(Form("opinion_plan", [
    Field("plan", "启动的应急预案及处置安排", "Emergency plan started and arrangements", MAX_TEXT, multiline=True),
], apply=lambda session, instance, values: None))
register_form(Form("opinion_progress", [
    Field("progress", "处置情况和后续走向", "Handling and how it develops", MAX_TEXT, multiline=True),
], apply=lambda session, instance, values: None))


def start_public_opinion(rt, actor: Actor, *, summary: str, source: str, trigger: str,
                         asset_id: int | None = None) -> int:
    """REV-13: the staff report a 舆情 at once; the principal leader gets it in the same transaction."""
    summary, source = (summary or "").strip(), (source or "").strip()
    if trigger not in TRIGGERS:
        raise InvalidInput("请选择舆情来源：引发舆情关注或被上级部门通报。", "Choose how it arose.")
    if not summary or len(summary) > MAX_TEXT:
        raise InvalidInput("请写明舆情的内容和传播情况。", "Describe the 舆情 and how it spreads.")
    if not source or len(source) > 300:
        raise InvalidInput("请写明舆情的来源（平台、网址或通报文号）。", "Give where it came from.")
    with transaction(rt.session_factory) as session:
        user = load_actor(session, actor)
        asset = session.get(Asset, asset_id) if asset_id else None
        if asset_id and (asset is None or asset.org_unit_id != user.org_unit_id):
            raise InvalidInput("请选择本单位的网站或账号。", "Choose one of your unit's sites or accounts.")
        unit = session.get(OrgUnit, user.org_unit_id)
        prefix = f"asset:{asset.id}" if asset else f"unit:{unit.id}"
        serial = 1 + (session.scalar(select(func.count()).select_from(ProcessInstance).where(
            ProcessInstance.business_key.like(f"{prefix}:opinion:%"))) or 0)
        leader = (unit.contacts or {}).get("leader") or "（未登记分管负责人，CHG-2）"
        about = asset.name if asset else unit.name
        opinion = f"{TRIGGERS[trigger]}：{summary}（来源：{source}）"
        if asset is not None and asset.kind == "website":
            opinion += f"；已报分管负责人：{leader}"
        row = start_in_session(rt, session, PROCESS_KEY, actor, title=f"{about}舆情应对", opinion=opinion,
                               business_key=f"{prefix}:opinion:{serial}",
                               data={"asset_kind": asset.kind if asset else "", "trigger": trigger,
                                     "leader_in_charge": leader})
        return row.id
