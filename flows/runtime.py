"""What every part of the engine shares: loading an application's session, firing a trigger on
its flow's machine, and handing the state it entered to the part that owns that state.

Every method works inside the caller's database transaction (the dispatcher's turn): it loads
what it needs, fires triggers, saves with a version check and queues messages on the turn.
Nothing is sent from here; the turn's messages reach the outbox only if the transaction commits.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flows.actions import ActionRegistry
from flows.approvers import effective_roles
from flows.catalog import Catalog
from flows.definition import FlowDefinition
from flows.machine import FlowMachines
from flows.session import CONFIRM, NEW, Applicant, FlowSession
from flows.texts import COMPLETED_BY_KIND
from flows.turn import Turn
from flows.workdays import WorkCalendar
from storage import applications as store
from storage.directory import Directory, PersonInfo
from storage.models import Application

log = logging.getLogger("campusbot.flows")
SHANGHAI = ZoneInfo("Asia/Shanghai")

#: called with the state just entered; returns what happens next, for the acting user
Entered = Callable[[Turn, Application, FlowSession], Awaitable[str]]


@dataclass(frozen=True)
class EngineSettings:
    idle_timeout: timedelta = timedelta(minutes=30)
    report_back_hour: int = 17
    calendar: WorkCalendar = field(default_factory=lambda: WorkCalendar(SHANGHAI))
    #: 催办 reaches the approvers at most this often per application
    urge_interval: timedelta = timedelta(hours=1)
    #: no 销假 this many working days after the leave: a reminder, a day later the approvers
    report_back_grace_days: int = 3
    #: told when the directory cannot give a stage its approver ([admin] users)
    admins: tuple[str, ...] = ()


def status_of_state(state: str) -> str:
    if state in (NEW, CONFIRM) or state.startswith("ask_"):
        return "filling"
    if state.startswith("stage_"):
        return "pending"
    if state.startswith("followup_"):
        return "followup"
    return state


class Runtime:
    """The catalog, directory and machines, and the one way to move an application."""

    def __init__(self, catalog: Catalog, directory: Directory, actions: ActionRegistry,
                 settings: EngineSettings) -> None:
        self.catalog = catalog
        self.directory = directory
        self.actions = actions
        self.settings = settings
        self.machines = FlowMachines()
        self.entered: Entered | None = None  # set by the engine that composes the parts

    async def definition_for(self, application: Application) -> FlowDefinition | None:
        """The definition the application started with (kept by content digest)."""
        return await self.catalog.definition_of(application)

    async def applicant_of(self, person: PersonInfo) -> Applicant:
        roles = await effective_roles(person, self.directory)
        return Applicant(id=person.id, department=person.department, roles=roles,
                         is_head="dept_head" in roles)

    async def session_for(self, application: Application,
                          definition: FlowDefinition) -> FlowSession:
        person = await self.directory.person(application.applicant_id) or PersonInfo(
            application.applicant_id, application.applicant_id, None)
        return FlowSession(definition=definition, state=application.state,
                           form=dict(application.form), applicant=await self.applicant_of(person),
                           edit_target="")

    async def fire(self, turn: Turn, application: Application, session: FlowSession,
                   trigger: str, detail: dict[str, Any] | None = None) -> str | None:
        """Fire `trigger`; on success save state and audit, and return what happens next."""
        session.transitions_done.clear()
        if not self.machines.fire(session, trigger):
            return None
        application.state = session.state
        application.status = status_of_state(session.state)
        application.form = dict(session.form)
        application.updated_at = turn.now
        for name, source, dest in session.transitions_done:
            await store.append_audit(application, at=turn.now, actor_id=turn.user.id,
                                     action=name, from_state=source, to_state=dest,
                                     detail=detail or {}, channel=turn.channel,
                                     comment=str((detail or {}).get("comment", "")))
        log.info("flow=%s application=%s user=%s %s: %s",
                 session.definition.id, application.id, turn.user.id, trigger, session.state)
        assert self.entered is not None, "the engine sets the entered-state handler"
        return await self.entered(turn, application, session)

    async def finish(self, turn: Turn, application: Application, session: FlowSession) -> str:
        """A final state was entered: release what the application held, say the outcome."""
        definition = session.definition
        application.finished_at = turn.now
        application.expires_at = None
        await store.cancel_reminders(application.id)
        state = session.state
        if definition.booking is not None:
            await store.set_booking_status(application.id,
                                           "approved" if state == "completed" else "cancelled")
        if state == "completed":
            return definition.outcomes.completed or (
                f"《{definition.name}》{COMPLETED_BY_KIND.get(definition.kind, '已办结')}。")
        if state == "rejected":
            return definition.outcomes.rejected or "申请未获通过。"
        return ""

    async def name(self, user_id: str) -> str:
        person = await self.directory.person(user_id)
        return person.name if person else user_id
