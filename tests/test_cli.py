"""The operators' CLI: `govflow deploy` prints the version, or the refusal and exits 1."""

from pathlib import Path

import pytest

from webui.cli import main

CONTENT_REVIEW = Path(__file__).resolve().parent.parent / "processes" / "content_review.bpmn"


@pytest.fixture
def cli_db(sqlite_url, monkeypatch):
    monkeypatch.setenv("GOVFLOW_DATABASE_URL", sqlite_url)
    return sqlite_url


def test_deploy_prints_the_new_version_then_recognises_the_same_file(cli_db, capsys):
    assert main(["deploy", str(CONTENT_REVIEW), "--by", "刘洋"]) == 0
    assert "content_review：新版本 1" in capsys.readouterr().out
    assert main(["deploy", str(CONTENT_REVIEW)]) == 0
    assert "未重复部署" in capsys.readouterr().out


def test_deploy_of_a_hostile_diagram_prints_the_refusal_and_exits_1(cli_db, tmp_path, capsys):
    hostile = tmp_path / "evil.bpmn"
    hostile.write_bytes(CONTENT_REVIEW.read_bytes().replace(b"outcome == 'pass'", b"__import__('os').system('id')", 1))
    assert main(["deploy", str(hostile)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("部署被拒绝：") and "f_review_pass" in err


def test_deploy_of_a_missing_file_says_so(cli_db, capsys):
    assert main(["deploy", "/nonexistent/x.bpmn"]) == 1
    assert "无法读取文件" in capsys.readouterr().err


def test_seed_twice_is_safe(cli_db, capsys):
    assert main(["seed"]) == 0
    first = capsys.readouterr().out
    assert "zhangsan" in first and "张三" in first and "（新部署）" in first
    assert main(["seed"]) == 0
    assert "（新部署）" not in capsys.readouterr().out


def test_deadline_prints_the_due_instant_the_days_counted_and_the_holidays_skipped(cli_db, capsys):
    # 2025 春节 1/28-2/4 off, 1/26 (Sun) works: from Fri 1/24, 1/26, 1/27, 2/5, 2/6, 2/7.
    assert main(["deadline", "2025-01-24T10:00+08:00", "--working-days", "5"]) == 0
    out = capsys.readouterr().out
    assert "截止时间：2025-02-07 23:59:59" in out and "2025-02-07T23:59:59+08:00" in out
    assert "计入的工作日（5 天）：01-26、01-27、02-05、02-06、02-07" in out
    assert "01-25（周六）" in out and "01-28（春节）" in out and "跳过的休息日（9 天）" in out


def test_deadline_in_calendar_days_and_hours(cli_db, capsys):
    assert main(["deadline", "2026-01-31T10:00+08:00", "--calendar-days", "30"]) == 0
    assert "截止时间：2026-03-02 23:59:59" in capsys.readouterr().out
    assert main(["deadline", "2026-01-31T10:00+08:00", "--hours", "12"]) == 0
    assert "截止时间：2026-01-31 22:00:00" in capsys.readouterr().out


def test_deadline_into_an_uncovered_year_names_the_year_and_exits_1(cli_db, capsys):
    assert main(["deadline", "2026-12-30T10:00+08:00", "--working-days", "5"]) == 1
    assert capsys.readouterr().err.startswith("2027 年节假日安排尚未录入")


@pytest.mark.parametrize("args", [["2026-01-31T10:00", "--hours", "3"], ["明天", "--working-days", "1"],
                                  ["2026-01-31T10:00+08:00", "--working-days", "-1"]])
def test_deadline_refuses_bad_input_with_a_sentence(cli_db, capsys, args):
    assert main(["deadline", *args]) == 2
    assert capsys.readouterr().err.strip()


def test_the_demo_has_work_in_flight_in_every_process_once(sqlite_rt):
    from sqlalchemy import select

    from db.models import ProcessDefinition, ProcessInstance
    from db.session import reading
    from engine.demo import seed_demo_work

    assert seed_demo_work(sqlite_rt) == 41
    with reading(sqlite_rt.session_factory) as session:
        keys = set(session.scalars(select(ProcessDefinition.key)))
        started = set(session.scalars(select(ProcessDefinition.key).join(
            ProcessInstance, ProcessInstance.definition_id == ProcessDefinition.id)))
        running = session.scalars(select(ProcessInstance).where(ProcessInstance.status == "running")).all()
    assert started == keys and len(running) == 39  # two review items are already published
    assert seed_demo_work(sqlite_rt) == 0
