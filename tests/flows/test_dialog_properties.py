"""Property: whatever a user types, in any order — answers, nonsense, 无, 是/否, 返回, 修改 N —
every flow's dialog only ever asks a question that applies, stores an answer only under the
question being asked, keeps no answer to a question that no longer applies once answered, and
counts its questions without ever showing fewer than are done. Hypothesis picks the sequences;
each step is a real turn through the simulator and the database."""

from __future__ import annotations

import re
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot import keys
from flows.definition import FlowDefinition
from flows.session import FlowSession
from storage.models import Application
from tests.conftest import Sim
from tests.flows.test_catalog_walks import ONLINE, ids
from tests.flows.walker import applicant_for, current_application

#: what a user may send at any point of a dialog
ACTIONS = st.one_of(
    st.sampled_from(["example", "example", "example", "返回", "上一步", "无", "是", "否", "对",
                     "不是", "好的", "嗯哼", "确认"]),
    st.tuples(st.just("修改"), st.integers(min_value=1, max_value=9)),
    st.tuples(st.just("option"), st.integers(min_value=1, max_value=4)),
)
#: what comes right after the first answers: a step back or a change, where mistakes hide
TURNS_BACK = st.one_of(st.sampled_from(["返回", "返回", "上一步", "否", "是"]),
                       st.tuples(st.just("修改"), st.integers(min_value=1, max_value=9)))
_COUNTER = re.compile(r"（(\d+)/(\d+)）请填写")


async def session_of(client: TestClient, definition: FlowDefinition,
                     application: Application) -> FlowSession:
    return await client.app[keys.ENGINE].runtime.session_for(application, definition)


async def send(sim: Sim, user: str, definition: FlowDefinition, state: str,
               action: Any) -> str:
    if isinstance(action, tuple):
        word, number = action
        return await sim.text(user, f"修改 {number}" if word == "修改" else str(number))
    if action != "example":
        return await sim.text(user, action)
    if not state.startswith("ask_"):
        return await sim.text(user, "返回")       # at the summary: go back rather than submit
    field = definition.field_by_key(state.removeprefix("ask_"))
    if field.type == "attachment":
        return await sim.send_file(user, field.example or "材料.pdf")
    return await sim.text(user, field.example)


def check_counter(reply: str, session: FlowSession, *, editing: bool = False) -> None:
    """The counter: the answers given plus one — or, for an answer being changed (修改 N,
    返回), the question's place among those counted; never beyond the total, and the total
    never below the questions done."""
    for position, total in _COUNTER.findall(reply):
        assert int(position) <= int(total)
        item = session.current_field()
        assert item is not None
        done = sum(1 for f in session.applicable_fields()
                   if f.key != item.key and f.key in session.form)
        assert int(total) >= done + 1, reply
        if editing:
            assert int(position) == session.counted_fields().index(item) + 1, reply
        else:
            assert int(position) == done + 1, reply


#: flows with questions asked only for some answers: where 返回 and 修改 can go wrong
BRANCHING = [d for d in ONLINE if any(f.when is not None for f in d.fields)]
STRAIGHT = [d for d in ONLINE if d not in BRANCHING]
STEPS = st.lists(st.tuples(st.booleans(), st.one_of(TURNS_BACK, ACTIONS)), min_size=4,
                 max_size=12)
PROPERTY = settings(deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])


@pytest.mark.parametrize("definition", BRANCHING, ids=ids(BRANCHING))
@settings(PROPERTY, max_examples=8)
@given(steps=STEPS)
async def test_random_answers_never_corrupt_a_branching_form(
        sim: Sim, client: TestClient, definition: FlowDefinition,
        steps: list[tuple[bool, Any]]) -> None:
    await walk(sim, client, definition, steps)


@pytest.mark.parametrize("definition", STRAIGHT, ids=ids(STRAIGHT))
@settings(PROPERTY, max_examples=2)
@given(steps=STEPS)
async def test_random_answers_never_corrupt_a_straight_form(
        sim: Sim, client: TestClient, definition: FlowDefinition,
        steps: list[tuple[bool, Any]]) -> None:
    await walk(sim, client, definition, steps)


async def walk(sim: Sim, client: TestClient, definition: FlowDefinition,
               steps: list[tuple[bool, Any]]) -> None:
    user = (await applicant_for(definition)).id
    await sim.say(user, "取消")                       # whatever an earlier example left open
    await sim.say(user, f"办理 {definition.name}")
    asked_ever: set[str] = set()
    # each step answers the question as the file's example says, and often then does
    # something else: a step back, a change, a yes or no, nonsense
    actions = [a for answer_only, other in steps
               for a in (["example"] if answer_only else ["example", other])]
    for action in actions:
        before = await current_application(user)
        assert before is not None
        asked = before.state.removeprefix("ask_") if before.state.startswith("ask_") else ""
        if asked:
            asked_ever.add(asked)
        reply = await send(sim, user, definition, before.state, action)
        after = await current_application(user)
        if after is None:                            # submitted with 确认: the dialog is over
            assert "已提交" in reply or "无法" in reply
            return
        session = await session_of(client, definition, after)
        if action in ("返回", "上一步"):
            # back goes to the question before, among those that applied before the step
            earlier = await session_of(client, definition, before)
            target = earlier.previous_dialog_state() or before.state
            assert after.state == target, (before.state, after.state, before.form)
        changed = {k for k in set(before.form) | set(after.form)
                   if before.form.get(k, None) != after.form.get(k, None) or
                   (k in before.form) != (k in after.form)}
        added_or_changed = {k for k in changed if k in after.form}
        # an answer is stored only under the question that was being asked
        assert added_or_changed <= {asked}, (action, asked, added_or_changed)
        assert set(after.form) <= asked_ever
        # the dialog asks a question that applies and is not answered, or shows the summary
        if after.state.startswith("ask_"):
            item = session.current_field()
            assert item is not None and session.applies(item), after.state
            assert item.key not in after.form
            check_counter(reply, session,
                          editing=item.key in after.meta.get("previous", {}))
        else:
            assert after.state == "confirm", after.state
            applicable = session.applicable_fields()
            assert all(f.key in after.form for f in applicable)    # skipped: None
            assert {f.key for f in applicable} >= set(after.form)
        if added_or_changed:     # just answered: answers to questions that stopped applying go
            assert all(session.applies(definition.field_by_key(k)) for k in after.form)
