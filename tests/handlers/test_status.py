"""待办 and 我的申请 are paged (`更多`), and `同意 N` works for any task of the approver."""

from __future__ import annotations

from flows.catalog import DEFAULT_CATALOG
from flows.loader import read_flow_files
from storage.models import Application
from tests.conftest import Sim
from tests.flows.test_leave_dialog import HEAD
from tests.flows.walker import applicant_for, pending_tasks, submit


async def apply_many(sim: Sim, count: int) -> list[int]:
    """`count` teachers of 文学院 apply: every card goes to 李院长 (`lit` has few teachers,
    so each one applies several times, on different days)."""
    teachers = ["zhang_t", "chen_c"]
    for index in range(count):
        user = teachers[index % len(teachers)]
        await sim.say(user, "我要请假")
        for answer in ("事假", f"12月{index + 1}日", "1", "家中有事需要处理", "否",
                       "13800000000", "确认"):
            await sim.say(user, answer)
    return [a.id for a in await Application.filter(status="pending").order_by("id")]


async def test_the_21st_task_is_listed_and_can_be_approved(sim: Sim) -> None:
    ids = await apply_many(sim, 21)
    assert len(ids) == 21
    first_page = await sim.text(HEAD, "待办")
    assert "待您处理（21 项）" in first_page and f"#{ids[0]} " in first_page
    assert f"#{ids[20]} " not in first_page and "回复“更多”" in first_page
    second = await sim.text(HEAD, "更多")
    assert f"#{ids[10]} " in second and f"#{ids[20]} " not in second
    third = await sim.text(HEAD, "更多")
    assert f"#{ids[20]} " in third and "回复“更多”" not in third
    done = await sim.text(HEAD, f"同意 {ids[20]}")
    assert f"已同意编号 #{ids[20]}" in done
    assert (await Application.get(id=ids[20])).status == "followup"


async def test_my_applications_are_paged(sim: Sim) -> None:
    ids = await apply_many(sim, 24)
    mine = await sim.text("zhang_t", "我的申请")
    assert "共 12 项" in mine and "回复“更多”查看后面 2 项" in mine
    assert f"#{ids[0]} " not in mine                     # newest first
    rest = await sim.text("zhang_t", "更多")
    assert f"#{ids[0]} " in rest
    head = await sim.text(HEAD, "我的申请")
    assert "还没有提交过申请" in head


async def test_a_handled_repair_reads_as_done_and_a_comment_as_an_opinion(sim: Sim) -> None:
    definition = next(d for d in read_flow_files(DEFAULT_CATALOG)[0] if d.id == "it_repair")
    applicant = await applicant_for(definition)
    application = await submit(sim, definition, applicant.id)
    [task] = await pending_tasks(application.id)
    await sim.say(task.approver_id, f"同意 {application.id} 已更换电源")
    told = "\n".join(m["text"] for m in await sim.inbox(applicant.id) if m["type"] == "text")
    assert "意见：已更换电源" in told and "理由：" not in told
    history = await sim.text(applicant.id, f"查看 {application.id}")
    assert "办结" in history and " 同意" not in history
