# ruff: noqa: E402  (imports follow the sys.path repair below)
"""Timer benchmark: the sweep firing a backlog of due timers, against a bare load/fire/save loop.

Prints figures and PASS/MISS against the targets; asserts nothing and exits 0 (run by
`make bench`; see bench/README.md). Per backend (SQLite always, PostgreSQL when it answers):
  1. setup: a fresh database with tests/fixtures/timer_escalation.bpmn deployed (user task
     'review' with a 12-hour boundary timer leading to 'escalate'), one instance started through
     the engine, then cloned to N instances with Core bulk inserts (instance row, its inbox and
     deadline rows); the manual clock is moved 13 hours on, so all N timers are due at once;
  2. 1 worker: `engine.sweep.fire_due_timers(rt, 500)` in a loop until nothing is due;
  3. 2 workers: the same setup again, then two threads (one runtime each, same database and
     clock) each looping `fire_due_timers` until nothing is due; and again with two worker
     processes (as Celery's prefork pool runs them: the threads share one interpreter lock);
  4. exactly once, after 2 and each run of 3: N 'timer' audit events, N instances at version 2, no instance
     with a next timer left, N 'escalate' inbox rows ready, no incident;
  5. bare loop: the same stored state and compiled spec on bare SpiffWorkflow, N times
     load_workflow → refresh_timers → do_engine_steps → dump_workflow (no database, no locks);
  6. lag: 100 timers due at the same instant, one `engine.sweep.sweep(rt)` (what beat runs every
     SWEEP_SECONDS) timed from its start to its return (its last commit). A timer due just after
     a sweep started waits at most SWEEP_SECONDS for the next one, which then needs that long to
     reach it: lag bound = SWEEP_SECONDS + sweep time (target: ≤ SWEEP_SECONDS + 1 s).
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path, and bench/calendar.py would hide
# the standard library's `calendar` (SpiffWorkflow and email import it): put the project root there.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [str(_HERE.parent)] + [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import argparse
import multiprocessing
import os
import platform
import shutil
import sqlite3
import statistics
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy
from SpiffWorkflow.task import TaskState
from sqlalchemy import create_engine, func, insert, select, text

from db.migrate import upgrade
from db.models import AuditEvent, Base, Deadline, HumanTask, ProcessInstance, User, WorkflowTask
from db.session import reading
from engine import Actor, ManualClock, deploy, deploy_directory, make_runtime, seed_demo, start_process
from engine.accounts import hash_password
from engine.expressions import SafeScriptEngine
from engine.functions import EXPRESSION_FUNCTIONS
from engine.instances import stored_workflow
from engine.serialization import dump_workflow, dump_workflow_whole, load_workflow
from engine.sweep import due_instances, fire_due_timers, sweep
from engine.timers import install_clock

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "tests" / "fixtures" / "timer_escalation.bpmn"
KEY_PREFIX = "bench:timer:"
BATCH = 500  # fire_due_timers limit, as the sweep uses
LAG_TIMERS = 100
RATE_TARGET = 1000.0
LAG_SLACK = 1.0  # seconds allowed beyond the sweep interval
PASSWORD_HASH = hash_password("bench")


def sweep_seconds(directory: Path) -> float:
    """engine.celery_app.SWEEP_SECONDS (importing the app creates ./instance for its broker file
    unless GOVFLOW_INSTANCE_DIR points elsewhere: keep the working tree clean)."""
    os.environ.setdefault("GOVFLOW_INSTANCE_DIR", str(directory / "instance"))
    from engine.celery_app import SWEEP_SECONDS

    return SWEEP_SECONDS


# --- databases ------------------------------------------------------------------------------

class SqliteBackend:
    name = "SQLite"

    def __init__(self, directory: Path):
        self.directory = directory
        self.template = directory / "template.db"
        upgrade(f"sqlite:///{self.template}")
        self.serial = 0

    def fresh(self) -> str:
        """A new migrated database file (a copy of one migrated template)."""
        self.serial += 1
        path = self.directory / f"bench-{self.serial}.db"
        shutil.copy(self.template, path)
        return f"sqlite:///{path}"

    def version(self) -> str:
        return f"SQLite {sqlite3.sqlite_version} (WAL, synchronous=NORMAL)"

    def close(self) -> None:
        pass


class PostgresBackend:
    name = "PostgreSQL"

    def __init__(self, base_url: str):
        self.schema = f"govflow_bench_{uuid.uuid4().hex[:8]}"
        self.admin = create_engine(base_url.replace("postgresql://", "postgresql+psycopg://", 1))
        with self.admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{self.schema}"'))
            self.server = conn.execute(text("show server_version")).scalar()
        sep = "&" if "?" in base_url else "?"
        self.url = f"{base_url}{sep}options=-csearch_path%3D{self.schema}"
        upgrade(self.url)

    def fresh(self) -> str:
        """The bench schema, emptied (as tests/conftest.py does between tests)."""
        tables = ", ".join(f'"{self.schema}"."{t.name}"' for t in Base.metadata.sorted_tables)
        with self.admin.begin() as conn:
            conn.execute(text("SET LOCAL session_replication_role = replica"))  # audit_event refuses TRUNCATE
            conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        return self.url

    def version(self) -> str:
        return f"PostgreSQL {self.server}"

    def close(self) -> None:
        with self.admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{self.schema}" CASCADE'))
        self.admin.dispose()


def postgres_reason(url: str) -> str | None:
    """None when PostgreSQL answers, else why it is skipped."""
    try:
        engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1),
                               connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
        return None
    except Exception as err:  # any failure to connect means "not available here"
        return f"PostgreSQL at {url} does not answer ({type(err).__name__}: {str(err).strip().splitlines()[0]})"


# --- setup: one real instance, cloned -------------------------------------------------------

@dataclass
class Setup:
    url: str
    rt: object
    clock: ManualClock
    definition_id: int
    state: str  # the stored state of every instance, timer waiting
    due: int  # instances due after the clock moved on (expected: N)
    seconds: float


def runtime_on(url: str, clock: ManualClock):
    rt = make_runtime(url, clock)
    rt.dispatcher = rt.notifier = None  # jobs in-process, whatever the environment says
    return rt


def dispose(rt) -> None:
    rt.session_factory.kw["bind"].dispose()


def clone(rt, template_id: int, copies: int, chunk: int = 1000) -> None:
    """Copy instance `template_id` (row, settled tasks, inbox rows, deadline rows) `copies` times in bulk."""
    pi, ht, dl, wt = ProcessInstance.__table__, HumanTask.__table__, Deadline.__table__, WorkflowTask.__table__
    with rt.session_factory.kw["bind"].begin() as conn:
        instance = dict(conn.execute(select(pi).where(pi.c.id == template_id)).mappings().one())
        tasks = [dict(r) for r in conn.execute(select(ht).where(ht.c.instance_id == template_id)).mappings()]
        deadlines = [dict(r) for r in conn.execute(select(dl).where(dl.c.instance_id == template_id)).mappings()]
        settled = [dict(r) for r in conn.execute(select(wt).where(wt.c.instance_id == template_id)).mappings()]
        for row in (instance, *tasks, *deadlines):
            del row["id"]
        rows = [{**instance, "business_key": f"{KEY_PREFIX}{n}", "title": f"定时器基准 {n}"}
                for n in range(1, copies + 1)]
        for start in range(0, len(rows), chunk):
            conn.execute(insert(pi), rows[start:start + chunk])
        ids = list(conn.scalars(select(pi.c.id).where(pi.c.business_key.like(f"{KEY_PREFIX}%"),
                                                      pi.c.id != template_id).order_by(pi.c.id)))
        for table, template in ((ht, tasks), (dl, deadlines), (wt, settled)):
            children = [{**row, "instance_id": iid} for iid in ids for row in template]
            for start in range(0, len(children), chunk):
                conn.execute(insert(table), children[start:start + chunk])


def prepare(url: str, count: int) -> Setup:
    began = time.perf_counter()
    clock = ManualClock()
    rt = runtime_on(url, clock)
    deploy_directory(rt, ROOT / "processes", deployed_by="bench")
    seed_demo(rt, password_hash=PASSWORD_HASH)
    deploy(rt, FIXTURE.read_bytes(), deployed_by="bench")
    with reading(rt.session_factory) as session:
        zhangsan = session.scalar(select(User.id).where(User.username == "zhangsan"))
    iid = start_process(rt, "timer_escalation", Actor(zhangsan), title="定时器基准 0", business_key=f"{KEY_PREFIX}0")
    clone(rt, iid, count - 1)
    clock.advance(hours=13)
    with reading(rt.session_factory) as session:
        row = session.get(ProcessInstance, iid)
        due = session.scalar(select(func.count()).select_from(ProcessInstance).where(
            ProcessInstance.status == "running", ProcessInstance.has_incident.is_(False),
            ProcessInstance.next_timer_at <= clock.now()))
        # The bare loop reads the whole state as one text (SpiffWorkflow's own way).
        whole = dump_workflow_whole(stored_workflow(session, row, rt.definitions.get(session, row.definition_id)))
    return Setup(url, rt, clock, row.definition_id, whole, due, time.perf_counter() - began)


# --- firing ---------------------------------------------------------------------------------

def drain(rt, fired_so_far: list[int], total: int, label: str, began: float, lock: threading.Lock) -> int:
    """Loop fire_due_timers until nothing is due; returns how many this caller fired."""
    mine = 0
    step = max(total // 5, 1)
    while True:
        batch = fire_due_timers(rt, limit=BATCH)
        mine += batch
        with lock:
            before = fired_so_far[0]
            fired_so_far[0] += batch
            if fired_so_far[0] // step > before // step:
                print(f"    … {label}: {fired_so_far[0]:,}/{total:,} fired, {time.perf_counter() - began:.1f} s",
                      flush=True)
        if batch == 0 and not due_instances(rt, 1):
            return mine


def fire_all(setup: Setup, workers: int, total: int, label: str) -> tuple[float, list[int]]:
    """Wall time to fire every due timer with `workers` threads, and what each one fired."""
    runtimes = [setup.rt] + [runtime_on(setup.url, setup.clock) for _ in range(workers - 1)]
    counter, lock = [0], threading.Lock()
    results: list[int] = [0] * workers
    errors: list[BaseException] = []
    gate = threading.Barrier(workers + 1)
    began = [0.0]

    def work(index: int) -> None:
        gate.wait()
        try:
            results[index] = drain(runtimes[index], counter, total, label, began[0], lock)
        except BaseException as err:  # reported below; the other worker carries on
            errors.append(err)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(workers)]
    for thread in threads:
        thread.start()
    began[0] = time.perf_counter()
    gate.wait()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began[0]
    for rt in runtimes[1:]:
        dispose(rt)
    if errors:
        raise RuntimeError(f"a worker failed: {errors[0]!r}") from errors[0]
    return elapsed, results


def _drain_in_process(url: str, now: datetime, gate, results, index: int) -> None:
    """One worker process: its own runtime on the same database and clock time, then drain."""
    rt = runtime_on(url, ManualClock(now))
    try:
        gate.wait()
        fired = 0
        while True:
            batch = fire_due_timers(rt, limit=BATCH)
            fired += batch
            if batch == 0 and not due_instances(rt, 1):
                break
        results[index] = fired
    except BaseException:
        results[index] = -1
        raise
    finally:
        dispose(rt)


def fire_in_processes(setup: Setup, workers: int) -> tuple[float, list[int]]:
    """Wall time to fire every due timer with `workers` processes (as Celery's prefork workers run:
    no shared interpreter lock), and what each one fired."""
    context = multiprocessing.get_context("fork")
    dispose(setup.rt)  # no pooled connection crosses the fork
    gate = context.Barrier(workers + 1)
    results = context.Array("q", workers)
    processes = [context.Process(target=_drain_in_process, args=(setup.url, setup.clock.now(), gate, results, i))
                 for i in range(workers)]
    for process in processes:
        process.start()
    gate.wait()  # every worker has its runtime: the clock starts now
    began = time.perf_counter()
    for process in processes:
        process.join()
    elapsed = time.perf_counter() - began
    if any(process.exitcode != 0 for process in processes) or min(results) < 0:
        raise RuntimeError("a worker process failed; see its traceback above")
    return elapsed, list(results)


def exactly_once(rt, count: int) -> str:
    """'OK' when every timer fired exactly once, else what does not add up."""
    with reading(rt.session_factory) as session:
        def n(stmt):
            return session.scalar(select(func.count()).select_from(stmt.subquery()))

        found = {
            "timer events": (n(select(AuditEvent.id).where(AuditEvent.action == "timer")), count),
            "instances at version 2": (n(select(ProcessInstance.id).where(ProcessInstance.version == 2)), count),
            "next_timer_at left": (n(select(ProcessInstance.id).where(ProcessInstance.next_timer_at.is_not(None))), 0),
            "escalate ready": (n(select(HumanTask.id).where(HumanTask.bpmn_id == "escalate",
                                                             HumanTask.state == "ready")), count),
            "incidents": (n(select(ProcessInstance.id).where(ProcessInstance.has_incident.is_(True))), 0),
        }
    wrong = [f"{name} {got:,} (expected {want:,})" for name, (got, want) in found.items() if got != want]
    return "OK" if not wrong else "MISMATCH: " + "; ".join(wrong)


# --- bare SpiffWorkflow ---------------------------------------------------------------------

def bare_loop(setup: Setup, count: int) -> float:
    """Seconds for `count` × load → refresh_timers → do_engine_steps → dump of the stored state."""
    with reading(setup.rt.session_factory) as session:
        definition = setup.rt.definitions.get(session, setup.definition_id)
    install_clock(setup.clock)  # the clock 13 hours on: the timer is due
    engine = SafeScriptEngine(functions=EXPRESSION_FUNCTIONS, service_caller=lambda *_args: "{}")
    workflow = None
    began = time.perf_counter()
    for _ in range(count):
        workflow = load_workflow(setup.state, definition.spec, definition.subprocess_specs)
        workflow.script_engine = engine
        workflow.refresh_timers()
        workflow.do_engine_steps()
        dump_workflow(workflow)
    elapsed = time.perf_counter() - began
    ready = [t.task_spec.bpmn_id for t in workflow.get_tasks(state=TaskState.READY, manual=True)]
    if ready != ["escalate"]:
        raise RuntimeError(f"the bare loop did not fire the timer (READY: {ready}): the benchmark is broken")
    return elapsed


# --- one backend ----------------------------------------------------------------------------

@dataclass
class Figures:
    backend: str
    version: str
    one: list[float]  # timers/s, 1 worker
    two: list[float]  # timers/s, 2 workers
    split: list[list[int]]  # what each of the 2 workers fired
    bare: list[float]  # timers/s, bare loop
    checks: list[str]
    lag: list[float]  # seconds for one sweep of LAG_TIMERS due timers
    setup_seconds: list[float]
    two_processes: list[float] = field(default_factory=list)  # timers/s, 2 worker processes
    split_processes: list[list[int]] = field(default_factory=list)


def run_backend(backend, count: int, repeat: int) -> Figures:
    fig = Figures(backend.name, backend.version(), [], [], [], [], [], [], [])
    for run in range(1, repeat + 1):
        tag = f"{backend.name} run {run}/{repeat}"
        print(f"  {tag}: setting up {count:,} instances …", flush=True)
        setup = prepare(backend.fresh(), count)
        fig.setup_seconds.append(setup.seconds)
        if setup.due != count:
            fig.checks.append(f"1 worker: setup gave {setup.due:,} due instances, expected {count:,}")
        print(f"  {tag}: {setup.due:,} due after {setup.seconds:.1f} s setup; firing with 1 worker", flush=True)
        seconds, _ = fire_all(setup, 1, count, f"{backend.name} 1 worker")
        fig.one.append(count / seconds)
        fig.checks.append(f"1 worker: {exactly_once(setup.rt, count)}")
        print(f"  {tag}: bare loop ×{count:,}", flush=True)
        fig.bare.append(count / bare_loop(setup, count))
        dispose(setup.rt)

        setup = prepare(backend.fresh(), count)
        fig.setup_seconds.append(setup.seconds)
        if setup.due != count:
            fig.checks.append(f"2 workers: setup gave {setup.due:,} due instances, expected {count:,}")
        print(f"  {tag}: {setup.due:,} due; firing with 2 workers", flush=True)
        seconds, split = fire_all(setup, 2, count, f"{backend.name} 2 workers")
        fig.two.append(count / seconds)
        fig.split.append(split)
        fig.checks.append(f"2 workers: {exactly_once(setup.rt, count)}")
        dispose(setup.rt)

        setup = prepare(backend.fresh(), count)
        print(f"  {tag}: {setup.due:,} due; firing with 2 worker processes", flush=True)
        seconds, split = fire_in_processes(setup, 2)
        fig.two_processes.append(count / seconds)
        fig.split_processes.append(split)
        fig.checks.append(f"2 worker processes: {exactly_once(setup.rt, count)}")
        dispose(setup.rt)

        setup = prepare(backend.fresh(), LAG_TIMERS)
        began = time.perf_counter()
        result = sweep(setup.rt, limit=BATCH)
        fig.lag.append(time.perf_counter() - began)
        if result.timers != LAG_TIMERS:
            fig.checks.append(f"lag sweep fired {result.timers} of {LAG_TIMERS}")
        fig.checks.append(f"lag sweep ({LAG_TIMERS}): {exactly_once(setup.rt, LAG_TIMERS)}")
        dispose(setup.rt)
    return fig


# --- report ---------------------------------------------------------------------------------

def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def spread(values: list[float], digits: int = 0) -> str:
    return f"  [{min(values):,.{digits}f}–{max(values):,.{digits}f}]" if len(values) > 1 else ""


def report(fig: Figures, count: int, interval: float) -> None:
    one, two, bare = statistics.median(fig.one), statistics.median(fig.two), statistics.median(fig.bare)
    lag = statistics.median(fig.lag)
    bound = interval + lag
    ratios = [d / b for d, b in zip(fig.one, fig.bare, strict=True)]
    rate_target = fig.backend == "SQLite"
    print(f"{fig.backend} — {fig.version}")
    print(f"  {'1 worker: sweep fires all':<42}{one:>12,.0f} timers/s  ({count / one:,.1f} s, "
          f"{1000 / one:.2f} ms per timer)"
          + (f"   target ≥ {RATE_TARGET:,.0f}/s  {verdict(one >= RATE_TARGET)}" if rate_target else "")
          + spread(fig.one))
    splits = ", ".join("/".join(f"{n:,}" for n in s) for s in fig.split)
    print(f"  {'2 workers (threads, one runtime each)':<42}{two:>12,.0f} timers/s  ({count / two:,.1f} s; "
          f"{two / one:.2f}× 1 worker; fired per worker {splits})" + spread(fig.two))
    splits = ", ".join("/".join(f"{n:,}" for n in s) for s in fig.split_processes)
    two_processes = statistics.median(fig.two_processes)
    print(f"  {'2 worker processes (as Celery prefork)':<42}{two_processes:>12,.0f} timers/s  ({count / two_processes:,.1f} s; "
          f"{two_processes / one:.2f}× 1 worker; fired per worker {splits})" + spread(fig.two_processes))
    print(f"  {'bare loop: load→fire→dump, no DB/locks':<42}{bare:>12,.0f} timers/s  ({1000 / bare:.2f} ms per timer)"
          + spread(fig.bare))
    print(f"  {'ratio durable (1 worker) / bare':<42}{statistics.median(ratios):>12.3f}" + spread(ratios, 3))
    print(f"  {f'sweep of {LAG_TIMERS} timers due at one instant':<42}{lag * 1000:>12,.0f} ms"
          + spread([x * 1000 for x in fig.lag]))
    print(f"  {'due→fired lag bound (interval + sweep)':<42}{bound:>12.2f} s    target ≤ {interval + LAG_SLACK:.2f} s"
          f"  {verdict(bound <= interval + LAG_SLACK)}")
    print(f"  {f'  with all {count:,} due at one instant':<42}{interval + count / one:>12.1f} s    "
          "(interval + the 1-worker drain; diagnostic)")
    for check in fig.checks:
        print(f"  exactly once, {check}")
    print(f"  setup of {count:,} instances (fresh database, deploy, seed, start 1, clone the rest): "
          f"{statistics.median(fig.setup_seconds):.1f} s (median of {len(fig.setup_seconds)}, untimed)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=10_000, help="due timers per run (default 10000)")
    parser.add_argument("--pg-url", default=os.environ.get("GOVFLOW_TEST_PG_URL",
                                                           "postgresql://postgres@127.0.0.1:5432/test"),
                        help="PostgreSQL to use (default GOVFLOW_TEST_PG_URL or the local test database)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per backend; the median is reported (default 1)")
    args = parser.parse_args()
    if args.instances < 1 or args.repeat < 1:
        parser.error("--instances and --repeat must be at least 1")

    began = time.perf_counter()
    line = "-" * 110
    figures: list[Figures] = []
    skipped = postgres_reason(args.pg_url)
    with tempfile.TemporaryDirectory(prefix="govflow-bench-") as tmp:
        interval = sweep_seconds(Path(tmp))
        print(f"GovFlow timer benchmark — {args.instances:,} instances with a due timer × {args.repeat} run(s) "
              "(median; range in brackets)")
        print(f"{platform.platform()}, Python {platform.python_version()}, {os.cpu_count()} CPUs, "
              f"SQLAlchemy {sqlalchemy.__version__}, SpiffWorkflow 3.2.0")
        print(f"Sweep interval (engine.celery_app.SWEEP_SECONDS) {interval:g} s; batch limit {BATCH}. "
              "Timers/s = N / wall time to drain")
        print("the backlog. Bare loop = the same stored state and compiled spec, N× load_workflow, refresh_timers,")
        print("do_engine_steps, dump_workflow (no database, no locks, no inbox/audit/deadline rows).")
        print(line, flush=True)
        backends = [SqliteBackend(Path(tmp))]
        if skipped is None:
            backends.append(PostgresBackend(args.pg_url))
        for backend in backends:
            try:
                figures.append(run_backend(backend, args.instances, args.repeat))
            finally:
                backend.close()
    print(line)
    for fig in figures:
        report(fig, args.instances, interval)
        print(line)
    if skipped:
        print(f"PostgreSQL skipped: {skipped}")
    print(f"wall time {time.perf_counter() - began:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
