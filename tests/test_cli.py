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
