"""Which processes POST /instances can start, and how: each process has its own start command in
the engine (it creates the asset or content row the process is about and checks its own rules),
so the API calls that command with the request's `data` as its keyword arguments.

`data` is checked against the command's signature first: unknown or missing names, and values
of the wrong type, are refused with a sentence before the engine is called.
"""

from __future__ import annotations

import inspect

from engine import InvalidInput, assets, content

STARTERS = {
    content.PROCESS_KEY: content.submit_content,
    assets.OFFLINE_PROCESS: assets.start_temporary_offline,
    assets.CLOSURE_PROCESS: assets.start_decommission,
    assets.OPEN_NEW_MEDIA: assets.start_open_new_media,
    assets.OPEN_WEBSITE: assets.start_open_website,
    assets.COLUMN_PROCESS: assets.start_column_request,
    assets.APP_PROCESS: assets.start_app_launch,
    assets.CHANGE_PROCESS: assets.start_change_info,
    assets.MIGRATION_PROCESS: assets.start_migration,
    assets.EXIT_PROCESS: assets.start_exit_supervision,
    assets.ADJUSTMENT_PROCESS: assets.start_column_adjustment,
    assets.CONTACTS_PROCESS: assets.start_unit_contacts,
    assets.CLEANUP_PROCESS: assets.start_account_cleanup,
    assets.CORRECTION_PROCESS: assets.start_correction,
}


def _kind(annotation: str) -> type:
    text = str(annotation)
    for name, kind in (("bool", bool), ("int", int), ("dict", dict)):
        if text.startswith(name):
            return kind
    return str


def _fits(value, kind: type) -> bool:
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind is dict:
        return isinstance(value, dict) and all(isinstance(v, str | None) for v in value.values())
    return isinstance(value, kind)


def start_fields(process_key: str) -> dict[str, tuple[type, bool]]:
    """name → (type, required) of what `data` may hold for this process."""
    fields = {}
    for param in list(inspect.signature(STARTERS[process_key]).parameters.values())[2:]:
        if param.kind is inspect.Parameter.VAR_KEYWORD:
            continue
        fields[param.name] = (_kind(param.annotation), param.default is inspect.Parameter.empty)
    return fields


def check_startable(process_key: str) -> None:
    if process_key not in STARTERS:
        raise InvalidInput(f"流程“{process_key}”不能通过接口发起；可发起的流程：{'、'.join(sorted(STARTERS))}。",
                           f"Process \"{process_key}\" cannot be started through the API; these can: "
                           f"{', '.join(sorted(STARTERS))}.")


def start(rt, actor, process_key: str, data: dict) -> int:
    check_startable(process_key)
    fields = start_fields(process_key)
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise InvalidInput(f"data 中有此流程不需要的字段：{'、'.join(unknown)}。",
                           f"data holds fields this process does not take: {', '.join(unknown)}.")
    missing = sorted(name for name, (_kind_, required) in fields.items() if required and name not in data)
    if missing:
        raise InvalidInput(f"data 缺少必填字段：{'、'.join(missing)}。", f"data lacks required fields: {', '.join(missing)}.")
    wrong = sorted(name for name, value in data.items() if not _fits(value, fields[name][0]))
    if wrong:
        raise InvalidInput(f"data 中这些字段的类型不对：{'、'.join(wrong)}。", f"These data fields have the wrong type: {', '.join(wrong)}.")
    return STARTERS[process_key](rt, actor, **data)
