"""The API's marshmallow schemas: every request and response body. Unknown fields are refused
(marshmallow's RAISE, and query strings are parsed with RAISE too)."""

from __future__ import annotations

from marshmallow import RAISE, Schema, fields, validate

from db.models import CONTENT_MODES, TARGET_KINDS
from engine.inbox import DEADLINE_STATES, MAX_PAGE_SIZE, MAX_QUERY

MAX_ID = 2**31 - 1  # ids are 32-bit in PostgreSQL; a larger number names nothing


def Id(**kw) -> fields.Integer:  # noqa: N802  (a field factory, read like a field class)
    return fields.Integer(validate=validate.Range(min=1, max=MAX_ID), **kw)


def Day(**kw) -> fields.Date:  # noqa: N802
    return fields.Date(validate=lambda d: 2000 <= d.year <= 2100, metadata={"description": "a day, years 2000–2100"}, **kw)


class Strict(Schema):
    class Meta:
        unknown = RAISE
        ordered = True


class ProblemSchema(Strict):
    type = fields.String(required=True, metadata={"example": "urn:govflow:problem:conflict"})
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    detail = fields.String(required=True)
    errors = fields.Dict(metadata={"description": "422: the fields that did not validate, by location"})
    completed_by = fields.Dict(allow_none=True, metadata={"description": "409 on a task: who completed it"})
    completed_at = fields.String(allow_none=True, metadata={"description": "409 on a task: when (ISO 8601)"})
    task_id = fields.Integer()
    task_state = fields.String()
    instance_id = fields.Integer(metadata={"description": "409 on a start: the running instance with that key"})


class PersonSchema(Strict):
    id = fields.Integer(required=True)
    username = fields.String(required=True)
    real_name = fields.String(required=True)


class MeSchema(Strict):
    id = fields.Integer(required=True)
    username = fields.String(required=True)
    real_name = fields.String(required=True)
    unit = fields.String(required=True)
    token_roles = fields.List(fields.String(), required=True,
                              metadata={"description": "the roles this token may act in"})


# --- definitions ---------------------------------------------------------------------------

class DefinitionSchema(Strict):
    key = fields.String(required=True)
    name = fields.String(required=True)
    version = fields.Integer(required=True)
    sha256 = fields.String(required=True)
    deployed_by = fields.String(required=True)
    deployed_at = fields.DateTime(required=True)
    start_role = fields.String(allow_none=True)
    api_start = fields.Boolean(required=True, metadata={"description": "whether POST /instances can start it"})


class DeployBodySchema(Strict):
    bpmn_xml = fields.String(required=True, validate=validate.Length(min=1, max=2_000_000))
    note = fields.String(load_default="", validate=validate.Length(max=500))


class DeployResultSchema(Strict):
    key = fields.String(required=True)
    version = fields.Integer(required=True)
    created = fields.Boolean(required=True, metadata={"description": "false: identical to the newest version"})


# --- instances -----------------------------------------------------------------------------

class StartBodySchema(Strict):
    process_key = fields.String(required=True, validate=validate.Length(min=1, max=120))
    business_key = fields.String(required=True, validate=validate.Length(min=1, max=120),
                                 metadata={"description": "your own key for the item; one running instance per key"})
    data = fields.Dict(keys=fields.String(), load_default=dict,
                       metadata={"description": "what the process needs to start; see each process's start fields"})


class CancelBodySchema(Strict):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class HistorySchema(Strict):
    at = fields.DateTime(required=True)
    actor = fields.String(required=True)
    role = fields.String(allow_none=True)
    action = fields.String(required=True)
    task_name = fields.String(allow_none=True)
    outcome = fields.String(allow_none=True)
    opinion = fields.String(allow_none=True)


class OpenTaskSchema(Strict):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    role = fields.String(allow_none=True)
    assignee = fields.String(allow_none=True)
    due_at = fields.DateTime(allow_none=True)


class ContentStateSchema(Strict):
    id = fields.Integer(required=True)
    title = fields.String(required=True)
    status = fields.String(required=True)
    target_kind = fields.String(required=True)
    target_name = fields.String(allow_none=True)


class InstanceSchema(Strict):
    id = fields.Integer(required=True)
    process_key = fields.String(required=True)
    process_name = fields.String(required=True)
    version = fields.Integer(required=True)
    title = fields.String(required=True)
    business_key = fields.String(allow_none=True, metadata={"description": "the key given at the start, if any"})
    engine_key = fields.String(required=True, metadata={"description": "GovFlow's own key, e.g. content:12"})
    status = fields.String(required=True, metadata={"description": "running, completed or cancelled"})
    suspended = fields.Boolean(required=True)
    has_incident = fields.Boolean(required=True)
    unit = fields.String(required=True)
    started_by = fields.String(required=True)
    started_at = fields.DateTime(required=True)
    ended_at = fields.DateTime(allow_none=True)
    end_reason = fields.String(allow_none=True)
    open_tasks = fields.List(fields.Nested(OpenTaskSchema), required=True)
    content = fields.Nested(ContentStateSchema, allow_none=True)
    history = fields.List(fields.Nested(HistorySchema), required=True)


class InstanceQuerySchema(Strict):
    business_key = fields.String(required=True, validate=validate.Length(min=1, max=120))
    process_key = fields.String(validate=validate.Length(min=1, max=120))


class InstanceListSchema(Strict):
    items = fields.List(fields.Nested(InstanceSchema), required=True)


class ContentBodySchema(Strict):
    business_key = fields.String(required=True, validate=validate.Length(min=1, max=120),
                                 metadata={"description": "the CMS's own article number"})
    title = fields.String(required=True, validate=validate.Length(min=1, max=300))
    body = fields.String(required=True, validate=validate.Length(min=1, max=200_000))
    target_kind = fields.String(required=True, validate=validate.OneOf(sorted(TARGET_KINDS)))
    target_name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    mode = fields.String(load_default="normal", validate=validate.OneOf(sorted(set(CONTENT_MODES) - {"consultation"})))


# --- tasks ---------------------------------------------------------------------------------

class TaskQuerySchema(Strict):
    list = fields.String(load_default="todo", validate=validate.OneOf(["todo", "done"]),
                         metadata={"description": "todo: 待办 (default); done: 已办"})
    process = fields.String(validate=validate.Length(min=1, max=120))
    asset_id = Id()
    unit_id = Id()
    deadline = fields.String(validate=validate.OneOf(DEADLINE_STATES))
    q = fields.String(validate=validate.Length(min=1, max=MAX_QUERY))
    cursor = fields.String(validate=validate.Length(min=1, max=200))
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=MAX_PAGE_SIZE))


class TaskRowSchema(Strict):
    id = fields.Integer(required=True)
    instance_id = fields.Integer(required=True)
    title = fields.String(required=True)
    step = fields.String(required=True)
    process_key = fields.String(required=True)
    process_name = fields.String(required=True)
    engine_key = fields.String(required=True)
    unit = fields.String(required=True)
    started_by = fields.String(required=True)
    created_at = fields.DateTime(required=True)
    due_at = fields.DateTime(allow_none=True)
    claimed = fields.Boolean(required=True)
    completed_at = fields.DateTime(allow_none=True)
    outcome = fields.String(allow_none=True)
    barred_roles = fields.List(fields.String(), required=True, metadata={
        "description": "REV-3 (待办): the lanes you already acted in on this item; not empty, you may not "
                       "work this step (another holder of its role will)"})


class TaskPageSchema(Strict):
    items = fields.List(fields.Nested(TaskRowSchema), required=True)
    next_cursor = fields.String(allow_none=True, required=True)


class OutcomeSchema(Strict):
    key = fields.String(required=True)
    label = fields.String(required=True)
    reason_required = fields.Boolean(required=True)


class FormFieldSchema(Strict):
    name = fields.String(required=True)
    label = fields.String(required=True)
    max_length = fields.Integer(required=True)
    required = fields.Boolean(required=True)


class TaskSchema(Strict):
    id = fields.Integer(required=True)
    instance_id = fields.Integer(required=True)
    name = fields.String(required=True)
    role = fields.String(allow_none=True)
    state = fields.String(required=True)
    assignee = fields.Nested(PersonSchema, allow_none=True)
    created_at = fields.DateTime(required=True)
    due_at = fields.DateTime(allow_none=True)
    completed_at = fields.DateTime(allow_none=True)
    completed_by = fields.Nested(PersonSchema, allow_none=True)
    outcome = fields.String(allow_none=True)
    outcomes = fields.List(fields.Nested(OutcomeSchema), required=True)
    form_fields = fields.List(fields.Nested(FormFieldSchema), required=True)
    refusal = fields.String(allow_none=True, metadata={"description": "why you could not complete it (e.g. REV-3)"})
    instance = fields.Nested(InstanceSchema, required=True)


class CompleteBodySchema(Strict):
    outcome = fields.String(required=True, validate=validate.Length(min=1, max=40))
    opinion = fields.String(load_default="", validate=validate.Length(max=2000))
    form = fields.Dict(keys=fields.String(), values=fields.String(allow_none=True), load_default=dict)


class ReturnBodySchema(Strict):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000))


# --- assets, audit, calendar ---------------------------------------------------------------

class AssetEventSchema(Strict):
    at = fields.DateTime(required=True)
    from_state = fields.String(allow_none=True)
    to_state = fields.String(required=True)
    instance_id = fields.Integer(allow_none=True)
    note = fields.String(allow_none=True)


class AssetSchema(Strict):
    id = fields.Integer(required=True)
    kind = fields.String(required=True)
    name = fields.String(required=True)
    platform = fields.String(allow_none=True)
    state = fields.String(required=True)
    unit = fields.String(required=True)
    attributes = fields.Dict(required=True, metadata={"description": "domain, identifier code, URL …"})


class AssetDetailSchema(AssetSchema):
    events = fields.List(fields.Nested(AssetEventSchema), required=True)
    instances = fields.List(fields.Nested(lambda: InstanceSummarySchema()), required=True)


class InstanceSummarySchema(Strict):
    id = fields.Integer(required=True)
    process_key = fields.String(required=True)
    title = fields.String(required=True)
    status = fields.String(required=True)
    started_at = fields.DateTime(required=True)
    ended_at = fields.DateTime(allow_none=True)


class AssetListSchema(Strict):
    items = fields.List(fields.Nested(AssetSchema), required=True)


class AuditQuerySchema(Strict):
    asset_id = Id()
    actor_id = Id()
    unit_id = Id()
    process_key = fields.String(validate=validate.Length(min=1, max=120))
    action = fields.String(validate=validate.Length(min=1, max=60))
    date_from = Day()
    date_to = Day()
    cursor = fields.String(validate=validate.Length(min=1, max=100))
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))


class AuditEventSchema(Strict):
    id = fields.Integer(required=True)
    occurred_at = fields.DateTime(required=True)
    actor_id = fields.Integer(allow_none=True)
    actor_name = fields.String(required=True)
    role = fields.String(allow_none=True)
    unit = fields.String(required=True)
    action = fields.String(required=True)
    instance_id = fields.Integer(allow_none=True)
    instance_title = fields.String(required=True)
    process_name = fields.String(required=True)
    task_name = fields.String(allow_none=True)
    opinion = fields.String(allow_none=True)
    data = fields.Dict(allow_none=True)
    client_addr = fields.String(allow_none=True)


class AuditPageSchema(Strict):
    items = fields.List(fields.Nested(AuditEventSchema), required=True)
    next_cursor = fields.String(allow_none=True, required=True)


DEADLINE_RULE_CHOICES = ("working_days", "calendar_days", "calendar_days_rolled", "hours", "minutes", "end_of_month")


class DeadlineQuerySchema(Strict):
    start = fields.AwareDateTime(required=True, validate=lambda d: 2000 <= d.year <= 2100,
                                 metadata={"description": "ISO 8601 with a UTC offset, years 2000–2100"})
    rule = fields.String(required=True, validate=validate.OneOf(DEADLINE_RULE_CHOICES))
    amount = fields.Integer(required=True, validate=validate.Range(min=0, max=3650))


class DeadlineSchema(Strict):
    start = fields.DateTime(required=True)
    rule = fields.String(required=True)
    amount = fields.Integer(required=True)
    due = fields.DateTime(required=True)
    due_local = fields.String(required=True, metadata={"description": "Asia/Shanghai wall time"})
    description = fields.String(required=True, metadata={"example": "5 个工作日"})
