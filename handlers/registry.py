"""Service-task handlers, registered by name.

A handler is a plain function `(params, ctx) -> dict`: params are the service task's
evaluated parameters, ctx gives the database session and the instance it runs for. Handlers
must be idempotent (a retried job may run one twice) and never commit: the engine's command
commits them together with the instance state.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session


@dataclass(frozen=True)
class HandlerContext:
    session: Session
    now: datetime
    instance_id: int
    business_key: str


Handler = Callable[[dict[str, Any], HandlerContext], dict[str, Any]]

HANDLERS: dict[str, Handler] = {}


def handler(name: str) -> Callable[[Handler], Handler]:
    """Register a function as the service-task handler called `name`."""

    def register(func: Handler) -> Handler:
        if name in HANDLERS:
            raise ValueError(f"handler {name!r} registered twice")
        HANDLERS[name] = func
        return func

    return register


def registered_handlers() -> dict[str, Handler]:
    """Every handler, after importing the modules that define them.

    GOVFLOW_HANDLER_MODULES (comma-separated module names) adds a deployment's own handlers.
    """
    from . import assets, content, messages, supervision  # noqa: F401  (register on import)

    for module in filter(None, (m.strip() for m in os.environ.get("GOVFLOW_HANDLER_MODULES", "").split(","))):
        importlib.import_module(module)

    return dict(HANDLERS)  # a copy per runtime: replacing one runtime's handler leaves others alone
