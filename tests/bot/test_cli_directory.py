"""`campusbot directory check`: who gets every stage and what is missing, as text, Markdown or
JSON; exit 0 when everything resolves, 1 otherwise."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from bot.cli import main
from tests.conftest import wipe_database

README_FILE = Path(__file__).parents[1] / "data" / "school_directory.toml"


def config(tmp_path: Path, database_url: str, directory: str, extra: str = "") -> str:
    asyncio.run(wipe_database(database_url))
    path = tmp_path / "config.toml"
    path.write_text(f'[database]\nurl = "{database_url}"\n[directory]\nfile = "{directory}"\n'
                    + extra, encoding="utf-8")
    return str(path)


def test_a_complete_directory_passes(tmp_path: Path, database_url: str,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    settings = config(tmp_path, database_url, str(README_FILE))
    assert main(["directory", "check", "--config", settings]) == 0
    out = capsys.readouterr().out
    assert "18 个部门、38 人" in out and "全部可以派单" in out
    assert "【教职工请销假审批】" in out and "文学院 → 柏院长" in out
    assert main(["directory", "check", "--format", "json", "--config", settings]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is True and report["findings"] == []
    assert len(report["flows"]) == 47


def test_what_is_missing_is_named_and_fails_the_check(tmp_path: Path, database_url: str,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    text = README_FILE.read_text(encoding="utf-8")
    text = text.replace('roles = ["it_support"]', 'roles = []')            # nobody is IT运维
    text = text.replace('name = "审计处"\nhead = "20010101"\nleader = "19880001"',
                        'name = "审计处"\nhead = "20010101"')             # no 分管校领导
    text += '\n[[users]]\nid = "ghost"\ncounselor = "20020003"\n'         # matches nobody
    school = tmp_path / "school.toml"
    school.write_text(text, encoding="utf-8")
    settings = config(tmp_path, database_url, str(school))
    assert main(["directory", "check", "--config", settings]) == 1
    out = capsys.readouterr().out
    assert ("没有人担任 IT运维（it_support）：IT报修、办公电脑登记、教育网邮箱申请 无法派单，"
            "暂由信息与公共实验管理中心负责人处理") in out
    assert "审计处：未设置分管校领导，" in out
    assert f"{school}: users[" in out and "通讯录中没有用户 'ghost'" in out
    output = tmp_path / "通讯录检查.md"
    assert main(["directory", "check", "--format", "md", "-o", str(output),
                 "--config", settings]) == 1
    markdown = output.read_text(encoding="utf-8")
    assert markdown.startswith("# 通讯录检查") and "| IT报修 | " in markdown
    assert "通讯录检查：" in capsys.readouterr().err                       # the summary line


def test_the_demo_directory_beside_wecom_is_refused(tmp_path: Path, database_url: str,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    wecom = ('[wecom]\nenabled = true\ncorp_id = "ww1"\nagent_id = 1000002\nsecret = "s"\n'
             f'token = "t"\nencoding_aes_key = "{"a" * 43}"\n')
    settings = config(tmp_path, database_url, "demo", wecom)
    assert main(["directory", "check", "--config", settings]) == 2
    assert "allow_demo = true" in capsys.readouterr().err
