"""The school's contacts and time limits over the shipped flow files (`[flows] overrides`),
keyed by process name: merged, validated, exported, reloaded; the guide stops saying 示例."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from bot.cli import main
from bot.services import action_registry
from flows.catalog import DEFAULT_CATALOG, Catalog
from flows.guide import SAMPLE_NOTE, guide_text
from flows.loader import read_flow_files
from flows.overrides import read_overrides

SCHOOL = """
["教职工请销假审批"]
time_limit_days = 5

["教职工请销假审批".contact]
section = "劳资科"
post = "考勤岗"
person = "许芳"
address = "行政楼 305 室"
phone = "0571-8888 1234"
email = "kq@jnu.edu.cn"

["教职工请销假审批".stages.hr_head]
time_limit_days = 2
"""


def school_file(tmp_path: Path, text: str = SCHOOL) -> Path:
    path = tmp_path / "school.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_schools_contact_and_time_limits_replace_the_samples(tmp_path: Path) -> None:
    definitions, problems = read_flow_files(DEFAULT_CATALOG, read_overrides(school_file(tmp_path)))
    assert problems == []
    by_id = {d.id: d for d in definitions}
    leave = by_id["staff_leave"]
    assert (leave.contact.person, leave.contact.phone, leave.contact.sample) == (
        "许芳", "0571-8888 1234", False)
    assert leave.time_limit_days == 5
    assert leave.stage_by_id("hr_head").time_limit_days == 2
    assert next(s for s in leave.steps if s.stage == "hr_head").time_limit_days == 2
    guide = guide_text(leave)
    assert "许芳" in guide and "0571-8888 1234" in guide and "示例" not in guide
    assert SAMPLE_NOTE in guide_text(by_id["it_repair"])         # not given: still a sample
    shipped = {d.id: d for d in read_flow_files(DEFAULT_CATALOG)[0]}["staff_leave"]
    assert leave.digest != shipped.digest                         # a different definition


def test_a_bad_entry_is_named_and_skipped(tmp_path: Path) -> None:
    text = SCHOOL + """
["教职工请假"]
time_limit_days = 3

["IT报修"]
time_limit_days = -1
colour = "red"

["IT报修".contact]
phone = ""
fax = "1"

["货物及服务采购申请".stages.nowhere]
time_limit_days = 2
"""
    definitions, problems = read_flow_files(DEFAULT_CATALOG, read_overrides(school_file(
        tmp_path, text)))
    messages = [str(p) for p in problems]
    for where in ('["教职工请假"]: 没有这个名称的流程', '["IT报修"].time_limit_days',
                  '["IT报修"].colour', '["IT报修"].contact.phone', '["IT报修"].contact.fax',
                  '["货物及服务采购申请"].stages.nowhere'):
        assert any(where in m for m in messages), where
    assert all(m.startswith(str(tmp_path / "school.toml")) for m in messages)
    assert len(definitions) == 47                                  # nothing left out
    repair = next(d for d in definitions if d.name == "IT报修")
    assert repair.contact.sample and repair.time_limit_days > 0


def test_flows_export_shows_the_merged_result(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'[flows]\noverrides = "{school_file(tmp_path)}"\n', encoding="utf-8")
    assert main(["flows", "export", "--format", "json", "--config", str(config)]) == 0
    exported = {f["name"]: f for f in json.loads(capsys.readouterr().out)}
    leave = exported["教职工请销假审批"]
    assert leave["contact"]["person"] == "许芳" and leave["sample_data"] is False
    assert leave["time_limit_days"] == 5
    assert main(["flows", "check", "--config", str(config)]) == 0


async def test_an_edited_school_file_is_picked_up_without_a_restart(tmp_path: Path) -> None:
    flows = tmp_path / "flows"
    flows.mkdir()
    shutil.copy(DEFAULT_CATALOG / "staff_leave.toml", flows)
    overrides = school_file(tmp_path)
    catalog = await Catalog.load(flows, action_registry(), overrides)
    assert catalog.get("staff_leave").contact.person == "许芳"
    overrides.write_text(SCHOOL.replace("许芳", "许芳芳"), encoding="utf-8")
    assert catalog.changed_on_disk()
    await catalog.reload(action_registry())
    assert catalog.get("staff_leave").contact.person == "许芳芳"
