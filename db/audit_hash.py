"""The audit chain's canonical form and hash (version GF1), shared by the writer, the verifier,
the migration that chains rows written before the chain existed, and the benchmark.

An event's hash is SHA-256 over the UTF-8 bytes of one compact JSON array:

    ["GF1", id, occurred_at, actor_id, actor_name, role, org_unit_id, action, instance_id,
     task_id, task_name, opinion, data, client_addr, on_behalf_of_id, prev_hash]

- `occurred_at` is UTC written as `YYYY-MM-DD HH:MM:SS.ffffff` (microseconds always present);
- `data` is the JSON value with object keys sorted (as stored and read back, so integer keys
  are already strings); strings are written as themselves (`ensure_ascii=False`);
- `prev_hash` is the previous event's hash (by id), or 64 zeros for the first event.

Every field of the row is covered, so changing any of them, removing a row or adding one
breaks either this row's hash or the next row's link. Only stdlib here: a migration imports it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from hashlib import sha256

VERSION = "GF1"
GENESIS = "0" * 64
FIELDS = ("id", "occurred_at", "actor_id", "actor_name", "role", "org_unit_id", "action", "instance_id",
          "task_id", "task_name", "opinion", "data", "client_addr", "on_behalf_of_id")

canonical_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode


def canonical_time(value: datetime | str) -> str:
    """UTC, microseconds always written: the form SQLite stores, and what a datetime is hashed as."""
    if isinstance(value, str):  # SQLite's stored text, already in this form
        return value
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.isoformat(" ", "microseconds")


def normalise_data(data):
    """The value as it reads back after a JSON round trip (keys become strings, tuples lists)."""
    return None if data is None else json.loads(json.dumps(data))


def event_hash(event: dict, prev_hash: str) -> str:
    """The hash of one event (a mapping with FIELDS), chained to `prev_hash`."""
    return row_hash((event["id"], event["occurred_at"], event["actor_id"], event["actor_name"], event["role"],
                     event["org_unit_id"], event["action"], event["instance_id"], event["task_id"],
                     event["task_name"], event["opinion"], event["data"], event["client_addr"],
                     event.get("on_behalf_of_id")), prev_hash)


def row_hash(row: tuple, prev_hash: str) -> str:
    """The hash of a row given as a tuple in FIELDS order (the verifier's fast path)."""
    return sha256(canonical_json([VERSION, row[0], canonical_time(row[1]), *row[2:], prev_hash])
                  .encode("utf-8", "surrogatepass")).hexdigest()
