"""`item_link(instance_id, label)` for templates: a link to the item's page for someone who may
open it (engine/access.py), the plain label for anyone else. Lists of a unit's sites, messages,
cases and checks are seen by more people than take part in each item; a link that answers
"does not exist" would be a dead end."""

from __future__ import annotations

from flask import Flask, g, url_for
from flask_login import current_user
from markupsafe import Markup, escape

from db.models import ProcessInstance, User
from engine.queries import may_view_instance

from .auth import runtime

_VIEWER = "govflow_item_viewer"  # in g: (session, user, {instance id: may open}) for this request


def may_open(instance_id: int) -> bool:
    """Whether the signed-in user may open item `instance_id`; one reading session per request,
    each item asked once."""
    viewer = g.get(_VIEWER)
    if viewer is None:
        session = runtime().session_factory()
        user = session.get(User, current_user.id) if current_user.is_authenticated else None
        viewer = g.setdefault(_VIEWER, (session, user, {}))
    session, user, known = viewer
    if instance_id not in known:
        instance = session.get(ProcessInstance, instance_id)
        known[instance_id] = bool(user and instance
                                  and may_view_instance(session, user, instance, runtime().clock.now()))
    return known[instance_id]


def item_link(instance_id: int | None, label) -> Markup:
    if instance_id and may_open(instance_id):
        return Markup('<a href="{}">{}</a>').format(url_for("instances.show", instance_id=instance_id), label)
    return escape(label)


def init_app(app: Flask) -> None:
    app.add_template_global(item_link)

    @app.teardown_appcontext
    def close_viewer_session(_error=None):
        viewer = g.pop(_VIEWER, None)
        if viewer is not None:
            viewer[0].close()
