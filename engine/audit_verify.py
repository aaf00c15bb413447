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

import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context

from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from db.audit_hash import GENESIS
from db.audit_scan import scan, scan_url
from db.session import reading


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


PARALLEL_FROM = 200_000  # events; below this one process is quicker than starting workers


def verify_chain(session_factory: sessionmaker[Session], anchor: tuple[int, str] | None = None,
                 workers: int | None = 1) -> ChainReport:
    """Check the whole chain; stops at the first broken event and names it.

    With `workers` > 1 (None: one per core, at most 4, from PARALLEL_FROM events on) the trail is
    split by id range over spawned worker processes; each checks its slice and the links between
    slices are checked here. Spawning re-imports the caller's main module, so only entry points
    with a `__main__` guard (the `govflow` command, the benchmark) ask for workers; the web page
    checks in its own thread. Events appended while it runs (beyond the highest id at the start)
    are left for the next check.
    """
    with reading(session_factory) as session:
        conn = session.connection()
        count, high = conn.execute(text("SELECT count(*), max(id) FROM audit_event")).one()
        if workers is None:
            workers = min(os.cpu_count() or 1, 4) if count >= PARALLEL_FROM else 1
        if workers == 1 or not count:
            slices = [scan(conn, 0, high or 0)]
    if workers > 1 and count:
        low = 0
        cuts = [low + (high - low) * k // workers for k in range(workers + 1)]
        url = session_factory.kw["bind"].url.render_as_string(hide_password=False)
        with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
            slices = list(pool.map(scan_url, [url] * workers, cuts[:-1], cuts[1:]))
    prev, prev_id, checked = GENESIS, None, 0
    for done, first, last, broken in slices:
        if first is not None and first[1] != prev:
            return _broken(checked, prev_id, prev, first[0], *_link_problem(first[0], prev_id))
        if broken is not None:
            event_id, kind = broken
            head_id, head = last if last[0] is not None else (prev_id, prev)
            if kind == "link":
                return _broken(checked + done, head_id, head, event_id, *_link_problem(event_id, head_id))
            return _broken(checked + done, head_id, head, event_id,
                           f"事件 {event_id} 的内容与其哈希不符：该记录在写入后被修改过。",
                           f"Event {event_id} does not match its hash: the row was changed after it was written.")
        if first is not None:
            prev_id, prev = last
        checked += done
    if anchor:
        with reading(session_factory) as session:
            anchored = session.connection().execute(text("SELECT hash FROM audit_event WHERE id = :i"),
                                                    {"i": anchor[0]}).scalar()
        if anchored is None:
            return _broken(checked, prev_id, prev, anchor[0],
                           f"此前记录的锚点事件 {anchor[0]} 已不存在：审计链末尾的事件被删除了。",
                           f"The anchored event {anchor[0]} is gone: events at the end of the chain were removed.")
        if anchored != anchor[1]:
            return _broken(checked, prev_id, prev, anchor[0],
                           f"事件 {anchor[0]} 的哈希与此前记录的锚点不符：审计链在该事件处或之前被改写并重新计算过。",
                           f"Event {anchor[0]} no longer has the anchored hash: the chain was rewritten "
                           f"at or before it and its hashes recomputed.")
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
