"""Statements compiled once and run straight on the database driver's cursor.

A command runs a dozen small statements. SQLAlchemy Core spends more Python on each execute
(cache key, execution context, result object) than SQLite spends running it, so the statements
every command runs are `Prepared`: the Core statement is compiled once per dialect, and a call
binds the parameters with the same type processors SQLAlchemy would use (UTC datetimes, JSON)
and executes on the DBAPI cursor of the session's connection — inside the session's transaction,
so the unit of work and its locks are unchanged. Statements built per call, rare statements and
anything with expanding (IN-list) parameters go through SQLAlchemy as usual.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session


@dataclass(frozen=True)
class _Compiled:
    sql: str
    positional: tuple[str, ...] | None  # bind names in order (qmark), None for named styles
    keys: dict[str, str]  # our parameter name -> the name the driver expects (escaped)
    defaults: dict[str, Any]  # binds with a value fixed in the statement (LIMIT 1, a literal)
    bind_processors: dict[str, Any]
    result_processors: tuple[Any, ...] | None


class Prepared:
    """A Core statement run on the DBAPI cursor. `columns`: an INSERT's column keys."""

    def __init__(self, statement, columns: Sequence[str] | None = None):
        self.statement = statement
        self.columns = list(columns) if columns is not None else None
        self._compiled: dict[str, _Compiled] = {}

    def _compile(self, dialect) -> _Compiled:
        compiled = self._compiled.get(dialect.name)
        if compiled is not None:
            return compiled
        kwargs = {"column_keys": self.columns} if self.columns is not None else {}
        result = self.statement.compile(dialect=dialect, **kwargs)
        if result.literal_execute_params or result.post_compile_params:
            raise ValueError("expanding or literal-execute parameters cannot be prepared")
        escaped = dict(result.escaped_bind_names or {})
        binds = result.binds
        processors = {}
        defaults = {}
        for name, bind in binds.items():
            processor = bind.type._cached_bind_processor(dialect)
            if processor is not None:
                processors[name] = processor
            if not bind.required and bind.callable is None:
                defaults[name] = bind.value
        # Columns with a Python-side default the statement does not set (INSERT … urge_count=0).
        for column in (*result.insert_prefetch, *result.update_prefetch):
            default = column.onupdate if column in result.update_prefetch else column.default
            if default is None or not default.is_scalar:
                raise ValueError(f"column {column.key} has a default that cannot be prepared")
            defaults[column.key] = default.arg
        # A SELECT's columns, or what an INSERT/UPDATE … RETURNING gives back.
        returned = list(self.statement.exported_columns)
        result_processors = tuple(column.type._cached_result_processor(dialect, None)
                                  for column in returned) if returned else None
        compiled = _Compiled(
            sql=result.string, positional=tuple(result.positiontup) if result.positional else None,
            keys={name: escaped.get(name, name) for name in binds}, defaults=defaults,
            bind_processors=processors, result_processors=result_processors)
        self._compiled[dialect.name] = compiled
        return compiled

    def _bind(self, compiled: _Compiled, params: Mapping[str, Any]):
        values = {**compiled.defaults, **params}
        for name, processor in compiled.bind_processors.items():
            if name in values:
                values[name] = processor(values[name])
        if compiled.positional is not None:
            return tuple(values[name] for name in compiled.positional)
        return {compiled.keys[name]: values[name] for name in compiled.keys}

    def _cursor(self, session: Session):
        # Like an ORM query: whatever the command changed through the ORM is sent first.
        if session.autoflush:
            session.flush()
        connection = session.connection()
        return connection.connection.dbapi_connection.cursor(), connection.dialect

    def _rows(self, compiled: _Compiled, cursor) -> list[tuple]:
        processors = compiled.result_processors
        rows = cursor.fetchall()
        if processors and any(processors):
            return [tuple(p(v) if p is not None else v for p, v in zip(processors, row, strict=True)) for row in rows]
        return rows

    def all(self, session: Session, params: Mapping[str, Any] | None = None) -> list[tuple]:
        """Every row the statement returns."""
        cursor, dialect = self._cursor(session)
        compiled = self._compile(dialect)
        try:
            cursor.execute(compiled.sql, self._bind(compiled, params or {}))
            return self._rows(compiled, cursor)
        finally:
            cursor.close()

    def first(self, session: Session, params: Mapping[str, Any] | None = None) -> tuple | None:
        rows = self.all(session, params)
        return rows[0] if rows else None

    def scalar(self, session: Session, params: Mapping[str, Any] | None = None):
        row = self.first(session, params)
        return row[0] if row is not None else None

    def execute(self, session: Session, params: Mapping[str, Any] | None = None) -> int:
        """Run a statement that returns no rows; returns the driver's row count."""
        cursor, dialect = self._cursor(session)
        compiled = self._compile(dialect)
        try:
            cursor.execute(compiled.sql, self._bind(compiled, params or {}))
            return cursor.rowcount
        finally:
            cursor.close()

    def execute_many(self, session: Session, rows: Sequence[Mapping[str, Any]]) -> None:
        """Run the statement once per parameter set (one driver call)."""
        if not rows:
            return
        cursor, dialect = self._cursor(session)
        compiled = self._compile(dialect)
        try:
            cursor.executemany(compiled.sql, [self._bind(compiled, row) for row in rows])
        finally:
            cursor.close()
