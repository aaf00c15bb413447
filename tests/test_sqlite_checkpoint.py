"""The embedded SQLite database: commits append to the write-ahead log, and the log is copied into
the database file by the sweep (every few seconds, in the worker) rather than by whichever web
request happens to cross the log's size limit."""

from __future__ import annotations

import sqlite3

import pytest

from db.session import make_engine
from engine.sweep import sweep
from tests.helpers import submit


def _file_only_count(url: str, table: str) -> int:
    """Rows of `table` in the database file itself, ignoring what is still only in the log."""
    path = url.removeprefix("sqlite:///")
    with sqlite3.connect(f"file:{path}?immutable=1", uri=True) as db:
        return db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def test_the_sweep_copies_committed_work_from_the_log_into_the_database_file(sqlite_rt, sqlite_users, sqlite_url):
    before = _file_only_count(sqlite_url, "process_instance")
    submit(sqlite_rt, sqlite_users["zhangsan"])
    assert _file_only_count(sqlite_url, "process_instance") == before  # committed, but only in the log
    sweep(sqlite_rt)
    assert _file_only_count(sqlite_url, "process_instance") == before + 1


def test_commits_leave_checkpoints_to_the_sweep_until_the_log_reaches_its_limit(tmp_path, monkeypatch):
    engine = make_engine(f"sqlite:///{tmp_path / 'a.db'}")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 10_000
    engine.dispose()
    monkeypatch.setenv("GOVFLOW_SQLITE_CHECKPOINT_PAGES", "2000")
    engine = make_engine(f"sqlite:///{tmp_path / 'b.db'}")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 2000
    engine.dispose()
    monkeypatch.setenv("GOVFLOW_SQLITE_CHECKPOINT_PAGES", "0")
    with pytest.raises(ValueError, match="GOVFLOW_SQLITE_CHECKPOINT_PAGES must be at least 1"):
        make_engine(f"sqlite:///{tmp_path / 'c.db'}")
