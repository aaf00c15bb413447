"""Shared fixtures: a migrated database (SQLite always, PostgreSQL when it answers), a manual
clock, a runtime with the process library deployed and the demo organisation seeded."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
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


@contextmanager
def _migrated_schema(prefix: str) -> Iterator[tuple[str, str]]:
    """A new PostgreSQL schema, migrated: (its name, a URL whose search_path is it); dropped after."""
    schema = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_URL.replace("postgresql://", "postgresql+psycopg://", 1))
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in PG_URL else "?"
    url = f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    try:
        upgrade(url)
        yield schema, url
    finally:
        reset = _PG_RESET.pop(url, None)
        if reset is not None:
            reset[0].dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(scope="session")
def pg_schema_url():
    if POSTGRES_SKIP:
        pytest.skip(POSTGRES_SKIP)
    with _migrated_schema("govflow_test") as (_schema, url):
        yield url


def _sequences(conn) -> list[str]:
    """The sequences of the connection's schema (the serial ids a copied schema must continue)."""
    return list(conn.execute(text("SELECT sequence_name FROM information_schema.sequences "
                                  "WHERE sequence_schema = current_schema()")).scalars())


_PG_RESET: dict[str, tuple] = {}  # schema URL → (its engine, its sequence names), made on first use


def _reset_pg(url: str, template: tuple[str, dict] | None = None) -> None:
    """Empty a test schema, or make it a copy of the seeded template's rows and sequence positions.

    One script in one round trip: DELETE, not TRUNCATE (on tables this small, TRUNCATE's new
    files cost far more), with triggers and foreign-key checks off for this transaction only
    (audit_event is append-only for everyone else).
    """
    if url not in _PG_RESET:
        engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
        with engine.connect() as conn:
            _PG_RESET[url] = (engine, _sequences(conn))
    engine, sequences = _PG_RESET[url]
    names = [f'"{t.name}"' for t in Base.metadata.sorted_tables]
    with engine.begin() as conn:
        positions = template[1] if template else {}
        script = ["SET LOCAL session_replication_role = replica",
                  *(f"DELETE FROM {name}" for name in names)]
        if template:
            script += [f'INSERT INTO {name} SELECT * FROM "{template[0]}".{name}' for name in names]
        for sequence in sequences:
            last_value, is_called = positions.get(sequence, (1, False))
            script.append(f"SELECT setval('\"{sequence}\"', {int(last_value)}, {bool(is_called)})")
        conn.exec_driver_sql(";\n".join(script))


@pytest.fixture
def sqlite_url(tmp_path, sqlite_template) -> str:
    path = tmp_path / "govflow.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


def runtime_on(url: str, clock: ManualClock):
    """A runtime on `url` as it is (see build_runtime for one that deploys and seeds)."""
    rt = make_runtime(url, clock)
    # jobs and webhooks run in-process right after their command, whatever the env says
    rt.dispatcher = rt.notifier = rt.webhook_sender = None
    rt.files_dir = tempfile.mkdtemp(prefix="govflow-files-")
    return rt


def build_runtime(url: str, clock: ManualClock):
    """A runtime on `url` with the process library deployed and the demo seeded (both idempotent)."""
    rt = runtime_on(url, clock)
    deploy_directory(rt, PROCESSES, deployed_by="tests")
    seed_demo(rt, password_hash=DEMO_HASH)
    return rt


# Deploying the library and seeding the demo costs about a second; every test starting from the
# same seeded database at the same clock time, it is done once per session per backend and copied
# (SQLite: the file; PostgreSQL: the rows of a seeded template schema). A test whose clock fixture
# was moved before its runtime was built gets its own deployment, at its own time.
def _seeded_at_default_time(clock: ManualClock) -> bool:
    return clock.now() == ManualClock().now()


@pytest.fixture(scope="session")
def seeded_sqlite_template(tmp_path_factory, sqlite_template) -> Path:
    path = tmp_path_factory.mktemp("seeded") / "govflow.db"
    shutil.copy(sqlite_template, path)
    runtime = build_runtime(f"sqlite:///{path}", ManualClock())
    runtime.session_factory.kw["bind"].dispose()  # the last connection closing checkpoints the WAL
    return path


def _seeded_sqlite(url: str, clock: ManualClock, template: Path):
    if not _seeded_at_default_time(clock):
        return build_runtime(url, clock)
    shutil.copy(template, url.removeprefix("sqlite:///"))
    return runtime_on(url, clock)


@pytest.fixture(scope="session")
def seeded_pg_template(pg_schema_url):
    """A schema holding the seeded library, and how to copy its rows into the test schema."""
    with _migrated_schema("govflow_seed") as (schema, url):
        runtime = build_runtime(url, ManualClock())
        engine = runtime.session_factory.kw["bind"]
        with engine.connect() as conn:
            positions = {name: tuple(conn.execute(text(f'SELECT last_value, is_called FROM "{name}"')).one())
                         for name in _sequences(conn)}
        engine.dispose()
        yield schema, positions


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def rt(request, tmp_path, clock):
    """A runtime on each backend with the process library deployed and the demo seeded."""
    seeded = _seeded_at_default_time(clock)
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'govflow.db'}"
        shutil.copy(request.getfixturevalue("seeded_sqlite_template" if seeded else "sqlite_template"),
                    url.removeprefix("sqlite:///"))
    else:
        url = request.getfixturevalue("pg_schema_url")
        _reset_pg(url, request.getfixturevalue("seeded_pg_template") if seeded else None)
    runtime = runtime_on(url, clock) if seeded else build_runtime(url, clock)
    yield runtime
    runtime.session_factory.kw["bind"].dispose()


@pytest.fixture
def sqlite_rt(sqlite_url, clock, seeded_sqlite_template):
    """The same on SQLite only, for tests that do not depend on the backend."""
    runtime = _seeded_sqlite(sqlite_url, clock, seeded_sqlite_template)
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
