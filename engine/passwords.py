"""ACC-2: password strength, the forced change at first login, and rotation every three months.

A password set by its holder records `password_changed_at`; one issued by an operator (a new
account, an ACC-4 reset, an ACC-5 leak) sets `must_change_password`, so the holder has to
replace it at the next login before doing anything else. Accounts created by the demo seed have
no `password_changed_at` and are not rotated (product choice: the demo password must keep
working); every account created in the console is.
"""

from __future__ import annotations

import secrets
import string
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from db.models import User
from db.session import transaction

from . import audit
from .accounts import hash_password
from .exceptions import Forbidden, InvalidInput

MIN_LENGTH = 8
MIN_CLASSES = 3
MAX_LENGTH = 128
_CLASSES = (("小写字母", str.islower), ("大写字母", str.isupper), ("数字", str.isdigit),
            ("符号", lambda c: not c.isalnum()))


def check_strength(password: str, username: str) -> None:
    """ACC-2: at least 8 characters from 3 of 4 classes, and not the username; InvalidInput otherwise."""
    password = password or ""
    if len(password) < MIN_LENGTH or len(password) > MAX_LENGTH:
        raise InvalidInput(f"密码长度须为 {MIN_LENGTH}–{MAX_LENGTH} 个字符。",
                           f"A password must be {MIN_LENGTH}–{MAX_LENGTH} characters long.")
    used = [name for name, test in _CLASSES if any(test(c) for c in password)]
    if len(used) < MIN_CLASSES:
        raise InvalidInput(f"密码须至少包含大写字母、小写字母、数字、符号中的 {MIN_CLASSES} 类（现有：{'、'.join(used) or '无'}）。",
                           f"A password needs characters of at least {MIN_CLASSES} kinds: upper case, lower case, "
                           "digits, symbols.")
    name = (username or "").strip().lower()
    if name and name in password.lower():
        raise InvalidInput("密码不能包含用户名。", "A password may not contain the username.")


def generate_initial_password() -> str:
    """A random 12-character password from all four classes, for an operator to hand over once."""
    alphabet = string.ascii_letters + string.digits + "@#%+=!"
    while True:
        candidate = "".join(secrets.choice(alphabet) for _ in range(12))
        if all(any(test(c) for c in candidate) for _, test in _CLASSES):
            return candidate


def change_required(user: User, now: datetime, max_age_days: int) -> str | None:
    """Why `user` must change their password before anything else ('initial', 'expired'), or None."""
    if user.must_change_password:
        return "initial"
    if user.password_changed_at is not None and now - user.password_changed_at > timedelta(days=max_age_days):
        return "expired"
    return None


def issue_password(session: Session, user: User, password: str) -> None:
    """Set an operator-issued password (new account, reset): the holder must change it at next login."""
    user.password_hash = hash_password(password)
    user.must_change_password = True


def change_password(rt, user_id: int, *, current: str, new: str, client_addr: str | None = None) -> None:
    """The holder replaces their password (ACC-2): the current one is checked, the new one must be
    strong, different from the current one, and starts a new rotation period."""
    from werkzeug.security import check_password_hash

    with transaction(rt.session_factory) as session:
        user = session.get(User, user_id)
        if user is None or not user.active:
            raise Forbidden("用户不存在或已停用。", "The user does not exist or has been deactivated.")
        if not check_password_hash(user.password_hash, current or ""):
            raise InvalidInput("当前密码不正确。", "The current password is wrong.")
        check_strength(new, user.username)
        if new == current:
            raise InvalidInput("新密码不能与当前密码相同。", "The new password must differ from the current one.")
        now = rt.clock.now()
        user.password_hash = hash_password(new)
        user.password_changed_at, user.must_change_password = now, False
        audit.record(session, now=now, action="password_changed", actor=user, client_addr=client_addr,
                     data={"user": user.username})
