"""`campusbot directory check`: who gets every stage and what is missing, as text, Markdown or
JSON; exit 0 when everything resolves, 1 otherwise."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot import keys
from bot.cli import main
from handlers import replies
from storage import directory_store
from tests.conftest import QINGLAN, Sim, wipe_database

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
    # the stand-in is named by the school's own department name, not the notice's
    assert ("没有人担任 IT运维（it_support）：IT报修、办公电脑登记、教育网邮箱申请 无法派单，"
            "暂由信息化建设与管理中心负责人处理") in out
    assert "【IT报修】（信息化建设与管理中心，" in out
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


DRAFT_STUDENT = '\n[[users]]\nid = "S20249999"\nname = "草稿同学"\ndepartment = "C01"\n' \
                'roles = ["student"]\ncounselor = "T3004"\n'


def run_cli(database_url: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`campusbot ...` as the IT office runs it, beside the running server."""
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], capture_output=True,
                          text=True, env={**os.environ, "CAMPUSBOT_DATABASE__URL": database_url,
                                          **env}, check=False)


async def test_checking_a_draft_never_changes_the_live_directory(
        qinglan_sim: tuple[Sim, Path], database_url: str, tmp_path: Path) -> None:
    sim, live = qinglan_sim
    jobs = sim.client.app[keys.JOBS]
    before = await directory_store.load_snapshot()
    draft = tmp_path / "draft.toml"
    draft.write_text(live.read_text(encoding="utf-8").replace('head = "T3001"', 'head = "T3002"')
                     + DRAFT_STUDENT, encoding="utf-8")
    settings = tmp_path / "config.toml"
    settings.write_text(f'[directory]\nfile = "{live}"\n', encoding="utf-8")
    checked = run_cli(database_url, "directory", "check", "--file", str(draft),
                      "--config", str(settings))
    assert checked.returncode == 1, checked.stderr
    assert "20 个部门、50 人" in checked.stdout                     # the draft was checked …
    assert "文学与传媒学院 → 沈副院长" in checked.stdout
    # … and so is a draft named the way README's overrides allow
    overridden = run_cli(database_url, "directory", "check", "--config", str(settings),
                         CAMPUSBOT_DIRECTORY__FILE=str(draft))
    assert "20 个部门、50 人" in overridden.stdout
    # another command run with the override does not put the draft in force either
    assert run_cli(database_url, "delegate", "list", "--config", str(settings),
                   CAMPUSBOT_DIRECTORY__FILE=str(draft)).returncode == 0
    after = await directory_store.load_snapshot()
    assert after.generation_value == before.generation_value
    assert sorted(after.people_by_id) == sorted(before.people_by_id)
    assert after.departments_by_id["C01"].head == "T3001"
    # the running server, after its next look at the directory, routes as before
    await jobs.watch_directory()
    assert await sim.text("S20249999", "我要请假") == replies.NOT_IN_DIRECTORY
    for answer in ("我想请2天事假", "明天", "家中有事需要回去处理", "否", "13800000000"):
        await sim.say("T3003", answer)
    assert "丁院长" in await sim.text("T3003", "确认")


def test_every_problem_of_a_file_is_named_at_once(tmp_path: Path, database_url: str,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    school = tmp_path / "school.toml"
    school.write_text(
        QINGLAN.read_text(encoding="utf-8")
        + '\n[[departments]]\nid = "Q15"\nname = "图书馆"\nkind = "library"\n'
        + '\n[[departments]]\nid = "Q16"\nname = "档案馆"\nhead = "T2599"\n'   # nobody's there
        + '\n[[users]]\nid = "S20240999"\nname = "错同学"\ndepartment = "Q99"\n'
          'counselor = "T0000"\nroles = ["student", "teahcer", "dean"]\n', encoding="utf-8")
    assert main(["directory", "check", "--config", config(tmp_path, database_url,
                                                          str(school))]) == 2
    out = capsys.readouterr().out
    finds, file_problems = out.split("通讯录文件问题：")[0], out.split("通讯录文件问题：")[1]
    assert "服务器不会采用" in out.splitlines()[0]
    assert "departments[20].kind: 应为 college, office, affiliated, leadership 之一" in out
    assert "档案馆：负责人 T2599 不在通讯录中" in finds                  # under 需要补充 too
    for problem in ("departments[21].head: 通讯录中没有用户 'T2599'",
                    "users[49].counselor: 通讯录中没有用户 'T0000'", "'Q99' 不在通讯录中",
                    "角色“teahcer”（错同学）不是已知角色，也没有流程用到：是不是 教师（teacher）？",
                    "角色“dean”（错同学）不是已知角色"):
        assert problem in file_problems
