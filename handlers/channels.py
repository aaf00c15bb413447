"""Notification channels beyond the in-app inbox, as plug-ins registered by name.

A channel is `(user, title, body) -> None`, called after the notification's transaction has
committed; a failing channel is logged and never undoes anything. E-mail over SMTP ships here
and is off unless GOVFLOW_SMTP_HOST is set (SMS and others register the same way).
"""

from __future__ import annotations

import logging
import os
import smtplib
from collections.abc import Callable
from email.message import EmailMessage

from db.models import User
from db.session import reading

log = logging.getLogger(__name__)

Channel = Callable[[User, str, str], None]
CHANNELS: dict[str, Channel] = {}


def channel(name: str) -> Callable[[Channel], Channel]:
    def register(func: Channel) -> Channel:
        CHANNELS[name] = func
        return func

    return register


def enabled_channels() -> dict[str, Channel]:
    return {name: func for name, func in CHANNELS.items() if name != "email" or os.environ.get("GOVFLOW_SMTP_HOST")}


def deliver(session_factory, messages: list[tuple[int, str, str]]) -> None:
    channels = enabled_channels()
    if not channels:
        return
    with reading(session_factory) as session:
        for user_id, title, body in messages:
            user = session.get(User, user_id)
            for name, func in channels.items():
                try:
                    func(user, title, body)
                except Exception:
                    log.exception("notification channel %s failed for user %s", name, user_id)


@channel("email")
def send_email(user: User, title: str, body: str) -> None:
    """SMTP with GOVFLOW_SMTP_HOST/PORT/USER/PASSWORD/FROM; users without an address are skipped."""
    if not user.email:
        return
    message = EmailMessage()
    message["Subject"] = f"[GovFlow] {title}"
    message["From"] = os.environ.get("GOVFLOW_SMTP_FROM", "govflow@localhost")
    message["To"] = user.email
    message.set_content(body)
    port = int(os.environ.get("GOVFLOW_SMTP_PORT", "25"))
    with smtplib.SMTP(os.environ["GOVFLOW_SMTP_HOST"], port, timeout=10) as smtp:
        if os.environ.get("GOVFLOW_SMTP_USER"):
            smtp.starttls()
            smtp.login(os.environ["GOVFLOW_SMTP_USER"], os.environ.get("GOVFLOW_SMTP_PASSWORD", ""))
        smtp.send_message(message)
