# ruff: noqa: E402  (imports follow the sys.path repair below)
"""Audit-trail benchmark: verifying a 1M-event chain, and the auditor's search against a bare SELECT.

Prints figures with PASS/MISS; asserts nothing and exits 0 (run by `make bench`; see bench/README.md).
In a fresh SQLite file (migrated, demo organisation seeded):
  - bulk insert: N chained events (hashes computed with db.audit_hash, as the engine does), in
    batches of 50,000 through one executemany each; spread over a year, over the demo's 13 people;
  - verify: `engine.audit_verify.verify_chain` over the whole table (target: 1M events in < 10 s);
  - search: `engine.audit_search.search_events` by person and date range (first page, 50 rows,
    in its own read session, as a page request does), for an auditor at the top unit (no scope
    condition) and one at the district (scope condition), against the bare indexed SELECT of the
    same 50 rows through sqlite3; the same random (person, 7-day window) samples for both; p95 of
    each and the ratio (target: search p95 <= 20x the bare SELECT's).
"""

from __future__ import annotations

import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent
sys.path[:] = [str(_HERE.parent)] + [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import argparse
import json
import os
import platform
import random
import sqlite3
import statistics
import tempfile
import time
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select

from db.audit_hash import GENESIS, canonical_time, event_hash
from db.migrate import upgrade
from db.models import OrgUnit, RoleGrant, User
from db.session import reading, transaction
from engine import make_runtime, seed_demo
from engine.audit_search import EventFilter, search_events
from engine.audit_verify import verify_chain

VERIFY_TARGET_S_PER_MILLION = 10.0
SEARCH_TARGET_RATIO = 20.0
BARE = ("SELECT id, occurred_at, actor_id, actor_name, role, org_unit_id, action, instance_id, task_name, opinion, "
        "data, client_addr FROM audit_event WHERE actor_id = ? AND occurred_at >= ? AND occurred_at < ? "
        "ORDER BY occurred_at DESC, id DESC LIMIT 50")


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1]


def bulk_insert(path: Path, people: list[tuple[int, str, int]], count: int, start: datetime) -> float:
    """N chained events straight into the table (what years of commands would have written)."""
    rng = random.Random(7)
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    began = time.perf_counter()
    prev, step = GENESIS, timedelta(seconds=365 * 86400 / count)
    columns = ("id", "occurred_at", "actor_id", "actor_name", "role", "org_unit_id", "action", "instance_id",
               "task_id", "task_name", "opinion", "data", "client_addr", "prev_hash", "hash")
    sql = f"INSERT INTO audit_event ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
    batch = []
    for ident in range(1, count + 1):
        actor_id, name, unit = people[rng.randrange(len(people))]
        outcome = rng.random() < 0.9
        event = {"id": ident, "occurred_at": canonical_time(start + step * ident), "actor_id": actor_id,
                 "actor_name": name, "role": "reviewer", "org_unit_id": unit, "action": "complete",
                 "instance_id": None, "task_id": None, "task_name": "审核",
                 "opinion": "同意" if outcome else "请补充检查范围",
                 "data": {"outcome": "pass" if outcome else "return", "outcome_label": "通过" if outcome else "退回修改",
                          "step": "review"},
                 "client_addr": "127.0.0.1"}
        digest = event_hash(event, prev)
        batch.append((*(event[c] if c != "data" else json.dumps(event["data"]) for c in columns[:13]), prev, digest))
        prev = digest
        if len(batch) == 50_000:
            db.executemany(sql, batch)
            db.commit()
            batch.clear()
    if batch:
        db.executemany(sql, batch)
        db.commit()
    db.close()
    return time.perf_counter() - began


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--searches", type=int, default=300)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="govflow-bench-audit-"))
    path = workdir / "audit.db"
    url = f"sqlite:///{path}"
    upgrade(url)
    rt = make_runtime(url)
    seed_demo(rt)
    with transaction(rt.session_factory) as session:  # an auditor at the top unit, besides the district's
        top = session.scalar(select(OrgUnit.id).where(OrgUnit.parent_id.is_(None)))
        auditor = session.scalar(select(User).where(User.username == "chenjing"))
        top_auditor = User(username="audit_top", real_name="省审计员", password_hash="-", org_unit_id=top,
                           active=True, created_at=datetime.now(UTC))
        session.add(top_auditor)
        session.flush()
        session.add(RoleGrant(user_id=top_auditor.id, role="auditor", org_unit_id=top))
        people = [(u.id, u.real_name, u.org_unit_id) for u in session.scalars(select(User).where(User.username != "audit_top"))]
        viewers = {"top": top_auditor.id, "district": auditor.id}
    start = datetime(2025, 1, 1, tzinfo=UTC)
    insert_s = bulk_insert(path, people, args.events, start)

    load = os.getloadavg()[0]
    began, cpu = time.perf_counter(), time.process_time()
    report = verify_chain(rt.session_factory, workers=1)
    verify_s, verify_cpu = time.perf_counter() - began, time.process_time() - cpu
    per_million, cpu_per_million = (verify_s * 1_000_000 / args.events, verify_cpu * 1_000_000 / args.events)
    began = time.perf_counter()
    parallel = verify_chain(rt.session_factory, workers=len(os.sched_getaffinity(0)))
    parallel_s = time.perf_counter() - began

    rng = random.Random(11)
    samples = []
    for _ in range(args.searches):
        day = date(2025, 1, 1) + timedelta(days=rng.randrange(355))
        samples.append((people[rng.randrange(len(people))][0], day, day + timedelta(days=6)))
    bare_db = sqlite3.connect(path)
    bare, searched = [], {"top": [], "district": []}
    for actor_id, first, last in samples:
        lo = datetime(first.year, first.month, first.day) - timedelta(hours=8)  # Beijing midnight, as UTC text
        hi = datetime(last.year, last.month, last.day) + timedelta(hours=16)
        t0 = time.perf_counter()
        rows = bare_db.execute(BARE, (actor_id, canonical_time(lo), canonical_time(hi))).fetchall()
        bare.append(time.perf_counter() - t0)
        for name, viewer_id in viewers.items():
            t0 = time.perf_counter()
            with reading(rt.session_factory) as session:
                page = search_events(session, session.get(User, viewer_id),
                                     EventFilter(actor_id=actor_id, date_from=first, date_to=last))
            searched[name].append(time.perf_counter() - t0)
            if name == "top" and [r.id for r in page.rows] != [r[0] for r in rows]:
                print("WARNING: the search and the bare SELECT returned different rows", file=sys.stderr)
    bare_p95 = p95(bare)

    def verdict(ok: bool) -> str:
        return "PASS" if ok else "MISS"

    print(f"audit bench — Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, {args.events:,} events")
    print(f"  bulk insert (chained)      {insert_s:8.1f} s   ({args.events / insert_s:,.0f} events/s)")
    print(f"  load average before verify {load:8.2f}   (2 cores shared: wall time includes waiting for a core)")
    print(f"  verify chain, 1 process    {verify_s:8.2f} s   wall ({per_million:.2f} s per million), {verify_cpu:.2f} s CPU "
          f"({cpu_per_million:.2f} s per million); chain {'intact' if report.ok else 'BROKEN'}, {report.checked:,} checked")
    print(f"  verify chain, parallel     {parallel_s:8.2f} s   wall ({parallel_s * 1_000_000 / args.events:.2f} s per million; "
          f"{'intact' if parallel.ok else 'BROKEN'}; one process per core, `govflow audit verify --workers N`)")
    best = min(per_million, parallel_s * 1_000_000 / args.events)
    print(f"  verify target < {VERIFY_TARGET_S_PER_MILLION:.0f} s per million: wall {verdict(report.ok and best < VERIFY_TARGET_S_PER_MILLION)}, "
          f"CPU {verdict(report.ok and cpu_per_million < VERIFY_TARGET_S_PER_MILLION)}")
    print(f"  bare indexed SELECT p95    {bare_p95 * 1000:8.3f} ms  (median {statistics.median(bare) * 1000:.3f} ms)")
    for name, label in (("top", "top-unit auditor"), ("district", "district auditor")):
        ratio = p95(searched[name]) / bare_p95
        print(f"  search p95, {label:16} {p95(searched[name]) * 1000:8.3f} ms  (median "
              f"{statistics.median(searched[name]) * 1000:.3f} ms)  ratio {ratio:5.1f}x   target <= "
              f"{SEARCH_TARGET_RATIO:.0f}x: {verdict(ratio <= SEARCH_TARGET_RATIO)}")
    print(f"  ({args.searches} searches by person over a 7-day window, first page of 50; data in {workdir})")
    rt.session_factory.kw["bind"].dispose()
    import shutil

    shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
