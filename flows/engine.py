"""The flow engine: one facade over the parts that run applications through their flows.

- `runtime.py`: sessions, firing triggers on the shared machines, final states;
- `dialog.py`: filling in (answers, 返回, 修改 N, 确认, submit, idle expiry);
- `approvals.py`: stages, tasks, decisions, 转交, 加签, 退回修改, 撤回, 催办, 抄送;
- `followups.py`: 销假 and the service rating;  `reminders.py`: deadlines and reminders;
- `delegation.py`: approvers away;  `cards.py`: what a card shows;
- `policy.py`: who may act on what.

Every method works inside the caller's database transaction (the dispatcher's turn).
"""

from __future__ import annotations

from typing import Any

from flows.actions import ActionRegistry
from flows.answers import Attachment
from flows.approvals import Approvals
from flows.catalog import Catalog
from flows.definition import FlowDefinition
from flows.delegation import Delegations
from flows.dialog import Dialog
from flows.followups import Followups, leave_end
from flows.policy import Policy, TapRefused
from flows.reminders import Deadlines, ReminderTexts
from flows.runtime import EngineSettings, Runtime, status_of_state
from flows.session import CONFIRM, Applicant, FlowSession
from flows.turn import Turn
from storage import applications as store
from storage.directory import Directory, PersonInfo
from storage.models import Application, ApprovalTask, Conversation

__all__ = ["EngineSettings", "FlowEngine", "TapRefused", "leave_end", "status_of_state"]


class FlowEngine:
    def __init__(self, catalog: Catalog, directory: Directory, actions: ActionRegistry,
                 settings: EngineSettings | None = None) -> None:
        self.runtime = Runtime(catalog, directory, actions, settings or EngineSettings())
        self.policy = Policy(directory)
        self.deadlines = Deadlines(self.runtime)
        self.reminders = ReminderTexts(self.runtime)
        self.approvals = Approvals(self.runtime, self.policy, self.deadlines)
        self.followups = Followups(self.runtime, self.deadlines)
        self.dialog = Dialog(self.runtime, self.approvals)
        self.delegations = Delegations(self.runtime, self.policy)
        self.runtime.entered = self._entered

    @property
    def catalog(self) -> Catalog:
        return self.runtime.catalog

    @property
    def directory(self) -> Directory:
        return self.runtime.directory

    @property
    def actions(self) -> ActionRegistry:
        return self.runtime.actions

    @property
    def settings(self) -> EngineSettings:
        return self.runtime.settings

    async def _entered(self, turn: Turn, application: Application,
                       session: FlowSession) -> str:
        """Hand the state just entered to the part that owns it."""
        state = session.state
        if state.startswith("ask_") or state == CONFIRM:
            if turn.user.id != application.applicant_id:
                return ""  # sent back for changes: asked when the applicant comes to fix it
            return await self.dialog.entered(turn, application, session)
        trigger = session.transitions_done[-1][0] if session.transitions_done else ""
        if trigger == "submit":
            await self.deadlines.schedule_application(application, session.definition, turn.now)
            await self.approvals.carbon_copy(turn, application, session, "submit")
        stage = session.current_stage()
        if stage is not None:
            return await self.approvals.open_stage(turn, application, session, stage)
        followup = session.current_followup()
        if followup is not None:
            return await self.followups.open(turn, application, session, followup)
        if state == "completed":
            await self.approvals.carbon_copy(turn, application, session, "end")
        return await self.runtime.finish(turn, application, session)

    # ---- loading -------------------------------------------------------------------------------
    async def definition_for(self, application: Application) -> FlowDefinition | None:
        return await self.runtime.definition_for(application)

    async def applicant_of(self, person: PersonInfo) -> Applicant:
        return await self.runtime.applicant_of(person)

    async def session_for(self, application: Application,
                          definition: FlowDefinition) -> FlowSession:
        return await self.runtime.session_for(application, definition)

    # ---- the dialog ----------------------------------------------------------------------------
    async def start(self, turn: Turn, conversation: Conversation, definition: FlowDefinition,
                    prefill: dict[str, Any] | None = None) -> Application:
        return await self.dialog.start(turn, conversation, definition, prefill)

    async def continue_dialog(self, turn: Turn, conversation: Conversation,
                              application: Application, text: str,
                              attachment: Attachment | None = None, card_key: str = "") -> None:
        await self.dialog.continue_dialog(turn, conversation, application, text, attachment,
                                          card_key)

    async def prompt(self, turn: Turn, application: Application) -> None:
        await self.dialog.prompt(turn, application)

    async def expire(self, turn: Turn, application: Application) -> bool:
        return await self.dialog.expire(turn, application)

    async def route_preview(self, session: FlowSession) -> tuple[list[str], str]:
        return await self.approvals.route_preview(session)

    # ---- approval ------------------------------------------------------------------------------
    async def check_tap(self, turn: Turn, card_key: str) -> ApprovalTask:
        return await self.approvals.check_tap(turn, card_key)

    async def decide(self, turn: Turn, card_key: str, action: str, comment: str = "") -> None:
        await self.approvals.decide(turn, card_key, action, comment)

    async def transfer(self, turn: Turn, card_key: str, target: PersonInfo,
                       reason: str = "") -> None:
        await self.approvals.transfer(turn, card_key, target, reason)

    async def withdraw(self, turn: Turn, application: Application) -> None:
        await self.approvals.withdraw(turn, application)

    async def reassign(self, turn: Turn, application: Application) -> bool:
        return await self.approvals.reassign(turn, application)

    # ---- followups -----------------------------------------------------------------------------
    async def finish_followup(self, turn: Turn, application: Application,
                              rating: int | None = None) -> None:
        await self.followups.finish(turn, application, rating)

    # ---- 退回修改 ------------------------------------------------------------------------------
    async def resume_returned(self, turn: Turn, conversation: Conversation,
                              application: Application) -> None:
        """The applicant starts fixing a returned application: it becomes their dialog."""
        definition = await self.definition_for(application)
        if definition is None or application.status != "returned":
            turn.reply(f"编号 #{application.id} 没有被退回修改，无需修改。")
            return
        if conversation.active_application_id not in (None, application.id):
            turn.reply("您正在填写另一项申请，请先完成或回复“取消”后再修改。")
            return
        application.status = "filling"
        application.expires_at = turn.now + self.settings.idle_timeout
        conversation.active_application_id = application.id
        returned = application.meta.get("returned") or {}
        session = await self.session_for(application, definition)
        if returned.get("comment"):
            turn.reply(f"开始修改《{definition.name}》（#{application.id}）。"
                       f"审批意见：{returned['comment']}")
        await self.dialog.entered(turn, application, session)
        await store.save_application(application)
