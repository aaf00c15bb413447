"""`govflow`: the operator's command line (migrate, seed, deploy, deadline, sweep, serve, audit)."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

PROCESSES = Path(__file__).resolve().parent.parent / "processes"


def _runtime():
    from engine import make_runtime

    return make_runtime()


def cmd_migrate(_args) -> int:
    from db.migrate import upgrade

    upgrade()
    print("数据库已迁移到最新版本。")
    return 0


def cmd_deploy(args) -> int:
    from engine import DeploymentRejected, deploy

    path = Path(args.path)
    try:
        result = deploy(_runtime(), path.read_bytes(), deployed_by=args.by, note=args.note or f"从 {path.name} 部署")
    except DeploymentRejected as err:
        print(f"部署被拒绝：{err.message}", file=sys.stderr)
        return 1
    except OSError as err:
        print(f"无法读取文件 {path}：{err.strerror}", file=sys.stderr)
        return 1
    state = "新版本" if result.created else "与最新版本相同，未重复部署，版本"
    print(f"{result.key}：{state} {result.version}")
    return 0


def cmd_seed(_args) -> int:
    from engine import deploy_directory, seed_demo
    from engine.demo import DEMO_PASSWORD

    rt = _runtime()
    for result in deploy_directory(rt, PROCESSES, deployed_by="govflow seed"):
        print(f"流程 {result.key} 版本 {result.version}{'（新部署）' if result.created else ''}")
    print(f"\n演示账号（密码均为 {DEMO_PASSWORD}）：")
    for login in seed_demo(rt):
        print(f"  {login.username:<10} {login.real_name}  {login.unit}  {'、'.join(login.roles)}")
    from engine.demo import seed_demo_work

    started = seed_demo_work(rt)
    if started:
        print(f"\n已创建 {started} 个演示事项（各流程均有正在办理的事项）。")
    return 0


def cmd_deadline(args) -> int:
    """Print a due instant and how it was reached (the calendar in the database, if there is one)."""
    from datetime import datetime

    from engine.calendar import CalendarNotCovered, add_hours, add_minutes
    from engine.calendar_store import current_calendar
    from engine.clock import to_shanghai

    try:
        start = datetime.fromisoformat(args.start)
    except ValueError:
        print(f"无法识别的时间“{args.start}”，请写成 2025-01-24T10:00+08:00 的形式。", file=sys.stderr)
        return 2
    if start.tzinfo is None:
        print("时间必须带时区，例如 2025-01-24T10:00+08:00。", file=sys.stderr)
        return 2
    calendar = current_calendar(_runtime())
    try:
        if args.working_days is not None:
            explained = calendar.explain_working_days(start, args.working_days)
            due = explained.due
        elif args.calendar_days is not None:
            due = calendar.add_calendar_days(start, args.calendar_days)
        elif args.hours is not None:
            due = add_hours(start, args.hours)
        else:
            due = add_minutes(start, args.minutes)
    except CalendarNotCovered as err:
        print(err.message, file=sys.stderr)
        return 1
    except ValueError as err:
        print(str(err), file=sys.stderr)
        return 2
    print(f"起算时间：{to_shanghai(start):%Y-%m-%d %H:%M:%S}（北京时间，起算当日不计入）")
    print(f"截止时间：{to_shanghai(due):%Y-%m-%d %H:%M:%S}（北京时间）  {due.isoformat()}")
    if args.working_days is not None:
        counted = "、".join(f"{d:%m-%d}" for d in explained.counted) or "无"
        print(f"计入的工作日（{len(explained.counted)} 天）：{counted}")
        skipped = "、".join(f"{info.day:%m-%d}（{info.name}）" for info in explained.skipped) or "无"
        print(f"跳过的休息日（{len(explained.skipped)} 天）：{skipped}")
    return 0


def cmd_sweep(args) -> int:
    """One sweep now (timers, due jobs, reminders, periodic duties), or every N seconds without Celery."""
    from engine.periodic import run_periodic
    from engine.sweep import sweep

    rt = _runtime()
    while True:
        result = sweep(rt)
        print(f"已触发 {result.timers} 个到期定时器，重发 {result.jobs} 个后台任务，发送 {result.reminders} 条到期提醒，"
              f"定期任务处理 {run_periodic(rt)} 项（含年度报表和季度检查的开启）。", flush=True)
        if not args.every:
            return 0
        try:
            time.sleep(args.every)
        except KeyboardInterrupt:
            return 0


def cmd_worker(args) -> int:
    """A Celery worker (with --beat: also the scheduler; run exactly one beat per deployment)."""
    from engine.celery_app import app, broker_url

    argv = ["worker", "--loglevel", args.loglevel]
    if broker_url().startswith("sqla+"):
        argv += ["--pool", "solo"]  # the SQLite broker wants one consumer per process
    else:
        argv += ["--concurrency", str(args.concurrency)]
    if args.beat:
        schedule = Path(os.environ.get("GOVFLOW_INSTANCE_DIR", "instance")).resolve() / "celerybeat-schedule"
        argv += ["--beat", "--schedule", str(schedule)]
    app.worker_main(argv)
    return 0


def cmd_beat(args) -> int:
    from engine.celery_app import app

    schedule = Path(os.environ.get("GOVFLOW_INSTANCE_DIR", "instance")).resolve() / "celerybeat-schedule"
    app.start(["beat", "--loglevel", args.loglevel, "--schedule", str(schedule)])
    return 0


def cmd_serve(args) -> int:
    """The embedded default: the web UI plus one Celery worker running beat, on a no-server broker."""
    os.environ.setdefault("GOVFLOW_JOBS", "celery")
    from engine.celery_app import broker_url

    os.environ.setdefault("GOVFLOW_BROKER_URL", broker_url())
    from webui import create_app

    app = create_app()
    worker = subprocess.Popen([sys.executable, "-m", "webui.cli", "worker", "--beat"], env=os.environ.copy())
    # A plain SIGTERM would end this process without stopping the worker: turn it into an exit.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"GovFlow 已启动：http://{args.host}:{args.port}  （后台任务：Celery，代理 {_shown_broker()}，"
          f"定时器每 {os.environ.get('GOVFLOW_SWEEP_SECONDS', '5')} 秒检查一次）", flush=True)
    try:
        app.run(host=args.host, port=args.port, threaded=True, use_reloader=False)
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=15)
        except subprocess.TimeoutExpired:
            worker.kill()
    return 0


def cmd_audit_verify(args) -> int:
    """Check the audit chain; name the first broken event. Exit 0 intact, 1 broken, 2 bad anchor."""
    from engine.audit_verify import parse_anchor, verify_chain

    try:
        anchor = parse_anchor(args.anchor) if args.anchor else None
    except ValueError as err:
        print(str(err), file=sys.stderr)
        return 2
    started = time.perf_counter()
    report = verify_chain(_runtime().session_factory, anchor=anchor, workers=args.workers or None)
    took = time.perf_counter() - started
    if not report.ok:
        print(f"审计链校验未通过：{report.problem}", file=sys.stderr)
        print(f"第一个异常事件：{report.broken_id}（其前 {report.checked} 个事件完好）", file=sys.stderr)
        return 1
    print(f"审计链完整：已校验 {report.checked} 个事件，用时 {took:.1f} 秒。")
    if report.head_id:
        print(f"链头：事件 {report.head_id}，哈希 {report.head_hash}")
        print(f"请另行保存此锚点，日后用 --anchor 核对链尾未被截断或重算：{report.anchor}")
    return 0


def _shown_broker() -> str:
    url = os.environ.get("GOVFLOW_BROKER_URL", "")
    return url.split("@")[-1] if "@" in url else url


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("spiff").setLevel(logging.WARNING)  # a line per task state change is noise here
    parser = argparse.ArgumentParser(prog="govflow", description="GovFlow 政务流程平台")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="迁移数据库到最新版本").set_defaults(func=cmd_migrate)
    sub.add_parser("seed", help="部署 processes/ 中的流程并创建演示单位和账号（可重复执行）").set_defaults(func=cmd_seed)
    deploy = sub.add_parser("deploy", help="校验并部署一个 BPMN 文件")
    deploy.add_argument("path")
    deploy.add_argument("--by", default="operator", help="部署人")
    deploy.add_argument("--note", default="", help="变更说明")
    deploy.set_defaults(func=cmd_deploy)
    deadline = sub.add_parser("deadline", help="按法定工作日历计算期限，例如 deadline 2025-01-24T10:00+08:00 "
                                                "--working-days 5")
    deadline.add_argument("start", help="起算时间（ISO 格式，带时区）")
    amount = deadline.add_mutually_exclusive_group(required=True)
    amount.add_argument("--working-days", type=int, help="N 个工作日")
    amount.add_argument("--calendar-days", type=int, help="N 个自然日")
    amount.add_argument("--hours", type=int, help="N 小时")
    amount.add_argument("--minutes", type=int, help="N 分钟")
    deadline.set_defaults(func=cmd_deadline)
    sweep = sub.add_parser("sweep", help="触发到期定时器、重发到期后台任务、发送到期提醒（--every N：不用 Celery 时每 N 秒一次）")
    sweep.add_argument("--every", type=float, default=0.0)
    sweep.set_defaults(func=cmd_sweep)
    worker = sub.add_parser("worker", help="启动 Celery 后台任务进程（--beat：同时运行定时调度，全系统只能有一个）")
    worker.add_argument("--beat", action="store_true")
    worker.add_argument("--concurrency", type=int, default=2)
    worker.add_argument("--loglevel", default="INFO")
    worker.set_defaults(func=cmd_worker)
    beat = sub.add_parser("beat", help="启动 Celery 定时调度（全系统只运行一个）")
    beat.add_argument("--loglevel", default="INFO")
    beat.set_defaults(func=cmd_beat)
    serve = sub.add_parser("serve", help="启动 Web 服务，以及内置代理上的 Celery 后台任务进程和定时调度")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=5000)
    serve.set_defaults(func=cmd_serve)
    audit = sub.add_parser("audit", help="审计记录：verify 校验审计链")
    audit_sub = audit.add_subparsers(dest="audit_command", required=True)
    verify = audit_sub.add_parser("verify", help="逐条校验审计事件的哈希链，指出第一个被改动、删除或插入的事件")
    verify.add_argument("--anchor", default="", help="此前保存的链头“事件编号:哈希”，用于发现链尾被截断或整体重算")
    verify.add_argument("--workers", type=int, default=1,
                        help="并行校验的进程数（默认 1；0 表示事件较多时按 CPU 核数自动分片）")
    verify.set_defaults(func=cmd_audit_verify)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
