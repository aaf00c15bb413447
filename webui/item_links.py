"""`item_link(instance_id, label)` for templates: a link to the item's page for someone who may
open it (engine/access.py), the plain label for anyone else. Lists of a unit's sites, messages,
cases and checks are seen by more people than take part in each item; a link that answers
"does not exist" would be a dead end."""

from __future__ import annotations

from flask import g, url_for
from flask_login import current_user
from markupsafe import Markup, escape

from db.models import ProcessInstance, User
from db.session import reading
from engine.queries import may_view_instance

from .auth import runtime


def may_open(instance_id: int) -> bool:
    """Whether the signed-in user may open item `instance_id`; asked once per request and item."""
    known = g.setdefault("govflow_may_open", {})
    if instance_id not in known:
        rt = runtime()
        with reading(rt.session_factory) as session:
            user = session.get(User, current_user.id) if current_user.is_authenticated else None
            instance = session.get(ProcessInstance, instance_id)
            known[instance_id] = bool(user and instance and may_view_instance(session, user, instance, rt.clock.now()))
    return known[instance_id]


def item_link(instance_id: int | None, label) -> Markup:
    if instance_id and may_open(instance_id):
        return Markup('<a href="{}">{}</a>').format(url_for("instances.show", instance_id=instance_id), label)
    return escape(label)
