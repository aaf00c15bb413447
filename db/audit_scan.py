"""One slice of the audit chain, checked in a worker process (engine/audit_verify.py splits a
large table by id range across cores). Imports only the standard library and SQLAlchemy, so a
spawned worker starts quickly."""

from __future__ import annotations

import json
from hashlib import sha256

from .audit_hash import VERSION, canonical_json, canonical_time

COLUMNS = ("id, occurred_at, actor_id, actor_name, role, org_unit_id, action, instance_id, task_id, task_name, "
           "opinion, data, client_addr, on_behalf_of_id, prev_hash, hash")
BATCH = 20_000


def rows_between(conn, low: int, high: int):
    """Events with low < id <= high, in id order: raw driver rows on SQLite, streamed on PostgreSQL."""
    sql = f"SELECT {COLUMNS} FROM audit_event WHERE id > {int(low)} AND id <= {int(high)} ORDER BY id"
    if conn.dialect.name == "sqlite":
        cursor = conn.connection.driver_connection.execute(sql)
        while batch := cursor.fetchmany(BATCH):
            yield from batch
    else:
        yield from conn.execution_options(stream_results=True, yield_per=BATCH).exec_driver_sql(sql)


def scan(conn, low: int, high: int):
    """Check the slice's hashes and inner links.

    Returns (checked, first, last, broken): `first` is (id, prev_hash) of its first event, `last`
    (id, hash) of its last, `broken` None or (event id, kind) with kind "hash" or "link".
    """
    # db.audit_hash.row_hash, inlined: this loop runs once per event of the whole trail.
    loads, encode, digest, version, stamp = json.loads, canonical_json, sha256, VERSION, canonical_time
    checked, first, prev, prev_id = 0, None, None, None
    for row in rows_between(conn, low, high):
        event_id, stored_prev, stored_hash = row[0], row[14], row[15]
        if first is None:
            first = (event_id, stored_prev)
        elif stored_prev != prev:
            return checked, first, (prev_id, prev), (event_id, "link")
        data = row[11]
        if type(data) is str:
            data = loads(data)
        at = row[1]
        canonical = encode([version, event_id, at if type(at) is str else stamp(at), row[2], row[3], row[4], row[5],
                            row[6], row[7], row[8], row[9], row[10], data, row[12], row[13], stored_prev])
        if digest(canonical.encode("utf-8", "surrogatepass")).hexdigest() != stored_hash:
            return checked, first, (prev_id, prev), (event_id, "hash")
        prev, prev_id = stored_hash, event_id
        checked += 1
    return checked, first, (prev_id, prev), None


def scan_url(url: str, low: int, high: int):
    """`scan` on its own connection (the entry point of a worker process)."""
    from sqlalchemy import create_engine

    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return scan(conn, low, high)
    finally:
        engine.dispose()
