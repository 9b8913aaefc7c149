"""The approval chain: opening a stage (tasks and cards), deciding, transferring, withdrawing."""

from __future__ import annotations

import logging

from flows.assignment import assign, report_gap
from flows.bookings import booking_conflict
from flows.cards import decision_word, stage_card, task_outcome
from flows.definition import FlowDefinition, Stage
from flows.messages import CardUpdate
from flows.policy import TapRefused, already_approved, check_assignee, check_transfer_target
from flows.runtime import Runtime
from flows.session import FINAL_STATES, FlowSession, stage_state
from flows.turn import Turn
from storage import applications as store
from storage.directory import PersonInfo
from storage.models import Application, ApprovalTask

log = logging.getLogger("campusbot.flows")


class Approvals:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.directory = runtime.directory

    # ---- the route -----------------------------------------------------------------------------
    async def route_preview(self, session: FlowSession) -> tuple[list[str], str]:
        """The approval route as it will run for these answers, e.g. ['部门负责人审批（李院长）']"""
        applicant = await self.directory.person(session.applicant.id)
        if applicant is None:
            return [], ""
        route: list[str] = []
        waiting = False
        for stage in session.definition.stages:
            if not session.applies(stage):
                continue
            assignment = await assign(session.definition, stage, applicant, self.directory)
            stand_in = "，代为处理" if assignment.via_fallback else ""
            route.append(f"{stage.name}（{assignment.names() or '待分配'}{stand_in}）")
            waiting = waiting or assignment.nobody
        return route, ("暂时找不到部分环节的办理人：提交后申请会保留，通讯录补充后自动送达。"
                       if waiting else "")

    # ---- opening a stage -----------------------------------------------------------------------
    async def open_stage(self, turn: Turn, application: Application, session: FlowSession,
                         stage: Stage) -> str:
        definition = session.definition
        applicant = await self.directory.person(application.applicant_id)
        assignment = await assign(definition, stage, applicant, self.directory)
        waiting = await report_gap(turn, application, definition, stage, assignment,
                                   admins=self.runtime.settings.admins,
                                   generation=await self.directory.generation())
        if assignment.nobody:
            return waiting
        people = list(assignment.people)
        names = assignment.names()
        approved = [t.approver_id for t in await store.stage_tasks_all(application.id)
                    if t.status == "approved"]
        if stage.kind == "approve" and already_approved(approved, [p.id for p in people],
                                                        stage.mode):
            await store.append_audit(application, at=turn.now, actor_id="system",
                                     action="auto_approve", from_state=session.state,
                                     to_state=session.state,
                                     detail={"stage": stage.id,
                                             "approvers": [p.id for p in people]})
            after = await self.runtime.fire(turn, application, session, "approve",
                                            detail={"stage": stage.id, "auto": True}) or ""
            return f"{stage.name}：{names}已在前一环节同意，自动通过。{after}"
        for person in people:
            task = await store.create_task(application, stage_id=stage.id, approver_id=person.id,
                                           now=turn.now)
            turn.push(person.id, stage_card(application, session, stage.id, task,
                                            applicant or person))
        mode = "（需全部同意）" if stage.mode == "all" and len(people) > 1 else ""
        return f"下一步：{stage.name}（{names}）{mode}。"

    async def reassign(self, turn: Turn, application: Application) -> bool:
        """Open the current stage again for an application that found nobody (the directory
        may have been fixed); True when it reached someone."""
        definition = await self.runtime.definition_for(application)
        if definition is None or application.status != "pending" or \
                await store.open_tasks_of(application.id):
            return False
        session = await self.runtime.session_for(application, definition)
        stage = session.current_stage()
        if stage is None:
            return False
        before = application.state
        next_step = await self.open_stage(turn, application, session, stage)
        if not await store.open_tasks_of(application.id) and application.state == before:
            return False
        application.updated_at = turn.now
        turn.push(application.applicant_id, f"您的《{definition.name}》（#{application.id}）"
                                            f"已找到办理人。{next_step}")
        await store.save_application(application)
        return True

    # ---- taps ----------------------------------------------------------------------------------
    async def task_for_tap(self, turn: Turn, card_key: str) -> tuple[ApprovalTask, Application,
                                                                     FlowDefinition]:
        task = await store.task_by_card(card_key)
        if task is None:
            raise TapRefused("这张卡片已失效。")
        application = task.application
        check_assignee(task, turn.user.id)
        definition = await self.runtime.definition_for(application)
        if definition is None:
            raise TapRefused("该事项的流程已更新，请联系经办部门处理。")
        if task.status != "pending" or application.state != stage_state(task.stage_id):
            raise await self._late_tap(turn, task, application)
        return task, application, definition

    async def _late_tap(self, turn: Turn, task: ApprovalTask,
                        application: Application) -> TapRefused:
        """A tap on a card already decided: the card shows the final state again, and the
        approver is told what happened, by whom and when (e.g. 已办结（马工，11月26日 09:00）)."""
        final = task_outcome(task, application)
        decided = task if task.decided_by else next(
            (t for t in await store.stage_tasks(application.id, task.stage_id)
             if t.decided_by and t.status in ("approved", "rejected")), None)
        card, told = final, final
        if decided is not None and decided.decided_by and decided.decided_at:
            name = await self.runtime.name(decided.decided_by)
            at = decided.decided_at.astimezone(turn.timezone)
            card = f"{final}（{name} {at:%m-%d %H:%M}）"
            who = "您" if decided.decided_by == turn.user.id else name
            told = f"{final}（{who}，{at.month}月{at.day}日 {at:%H:%M}）"
        turn.reply(CardUpdate(task.card_key, card, recipients=(turn.user.id,)))
        return TapRefused(f"该申请（编号 #{application.id}）{told}，无需重复操作。")

    async def check_tap(self, turn: Turn, card_key: str) -> ApprovalTask:
        """Validate a tap before asking the approver for a reason or a transfer target."""
        task, _, _ = await self.task_for_tap(turn, card_key)
        return task

    # ---- decisions -----------------------------------------------------------------------------
    async def decide(self, turn: Turn, card_key: str, action: str, comment: str = "") -> None:
        """Apply 同意/驳回/办结/签收 from a card; raise TapRefused when it changes nothing."""
        task, application, definition = await self.task_for_tap(turn, card_key)
        stage = definition.stage_by_id(task.stage_id)
        session = await self.runtime.session_for(application, definition)
        applicant_id = application.applicant_id
        if action == "approve" and definition.booking is not None and \
                session.stage_after(session.state) in FINAL_STATES:
            conflict = await booking_conflict(definition, application.form, application.id,
                                              self.directory)
            if conflict:
                raise TapRefused(f"无法同意：{conflict}。请驳回并说明原因。")
        task.status = "approved" if action == "approve" else "rejected"
        task.decided_by, task.decided_at, task.comment = turn.user.id, turn.now, comment
        await store.save_task(task)
        word = decision_word(stage.kind, action)
        stamp = turn.local_now.strftime("%m-%d %H:%M")
        others = [t for t in await store.stage_tasks(application.id, stage.id)
                  if t.id != task.id and t.status == "pending"]
        if action == "approve" and stage.mode == "all" and others:
            waiting = "、".join([(await self.runtime.name(t.approver_id)) for t in others])
            turn.reply(CardUpdate(task.card_key, f"您已{word}，等待{waiting}",
                                  recipients=(turn.user.id,)))
            turn.push(applicant_id, f"您的《{definition.name}》（#{application.id}）"
                                    f"{turn.user.name}已{word}，还需{waiting}审批。")
            application.updated_at = turn.now
            await store.save_application(application)
            return
        for other in others:
            other.status = "closed"
            await store.save_task(other)
        trigger = "approve" if action == "approve" else "reject"
        next_step = await self.runtime.fire(turn, application, session, trigger,
                                            detail={"stage": stage.id, "comment": comment}) or ""
        status = f"已{word}（{turn.user.name} {stamp}）"
        for sibling in await store.stage_tasks(application.id, stage.id):
            if sibling.status in ("approved", "rejected", "closed"):
                turn.push(sibling.approver_id, CardUpdate(sibling.card_key, status,
                                                          recipients=(sibling.approver_id,)))
        reason = f"理由：{comment}。" if comment else ""
        turn.push(applicant_id, f"您的《{definition.name}》（#{application.id}）"
                                f"{stage.name}：{turn.user.name}已{word}。{reason}{next_step}")
        turn.reply(f"已{word}编号 #{application.id}（{await self.runtime.name(applicant_id)}的"
                   f"{definition.name}）。")
        await store.save_application(application)

    async def transfer(self, turn: Turn, card_key: str, target: PersonInfo) -> None:
        task, application, definition = await self.task_for_tap(turn, card_key)
        check_transfer_target(turn.user.id, target)
        stage = definition.stage_by_id(task.stage_id)
        session = await self.runtime.session_for(application, definition)
        task.status, task.decided_by, task.decided_at = "transferred", turn.user.id, turn.now
        task.comment = f"转交给{target.name}"
        await store.save_task(task)
        new_task = await store.create_task(application, stage_id=stage.id, approver_id=target.id,
                                           now=turn.now)
        applicant = await self.directory.person(application.applicant_id) or target
        # the message that explains the card comes before it
        turn.push(target.id,
                  f"{turn.user.name}将编号 #{application.id} 的{stage.name}转交给您处理。")
        turn.push(target.id, stage_card(application, session, stage.id, new_task, applicant))
        turn.reply(CardUpdate(task.card_key, f"已转交给{target.name}", recipients=(turn.user.id,)))
        turn.reply(f"已转交给{target.name}。")
        turn.push(application.applicant_id, f"您的《{definition.name}》（#{application.id}）"
                                             f"已由{turn.user.name}转交{target.name}处理。")
        await store.append_audit(application, at=turn.now, actor_id=turn.user.id,
                                 action="transfer", from_state=application.state,
                                 to_state=application.state,
                                 detail={"stage": stage.id, "to": target.id})
        application.updated_at = turn.now
        await store.save_application(application)

    # ---- the applicant -------------------------------------------------------------------------
    async def withdraw(self, turn: Turn, application: Application) -> None:
        definition = await self.runtime.definition_for(application)
        if definition is None or application.applicant_id != turn.user.id:
            turn.reply("无法撤回该申请。")
            return
        session = await self.runtime.session_for(application, definition)
        if await self.runtime.fire(turn, application, session, "withdraw") is None:
            turn.reply(f"编号 #{application.id} 当前不能撤回（只有审批中的申请可以撤回）。")
            return
        for task in await store.open_tasks_of(application.id):
            task.status = "closed"
            await store.save_task(task)
            turn.push(task.approver_id, CardUpdate(task.card_key, "申请人已撤回",
                                                   recipients=(task.approver_id,)))
        turn.reply(f"已撤回《{definition.name}》（#{application.id}）。")
        await store.save_application(application)
