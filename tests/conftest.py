"""Shared fixtures: a migrated database (SQLite always, PostgreSQL when it answers), a manual
clock, a runtime with the process library deployed and the demo organisation seeded."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text

# Every state the engine saves during the suite is checked against a whole new encoding
# (engine/serialization.py encodes only the tasks that changed).
os.environ.setdefault("GOVFLOW_VERIFY_STATE", "1")

from db.migrate import upgrade
from db.models import Base, User
from db.session import reading
from engine import Actor, ManualClock, deploy_directory, make_runtime, seed_demo
from engine.accounts import hash_password

ROOT = Path(__file__).resolve().parent.parent
PROCESSES = ROOT / "processes"
PG_URL = os.environ.get("GOVFLOW_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
DEMO_HASH = hash_password("Demo@2026")


def _postgres_reason() -> str | None:
    """None when PostgreSQL answers, else why the PostgreSQL variants are skipped."""
    try:
        engine = create_engine(PG_URL.replace("postgresql://", "postgresql+psycopg://", 1),
                               connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
        return None
    except Exception as err:  # any failure to connect means "not available here"
        return f"PostgreSQL at {PG_URL} does not answer ({type(err).__name__}); PostgreSQL tests skipped"


POSTGRES_SKIP = _postgres_reason()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("template") / "govflow.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def pg_schema_url():
    if POSTGRES_SKIP:
        pytest.skip(POSTGRES_SKIP)
    schema = f"govflow_test_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_URL.replace("postgresql://", "postgresql+psycopg://", 1))
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in PG_URL else "?"
    url = f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    upgrade(url)
    yield url
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


def _truncate_pg(url: str) -> None:
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        # audit_event refuses TRUNCATE (append-only trigger); a test database is emptied as the
        # superuser with triggers off for this transaction only.
        conn.execute(text("SET LOCAL session_replication_role = replica"))
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request, tmp_path, sqlite_template) -> str:
    """A freshly migrated, empty database on each backend."""
    if request.param == "sqlite":
        path = tmp_path / "govflow.db"
        shutil.copy(sqlite_template, path)
        return f"sqlite:///{path}"
    url = request.getfixturevalue("pg_schema_url")
    _truncate_pg(url)
    return url


@pytest.fixture
def sqlite_url(tmp_path, sqlite_template) -> str:
    path = tmp_path / "govflow.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


def build_runtime(url: str, clock: ManualClock):
    rt = make_runtime(url, clock)
    # jobs and webhooks run in-process right after their command, whatever the env says
    rt.dispatcher = rt.notifier = rt.webhook_sender = None
    rt.files_dir = tempfile.mkdtemp(prefix="govflow-files-")
    deploy_directory(rt, PROCESSES, deployed_by="tests")
    seed_demo(rt, password_hash=DEMO_HASH)
    return rt


@pytest.fixture
def rt(db_url, clock):
    """A runtime on each backend with the process library deployed and the demo seeded."""
    runtime = build_runtime(db_url, clock)
    yield runtime
    runtime.session_factory.kw["bind"].dispose()


@pytest.fixture
def sqlite_rt(sqlite_url, clock):
    """The same on SQLite only, for tests that do not depend on the backend."""
    runtime = build_runtime(sqlite_url, clock)
    yield runtime
    runtime.session_factory.kw["bind"].dispose()


def actors_of(runtime) -> dict[str, Actor]:
    with reading(runtime.session_factory) as session:
        return {u.username: Actor(u.id, client_addr="127.0.0.1") for u in session.scalars(select(User))}


@pytest.fixture
def users(rt) -> dict[str, Actor]:
    """Demo users by username: zhangsan (editor), lisi (reviewer+signer), wangwu (signer), sunqi (egov)…"""
    return actors_of(rt)


@pytest.fixture
def sqlite_users(sqlite_rt) -> dict[str, Actor]:
    return actors_of(sqlite_rt)


# --- web UI -------------------------------------------------------------------------------

@pytest.fixture
def app(sqlite_rt):
    from webui import create_app

    return create_app({"SECRET_KEY": "test-secret", "TESTING": True, "GOVFLOW_RUNTIME": sqlite_rt})


@pytest.fixture
def client(app):
    return app.test_client()


class AuthActions:
    """Log in as a demo user; `post` sends the session's CSRF token like the real forms do."""

    def __init__(self, client):
        self._client = client
        self.csrf = None

    def _token(self, html: str) -> str:
        import re

        return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)

    def login(self, username: str, password: str = "Demo@2026"):
        self.csrf = self._token(self._client.get("/login").get_data(as_text=True))
        return self._client.post("/login", data={"username": username, "password": password,
                                                 "csrf_token": self.csrf})

    def logout(self):
        return self._client.post("/logout", data={"csrf_token": self.csrf})

    def post(self, url: str, data: dict | None = None, **kwargs):
        return self._client.post(url, data={**(data or {}), "csrf_token": self.csrf}, **kwargs)


@pytest.fixture
def auth(client) -> AuthActions:
    return AuthActions(client)
