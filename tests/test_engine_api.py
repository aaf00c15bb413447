"""The engine's public surface is what engine/__init__.py exports; callers use nothing else."""

import ast
from pathlib import Path

import engine

ROOT = Path(__file__).resolve().parent.parent


def test_the_exported_names_are_pinned():
    assert sorted(engine.__all__) == sorted([
        "Actor", "Clock", "ConflictError", "DeploymentRejected", "Forbidden", "GovFlowError", "InvalidInput",
        "ManualClock", "NotFound", "RateLimited", "Runtime", "SeparationOfDutiesViolation", "authenticate", "cancel_instance",
        "check_diagram", "claim_task", "complete_task", "deploy", "deploy_directory", "make_runtime",
        "return_task", "seed_demo", "start_process", "submit_content",
    ])


def _imports(package: str) -> set[str]:
    names = set()
    for path in (ROOT / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module)
    return names


def test_only_the_engine_imports_spiffworkflow():
    for package in ("webui", "handlers", "db"):
        assert not any(name.startswith("SpiffWorkflow") for name in _imports(package)), package


def test_layers_import_only_downwards():
    assert not any(n.split(".")[0] in ("webui", "engine") for n in _imports("handlers"))
    assert not any(n.split(".")[0] in ("webui", "engine", "handlers") for n in _imports("db"))
    assert not any(n.split(".")[0] == "webui" for n in _imports("engine"))


def test_nothing_but_the_clock_module_asks_the_system_time():
    for package in ("engine", "handlers", "webui", "db"):
        for path in (ROOT / package).rglob("*.py"):
            if path.name == "clock.py":
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                    called = node.func
                    asks_time = called.attr in ("utcnow", "today") or (
                        called.attr == "now" and isinstance(called.value, ast.Name) and called.value.id == "datetime")
                    assert not asks_time, f"{path}:{node.lineno} asks the system time"
