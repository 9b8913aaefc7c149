"""One `transitions` machine per flow definition, shared by every application of that flow.

The graph is derived from the definition: a question state per field, the confirmation, a state
per approval stage and per followup, and the final states. Conditions on each transition ask the
session where it should go next, so the machine both decides and guards every move.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, cast

from transitions import EventData, Machine

from flows.definition import FlowDefinition
from flows.session import (
    CANCELLED,
    COMPLETED,
    CONFIRM,
    EXPIRED,
    FINAL_STATES,
    NEW,
    REJECTED,
    WITHDRAWN,
    FlowSession,
    ask_state,
    followup_state,
    stage_state,
)


class _TransitionsChatterToDebug(logging.Filter):
    """`transitions` logs every state entered and callback run at INFO; here they are DEBUG (the
    engine logs one line per state change itself)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno == logging.INFO:
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            return logging.getLogger().isEnabledFor(logging.DEBUG)
        return True


logging.getLogger("transitions.core").addFilter(_TransitionsChatterToDebug())

TRIGGERS = ("start", "answer", "back", "edit", "submit", "approve", "reject", "followup_done",
            "cancel", "withdraw", "expire", "return", "resubmit")


@dataclass(frozen=True)
class Edge:
    trigger: str
    source: str
    dest: str


def _goes_to(dest: str, pick: Callable[[FlowSession], str | None]) -> Callable[[EventData], bool]:
    def condition(event: EventData) -> bool:
        # a trigger asks every candidate edge; the answer is the same for all of them
        session = cast(FlowSession, event.model)
        if pick not in session.picked:
            session.picked[pick] = pick(session)
        return session.picked[pick] == dest

    condition.__name__ = f"goes_to_{dest}"
    return condition


def _next_dialog(session: FlowSession) -> str:
    return session.next_dialog_state()


def _previous_dialog(session: FlowSession) -> str | None:
    # the dialog picks the target before it takes the answer off the form (so taking it off
    # cannot change which question comes before)
    return session.edit_target or session.previous_dialog_state()


def _edit_target(session: FlowSession) -> str:
    return session.edit_target


def _after_current(session: FlowSession) -> str:
    return session.stage_after(session.state)


def flow_edges(definition: FlowDefinition) -> list[Edge]:
    """Every possible move of this flow, conditions aside."""
    asks = [ask_state(f.key) for f in definition.fields]
    stages = [stage_state(s.id) for s in definition.stages]
    followups = [followup_state(f.id) for f in definition.followups]
    edges: list[Edge] = []
    if not definition.online:
        return edges
    # a field whose condition can never hold is not reachable: leave it out of the graph
    reachable_asks = [a for a, f in zip(asks, definition.fields, strict=True) if not _never(f.when)]
    reachable_stages = [s for s, st in zip(stages, definition.stages, strict=True)
                        if not _never(st.when)]
    for dest in [*reachable_asks, CONFIRM]:
        edges.append(Edge("start", NEW, dest))
    for source in reachable_asks:
        for dest in [*reachable_asks, CONFIRM]:
            if dest != source:
                edges.append(Edge("answer", source, dest))
        for dest in reachable_asks:
            if dest != source:
                edges.append(Edge("back", source, dest))
    for dest in reachable_asks:
        edges.append(Edge("back", CONFIRM, dest))
        edges.append(Edge("edit", CONFIRM, dest))
    after_confirm = [*reachable_stages, *followups, COMPLETED]
    for dest in after_confirm:
        edges.append(Edge("submit", CONFIRM, dest))
    for index, source in enumerate(stages):
        if source not in reachable_stages:
            continue
        later = [s for s in reachable_stages if stages.index(s) > index]
        for dest in [*later, *followups, COMPLETED]:
            edges.append(Edge("approve", source, dest))
        edges.append(Edge("reject", source, REJECTED))
        edges.append(Edge("withdraw", source, WITHDRAWN))
        # 退回修改: back to the answers to fix; resubmitting continues where it was
        for dest in [*reachable_asks, CONFIRM]:
            edges.append(Edge("return", source, dest))
    for dest in after_confirm:
        edges.append(Edge("resubmit", CONFIRM, dest))
    for source in [*reachable_asks, CONFIRM]:
        edges.append(Edge("withdraw", source, WITHDRAWN))  # a returned application
    for index, source in enumerate(followups):
        for dest in [*followups[index + 1 :], COMPLETED]:
            edges.append(Edge("followup_done", source, dest))
        edges.append(Edge("withdraw", source, WITHDRAWN))  # a leave that has not started
    for source in [NEW, *reachable_asks, CONFIRM]:
        edges.append(Edge("cancel", source, CANCELLED))
        edges.append(Edge("expire", source, EXPIRED))
    return edges


def _never(condition: Any) -> bool:
    """A condition without names that is false (e.g. `when = "1 > 2"`) can never hold."""
    return condition is not None and not condition.names and not condition.evaluate({})


def all_states(definition: FlowDefinition) -> list[str]:
    return [NEW, *(ask_state(f.key) for f in definition.fields), CONFIRM,
            *(stage_state(s.id) for s in definition.stages),
            *(followup_state(f.id) for f in definition.followups), *FINAL_STATES]


_PICKERS: dict[str, Callable[[FlowSession], str | None]] = {
    "start": _next_dialog,
    "answer": _next_dialog,
    "back": _previous_dialog,
    "edit": _edit_target,
    "return": _edit_target,
    "resubmit": _edit_target,
    "submit": _after_current,
    "approve": _after_current,
    "followup_done": _after_current,
}


def _record(event: EventData) -> None:
    transition = event.transition
    assert transition is not None and event.event is not None
    cast(FlowSession, event.model).record(event.event.name, transition.source,
                                          transition.dest or transition.source)


def build_machine(definition: FlowDefinition) -> Machine:
    """Build the shared machine; sessions are added and removed per turn."""
    transitions = []
    for edge in flow_edges(definition):
        spec: dict[str, Any] = {"trigger": edge.trigger, "source": edge.source, "dest": edge.dest}
        picker = _PICKERS.get(edge.trigger)
        if picker is not None:
            spec["conditions"] = [_goes_to(edge.dest, picker)]
        transitions.append(spec)
    return Machine(
        model=None,
        states=all_states(definition),
        transitions=transitions,
        initial=NEW,
        auto_transitions=False,
        send_event=True,
        after_state_change=[_record],
        name=definition.id,
    )


#: machines by the graph they were built from, shared by every FlowMachines of the process
_BUILT: dict[tuple[Any, ...], Machine] = {}


def _shared_machine(definition: FlowDefinition) -> Machine:
    """A machine is only its graph (conditions ask the session), so one built for the same
    graph is reused: a service started again does not rebuild 47 machines."""
    key = (definition.id, definition.digest or definition.version,
           tuple(flow_edges(definition)), tuple(all_states(definition)))
    machine = _BUILT.get(key)
    if machine is None:
        machine = _BUILT[key] = build_machine(definition)
    return machine


class FlowMachines:
    """The shared machine of every loaded flow, keyed by flow id and content digest (an edit
    without a new `version` number still gets its own machine)."""

    def __init__(self) -> None:
        self._machines: dict[tuple[str, str], Machine] = {}

    def machine_for(self, definition: FlowDefinition) -> Machine:
        key = (definition.id, definition.digest or f"v{definition.version}")
        machine = self._machines.get(key)
        if machine is None:
            machine = self._machines[key] = _shared_machine(definition)
        return machine

    def warm_up(self, definitions: Iterable[FlowDefinition]) -> None:
        """Build every flow's machine now, not on its first message."""
        for definition in definitions:
            if definition.online:
                self.machine_for(definition)

    def fire(self, session: FlowSession, trigger: str) -> bool:
        """Run one trigger on `session`; False (state unchanged) when no move is allowed.

        The event is run on the session directly: the machine reads and sets `session.state`
        and asks the conditions, which is all a move needs. Attaching the session as a model
        first (`add_model`, which gives it a method per trigger and state) cost more than the
        rest of a dialog turn's engine work, and asking `may_trigger` before the trigger ran
        every condition twice."""
        machine = self.machine_for(session.definition)
        event = machine.events.get(trigger)
        if event is None or session.state not in event.transitions:
            return False
        session.picked.clear()
        try:
            return bool(event.trigger(session))
        finally:
            session.picked.clear()


def reachability_problems(definition: FlowDefinition) -> list[tuple[str, str]]:
    """(state, message) for states unreachable from the start or with no way to an end."""
    edges = flow_edges(definition)
    if not definition.online:
        return []
    forward: dict[str, set[str]] = {}
    backward: dict[str, set[str]] = {}
    for edge in edges:
        forward.setdefault(edge.source, set()).add(edge.dest)
        backward.setdefault(edge.dest, set()).add(edge.source)
    reached = _closure(NEW, forward)
    ends = set(FINAL_STATES)
    can_end: set[str] = set()
    for end in ends:
        can_end |= _closure(end, backward)
    problems = []
    for state in all_states(definition):
        if state in (WITHDRAWN, EXPIRED, CANCELLED, REJECTED) and state not in reached:
            continue  # optional ends: a flow without stages can never be rejected
        if state not in reached:
            problems.append((state, "从开始无法到达该状态"))
        elif state not in can_end:
            problems.append((state, "该状态无法到达任何结束状态"))
    return problems


def _closure(start: str, graph: dict[str, set[str]]) -> set[str]:
    seen = {start}
    todo = [start]
    while todo:
        for nxt in graph.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen
