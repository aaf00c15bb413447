"""Database engines and the unit of work.

One command = one transaction: `transaction(factory)` is the only place that commits.
On SQLite every write transaction starts with BEGIN IMMEDIATE, so two writers queue on the
database lock instead of both reading the same old state and failing on upgrade; that is our
SQLite equivalent of PostgreSQL's row locks. Readers use plain (deferred) transactions and,
in WAL mode, never wait for writers.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

DEFAULT_SQLITE_PATH = Path("instance") / "govflow.db"

log = logging.getLogger(__name__)


def database_url() -> str:
    """The configured database: GOVFLOW_DATABASE_URL, else the embedded SQLite file."""
    url = os.environ.get("GOVFLOW_DATABASE_URL")
    if url:
        return url
    DEFAULT_SQLITE_PATH.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{DEFAULT_SQLITE_PATH}"


def make_engine(url: str | None = None, **kwargs) -> Engine:
    """An Engine with our SQLite settings (WAL, foreign keys, busy timeout) applied."""
    url = url or database_url()
    if url.startswith("sqlite"):
        checkpoint_pages = _checkpoint_pages()
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, **kwargs)
        event.listen(engine, "connect", partial(_configure_sqlite, checkpoint_pages=checkpoint_pages))
        event.listen(engine, "begin", _begin_sqlite)
        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return create_engine(url, pool_pre_ping=True, **kwargs)


def _checkpoint_pages() -> int:
    """GOVFLOW_SQLITE_CHECKPOINT_PAGES: the log size (4 KB pages) at which a committing connection
    copies the write-ahead log into the database file itself. The sweep does it every few seconds
    (`checkpoint`), so a web request pays for it only when the log outgrows this; SQLite's own
    default of 1,000 pages made every ~60th review command pay for the copy."""
    pages = int(os.environ.get("GOVFLOW_SQLITE_CHECKPOINT_PAGES") or 10_000)
    if pages < 1:
        raise ValueError("GOVFLOW_SQLITE_CHECKPOINT_PAGES must be at least 1")
    return pages


def checkpoint(engine: Engine) -> None:
    """Copy the SQLite write-ahead log into the database file, as far as no reader needs it
    (PASSIVE: never waits for, nor blocks, readers and writers). Nothing to do elsewhere."""
    if engine.dialect.name == "sqlite":
        with engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")


def _configure_sqlite(dbapi_connection, _record, checkpoint_pages: int = 10_000) -> None:
    # Hand transaction control to SQLAlchemy's begin event (pysqlite's own BEGIN is
    # always deferred and cannot be made IMMEDIATE).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute(f"PRAGMA wal_autocheckpoint={int(checkpoint_pages)}")
    cursor.close()


_BEGIN = {"DEFERRED": "BEGIN DEFERRED", "IMMEDIATE": "BEGIN IMMEDIATE"}


def _begin_sqlite(connection) -> None:
    # Straight on the driver: every transaction starts here, and SQLAlchemy's execution context
    # for one fixed statement cost as much as a command's lock-and-read.
    statement = _BEGIN[connection.get_execution_options().get("sqlite_begin", "DEFERRED")]
    connection.connection.driver_connection.execute(statement)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


def is_sqlite(session_or_engine) -> bool:
    bind = session_or_engine.get_bind() if isinstance(session_or_engine, Session) else session_or_engine
    return bind.dialect.name == "sqlite"


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A write transaction: commits when the block ends, rolls back on any exception.

    Callables added with `after_commit(session, fn)` run once the commit succeeded and the
    session is closed (e.g. handing a job to the broker): never for a rolled-back transaction.
    """
    session = factory()
    try:
        # On SQLite take the write lock now (BEGIN IMMEDIATE); elsewhere a no-op option.
        session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})
        yield session
        for callback in session.info.pop(BEFORE_COMMIT, []):
            callback()
        session.commit()
        pending = session.info.pop(AFTER_COMMIT, [])
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
    for callback in pending:
        try:
            callback()
        except Exception:  # the work is committed; whatever was to follow is retried by the sweep
            log.exception("after-commit callback failed")


AFTER_COMMIT = "govflow.after_commit"
BEFORE_COMMIT = "govflow.before_commit"


def before_commit(session: Session, callback) -> None:
    """Run `callback` inside the transaction just before it commits (e.g. writing staged rows)."""
    session.info.setdefault(BEFORE_COMMIT, []).append(callback)


def after_commit(session: Session, callback) -> None:
    """Run `callback` after this session's transaction commits (see `transaction`)."""
    session.info.setdefault(AFTER_COMMIT, []).append(callback)


@contextmanager
def reading(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A read-only session. Closing ends its transaction (nothing staged is written) and, unlike
    rollback(), leaves loaded attributes readable after the block."""
    session = factory()
    try:
        yield session
    finally:
        session.close()
