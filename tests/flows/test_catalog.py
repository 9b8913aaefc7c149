"""The shipped catalog: the notice's 47 processes, each complete and valid."""

from __future__ import annotations

import re
from pathlib import Path

from bot.services import action_registry
from flows.catalog import DEFAULT_CATALOG, check_flows
from flows.loader import read_flow_files
from storage.directory_file import read_directory_file
from storage.roles import ROLE_LABELS

NOTICE_PROCESSES = {
    "OA系统": "党政办公室", "集团号申请": "党政办公室", "疫情异常状态上报": "党政办公室",
    "领导干部集体外出请销假": "党委组织部", "部门主要负责人个人外出请销假": "党委组织部",
    "干部个人外出请销假": "党委组织部", "附属单位主要负责人外出请销假": "党委组织部",
    "附属单位副职外出请销假": "党委组织部", "校领导个人外出请销假": "党委组织部",
    "教职工请销假审批": "人事处", "人事综合管理与服务平台": "人事处",
    "报告会、研讨会、讲座和论坛活动审批": "宣传统战部",
    "宣传阵地审批": "宣传统战部",
    "校外新闻发布及宣传活动申请": "宣传统战部", "新媒体公共账号备案": "宣传统战部",
    "新媒体公共账号变更备案": "宣传统战部", "学生心理健康状况报送": "学生工作处",
    "学生综合管理系统": "学生工作处", "教职员工机动车辆登记申请": "保卫处",
    "校园文化活动公共区域摆摊设点申请": "保卫处", "临时商业活动摆摊设点申请": "保卫处",
    "调取监控录像资料申请": "保卫处", "学生请假审批": "保卫处",
    "超星网络教学平台": "教务处",
    "保留学籍申请": "教务处", "复学申请": "教务处", "课程免修申请": "教务处", "休学申请": "教务处",
    "学生基本信息修改申请": "教务处", "教学质量监控系统": "教学质量监督处", "新科研平台": "科研处",
    "工程预算审核申请": "审计处", "工程结算审核申请": "审计处",
    "货物与服务招标上限值审核": "审计处",
    "采购与招投标管理平台": "资产管理处", "资产管理系统": "资产管理处",
    "实验剧院申请": "信息与公共实验管理中心", "南校区艺术馆公共教室申请": "信息与公共实验管理中心",
    "录播教室申请": "信息与公共实验管理中心", "网站修改申请": "信息与公共实验管理中心",
    "网盘": "信息与公共实验管理中心", "办公电脑登记": "信息与公共实验管理中心",
    "IT报修": "信息与公共实验管理中心", "教育网邮箱申请": "信息与公共实验管理中心",
    "后勤报修流程": "后勤基建处",
    # the notice's two example flowcharts (附件2, 附件3)
    "校长办公会议题申请": "党政办公室", "货物及服务采购申请": "资产管理处",
}
PLATFORMS = {"OA系统", "人事综合管理与服务平台", "学生综合管理系统", "超星网络教学平台",
             "教学质量监控系统", "新科研平台", "采购与招投标管理平台", "资产管理系统", "网盘"}
REAL_LOOKING_PHONE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")


async def test_shipped_catalog_passes_every_check() -> None:
    _, problems = await check_flows(DEFAULT_CATALOG, action_registry())
    assert [str(p) for p in problems] == []


def test_all_47_processes_present_with_their_units() -> None:
    definitions = read_flow_files(DEFAULT_CATALOG)[0]
    assert len(NOTICE_PROCESSES) == 47
    found = {d.name: d.unit for d in definitions}
    assert found == NOTICE_PROCESSES


def test_platforms_give_an_address_and_everything_else_runs_in_chat() -> None:
    for definition in read_flow_files(DEFAULT_CATALOG)[0]:
        if definition.name in PLATFORMS:
            assert definition.kind == "platform" and definition.platform is not None
            assert definition.platform.url.startswith("http"), definition.id
            assert definition.platform.login and definition.platform.can_do
        else:
            assert definition.online and definition.fields, definition.id
            assert definition.status == "live", definition.id


def test_every_guide_has_the_notice_elements() -> None:
    for definition in read_flow_files(DEFAULT_CATALOG)[0]:
        contact = definition.contact
        assert all([contact.section, contact.post, contact.person, contact.address,
                    contact.phone, contact.email]), definition.id
        assert definition.time_limit_days > 0 or definition.kind == "platform", definition.id
        assert definition.steps and all(s.title and s.notes for s in definition.steps)
        assert definition.summary and definition.aliases, definition.id


def test_contacts_are_marked_sample_data_without_real_phone_numbers() -> None:
    for path in Path(DEFAULT_CATALOG).glob("*.toml"):
        text = path.read_text(encoding="utf-8")
        assert not REAL_LOOKING_PHONE.search(text.split("[[fields]]")[0]), path.name
    for definition in read_flow_files(DEFAULT_CATALOG)[0]:
        assert definition.contact.sample, definition.id
        assert "示例" in definition.contact.phone, definition.id


def test_no_demo_directory_id_appears_in_the_shipped_flows() -> None:
    """Units are named as the notice names them; only documented role codes appear."""
    demo = read_directory_file("demo")
    demo_ids = {e.id for e in demo.entries if e.id}
    for definition in read_flow_files(DEFAULT_CATALOG)[0]:
        approvers = [s.approver for s in definition.stages]
        if definition.fallback:
            approvers.append(definition.fallback)
        for approver in approvers:
            assert approver.argument not in demo_ids, (definition.id, str(approver))
            if approver.form == "role":
                assert approver.argument in ROLE_LABELS, (definition.id, str(approver))
            assert approver.form != "user", (definition.id, str(approver))
        assert not set(definition.reviewers) & demo_ids, definition.id
    for path in Path(DEFAULT_CATALOG).glob("*.toml"):
        text = path.read_text(encoding="utf-8")
        for demo_id in demo_ids:
            assert not re.search(rf'[:"]{re.escape(demo_id)}"', text), (path.name, demo_id)
