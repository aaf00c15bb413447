"""Personal API tokens (issue 11): only a digest is kept, the scope is the owner's roles at the
time of use, and revoked, expired or orphaned tokens open nothing. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from db.models import ApiToken, AuditEvent, RoleGrant, User
from db.session import reading, transaction
from engine import InvalidInput, NotFound
from engine.api_tokens import (
    MAX_TOKENS_PER_USER,
    PREFIX,
    authenticate_token,
    create_token,
    digest,
    revoke_token,
    tokens_of,
)
from engine.departures import deactivate_user
from engine.people import revoke_role


def make(rt, username: str, *, name: str = "数据报送接口", roles: list[str] | None = None, days: int | None = 90):
    """Create a token for a demo user in one transaction; returns (token id, token text)."""
    with transaction(rt.session_factory) as session:
        user = session.scalar(select(User).where(User.username == username))
        row, token = create_token(session, user, name=name, roles=roles, days=days, now=rt.clock.now(),
                                  client_addr="127.0.0.1")
        return row.id, token


def revoke(rt, username: str, token_id: int) -> ApiToken:
    with transaction(rt.session_factory) as session:
        user = session.scalar(select(User).where(User.username == username))
        return revoke_token(session, user, token_id, now=rt.clock.now(), client_addr="127.0.0.1")


def authenticate(rt, token):
    """What a request presenting `token` acts as (the caller's transaction commits last_used_at)."""
    with transaction(rt.session_factory) as session:
        return authenticate_token(session, token, rt.clock.now())


def token_row(rt, token_id: int) -> ApiToken:
    with reading(rt.session_factory) as session:
        return session.get(ApiToken, token_id)


def counts(rt) -> tuple[int, int]:
    """(token rows, token audit events), to prove a refused command wrote nothing."""
    with reading(rt.session_factory) as session:
        return (session.scalar(select(func.count()).select_from(ApiToken)),
                session.scalar(select(func.count()).select_from(AuditEvent)
                               .where(AuditEvent.action.like("api_token_%"))))


def token_events(rt, action: str) -> list[AuditEvent]:
    with reading(rt.session_factory) as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


# --- creating ---------------------------------------------------------------------------------

def test_the_database_keeps_only_the_digest_and_a_short_prefix_never_the_token(rt, users):
    token_id, token = make(rt, "lisi")
    assert token.startswith(PREFIX) and len(token) == len(PREFIX) + 40
    row = token_row(rt, token_id)
    assert row.token_sha256 == digest(token) and row.prefix == token[:10]
    stored = [str(getattr(row, column.key)) for column in ApiToken.__table__.columns]
    assert not any(token in value for value in stored)
    created = token_events(rt, "api_token_created")
    assert len(created) == 1 and token not in json.dumps(created[0].data, ensure_ascii=False)
    assert created[0].actor_id == users["lisi"].user_id and created[0].client_addr == "127.0.0.1"
    assert created[0].data["roles"] == ["reviewer", "signer"] and created[0].data["name"] == "数据报送接口"


def test_a_token_acts_as_its_owner_in_the_roles_it_was_given(rt, users):
    _, both = make(rt, "lisi")
    _, reviewer_only = make(rt, "lisi", roles=["reviewer"])
    assert authenticate(rt, both).user_id == users["lisi"].user_id
    assert authenticate(rt, both).roles == {"reviewer", "signer"}
    assert authenticate(rt, reviewer_only).roles == {"reviewer"}


def test_two_tokens_differ_and_each_row_names_its_own_digest(rt):
    first_id, first = make(rt, "lisi")
    second_id, second = make(rt, "lisi")
    assert first != second and token_row(rt, first_id).token_sha256 != token_row(rt, second_id).token_sha256


def test_without_days_a_token_does_not_expire(rt, clock):
    token_id, token = make(rt, "zhangsan", days=None)
    assert token_row(rt, token_id).expires_at is None
    clock.advance(days=2000)
    assert authenticate(rt, token).roles == {"editor"}


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"roles": ["signer"]}, "您不具有角色 栏目责任人/签发"),
    ({"roles": ["editor", "signer"]}, "令牌不能超出您的权限"),
    ({"roles": ["superuser"]}, "未知的角色：superuser"),
    ({"roles": []}, "请至少选择一个角色"),
    ({"name": "   "}, "请填写令牌名称"),
    ({"name": "长" * 101}, "不超过 100 个字"),
    ({"days": 0}, "有效期须在 1 至 366 天之间"),
    ({"days": 367}, "有效期须在 1 至 366 天之间"),
])
def test_a_refused_token_says_why_and_writes_nothing(rt, kwargs, message):
    with pytest.raises(InvalidInput, match=message):
        make(rt, "zhangsan", **kwargs)
    assert counts(rt) == (0, 0)


def test_someone_without_any_role_is_told_so_and_gets_no_token(rt, users):
    with reading(rt.session_factory) as session:
        editor = session.scalar(select(RoleGrant.id).where(RoleGrant.user_id == users["zhangsan"].user_id))
    revoke_role(rt, users["liuyang"].user_id, users["zhangsan"].user_id, grant_id=editor, reason="岗位调整")
    for roles in (None, [], ["editor"]):
        with pytest.raises(InvalidInput, match="您没有任何角色，无法创建令牌"):
            make(rt, "zhangsan", roles=roles)
    assert counts(rt) == (0, 0)


def test_at_most_twenty_live_tokens_and_revoked_or_expired_ones_do_not_count(rt, clock):
    ids = [make(rt, "zhangsan", name=f"接口{i}", days=1 if i < 2 else 90)[0] for i in range(MAX_TOKENS_PER_USER)]
    with pytest.raises(InvalidInput, match=f"最多保留 {MAX_TOKENS_PER_USER} 个令牌"):
        make(rt, "zhangsan", name="第二十一个")
    make(rt, "lisi")  # another person's count is their own
    revoke(rt, "zhangsan", ids[5])
    make(rt, "zhangsan", name="吊销一个之后")
    clock.advance(days=2)  # the two one-day tokens have expired
    make(rt, "zhangsan", name="过期之后一")
    make(rt, "zhangsan", name="过期之后二")
    with pytest.raises(InvalidInput, match="最多保留"):
        make(rt, "zhangsan", name="又满了")


# --- authenticating ---------------------------------------------------------------------------

@pytest.mark.parametrize("presented", ["", "gf_", "gf_" + "x" * 40, "Bearer gf_abc", "xx_" + "a" * 40,
                                       "gf_" + "a" * 200, None])
def test_an_unknown_or_malformed_token_authenticates_as_nobody(rt, presented):
    make(rt, "lisi")
    assert authenticate(rt, presented) is None


def test_a_revoked_token_authenticates_as_nobody(rt):
    token_id, token = make(rt, "lisi")
    revoke(rt, "lisi", token_id)
    assert authenticate(rt, token) is None


def test_a_token_works_until_its_last_day_and_not_after(rt, clock):
    _, token = make(rt, "lisi", days=30)
    clock.advance(days=30, seconds=-1)
    assert authenticate(rt, token) is not None
    clock.advance(seconds=1)
    assert authenticate(rt, token) is None


def test_a_deactivated_owners_token_authenticates_as_nobody(rt, users):
    _, token = make(rt, "zhangsan")
    deactivate_user(rt, users["liuyang"].user_id, users["zhangsan"].user_id, reason="调离本单位")
    assert authenticate(rt, token) is None


def test_a_role_the_owner_lost_drops_out_of_the_tokens_scope(rt, users):
    _, token = make(rt, "lisi")
    with reading(rt.session_factory) as session:
        signer = session.scalar(select(RoleGrant.id).where(RoleGrant.user_id == users["lisi"].user_id,
                                                            RoleGrant.role == "signer"))
    revoke_role(rt, users["liuyang"].user_id, users["lisi"].user_id, grant_id=signer, reason="岗位调整")
    assert authenticate(rt, token).roles == {"reviewer"}


def test_last_use_is_written_at_most_every_five_minutes(rt, clock):
    token_id, token = make(rt, "lisi")
    assert token_row(rt, token_id).last_used_at is None
    first = clock.now()
    authenticate(rt, token)
    assert token_row(rt, token_id).last_used_at == first
    clock.advance(minutes=4)
    authenticate(rt, token)
    assert token_row(rt, token_id).last_used_at == first
    later = clock.advance(minutes=1)
    authenticate(rt, token)
    assert token_row(rt, token_id).last_used_at == later


# --- revoking and listing ---------------------------------------------------------------------

def test_someone_elses_token_cannot_be_revoked_and_keeps_working(rt):
    token_id, token = make(rt, "lisi")
    with pytest.raises(NotFound, match=f"令牌 {token_id} 不存在"):
        revoke(rt, "zhangsan", token_id)
    with pytest.raises(NotFound):
        revoke(rt, "zhangsan", token_id + 1000)
    assert token_row(rt, token_id).revoked_at is None and authenticate(rt, token) is not None
    assert len(token_events(rt, "api_token_revoked")) == 0


def test_revoking_twice_records_one_event_and_keeps_the_first_time(rt, users, clock):
    token_id, _ = make(rt, "lisi")
    first = clock.advance(hours=1)
    revoke(rt, "lisi", token_id)
    clock.advance(hours=1)
    assert revoke(rt, "lisi", token_id).revoked_at == first
    revoked = token_events(rt, "api_token_revoked")
    assert len(revoked) == 1 and revoked[0].actor_id == users["lisi"].user_id
    assert revoked[0].data == {"token_id": token_id, "name": "数据报送接口"}


def test_tokens_of_lists_only_the_owners_tokens_live_first_newest_first(rt, users, clock):
    old, _ = make(rt, "lisi", name="旧")
    clock.advance(hours=1)
    gone, _ = make(rt, "lisi", name="已吊销")
    clock.advance(hours=1)
    new, _ = make(rt, "lisi", name="新")
    make(rt, "zhangsan", name="别人的")
    revoke(rt, "lisi", gone)
    with reading(rt.session_factory) as session:
        assert [r.id for r in tokens_of(session, users["lisi"].user_id)] == [new, old, gone]
