"""Approvals as a campus office runs them, end to end through the simulator: the one policy,
stage modes, 转交/加签/退回修改, 撤回/催办, comments, CC, delegation, sensitive answers."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer
from tortoise import Tortoise

from bot.app import create_app
from bot.clock import FixedClock
from bot.config import Settings
from flows.catalog import DEFAULT_CATALOG
from storage.db import tortoise_config
from storage.models import Application, ApprovalTask, AuditEntry
from tests.conftest import PG_URL_ENV, Sim, wipe_database
from tests.flows.test_leave_dialog import HEAD, HR_HEAD, TEACHER, fill_leave
from tests.processes import processes

STUDENT = "stu_liu"
HR_CLERK = "hr_xu"


async def submitted(sim: Sim, days: str = "2", *, start: str = "明天",
                    user: str = TEACHER) -> Application:
    if user == TEACHER:
        await fill_leave(sim, days, start=start)
    else:
        await sim.say(user, "我要请假")
        for answer in ("事假", start, days, "家中老人住院需要陪护", "否", "13800000000"):
            await sim.say(user, answer)
    assert "已提交" in await sim.text(user, "确认")
    return await Application.filter(applicant_id=user).order_by("-id").first()


async def texts(sim: Sim, user: str) -> str:
    return "\n".join(m.get("text", "") for m in await sim.inbox(user) if m["type"] == "text")


async def card_updates(sim: Sim, user: str) -> list[dict]:
    return [m for m in await sim.inbox(user) if m["type"] == "card_update"]


# ---- the one policy ------

async def test_transfer_to_the_applicant_is_refused(sim: Sim) -> None:
    await submitted(sim)
    card = await sim.card_for(HEAD)
    await sim.tap(HEAD, card["card_key"], "transfer")
    refused = await sim.text(HEAD, "张老师 她自己最清楚")
    assert "不能转交给申请人本人" in refused
    assert await ApprovalTask.filter(approver_id=TEACHER).count() == 0
    # the card is still the head's to decide
    assert (await ApprovalTask.get(card_key=card["card_key"])).status == "pending"


async def test_transfer_and_add_only_to_staff_and_only_with_a_reason(sim: Sim) -> None:
    await submitted(sim)
    card = await sim.card_for(HEAD)
    student = await sim.text(HEAD, "转交 1 刘同学 请帮忙看看")
    assert "只能转交给教职工" in student
    added = await sim.text(HEAD, "加签 1 刘同学 后 请帮忙看看")
    assert "只能加签给教职工" in added
    asked = await sim.text(HEAD, "转交 1 陈处长")
    assert "理由" in asked
    done = await sim.text(HEAD, "人事处负责")
    assert "已转交给陈处长" in done
    hr_card = await sim.card_for(HR_HEAD)
    assert "李院长转交：人事处负责" in hr_card["subtitle"]
    assert (await ApprovalTask.get(card_key=card["card_key"])).status == "transferred"


async def test_a_user_spec_naming_the_applicant_goes_to_their_head(
        catalog_sim: Callable[..., AsyncIterator[Sim]]) -> None:
    # 李院长 applies; the flow names him as the approver: his leader in charge decides
    async with catalog_sim('approver = "user:li_dean"') as sim:
        await submitted(sim)                 # 张老师's leave goes to 李院长 as the file says
        assert await ApprovalTask.filter(approver_id=HEAD).count() == 1
        mine = await submitted(sim, user=HEAD)
        approvers = {t.approver_id for t in await ApprovalTask.filter(application_id=mine.id)}
        assert approvers == {"vp_wu"}


# ---- stage modes ------

@pytest.fixture
def catalog_sim(tmp_path: Path, settings_factory: Callable[..., Settings], clock: FixedClock,
                database_url: str):
    """A catalog whose staff_leave first stage is rewritten (`approver = ...` and more)."""
    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def make(stage: str, extra: str = "") -> AsyncIterator[Sim]:
        catalog = tmp_path / "catalog"
        shutil.rmtree(catalog, ignore_errors=True)
        catalog.mkdir()
        text = (DEFAULT_CATALOG / "staff_leave.toml").read_text(encoding="utf-8")
        text = text.replace('approver = "department_head"', stage, 1) + extra
        (catalog / "staff_leave.toml").write_text(text, encoding="utf-8")
        await wipe_database(database_url)
        app = create_app(settings_factory(flows={"path": str(catalog)}), clock=clock,
                         background=False)
        async with TestClient(TestServer(app)) as client:
            yield Sim(client, clock)
    return make


COUNSELORS = ("chen_c", "fang_c")       # 陈辅导员, 方辅导员: the two holders of role:counselor


async def test_all_must_agree_in_hui_qian(catalog_sim) -> None:
    async with catalog_sim('approver = "role:counselor"\nmode = "all"') as sim:
        application = await submitted(sim)
        first = await sim.card_for(COUNSELORS[0])
        second = await sim.card_for(COUNSELORS[1])
        await sim.tap(COUNSELORS[0], first["card_key"], "approve")
        assert (await Application.get(id=application.id)).status == "pending"
        assert "还需方辅导员审批" in await texts(sim, TEACHER)
        await sim.tap(COUNSELORS[1], second["card_key"], "approve")
        assert (await Application.get(id=application.id)).status == "followup"


async def test_in_order_the_second_gets_the_card_after_the_first(catalog_sim) -> None:
    async with catalog_sim('approver = "role:counselor"\nmode = "sequence"') as sim:
        await submitted(sim)
        first = await sim.card_for(COUNSELORS[0])
        assert not [m for m in await sim.inbox(COUNSELORS[1]) if m["type"] == "card"]
        await sim.tap(COUNSELORS[0], first["card_key"], "approve")
        second = await sim.card_for(COUNSELORS[1])
        await sim.tap(COUNSELORS[1], second["card_key"], "approve")
        assert "销假" in await texts(sim, TEACHER)


async def test_simultaneous_or_sign_taps_give_one_decision(catalog_sim) -> None:
    async with catalog_sim('approver = "role:counselor"\nmode = "any"') as sim:
        application = await submitted(sim)
        cards = [await sim.card_for(user) for user in COUNSELORS]
        answers = await asyncio.gather(*(sim.tap(user, card["card_key"], "approve")
                                         for user, card in zip(COUNSELORS, cards, strict=True)))
        decided = await ApprovalTask.filter(application_id=application.id, status="approved")
        assert len(decided) == 1
        winner = decided[0].approver_id
        loser = next(u for u in COUNSELORS if u != winner)
        loser_said = "\n".join(r.get("text", "") for r in answers[COUNSELORS.index(loser)])
        assert "无需重复操作" in loser_said
        decisions = await AuditEntry.filter(application_id=application.id, action="decision")
        assert len(decisions) == 1
        # every copy of the card shows who decided
        name = "陈辅导员" if winner == COUNSELORS[0] else "方辅导员"
        for user in COUNSELORS:
            statuses = [u["status"] for u in await card_updates(sim, user)]
            statuses += [r["status"] for r in answers[COUNSELORS.index(user)]
                         if r["type"] == "card_update"]
            assert any(name in status for status in statuses), (user, statuses)


async def test_an_approver_acting_twice_in_a_row_is_asked_once(sim: Sim) -> None:
    await submitted(sim, "5", user=HR_CLERK)   # 陈处长: department head, then head of 人事处
    card = await sim.card_for(HR_HEAD)
    await sim.tap(HR_HEAD, card["card_key"], "approve")
    assert not [m for m in await sim.inbox(HR_HEAD) if m["type"] == "card"]
    assert "自动通过" in await texts(sim, HR_CLERK)


# ---- approver actions ------

async def test_add_an_approver_before_oneself(sim: Sim) -> None:
    await submitted(sim)
    card = await sim.card_for(HEAD)
    await sim.tap(HEAD, card["card_key"], "add")
    said = await sim.text(HEAD, "蒋副院长 前 请先看一下课程安排")
    assert "蒋副院长审批后会再发给您" in said
    vice = await sim.card_for("lit_vdean")
    await sim.tap("lit_vdean", vice["card_key"], "approve")
    again = await sim.card_for(HEAD)                # back to the head, on a new card
    assert again["card_key"] != card["card_key"]
    await sim.tap(HEAD, again["card_key"], "approve")
    assert "销假" in await texts(sim, TEACHER)


async def test_add_an_approver_after_oneself(sim: Sim) -> None:
    application = await submitted(sim)
    card = await sim.card_for(HEAD)
    await sim.tap(HEAD, card["card_key"], "add")
    said = await sim.text(HEAD, "陈处长 后 涉及课程调整")
    assert "已同意并加签陈处长" in said
    assert (await Application.get(id=application.id)).status == "pending"
    hr_card = await sim.card_for(HR_HEAD)
    await sim.tap(HR_HEAD, hr_card["card_key"], "approve")
    assert (await Application.get(id=application.id)).status == "followup"


async def test_return_for_changes_and_resubmit_continue_where_it_was(sim: Sim) -> None:
    application = await submitted(sim, "5")        # 李院长, then 陈处长
    head = await sim.card_for(HEAD)
    await sim.tap(HEAD, head["card_key"], "approve")
    hr = await sim.card_for(HR_HEAD)
    asked = "\n".join(r["text"] for r in await sim.tap(HR_HEAD, hr["card_key"], "return"))
    assert "2. 开始日期" in asked
    done = await sim.text(HR_HEAD, "2 3 与期末考试冲突，请改到考试后")
    assert "已退回" in done
    told = await texts(sim, TEACHER)
    assert "退回修改" in told and "开始日期、请假天数" in told and "与期末考试冲突" in told
    assert (await Application.get(id=application.id)).status == "returned"
    question = await sim.text(TEACHER, "修改申请")
    assert "开始日期" in question and "原来填的是" in question
    await sim.say(TEACHER, "12月21日")
    summary = await sim.text(TEACHER, "4")
    assert "请假天数：4天" in summary
    resubmitted = await sim.text(TEACHER, "确认")
    assert "陈处长" in resubmitted
    assert not [m for m in await sim.inbox(HEAD) if m["type"] == "card"]   # not asked again
    again = await sim.card_for(HR_HEAD)
    assert ["请假时间", "12月21日–12月24日，4天"] in again["facts"]
    await sim.tap(HR_HEAD, again["card_key"], "approve")
    assert (await Application.get(id=application.id)).status == "followup"


async def test_a_decided_card_shows_outcome_and_reason_distinctly(sim: Sim) -> None:
    await submitted(sim)
    card = await sim.card_for(HEAD)
    await sim.tap(HEAD, card["card_key"], "reject")
    replies = await sim.say(HEAD, "期末考试周，请调整时间")
    update = next(r for r in replies if r["type"] == "card_update")
    assert update["outcome"] == "rejected" and update["reason"] == "期末考试周，请调整时间"
    assert update["status"].startswith("已驳回")


# ---- applicant actions ------

async def test_a_withdrawn_application_whose_card_is_then_tapped(sim: Sim) -> None:
    application = await submitted(sim)
    card = await sim.card_for(HEAD)
    assert "已撤回" in await sim.text(TEACHER, "撤回")       # one open application: no number
    update = (await card_updates(sim, HEAD))[-1]
    assert update["status"] == "申请人已撤回" and update["outcome"] == "withdrawn"
    tapped = await sim.tap(HEAD, card["card_key"], "approve")
    assert any("申请人已撤回" in r.get("text", "") for r in tapped)
    assert (await Application.get(id=application.id)).status == "withdrawn"
    assert not await ApprovalTask.filter(application_id=application.id, status="approved")


async def test_withdraw_and_urge_ask_which_when_there_are_several(sim: Sim) -> None:
    first = await submitted(sim)
    second = await submitted(sim, "1", start="下周一")
    asked = await sim.text(TEACHER, "撤回")
    assert f"1. #{second.id}" in asked and f"2. #{first.id}" in asked
    assert "已撤回" in await sim.text(TEACHER, "2")
    assert (await Application.get(id=first.id)).status == "withdrawn"
    assert (await Application.get(id=second.id)).status == "pending"


async def test_urge_reminds_at_most_once_an_hour(sim: Sim) -> None:
    application = await submitted(sim)
    await sim.inbox(HEAD)
    urged = await sim.text(TEACHER, "催办")
    assert "已提醒李院长" in urged
    assert "张老师催办" in await texts(sim, HEAD)
    sim.advance(minutes=20)
    too_soon = await sim.text(TEACHER, f"催办 {application.id}")
    assert "40 分钟后可再次催办" in too_soon
    assert "催办" not in await texts(sim, HEAD)
    sim.advance(minutes=41)
    assert "已提醒" in await sim.text(TEACHER, "催办")


async def test_comments_reach_the_other_side_and_the_timeline(sim: Sim) -> None:
    application = await submitted(sim)
    await sim.inbox(HEAD)
    assert "已留言" in await sim.text(TEACHER, f"留言 {application.id} 诊断证明明天补交")
    assert "诊断证明明天补交" in await texts(sim, HEAD)
    timeline = await sim.text(HEAD, f"查看 {application.id}")
    assert "张老师 留言：诊断证明明天补交（模拟器）" in timeline
    assert "提交" in timeline


# ---- delegation, CC, sensitive answers ------

async def test_delegation_that_starts_and_ends(sim: Sim) -> None:
    said = await sim.text(HEAD, "我11月30日到12月2日外出，由蒋副院长代理")
    assert "11月30日–12月2日" in said and "蒋副院长" in said
    assert "天期间" not in said                             # not 「…，3天期间」
    await submitted(sim)                                    # Thursday 26: before it starts
    assert (await ApprovalTask.filter(approver_id=HEAD).count()) == 1
    sim.advance(days=4)                                     # Monday 30 November
    await submitted(sim, "1", start="12月10日")
    delegated = await ApprovalTask.filter(approver_id="lit_vdean").first()
    assert delegated is not None and delegated.delegated_from == HEAD
    vice_card = await sim.card_for("lit_vdean")
    assert "代李院长审批" in vice_card["subtitle"]
    sim.advance(days=3)                                     # Thursday 3 December: over
    await submitted(sim, "1", start="12月20日")
    assert await ApprovalTask.filter(approver_id="lit_vdean").count() == 1
    assert await ApprovalTask.filter(approver_id=HEAD).count() == 2


async def test_a_delegation_to_the_applicant_is_ignored(sim: Sim) -> None:
    await sim.say(HEAD, "我11月26日到12月2日出差，由张老师代理")
    await submitted(sim)
    assert await ApprovalTask.filter(approver_id=TEACHER).count() == 0
    assert await ApprovalTask.filter(approver_id=HEAD).count() == 1


async def test_cc_at_the_end_without_the_sensitive_reason(sim: Sim) -> None:
    application = await submitted(sim)                      # 病假, reason is medical
    card = await sim.card_for(HEAD)
    assert ["请假事由", "发烧就医，需在家休息"] in card["facts"]   # approvers see it
    await sim.tap(HEAD, card["card_key"], "approve")
    sim.advance(days=1)
    await sim.say(TEACHER, "销假")
    cc = await texts(sim, HR_CLERK)
    assert "【抄送】" in cc and f"#{application.id}" in cc
    assert "发烧" not in cc and "请假类型：病假" in cc
    view = await sim.text(HR_CLERK, f"查看 {application.id}")
    assert "仅审批人可见" in view and "发烧" not in view
    assert "发烧" in await sim.text(HEAD, f"查看 {application.id}")
    assert "发烧" not in await sim.text(TEACHER, "我的申请")
    assert "发烧" not in await sim.text(HEAD, "待办")
    assert "无权查看" in await sim.text("wang_t", f"查看 {application.id}")


@pytest.mark.skipif(not os.environ.get(PG_URL_ENV),
                    reason="needs PostgreSQL (CAMPUSBOT_TEST_DATABASE_URL)")
async def test_simultaneous_or_sign_taps_in_two_processes_give_one_decision(
        tmp_path: Path, database_url: str) -> None:
    catalog = tmp_path / "catalog"
    catalog.mkdir()
    text = (DEFAULT_CATALOG / "staff_leave.toml").read_text(encoding="utf-8")
    (catalog / "staff_leave.toml").write_text(text.replace(
        'approver = "department_head"', 'approver = "role:counselor"\nmode = "any"', 1),
        encoding="utf-8")
    await wipe_database(database_url)
    await Tortoise.init(config=tortoise_config(database_url))
    try:
        with processes(database_url, {"CAMPUSBOT_FLOWS__PATH": str(catalog)}) as started:
            urls = [await started.serve(), await started.serve()]
            async with aiohttp.ClientSession() as session:
                for answer in ("我要请假", "事假", "12月7日", "1", "家中有事需要处理", "否",
                               "13800000000", "确认"):
                    async with session.post(f"{urls[0]}/sim/api/messages",
                                            json={"user": TEACHER, "text": answer}) as reply:
                        assert reply.status == 200
                tasks = await ApprovalTask.filter(status="pending").order_by("approver_id")
                assert [t.approver_id for t in tasks] == list(COUNSELORS)
                taps = [session.post(f"{url}/sim/api/actions",
                                     json={"user": task.approver_id, "card": task.card_key,
                                           "action": "approve"})
                        for url, task in zip(urls, tasks, strict=True)]
                for response in await asyncio.gather(*taps):
                    assert response.status == 200
        assert await ApprovalTask.filter(status="approved").count() == 1
        assert await AuditEntry.filter(action="decision").count() == 1
        assert (await Application.first()).status == "followup"
    finally:
        await Tortoise.close_connections()


async def test_cc_at_submission_to_a_person_named_in_the_flow(catalog_sim) -> None:
    cc = '\n[[cc]]\nto = ["user:gpo_zou"]\nat = "submit"\nwhen = "days > 1"\n'
    async with catalog_sim('approver = "department_head"', cc) as sim:
        one_day = await submitted(sim, "1")
        assert f"#{one_day.id}" not in await texts(sim, "gpo_zou")      # the condition
        two_days = await submitted(sim, "2", start="12月7日")
        told = await texts(sim, "gpo_zou")
        assert "【抄送】" in told and f"#{two_days.id}）已提交" in told
        assert "发烧" not in told                     # a sick leave's reason is sensitive
