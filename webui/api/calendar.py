"""GET /calendar/deadline: a deadline on the official calendar (holidays and 调休 working days),
computed exactly as the engine computes a timer's."""

from datetime import UTC

from db.models import DEADLINE_RULES
from db.session import reading
from engine.calendar import calendar_for
from engine.clock import to_shanghai
from engine.deadlines import compute

from .common import new_blueprint, problems, runtime
from .schemas import DeadlineQuerySchema, DeadlineSchema

blp = new_blueprint("calendar", "/calendar", "Deadlines on the official Chinese working calendar")


@blp.route("/deadline")
@blp.arguments(DeadlineQuerySchema, location="query", unknown="raise")
@blp.response(200, DeadlineSchema)
@problems(blp, 400, 422)
def deadline(query):
    """E.g. start=2026-09-30T10:00:00+08:00, rule=working_days, amount=5 → after the National Day holiday."""
    rt = runtime()
    with reading(rt.session_factory) as session:
        due = compute(calendar_for(session, rt.roll_calendar_days), query["rule"], query["start"], query["amount"])
    rule = query["rule"]
    return {"start": query["start"].astimezone(UTC), "rule": rule, "amount": query["amount"], "due": due.astimezone(UTC),
            "due_local": to_shanghai(due).strftime("%Y-%m-%d %H:%M"),
            "description": f"{query['amount']} {DEADLINE_RULES[rule]}"}
