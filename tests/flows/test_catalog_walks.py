"""Every flow of the shipped catalog, walked to each of its end states through the simulator,
and every field type refusing a wrong answer."""

from __future__ import annotations

import pytest

from flows.catalog import DEFAULT_CATALOG
from flows.definition import FlowDefinition
from flows.loader import read_flow_files
from flows.texts import status_label
from storage.models import Application
from tests.conftest import Sim
from tests.flows.walker import (
    applicant_for,
    approve_all,
    current_application,
    pending_tasks,
    submit,
)

# files with problems are reported by tests/flows/test_catalog.py; walk the readable ones
CATALOG = sorted(read_flow_files(DEFAULT_CATALOG)[0], key=lambda d: d.id)
ONLINE = [d for d in CATALOG if d.online]
REJECTABLE = [d for d in ONLINE if any(s.kind == "approve" and s.when is None for s in d.stages)]

WRONG_ANSWERS = {
    "number": "很多很多",
    "date": "改天吧",
    "date_range": "过段时间",
    "datetime_range": "那天晚上",
    "choice": "99",
    "yesno": "也许吧",
    "phone": "12345",
    "email": "不是邮箱",
    "plate": "ABC-123",
}


def ids(definitions: list[FlowDefinition]) -> list[str]:
    return [d.id for d in definitions]


@pytest.mark.parametrize("definition", ONLINE, ids=ids(ONLINE))
async def test_walk_to_completion(sim: Sim, definition: FlowDefinition) -> None:
    applicant = await applicant_for(definition)
    application = await submit(sim, definition, applicant.id)
    finished = await approve_all(sim, definition, application)
    assert finished.status == "completed"
    assert status_label(definition, "completed") in await sim.text(applicant.id, "我的申请")


@pytest.mark.parametrize("definition", REJECTABLE, ids=ids(REJECTABLE))
async def test_walk_to_rejection(sim: Sim, definition: FlowDefinition) -> None:
    applicant = await applicant_for(definition)
    application = await submit(sim, definition, applicant.id)
    task = (await pending_tasks(application.id))[0]
    await sim.tap(task.approver_id, task.card_key, "reject")
    await sim.say(task.approver_id, "材料不全，请补充后重新提交")
    assert (await Application.get(id=application.id)).status == "rejected"
    told = "\n".join(m.get("text", "") for m in await sim.inbox(applicant.id))
    assert "材料不全" in told


@pytest.mark.parametrize("definition", ONLINE, ids=ids(ONLINE))
async def test_walk_to_cancellation(sim: Sim, definition: FlowDefinition) -> None:
    applicant = await applicant_for(definition)
    await sim.say(applicant.id, f"办理 {definition.name}")
    application = await current_application(applicant.id)
    assert application is not None
    assert "已取消" in await sim.text(applicant.id, "取消")
    assert (await Application.get(id=application.id)).status == "cancelled"


@pytest.mark.parametrize("definition", [d for d in ONLINE if d.stages],
                         ids=ids([d for d in ONLINE if d.stages]))
async def test_walk_to_withdrawal(sim: Sim, definition: FlowDefinition) -> None:
    applicant = await applicant_for(definition)
    application = await submit(sim, definition, applicant.id)
    assert "已撤回" in await sim.text(applicant.id, f"撤回 {application.id}")
    assert (await Application.get(id=application.id)).status == "withdrawn"


@pytest.mark.parametrize("definition", ONLINE, ids=ids(ONLINE))
async def test_wrong_answers_are_refused(sim: Sim, definition: FlowDefinition) -> None:
    applicant = await applicant_for(definition)
    await sim.say(applicant.id, f"办理 {definition.name}")
    for _ in range(len(definition.fields) + 1):
        application = await current_application(applicant.id)
        assert application is not None
        if application.state == "confirm":
            break
        field = definition.field_by_key(application.state.removeprefix("ask_"))
        wrong = WRONG_ANSWERS.get(field.type)
        if field.type == "text" and (field.min_length > 1 or field.pattern):
            wrong = "x"
        if field.type == "attachment" and field.required:
            wrong = "稍后再交"
        if wrong is not None:
            reply = await sim.text(applicant.id, wrong)
            still = await Application.get(id=application.id)
            assert still.state == application.state, f"{field.key} accepted {wrong!r}"
            assert "例如" in reply or "请" in reply, reply
        if field.type == "attachment":
            await sim.send_file(applicant.id, field.example or "材料.pdf")
        else:
            await sim.say(applicant.id, field.example)


def test_every_field_type_has_a_wrong_answer_case() -> None:
    types_in_catalog = {f.type for d in ONLINE for f in d.fields}
    assert types_in_catalog - set(WRONG_ANSWERS) <= {"text", "attachment"}
