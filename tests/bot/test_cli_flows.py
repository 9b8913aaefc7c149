"""`campusbot flows export` and `campusbot flows render` on the shipped catalog."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from defusedxml import ElementTree
from openpyxl import load_workbook

from bot.cli import main
from flows.catalog import DEFAULT_CATALOG
from flows.loader import read_flow_files
from tests.conftest import needs_dot

CATALOG = read_flow_files(DEFAULT_CATALOG)[0]
CATALOG_DIR = str(DEFAULT_CATALOG)


@pytest.fixture
def config(tmp_path: Path) -> str:
    """An empty config file, so a developer's ./config.toml cannot change what is read."""
    path = tmp_path / "config.toml"
    path.write_text("", encoding="utf-8")
    return str(path)


def test_export_xlsx_writes_one_row_per_process(tmp_path: Path) -> None:
    output = tmp_path / "统计表.xlsx"
    assert main(["flows", "export", "--format", "xlsx", "-o", str(output), CATALOG_DIR]) == 0
    sheet = load_workbook(output).active
    assert sheet is not None
    assert [c.value for c in sheet[1]][:3] == ["序号", "所属单位", "流程名称"]
    assert sheet.max_row == len(CATALOG) + 1


def test_export_json_goes_to_stdout(capsys: pytest.CaptureFixture[str], config: str) -> None:
    assert main(["flows", "export", "--format", "json", "--config", config]) == 0
    records = json.loads(capsys.readouterr().out)
    assert len(records) == len(CATALOG)


def test_export_md_format_follows_the_file_extension(tmp_path: Path) -> None:
    output = tmp_path / "guide.md"
    assert main(["flows", "export", "-o", str(output), CATALOG_DIR]) == 0
    text = output.read_text(encoding="utf-8")
    assert all(f"### {d.name}" in text for d in CATALOG)


@pytest.mark.parametrize(("arguments", "message"), [
    (["--format", "xlsx"], "请用 -o 指定输出文件"),
    (["--format", "csv"], "不支持的导出格式 csv"),
    ([], "请用 --format 指定导出格式"),
    (["-o", "out.txt"], "无法从扩展名 .txt 判断导出格式"),
    (["--format", "json", "-o", "out.xlsx"], "不一致"),
])
def test_export_usage_errors_are_explained(capsys: pytest.CaptureFixture[str],
                                           arguments: list[str], message: str) -> None:
    assert main(["flows", "export", *arguments, CATALOG_DIR]) == 2
    assert message in capsys.readouterr().err


def test_export_leaves_out_a_broken_file_and_says_so(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "flows"
    folder.mkdir()
    good = CATALOG[0].source
    assert good is not None
    shutil.copy(good, folder / good.name)
    (folder / "broken.toml").write_text("[flow\nname = ", encoding="utf-8")
    assert main(["flows", "export", "--format", "json", str(folder)]) == 1
    captured = capsys.readouterr()
    assert [r["name"] for r in json.loads(captured.out)] == [CATALOG[0].name]
    assert "broken.toml" in captured.err
    assert "未导出" in captured.err


@needs_dot
def test_render_png_and_svg_by_name_or_id(tmp_path: Path, config: str) -> None:
    definition = next((d for d in CATALOG if d.name == "货物及服务采购申请"), CATALOG[0])
    png, svg = tmp_path / "chart.png", tmp_path / "chart.svg"
    assert main(["flows", "render", definition.name, "-o", str(png), "--config", config]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main(["flows", "render", definition.id, "-o", str(svg),
                 "--catalog", CATALOG_DIR]) == 0
    root = ElementTree.fromstring(svg.read_bytes())
    assert root.tag == "{http://www.w3.org/2000/svg}svg"


def test_render_unknown_name_is_refused_in_chinese(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    output = tmp_path / "chart.png"
    assert main(["flows", "render", "不存在的流程", "-o", str(output),
                 "--catalog", CATALOG_DIR]) == 2
    assert "没有找到流程“不存在的流程”" in capsys.readouterr().err
    assert not output.exists()


def test_render_suggests_similar_names(capsys: pytest.CaptureFixture[str],
                                       tmp_path: Path) -> None:
    longest = max(CATALOG, key=lambda d: len(d.name))
    assert main(["flows", "render", longest.name[:-1], "-o", str(tmp_path / "x.svg"),
                 "--catalog", CATALOG_DIR]) == 2
    err = capsys.readouterr().err
    assert "您是不是要找" in err and longest.name in err


@pytest.mark.parametrize("output", ["chart.pdf", "chart"])
def test_render_unsupported_extension_is_refused(tmp_path: Path, output: str,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["flows", "render", CATALOG[0].name, "-o", str(tmp_path / output),
                 "--catalog", CATALOG_DIR]) == 2
    assert "不支持的文件类型" in capsys.readouterr().err
    assert not (tmp_path / output).exists()


def test_render_needs_an_output_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["flows", "render", CATALOG[0].name, "--catalog", CATALOG_DIR]) == 2
    assert "请用 -o 指定输出文件" in capsys.readouterr().err


def test_an_administrator_sets_lists_and_ends_a_delegation(tmp_path, capsys) -> None:
    from bot.cli import main

    env = {"CAMPUSBOT_DATABASE__URL": f"sqlite://{tmp_path}/db.sqlite3"}
    import os

    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        assert main(["delegate", "set", "li_dean", "stu_liu", "2026-12-01", "2026-12-05"]) == 1
        assert "学生" in capsys.readouterr().err
        assert main(["delegate", "set", "li_dean", "lit_vdean", "2026-12-01", "2099-12-05",
                     "--reason", "出差"]) == 0
        assert main(["delegate", "list", "li_dean"]) == 0
        assert "li_dean → lit_vdean" in capsys.readouterr().out
        assert main(["delegate", "cancel", "li_dean"]) == 0
        assert "已取消 1 项代理" in capsys.readouterr().out
    finally:
        for key, value in old.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
