"""Personal API tokens: created and revoked by their owner, stored as SHA-256, scoped to roles.

A token is `gf_` followed by 40 URL-safe random characters. Only its SHA-256 is kept, so a
stolen database yields no usable token; the owner sees the token once, when it is created.
A token acts as its owner, in the roles it was given (a subset of the owner's roles at
creation); a role the owner has since lost is lost to the token too, because every check still
asks the role grants.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from db.models import ROLES, ApiToken, User

from . import audit
from .accounts import roles_of
from .exceptions import InvalidInput, NotFound

PREFIX = "gf_"
MAX_TOKENS_PER_USER = 20
MAX_DAYS = 366
# last_used_at is written at most this often per token (a busy integration must not turn every
# read into a write).
TOUCH_EVERY = timedelta(minutes=5)


@dataclass(frozen=True)
class TokenUser:
    """Who a presented token acts as."""

    token_id: int
    user_id: int
    roles: frozenset[str]
    # The owner holds the auditor role (whatever the token's scope): such a person only reads,
    # through the API as on the web (webui/audit.py).
    read_only: bool = False


def digest(token: str) -> str:
    """The SHA-256 (hex) under which a token is stored and looked up."""
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(session: Session, user: User, *, name: str, roles: list[str] | None, days: int | None,
                 now: datetime, client_addr: str | None = None) -> tuple[ApiToken, str]:
    """Make a token for `user`; returns the row and the token itself (shown once, never stored).

    `roles` None gives the token every role the user holds; an empty list is refused rather
    than read as "all". `days` None makes a token that does not expire."""
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise InvalidInput("请填写令牌名称（不超过 100 个字）。", "Give the token a name (at most 100 characters).")
    held = sorted({g.role for g in roles_of(session, user.id)})
    if not held:
        raise InvalidInput("您没有任何角色，无法创建令牌。", "You hold no role, so a token would have none either.")
    if roles is not None and not roles:
        raise InvalidInput("请至少选择一个角色。", "Choose at least one role.")
    wanted = sorted(set(roles)) if roles is not None else held
    unknown = [r for r in wanted if r not in ROLES]
    if unknown:
        raise InvalidInput(f"未知的角色：{'、'.join(unknown)}。", f"Unknown role: {', '.join(unknown)}.")
    not_held = [r for r in wanted if r not in held]
    if not_held:
        raise InvalidInput(f"您不具有角色 {'、'.join(ROLES[r] for r in not_held)}，令牌不能超出您的权限。",
                           f"You do not hold the role {', '.join(not_held)}; a token cannot exceed your rights.")
    if days is not None and not 1 <= days <= MAX_DAYS:
        raise InvalidInput(f"有效期须在 1 至 {MAX_DAYS} 天之间。", f"The validity must be 1 to {MAX_DAYS} days.")
    # Two creations at once must not both see 19 live tokens: on PostgreSQL the owner's row is the
    # lock they queue on (SQLite's BEGIN IMMEDIATE already serialises writers; FOR UPDATE is dropped there).
    session.execute(select(User.id).where(User.id == user.id).with_for_update())
    live = session.scalar(select(ApiToken.id).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None),
                                                    or_(ApiToken.expires_at.is_(None), ApiToken.expires_at > now))
                          .offset(MAX_TOKENS_PER_USER - 1).limit(1))
    if live is not None:
        raise InvalidInput(f"每人最多保留 {MAX_TOKENS_PER_USER} 个令牌，请先吊销不用的令牌。",
                           f"At most {MAX_TOKENS_PER_USER} tokens per person; revoke one you no longer use.")
    token = PREFIX + secrets.token_urlsafe(30)
    row = ApiToken(user_id=user.id, name=name, token_sha256=digest(token), prefix=token[:10],
                   roles=",".join(wanted), created_at=now,
                   expires_at=now + timedelta(days=days) if days else None)
    session.add(row)
    session.flush()
    audit.record(session, now=now, action="api_token_created", actor=user, client_addr=client_addr,
                 data={"token_id": row.id, "name": name, "roles": wanted, "days": days})
    return row, token


def revoke_token(session: Session, user: User, token_id: int, *, now: datetime,
                 client_addr: str | None = None) -> ApiToken:
    """Revoke one of the user's own tokens; someone else's token is 'not found', as if absent."""
    row = session.get(ApiToken, token_id)
    if row is None or row.user_id != user.id:
        raise NotFound(f"令牌 {token_id} 不存在。", f"Token {token_id} does not exist.")
    if row.revoked_at is None:
        row.revoked_at = now
        audit.record(session, now=now, action="api_token_revoked", actor=user, client_addr=client_addr,
                     data={"token_id": row.id, "name": row.name})
    return row


def tokens_of(session: Session, user_id: int) -> list[ApiToken]:
    """The user's tokens, revoked ones last, newest first."""
    return list(session.scalars(select(ApiToken).where(ApiToken.user_id == user_id)
                                .order_by(ApiToken.revoked_at.is_not(None), ApiToken.created_at.desc())))


def authenticate_token(session: Session, token: str, now: datetime) -> TokenUser | None:
    """The token's owner and scope, or None for an unknown, revoked or expired token or an
    inactive owner. Updates `last_used_at` now and then (the caller commits)."""
    if not isinstance(token, str) or not token.startswith(PREFIX) or len(token) > 100:
        return None
    row = session.scalar(select(ApiToken).where(ApiToken.token_sha256 == digest(token)))
    if row is None or row.revoked_at is not None or (row.expires_at is not None and row.expires_at <= now):
        return None
    owner = session.get(User, row.user_id)
    if owner is None or not owner.active:
        return None
    held = {g.role for g in roles_of(session, owner.id)}
    if row.last_used_at is None or now - row.last_used_at >= TOUCH_EVERY:
        session.execute(update(ApiToken).where(ApiToken.id == row.id).values(last_used_at=now))
    return TokenUser(row.id, owner.id, frozenset(r for r in row.roles.split(",") if r in held),
                     read_only="auditor" in held)
