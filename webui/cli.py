"""`govflow`: the operator's command line (migrate, seed, deploy, serve)."""

from __future__ import annotations

import argparse
import logging
import sys
import threading
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
    return 0


def _scheduler(rt, interval: float, stop: threading.Event) -> None:
    from engine.sweep import fire_due_timers

    while not stop.wait(interval):
        try:
            fire_due_timers(rt)
        except Exception:
            logging.getLogger("govflow.scheduler").exception("timer sweep failed")


def cmd_sweep(args) -> int:
    """Fire due timers once, or every N seconds until stopped (beside gunicorn in production)."""
    from engine.sweep import fire_due_timers

    rt = _runtime()
    if not args.every:
        print(f"已触发 {fire_due_timers(rt)} 个到期定时器。")
        return 0
    stop = threading.Event()
    try:
        _scheduler(rt, args.every, stop)
    except KeyboardInterrupt:
        stop.set()
    return 0


def cmd_serve(args) -> int:
    from webui import create_app

    app = create_app()
    stop = threading.Event()
    threading.Thread(target=_scheduler, args=(app.extensions["govflow"], args.sweep_seconds, stop),
                     daemon=True, name="govflow-timers").start()
    print(f"GovFlow 已启动：http://{args.host}:{args.port}  （定时器每 {args.sweep_seconds:g} 秒检查一次）")
    try:
        app.run(host=args.host, port=args.port, threaded=True, use_reloader=False)
    finally:
        stop.set()
    return 0


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    parser = argparse.ArgumentParser(prog="govflow", description="GovFlow 政务流程平台")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="迁移数据库到最新版本").set_defaults(func=cmd_migrate)
    sub.add_parser("seed", help="部署 processes/ 中的流程并创建演示单位和账号（可重复执行）").set_defaults(func=cmd_seed)
    deploy = sub.add_parser("deploy", help="校验并部署一个 BPMN 文件")
    deploy.add_argument("path")
    deploy.add_argument("--by", default="operator", help="部署人")
    deploy.add_argument("--note", default="", help="变更说明")
    deploy.set_defaults(func=cmd_deploy)
    sweep = sub.add_parser("sweep", help="触发到期的定时器（--every N：每 N 秒一次，持续运行）")
    sweep.add_argument("--every", type=float, default=0.0)
    sweep.set_defaults(func=cmd_sweep)
    serve = sub.add_parser("serve", help="启动 Web 服务和定时器")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=5000)
    serve.add_argument("--sweep-seconds", type=float, default=30.0)
    serve.set_defaults(func=cmd_serve)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
