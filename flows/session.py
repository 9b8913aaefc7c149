"""The model the flow machines run: one application's form and where it is in its flow.

A FlowSession is created per turn from the stored application row, attached to the flow's
shared machine, triggered, detached, and its state saved back. It keeps only JSON values.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from flows.definition import Field, FlowDefinition, Followup, Stage

NEW = "new"
CONFIRM = "confirm"
COMPLETED = "completed"
REJECTED = "rejected"
CANCELLED = "cancelled"
EXPIRED = "expired"
WITHDRAWN = "withdrawn"
FINAL_STATES = (COMPLETED, REJECTED, CANCELLED, EXPIRED, WITHDRAWN)


def ask_state(key: str) -> str:
    return f"ask_{key}"


def stage_state(stage_id: str) -> str:
    return f"stage_{stage_id}"


def followup_state(followup_id: str) -> str:
    return f"followup_{followup_id}"


@dataclass
class Applicant:
    """What conditions may ask about the applicant."""

    id: str
    department: str | None
    roles: tuple[str, ...]
    is_head: bool = False


@dataclass
class FlowSession:
    definition: FlowDefinition
    state: str
    form: dict[str, Any]
    applicant: Applicant
    edit_target: str = ""
    transitions_done: list[tuple[str, str, str]] = field(default_factory=list)
    #: where each picker sends the session, asked once per trigger (flows/machine.py)
    picked: dict[Callable[[FlowSession], str | None], str | None] = field(
        default_factory=dict, repr=False, compare=False)

    # ---- values seen by conditions -------------------------------------------------------------
    def condition_values(self) -> Mapping[str, Any]:
        """The form's answers, `<key>_days` of each date range and the applicant's
        `applicant_roles`, `applicant_department` and `applicant_is_head`; each looked up when
        a condition asks for it (conditions are evaluated for every question, every turn)."""
        return _ConditionValues(self)

    def applies(self, item: Field | Stage) -> bool:
        return item.when is None or item.when.evaluate(_ConditionValues(self))

    # ---- the dialog ------------------------------------------------------------------------------
    def applicable_fields(self) -> list[Field]:
        return [f for f in self.definition.fields if self.applies(f)]

    def counted_fields(self) -> list[Field]:
        """The questions that apply, and those that may still apply: their condition asks
        about a question not answered yet (外出地点 before 是否离开本市 is answered). The dialog
        counts these, so its total only ever goes down as answers rule questions out."""
        return [f for f in self.definition.fields if self.applies(f) or self._undecided(f)]

    def _undecided(self, item: Field) -> bool:
        if item.when is None:
            return False
        keys = {f.key for f in self.definition.fields}
        for name in item.when.names:
            key = name if name in keys else name.removesuffix("_days")
            if key in keys and key not in self.form:
                return True
        return False

    def answered(self, item: Field) -> bool:
        return item.key in self.form

    def drop_inapplicable(self) -> list[str]:
        """Forget answers to questions that no longer apply (是否离开本市 changed to 否: the
        外出地点 given before goes); returns their keys. Repeated, as one dropped answer can
        make another question stop applying."""
        dropped: list[str] = []
        while True:
            stale = [f.key for f in self.definition.fields
                     if f.key in self.form and not self.applies(f)]
            if not stale:
                return dropped
            for key in stale:
                del self.form[key]
            dropped += stale

    def next_dialog_state(self) -> str:
        """The first applicable question still unanswered, else the confirmation."""
        for item in self.definition.fields:
            if not self.answered(item) and self.applies(item):
                return ask_state(item.key)
        return CONFIRM

    def previous_dialog_state(self) -> str | None:
        """The applicable question before the current one (or the last one, from confirm),
        given the answers as they are now."""
        fields = self.applicable_fields()
        if self.state == CONFIRM:
            return ask_state(fields[-1].key) if fields else None
        keys = [ask_state(f.key) for f in fields]
        if self.state in keys:
            index = keys.index(self.state)
            return keys[index - 1] if index > 0 else None
        return None

    def current_field(self) -> Field | None:
        for item in self.definition.fields:
            if ask_state(item.key) == self.state:
                return item
        return None

    # ---- approval ------------------------------------------------------------------------------
    def stage_after(self, state: str) -> str:
        """Where the application goes once `state` (confirm, a stage or a followup) is done."""
        stages = list(self.definition.stages)
        followups = list(self.definition.followups)
        order = [CONFIRM, *(stage_state(s.id) for s in stages),
                 *(followup_state(f.id) for f in followups)]
        position = order.index(state) if state in order else 0
        for stage in stages:
            if order.index(stage_state(stage.id)) > position and self.applies(stage):
                return stage_state(stage.id)
        for followup in followups:
            if order.index(followup_state(followup.id)) > position:
                return followup_state(followup.id)
        return COMPLETED

    def current_stage(self) -> Stage | None:
        for stage in self.definition.stages:
            if stage_state(stage.id) == self.state:
                return stage
        return None

    def current_followup(self) -> Followup | None:
        for followup in self.definition.followups:
            if followup_state(followup.id) == self.state:
                return followup
        return None

    def record(self, trigger: str, source: str, dest: str) -> None:
        self.transitions_done.append((trigger, source, dest))


class _ConditionValues(Mapping[str, Any]):
    """`FlowSession.condition_values`, computed per name asked for."""

    def __init__(self, session: FlowSession) -> None:
        self._session = session

    def __getitem__(self, name: str) -> Any:
        session = self._session
        if name.startswith("applicant_"):
            applicant = session.applicant
            if name == "applicant_roles":
                return list(applicant.roles)
            if name == "applicant_department":
                return applicant.department
            if name == "applicant_is_head":
                return applicant.is_head
        if name.endswith("_days"):
            days = self._days(name.removesuffix("_days"))
            if days is not None:
                return days
        return session.form[name]

    def _days(self, key: str) -> int | None:
        value = self._session.form.get(key)
        if not (isinstance(value, list) and len(value) == 2):
            return None
        try:
            if self._session.definition.field_by_key(key).type != "date_range":
                return None
        except KeyError:
            return None
        return (date.fromisoformat(value[1]) - date.fromisoformat(value[0])).days + 1

    def _names(self) -> list[str]:
        session = self._session
        return [*session.form,
                *(f"{f.key}_days" for f in session.definition.fields
                  if f.type == "date_range" and self._days(f.key) is not None
                  and f"{f.key}_days" not in session.form),
                "applicant_roles", "applicant_department", "applicant_is_head"]

    def __iter__(self) -> Iterator[str]:
        return iter(dict.fromkeys(self._names()))

    def __len__(self) -> int:
        return len(dict.fromkeys(self._names()))
