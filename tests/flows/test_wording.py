"""Replies as a native speaker would write them: 返校 for students and 返岗 for staff, the
transfer explained before its card, a rating's comment passed on to the approver."""

from __future__ import annotations

from flows.catalog import DEFAULT_CATALOG
from flows.loader import read_flow_files
from storage.models import Application, ApprovalTask
from tests.conftest import Sim
from tests.flows.walker import submit

CATALOG = {d.id: d for d in read_flow_files(DEFAULT_CATALOG)[0]}


async def approve_pending(sim: Sim, application_id: int) -> None:
    for task in await ApprovalTask.filter(application_id=application_id, status="pending"):
        await sim.tap(task.approver_id, task.card_key, "approve")


async def test_students_come_back_to_school_and_staff_to_work(sim: Sim) -> None:
    for flow_id, user, word, other in (("student_leave", "stu_liu", "返校", "返岗"),
                                       ("staff_leave", "zhang_t", "返岗", "返校")):
        application = await submit(sim, CATALOG[flow_id], user)
        await sim.inbox(user)
        while (await Application.get(id=application.id)).status == "pending":
            await approve_pending(sim, application.id)
        told = "\n".join(m.get("text", "") for m in await sim.inbox(user))
        assert f"{word}后请回复“销假”" in told and other not in told


async def test_a_transfer_is_explained_before_its_card_arrives(sim: Sim) -> None:
    application = await submit(sim, CATALOG["staff_leave"], "zhang_t")
    task = await ApprovalTask.get(application_id=application.id, status="pending")
    await sim.tap(task.approver_id, task.card_key, "transfer")
    await sim.say(task.approver_id, "蒋副院长")
    await sim.say(task.approver_id, "本周出差，请蒋副院长代为审批")   # a transfer needs a reason
    arrived = await sim.inbox("lit_vdean")
    kinds = [m["type"] for m in arrived]
    assert kinds.index("text") < kinds.index("card")
    assert "转交给您处理" in arrived[kinds.index("text")]["text"]


async def test_the_approver_hears_the_rating_with_its_comment(sim: Sim) -> None:
    application = await submit(sim, CATALOG["it_repair"], "zhang_t")
    task = await ApprovalTask.get(application_id=application.id, status="pending")
    await sim.tap(task.approver_id, task.card_key, "approve")
    await sim.inbox(task.approver_id)
    await sim.say("zhang_t", "5分，修得很快")
    told = "\n".join(m.get("text", "") for m in await sim.inbox(task.approver_id))
    assert "5 分" in told and "修得很快" in told
