"""The demo opens with the operations processes in interesting states (issue 7, "Done means")."""

from datetime import timedelta

from sqlalchemy import select

from db.models import CitizenMessage, ContentItem, HumanTask, ProcessDefinition, ProcessInstance, Violation
from db.session import reading
from engine.demo import seed_demo_work


def test_the_demo_has_an_overdue_message_an_urgent_correction_20_minutes_in_and_an_emergency_item(sqlite_rt, clock):
    seed_demo_work(sqlite_rt)
    now = clock.now()
    with reading(sqlite_rt.session_factory) as session:
        def running(key: str) -> list[ProcessInstance]:
            return list(session.scalars(select(ProcessInstance).join(ProcessDefinition).where(
                ProcessDefinition.key == key, ProcessInstance.status == "running")))

        def open_tasks(instance: ProcessInstance) -> set[str]:
            return set(session.scalars(select(HumanTask.bpmn_id).where(HumanTask.instance_id == instance.id,
                                                                       HumanTask.state == "ready")))

        overdue = session.scalar(select(CitizenMessage).where(CitizenMessage.due_at < now))
        assert overdue is not None and overdue.status == "handling"
        (message_row,) = [i for i in running("citizen_message") if i.business_key == f"message:{overdue.id}"]
        assert open_tasks(message_row) == {"reply_consultation", "urge"}
        assert {v.description.split("：")[0] for v in session.scalars(
            select(Violation).where(Violation.instance_id == message_row.id))} == {
            "网民留言超过办结时限未答复", "公众咨询超过3个工作日未回应，予以通报并责令整改"}

        urgent = [i for i in running("error_correction") if "紧急" in i.title]
        assert len(urgent) == 1 and urgent[0].started_at == now - timedelta(minutes=20)
        assert urgent[0].next_timer_at == now + timedelta(minutes=10) and open_tasks(urgent[0]) == {"urgent_fix"}

        emergency = [i for i in running("content_review") if open_tasks(i) == {"formal_review"}]
        assert len(emergency) == 1
        item = session.get(ContentItem, int(emergency[0].business_key.partition(":")[2]))
        assert (item.mode, item.status) == ("emergency", "published")

        for key in ("citizen_message", "public_opinion", "public_consultation"):
            assert running(key), key
