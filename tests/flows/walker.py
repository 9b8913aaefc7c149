"""Walks a flow through the simulator as its users would: the applicant answers every question
with the field's own example, then each approver acts on the card they received."""

from __future__ import annotations

from flows.approvers import effective_roles
from flows.cards import leave_range
from flows.catalog import may_apply
from flows.definition import FlowDefinition
from storage.directory import DatabaseDirectory, PersonInfo
from storage.models import Application, ApprovalTask, Conversation
from tests.conftest import SHANGHAI, Sim

MAX_TURNS = 40


async def applicant_for(definition: FlowDefinition) -> PersonInfo:
    """A demo user who may apply, preferring one whose own roles name the first audience role."""
    directory = DatabaseDirectory()
    people = await directory.people()
    fitting = []
    for person in people:
        roles = await effective_roles(person, directory)
        if may_apply(definition, roles):
            fitting.append((definition.audience[0] not in person.roles, len(roles), person))
    assert fitting, f"nobody in the demo directory may apply for {definition.name}"
    return sorted(fitting, key=lambda item: (item[0], item[1], item[2].id))[0][2]


async def current_application(user_id: str) -> Application | None:
    conversation = await Conversation.get_or_none(user_id=user_id)
    if conversation is None or conversation.active_application_id is None:
        return None
    return await Application.get(id=conversation.active_application_id)


async def fill_in(sim: Sim, definition: FlowDefinition, user_id: str) -> Application:
    """Start the flow by name and answer each question with its example until the summary."""
    await sim.say(user_id, f"办理 {definition.name}")
    for _ in range(MAX_TURNS):
        application = await current_application(user_id)
        assert application is not None, f"{definition.id}: no dialog in progress"
        if application.state == "confirm":
            return application
        key = application.state.removeprefix("ask_")
        field = definition.field_by_key(key)
        if field.type == "attachment":
            reply = await sim.send_file(user_id, field.example or "材料.pdf")
        else:
            reply = await sim.text(user_id, field.example)
        after = await Application.get(id=application.id)
        assert after.state != application.state, (
            f"{definition.id}: example {field.example!r} of {key} was refused: {reply}")
    raise AssertionError(f"{definition.id}: dialog did not reach the summary")


async def submit(sim: Sim, definition: FlowDefinition, user_id: str) -> Application:
    application = await fill_in(sim, definition, user_id)
    reply = await sim.text(user_id, "确认")
    assert "已提交" in reply, f"{definition.id}: submit refused: {reply}"
    return await Application.get(id=application.id)


async def pending_tasks(application_id: int) -> list[ApprovalTask]:
    return await ApprovalTask.filter(application_id=application_id, status="pending").order_by("id")


async def approve_all(sim: Sim, definition: FlowDefinition,
                      application: Application) -> Application:
    """Every approver approves; followups are done by the applicant (销假, a 5-point rating)."""
    for _ in range(MAX_TURNS):
        application = await Application.get(id=application.id)
        if application.status in ("completed", "rejected"):
            return application
        if application.status == "followup":
            word = "销假" if application.state == "followup_report_back" else "5"
            leave = leave_range(definition, application.form)
            today = sim.clock.now().astimezone(SHANGHAI).date()
            if word == "销假" and leave is not None and leave[0] > today:
                sim.advance(days=(leave[0] - today).days)  # 销假 once the leave has started
            await sim.say(application.applicant_id, word)
            continue
        tasks = await pending_tasks(application.id)
        assert tasks, f"{definition.id}: stuck in {application.state} with nobody to act"
        for task in tasks:
            await sim.tap(task.approver_id, task.card_key, "approve")
    raise AssertionError(f"{definition.id}: approval did not finish")
