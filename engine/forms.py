"""Task forms, registered by key (a user task names one with the `form` property).

A form lists its fields and what completing it changes besides the workflow data; checking
happens before anything is written, so a bad submission changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from db.models import ProcessInstance

from .exceptions import InvalidInput

# Outcomes that stop the flow need a reason (REV-4); the opinion field carries it.
REASON_REQUIRED = {"return", "reject"}
MAX_OPINION = 2000


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    label_en: str
    max_length: int
    multiline: bool = False
    required: bool = True


@dataclass
class Form:
    key: str
    fields: list[Field]
    apply: Callable[[Session, ProcessInstance, dict], None]
    prefill: Callable[[Session, ProcessInstance], dict] = field(default=lambda s, i: {})
    # An external body's decision is recorded with its document: the step needs an attachment.
    requires_attachment: bool = False


FORMS: dict[str, Form] = {}


def register_form(form: Form) -> Form:
    FORMS[form.key] = form
    return form


def clean_values(form: Form, raw: dict) -> dict:
    """The form's values from `raw`, stripped; InvalidInput naming the first bad field."""
    values = {}
    for f in form.fields:
        value = raw.get(f.name)
        value = value.strip() if isinstance(value, str) else value
        if value in (None, ""):
            if f.required:
                raise InvalidInput(f"请填写“{f.label}”。", f"Please fill in \"{f.label_en}\".")
            value = ""
        if not isinstance(value, str):
            raise InvalidInput(f"“{f.label}”必须是文字。", f"\"{f.label_en}\" must be text.")
        if len(value) > f.max_length:
            raise InvalidInput(f"“{f.label}”不能超过 {f.max_length} 个字。",
                               f"\"{f.label_en}\" may not exceed {f.max_length} characters.")
        values[f.name] = value
    return values


def refuse_typename(data) -> None:
    """Submitted data must not carry `typename` keys: SpiffWorkflow would interpret them on load."""
    if isinstance(data, dict):
        for key, value in data.items():
            if key == "typename":
                raise InvalidInput("提交的数据中不能包含名为 typename 的字段。",
                                   "Submitted data may not contain a field named typename.")
            refuse_typename(value)
    elif isinstance(data, list | tuple):
        for value in data:
            refuse_typename(value)


def check_outcome(task_info: dict, outcome: str, opinion: str) -> dict:
    """The chosen outcome of a task, or InvalidInput; REV-4 outcomes need a reason."""
    outcomes = {o["key"]: o for o in task_info["outcomes"]}
    if outcome not in outcomes:
        raise InvalidInput(f"“{outcome}”不是此环节可选的办理结果，可选：{'、'.join(o['label'] for o in outcomes.values())}。",
                           f"\"{outcome}\" is not an outcome of this step.")
    if outcome in REASON_REQUIRED and not opinion.strip():
        raise InvalidInput(f"选择“{outcomes[outcome]['label']}”时必须填写理由。",
                           f"A reason is required to choose \"{outcomes[outcome]['label']}\".")
    if len(opinion) > MAX_OPINION:
        raise InvalidInput(f"意见不能超过 {MAX_OPINION} 个字。", f"The opinion may not exceed {MAX_OPINION} characters.")
    return outcomes[outcome]
