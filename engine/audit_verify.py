"""Checking the audit chain (`govflow audit verify`, the 审计链校验 page).

Walks every event in id order and checks two things per row: its `prev_hash` is the stored
hash of the event before it (a removed, inserted or re-hashed row breaks this link), and its
own hash recomputes from its fields (an edited row breaks this). The first failure is named.

A chain alone cannot show that its newest events were cut off, or that someone with write
access recomputed every hash after an edit: for that, keep the head (id and hash) printed by a
verification somewhere else — a filed report, the inspector's notes — and pass it back as the
anchor: the anchor event must still be there with the same hash.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from db.audit_hash import FIELDS, GENESIS, row_hash
from db.session import reading

COLUMNS = ", ".join((*FIELDS, "prev_hash", "hash"))
SELECT_ALL = f"SELECT {COLUMNS} FROM audit_event ORDER BY id"
BATCH = 20_000


@dataclass(frozen=True)
class ChainReport:
    """The verdict: `ok`, how many events were checked, the head, and the first broken event."""

    ok: bool
    checked: int
    head_id: int | None
    head_hash: str | None
    broken_id: int | None = None
    problem: str = ""
    problem_en: str = ""

    def localized(self, lang: str = "zh") -> str:
        return self.problem_en if lang == "en" else self.problem

    @property
    def anchor(self) -> str:
        """`id:hash` of the head, to keep and pass back as --anchor later."""
        return f"{self.head_id}:{self.head_hash}" if self.head_id else ""


def parse_anchor(text: str) -> tuple[int, str]:
    """`123:abcd…` → (123, 'abcd…'); ValueError with a plain sentence otherwise."""
    ident, _, digest = (text or "").strip().partition(":")
    if not ident.isdigit() or len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise ValueError("锚点应写成“事件编号:64位十六进制哈希”，例如 1024:3fa4…")
    return int(ident), digest


def _rows(session: Session):
    """Every event as a tuple (FIELDS…, prev_hash, hash), in id order, fetched in batches."""
    conn = session.connection()
    if conn.dialect.name == "sqlite":
        cursor = conn.connection.driver_connection.execute(SELECT_ALL)  # raw: text as stored
        while batch := cursor.fetchmany(BATCH):
            yield from batch
    else:
        result = conn.execution_options(stream_results=True, yield_per=BATCH).exec_driver_sql(SELECT_ALL)
        yield from result


def verify_chain(session_factory: sessionmaker[Session], anchor: tuple[int, str] | None = None) -> ChainReport:
    """Check the whole chain; stops at the first broken event and names it."""
    loads = json.loads
    prev, prev_id, checked = GENESIS, None, 0
    anchor_seen = False
    with reading(session_factory) as session:
        for row in _rows(session):
            event_id, stored_prev, stored_hash = row[0], row[13], row[14]
            if stored_prev != prev:
                return _broken(checked, prev_id, prev, event_id, *_link_problem(event_id, prev_id))
            data = row[11]
            if isinstance(data, str):
                data = loads(data)
            if row_hash((*row[:11], data, row[12]), stored_prev) != stored_hash:
                return _broken(checked, prev_id, prev, event_id,
                               f"事件 {event_id} 的内容与其哈希不符：该记录在写入后被修改过。",
                               f"Event {event_id} does not match its hash: the row was changed after it was written.")
            if anchor and event_id == anchor[0]:
                anchor_seen = True
                if stored_hash != anchor[1]:
                    return _broken(checked, prev_id, prev, event_id,
                                   f"事件 {event_id} 的哈希与此前记录的锚点不符：审计链在该事件处或之前被改写并重新计算过。",
                                   f"Event {event_id} no longer has the anchored hash: the chain was rewritten "
                                   f"at or before it and its hashes recomputed.")
            prev, prev_id = stored_hash, event_id
            checked += 1
    if anchor and not anchor_seen:
        return _broken(checked, prev_id, prev, anchor[0],
                       f"此前记录的锚点事件 {anchor[0]} 已不存在：审计链末尾的事件被删除了。",
                       f"The anchored event {anchor[0]} is gone: events at the end of the chain were removed.")
    return ChainReport(ok=True, checked=checked, head_id=prev_id, head_hash=prev if prev_id else None)


def _link_problem(event_id: int, prev_id: int | None) -> tuple[str, str]:
    if prev_id is None:
        return (f"事件 {event_id} 是现存的第一个事件，但它指向一个更早的事件：此前的事件被删除了。",
                f"Event {event_id} is the first one left but points to an earlier event: events before it were removed.")
    return (f"事件 {event_id} 与前一个事件 {prev_id} 之间的链接断开：两者之间有事件被删除或插入，"
            f"或事件 {prev_id} 被改写。",
            f"The link from event {event_id} back to event {prev_id} is broken: an event between them was "
            f"removed or inserted, or event {prev_id} was rewritten.")


def _broken(checked, prev_id, prev, broken_id, problem, problem_en) -> ChainReport:
    return ChainReport(ok=False, checked=checked, head_id=prev_id, head_hash=prev if prev_id else None,
                       broken_id=broken_id, problem=problem, problem_en=problem_en)
