# ruff: noqa: E402  (imports follow the sys.path repair below)
"""Inbox benchmark: the 待办 list at 1,000,000 open tasks over 5,000 users and 200 units.

Prints figures and PASS/MISS against the targets; asserts nothing and exits 0 (run by
`make bench`; see bench/README.md). One run per backend:
  1. seed: a fresh database (SQLite file, or a new PostgreSQL schema), migrated, the process
     library deployed; 200 units, 5,000 users with roles, then N open `human_task` rows (and
     their instances) by bulk insert. One hot group (the reviewers of unit 1) holds 10% of them.
  2. queries, in process: the 待办 first page (`engine.inbox.todo_page`, 50 rows), the keyset next
     page, and the count badge (`todo_count`), for a sample of users; and the baseline: one plain
     indexed SELECT of the same 50 rows by primary key. Target: p95 ≤ 20× the baseline's p95.
  3. HTTP: the same as rendered pages from a local server on 127.0.0.1 (GET /inbox/, the next page,
     and GET /inbox/count for the badge). Target: p95 < 100 ms.
  4. completing a task (`complete_task`, a real 三审三校 review) among the N open rows.
     Target: p99 < 50 ms server-side.
"""

from __future__ import annotations

import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent
sys.path[:] = [str(_HERE.parent)] + [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import argparse
import http.client
import os
import random
import re
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from sqlalchemy import create_engine, select, text

from db.migrate import upgrade
from db.models import HumanTask, OrgUnit, ProcessDefinition, RoleGrant, User
from db.session import reading
from engine import (
    Actor,
    ManualClock,
    complete_task,
    deploy_directory,
    make_runtime,
    seed_demo,
    submit_content,
)
from engine.accounts import hash_password
from engine.inbox import todo_count, todo_page

ROOT = _HERE.parent
NOW = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
PASSWORD = "bench"
QUERY_RATIO_TARGET = 20
HTTP_TARGET_MS = 100
COMPLETE_P99_TARGET_MS = 50
GROUP_ROLES = ("reviewer", "signer")
HOT_SHARE = 0.10  # of the tasks, in one group: its members' badge is capped at "999+"


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


# --- seeding -----------------------------------------------------------------------------------

def seed(rt, tasks: int, users: int, units: int, rng: random.Random) -> dict:
    """Units, users with roles, and `tasks` open inbox rows with their instances, by bulk insert."""
    started = time.perf_counter()
    engine = rt.session_factory.kw["bind"]
    with reading(rt.session_factory) as session:
        definition_id = session.scalar(select(ProcessDefinition.id).where(ProcessDefinition.key == "content_review"))
        top = session.scalar(select(OrgUnit.id).where(OrgUnit.parent_id.is_(None)))
        next_unit = (session.scalar(select(OrgUnit.id).order_by(OrgUnit.id.desc()).limit(1)) or 0) + 1
        next_user = (session.scalar(select(User.id).order_by(User.id.desc()).limit(1)) or 0) + 1
    password_hash = hash_password(PASSWORD)
    unit_ids = list(range(next_unit, next_unit + units))
    user_ids = list(range(next_user, next_user + users))
    per_unit = users // units
    # each user one role in their unit: 2 reviewers, 2 signers, the rest editors and other roles
    role_cycle = ["reviewer", "reviewer", "signer", "signer", "unit_head"] + ["editor"] * (per_unit - 5)
    unit_rows = [(u, f"基准单位{u}", "unit", top) for u in unit_ids]
    user_rows, grant_rows, members = [], [], {}
    for index, user_id in enumerate(user_ids):
        unit = unit_ids[min(index // per_unit, units - 1)]
        role = role_cycle[index % per_unit] if index % per_unit < len(role_cycle) else "editor"
        user_rows.append((user_id, f"bench{user_id}", f"基准用户{user_id}", password_hash, unit, True,
                          NOW.replace(tzinfo=None) if engine.dialect.name == "sqlite" else NOW))
        grant_rows.append((user_id, role, unit))
        members.setdefault((role, unit), []).append(user_id)
    groups = [key for key in members if key[0] in GROUP_ROLES]
    hot = ("reviewer", unit_ids[0])
    instance_rows, task_rows = [], []
    sqlite = engine.dialect.name == "sqlite"

    def stamp(value):
        return value.replace(tzinfo=None) if sqlite and value is not None else value

    with engine.begin() as conn:
        first_instance = (conn.execute(text("SELECT coalesce(max(id), 0) FROM process_instance")).scalar() or 0) + 1
        first_task = (conn.execute(text("SELECT coalesce(max(id), 0) FROM human_task")).scalar() or 0) + 1
    for n in range(tasks):
        instance_id, task_id = first_instance + n, first_task + n
        if n < tasks * HOT_SHARE:
            role, unit = hot
            assignee = None
        elif rng.random() < 0.3:
            role, unit = rng.choice(groups)
            assignee = rng.choice(members[(role, unit)])
        else:
            role, unit = rng.choice(groups)
            assignee = None
        due = stamp(NOW + timedelta(minutes=rng.randint(-5 * 1440, 20 * 1440))) if rng.random() < 0.6 else None
        starter = rng.choice(user_ids)
        title = f"关于第{n}号事项的通知"
        instance_rows.append((instance_id, definition_id, "running", "", 1, f"content:{n}", title, unit, starter,
                              stamp(NOW)))
        task_rows.append((task_id, instance_id, str(uuid.UUID(int=n)), "review", "内容审核（二审）", role, unit, assignee,
                          "ready", stamp(NOW), due, "content_review", title, f"content:{n}", unit, 0))
    with engine.begin() as conn:
        _bulk(conn, "org_unit", ("id", "name", "level", "parent_id"), unit_rows)
        _bulk(conn, "user_account", ("id", "username", "real_name", "password_hash", "org_unit_id", "active",
                                     "created_at"), user_rows)
        _bulk(conn, "role_grant", ("user_id", "role", "org_unit_id"), grant_rows)
    for start in range(0, tasks, 100_000):  # one transaction per 100k keeps memory and WAL in bounds
        with engine.begin() as conn:
            _bulk(conn, "process_instance", ("id", "definition_id", "status", "state", "version", "business_key",
                                             "title", "org_unit_id", "started_by_id", "started_at"),
                  instance_rows[start:start + 100_000])
            _bulk(conn, "human_task", ("id", "instance_id", "spiff_task_id", "bpmn_id", "name", "role", "org_unit_id",
                                       "assignee_id", "state", "created_at", "due_at", "process_key", "title",
                                       "business_key", "request_unit_id", "urge_count"),
                  task_rows[start:start + 100_000])
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":  # COPY with explicit ids leaves the sequences behind
            for table in ("org_unit", "user_account", "process_instance", "human_task"):
                conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"))
        conn.execute(text("ANALYZE"))
    return {"seconds": time.perf_counter() - started, "members": members, "groups": groups, "hot": hot,
            "user_ids": user_ids}


def _bulk(conn, table: str, columns: tuple, rows: list) -> None:
    if not rows:
        return
    raw = conn.connection.driver_connection
    names = ", ".join(columns)
    if conn.dialect.name == "postgresql":
        with raw.cursor() as cursor, cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
    else:
        marks = ", ".join("?" for _ in columns)
        raw.cursor().executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})", rows)


# --- in-process queries ----------------------------------------------------------------------

def sample_users(world: dict, rng: random.Random, count: int) -> list[int]:
    holders = [u for key in world["groups"] for u in world["members"][key]]
    picked = rng.sample(holders, min(count - 5, len(holders)))
    return world["members"][world["hot"]][:5] + picked  # the hot group's members among them


def measure_queries(rt, users: list[int]) -> dict:
    first, second, count, bare, page_rows, badges = [], [], [], [], [], []
    with reading(rt.session_factory) as session:
        for user_id in users:
            started = time.perf_counter()
            page = todo_page(session, user_id, NOW)
            first.append(time.perf_counter() - started)
            page_rows.append(len(page.rows))
            ids = [row.id for row in page.rows]
            if page.next_cursor:
                started = time.perf_counter()
                todo_page(session, user_id, NOW, cursor=page.next_cursor)
                second.append(time.perf_counter() - started)
            started = time.perf_counter()
            badges.append(str(todo_count(session, user_id, NOW)))
            count.append(time.perf_counter() - started)
            if ids:
                started = time.perf_counter()
                session.connection().execute(select(HumanTask.__table__).where(HumanTask.id.in_(ids))).all()
                bare.append(time.perf_counter() - started)
            session.expunge_all()
        plan = session.execute(text(("EXPLAIN QUERY PLAN " if rt.session_factory.kw["bind"].dialect.name == "sqlite"
                                     else "EXPLAIN ") + _branch_sql(rt, users[0]))).all()
    return {"first": first, "next": second, "count": count, "bare": bare, "rows": page_rows,
            "badges": badges, "plan": [" ".join(str(c) for c in row) for row in plan]}


def _branch_sql(rt, user_id: int) -> str:
    with reading(rt.session_factory) as session:
        role, unit = session.execute(select(RoleGrant.role, RoleGrant.org_unit_id).where(RoleGrant.user_id == user_id)).one()
    return (f"SELECT id, due_at FROM human_task WHERE role = '{role}' AND org_unit_id = {unit} AND state = 'ready' "
            "AND assignee_id IS NULL AND (due_at, id) > ('1970-01-02', 0) ORDER BY due_at, id LIMIT 51")


# --- HTTP --------------------------------------------------------------------------------------

class Browser:
    """A keep-alive HTTP client with a cookie jar, enough to log in and fetch pages."""

    def __init__(self, base: str):
        parts = urlsplit(base)
        self.conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, body: str | None = None) -> tuple[int, str, dict]:
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        self.conn.request(method, path, body=body, headers=headers)
        response = self.conn.getresponse()
        data = response.read().decode("utf-8")
        for header in response.headers.get_all("Set-Cookie") or []:
            name, _, rest = header.partition("=")
            self.cookies[name] = rest.split(";", 1)[0]
        return response.status, data, dict(response.headers)

    def login(self, username: str) -> None:
        from urllib.parse import urlencode

        _status, html, _ = self.request("GET", "/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
        status, _, _ = self.request("POST", "/login", urlencode({"username": username, "password": PASSWORD,
                                                                 "csrf_token": token}))
        assert status == 302, status


def measure_http(rt, users: list[int], rounds: int) -> dict:
    import logging

    from werkzeug.serving import make_server

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no access log on the terminal

    from webui import create_app

    app = create_app({"SECRET_KEY": "bench", "GOVFLOW_RUNTIME": rt})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    first, second, badge = [], [], []
    try:
        with reading(rt.session_factory) as session:
            names = dict(session.execute(select(User.id, User.username).where(User.id.in_(users))).all())
        for user_id in users[:rounds]:
            browser = Browser(f"http://127.0.0.1:{server.server_port}")
            browser.login(names[user_id])
            started = time.perf_counter()
            status, html, _ = browser.request("GET", "/inbox/")
            first.append(time.perf_counter() - started)
            assert status == 200, status
            found = re.search(r'href="([^"]+)" rel="next"', html)
            if found:
                started = time.perf_counter()
                status, _, _ = browser.request("GET", found.group(1).replace("&amp;", "&"))
                second.append(time.perf_counter() - started)
                assert status == 200, status
            started = time.perf_counter()
            status, _, _ = browser.request("GET", "/inbox/count")
            badge.append(time.perf_counter() - started)
            browser.conn.close()
    finally:
        server.shutdown()
        thread.join(timeout=10)
    return {"first": first, "next": second, "count": badge}


# --- completing a task ----------------------------------------------------------------------

def measure_completion(rt, count: int) -> list[float]:
    with reading(rt.session_factory) as session:
        who = {u.username: Actor(u.id) for u in session.scalars(select(User).where(User.username.in_(("zhangsan", "lisi"))))}
    items = [submit_content(rt, who["zhangsan"], title=f"基准稿件{n}", body="正文", target_kind="wechat",
                            target_name="区教育发布") for n in range(count)]
    with reading(rt.session_factory) as session:
        reviews = list(session.scalars(select(HumanTask.id).where(HumanTask.instance_id.in_(items),
                                                                  HumanTask.state == "ready")))
    times = []
    for task_id in reviews:
        started = time.perf_counter()
        complete_task(rt, task_id, who["lisi"], outcome="pass", opinion="同意")
        times.append(time.perf_counter() - started)
    return times


# --- one backend ------------------------------------------------------------------------------

def run(url: str, args, label: str) -> None:
    rng = random.Random(8)
    print(f"\n== {label}: {args.tasks:,} open tasks, {args.users:,} users, {args.units} units ==")
    upgrade(url)
    rt = make_runtime(url, ManualClock(NOW))
    rt.dispatcher = rt.notifier = None
    rt.files_dir = tempfile.mkdtemp(prefix="govflow-bench-files-")
    deploy_directory(rt, ROOT / "processes", deployed_by="bench")
    seed_demo(rt, password=PASSWORD)
    world = seed(rt, args.tasks, args.users, args.units, rng)
    print(f"seeded in {world['seconds']:.1f} s")
    users = sample_users(world, rng, args.samples)
    measure_queries(rt, users[:5])  # warm caches and the definition cache
    q = measure_queries(rt, users)
    h = measure_http(rt, users, args.http_samples)
    c = measure_completion(rt, args.completions)
    typical = sorted(q["badges"][5:], key=lambda b: int(b.rstrip("+")))
    print(f"sampled users: {len(users)}; the first 5 hold the hot group of {int(args.tasks * HOT_SHARE):,} tasks "
          f"(badge {q['badges'][0]}); the others' badges: median {typical[len(typical) // 2]}, max {typical[-1]}; "
          f"rows on a first page: {min(q['rows'])}–{max(q['rows'])}")
    bare95 = pct(q["bare"], 95)
    print(f"{'figure':44} {'p50':>10} {'p95':>10} {'p95 / bare':>11}  verdict")
    for name, values in (("待办 first page, query (todo_page)", q["first"]), ("keyset next page, query", q["next"]),
                         ("count badge, query (todo_count)", q["count"])):
        ratio = pct(values, 95) / bare95
        print(f"{name:44} {ms(pct(values, 50)):>10} {ms(pct(values, 95)):>10} {ratio:>10.1f}×  "
              f"{'PASS' if ratio <= QUERY_RATIO_TARGET else 'MISS'} (≤{QUERY_RATIO_TARGET}×)")
    print(f"{'baseline: SELECT the same 50 rows by id':44} {ms(pct(q['bare'], 50)):>10} {ms(bare95):>10}")
    for name, values in (("待办 first page, HTTP GET /inbox/", h["first"]), ("keyset next page, HTTP", h["next"]),
                         ("count badge, HTTP GET /inbox/count", h["count"])):
        p95 = pct(values, 95) * 1000
        print(f"{name:44} {ms(pct(values, 50)):>10} {ms(pct(values, 95)):>10} {'':>11}  "
              f"{'PASS' if p95 < HTTP_TARGET_MS else 'MISS'} (<{HTTP_TARGET_MS} ms)")
    p99 = pct(c, 99) * 1000
    print(f"{'complete_task (review, server-side)':44} {ms(pct(c, 50)):>10} {ms(pct(c, 95)):>10} "
          f"{'p99 ' + ms(pct(c, 99)):>11}  {'PASS' if p99 < COMPLETE_P99_TARGET_MS else 'MISS'} (p99 <{COMPLETE_P99_TARGET_MS} ms)")
    print("plan of one group branch:", " | ".join(q["plan"]))
    rt.session_factory.kw["bind"].dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=1_000_000, help="open tasks (default 1,000,000)")
    parser.add_argument("--users", type=int, default=5_000)
    parser.add_argument("--units", type=int, default=200)
    parser.add_argument("--samples", type=int, default=200, help="users sampled for the query figures")
    parser.add_argument("--http-samples", type=int, default=100, help="users logged in for the HTTP figures")
    parser.add_argument("--completions", type=int, default=300, help="tasks completed for the p99")
    parser.add_argument("--pg-url", default=os.environ.get("GOVFLOW_BENCH_PG_URL"),
                        help="also run on this PostgreSQL (a new schema, dropped afterwards)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        run(f"sqlite:///{directory}/inbox.db", args, "SQLite")
    if args.pg_url:
        schema = f"bench_inbox_{uuid.uuid4().hex[:8]}"
        admin = create_engine(args.pg_url.replace("postgresql://", "postgresql+psycopg://", 1))
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        try:
            sep = "&" if "?" in args.pg_url else "?"
            run(f"{args.pg_url}{sep}options=-csearch_path%3D{schema}", args, "PostgreSQL")
        finally:
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
