"""The approval chain: stages and their tasks, decisions, 转交, 加签, 退回修改, 撤回, 催办, 抄送.

A stage's tasks are grouped in *slots* (one approver's part: a 转交 or 加签 continues the slot)
and *positions* (依次: a position acts once the earlier ones are done). Modes:

    single    one approver (the first the spec resolves to)
    any       或签: every approver gets a card, the first decision counts
    all       会签: every approver must agree
    sequence  依次: one after another, in the order the spec resolves them

Every rule about who may act is asked of `flows.policy.Policy`. A decision locks the application
row (PostgreSQL) and saves it with a version check, so two taps at the same moment — also in
two processes — give exactly one decision; the other finds the card decided.
"""

from __future__ import annotations

import logging
from datetime import date

from flows.approvers import ApproverNotFound
from flows.assignment import report_gap
from flows.bookings import booking_conflict
from flows.cards import (
    attachment_lines,
    decision_word,
    facts_of,
    leave_fields,
    leave_range,
    recorded_leave,
    stage_card,
    task_outcome,
)
from flows.definition import FlowDefinition, Stage
from flows.messages import CardUpdate, Outcome
from flows.policy import Assignment, Policy, TapRefused
from flows.reminders import Deadlines
from flows.runtime import Runtime
from flows.session import CONFIRM, FINAL_STATES, FlowSession, ask_state, stage_state
from flows.texts import STATUS_LABELS, answered_fields, back_word
from flows.turn import Turn
from flows.workdays import overlaps, range_text
from storage import applications as store
from storage import assignments
from storage.directory import PersonInfo
from storage.models import Application, ApprovalTask

log = logging.getLogger("campusbot.flows")

WAITING = ("pending", "queued")
DONE = ("approved", "rejected", "closed", "returned")


class Approvals:
    def __init__(self, runtime: Runtime, policy: Policy, deadlines: Deadlines) -> None:
        self.runtime = runtime
        self.directory = runtime.directory
        self.policy = policy
        self.deadlines = deadlines

    # ---- the route -----------------------------------------------------------------------------
    async def route_preview(self, session: FlowSession) -> tuple[list[str], str]:
        """The approval route as it will run for these answers, e.g. ['部门负责人审批（李院长）']"""
        applicant = await self.directory.person(session.applicant.id)
        if applicant is None:
            return [], ""
        route: list[str] = []
        waiting = False
        previous: list[str] = []
        for stage in session.definition.stages:
            if not session.applies(stage):
                continue
            assignment = await self.policy.stage_assignment(session.definition, stage,
                                                            applicant, after=previous)
            people = list(assignment.people)
            previous = [p.id for p in people]
            stand_in = "，代为处理" if assignment.via_fallback else ""
            joiner = " → " if stage.mode == "sequence" else "、"
            names = joiner.join(p.name for p in people[:3]) + ("等" if len(people) > 3 else "")
            route.append(f"{stage.name}（{names or '待分配'}{stand_in}）")
            waiting = waiting or assignment.nobody
        return route, ("暂时找不到部分环节的办理人：提交后申请会保留，通讯录补充后自动送达。"
                       if waiting else "")

    # ---- opening a stage -----------------------------------------------------------------------
    async def open_stage(self, turn: Turn, application: Application, session: FlowSession,
                         stage: Stage) -> str:
        definition = session.definition
        applicant = await self.directory.person(application.applicant_id)
        last = self.policy.last_approval(await store.stage_tasks_all(application.id))
        found = await self.policy.stage_assignment(
            definition, stage, applicant, after=[last.decided_by] if last and last.decided_by
            else [])
        waiting = await report_gap(turn, application, definition, stage, found,
                                   admins=self.runtime.settings.admins,
                                   generation=await self.directory.generation())
        if found.nobody or applicant is None:
            return waiting
        assignments = await self.policy.assignments(found, applicant, turn.today)
        round_ = self.round_of(application)
        first_slot = await store.next_slot(application.id)
        tasks = []
        for index, assignment in enumerate(assignments):
            position = index if stage.mode == "sequence" else 0
            tasks.append(await store.create_task(
                application, stage_id=stage.id, approver_id=assignment.person.id, now=turn.now,
                status="pending" if position == 0 else "queued", slot=first_slot + index,
                position=position, round=round_,
                delegated_from=assignment.delegated_from.id if assignment.delegated_from
                else None))
        names = "、".join(a.person.name for a in assignments[:3]) + (
            "等" if len(assignments) > 3 else "")
        if stage.mode == "sequence":
            names = " → ".join(a.person.name for a in assignments)
        stand_in = ""
        if found.via_fallback and found.gap is not None:
            stand_in = f"代为处理：{found.gap.text()}（您作为{found.fallback_text}）" + (
                "；您已审批前一环节，因无其他人可代为处理，本环节请再次审核" if found.again else "")
        moved_on = await self._activate(turn, application, session, stage,
                                        [t for t in tasks if t.status == "pending"],
                                        note=stand_in, auto=not stand_in)
        if moved_on is not None:
            return moved_on
        mode = {"all": "（需全部同意）", "sequence": "（依次审批）"}.get(stage.mode, "")
        if len(assignments) == 1:
            mode = ""
        delegated = [a for a in assignments if a.delegated_from is not None]
        note = "".join(f"（{a.delegated_from.name}外出，由{a.person.name}代理）"
                       for a in delegated if a.delegated_from)
        return f"下一步：{stage.name}（{names}）{mode}{note}。"

    async def reassign(self, turn: Turn, application: Application) -> bool:
        """Open the current stage again for an application that found nobody (the directory
        may have been fixed); True when it reached someone."""
        definition = await self.runtime.definition_for(application)
        if definition is None or application.status != "pending" or \
                await store.waiting_tasks_of(application.id):
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

    async def _activate(self, turn: Turn, application: Application, session: FlowSession,
                        stage: Stage, tasks: list[ApprovalTask], *, note: str = "",
                        auto: bool = True) -> str | None:
        """Send the cards of tasks that act now. An approver who approved the step right before
        is not asked again: their task is approved at once, and when that completes the stage
        the text of what happens next is returned — unless either approval is a stand-in's
        (`auto` False, or the step before was stood in for): then they are asked again, the
        card saying why."""
        applicant = await self.directory.person(application.applicant_id)
        all_tasks = await store.stage_tasks_all(application.id)
        last = self.policy.last_approval(all_tasks)
        stood_in = last is not None and await assignments.stood_in(application.id,
                                                                    last.stage_id)
        for task in tasks:
            card_note = note
            if stood_in and stage.kind == "approve" and self.policy.acted_last(
                    all_tasks, task.approver_id):
                # their last approval was a stand-in's: this level is asked for explicitly
                card_note = (note + "；" if note else "") + \
                    "您在前一环节是代为处理，本环节请再次审核"
            elif auto and stage.kind == "approve" and self.policy.acted_last(
                    all_tasks, task.approver_id):
                task.status, task.decided_by, task.decided_at = "approved", task.approver_id, \
                    turn.now
                task.comment = "自动通过"
                await store.save_task(task)
                await store.append_audit(application, at=turn.now, actor_id="system",
                                         action="auto_approve", from_state=session.state,
                                         to_state=session.state, channel=turn.channel,
                                         detail={"stage": stage.id,
                                                 "approvers": [task.approver_id]})
                done, text = await self._progress(turn, application, session, stage, task)
                name = await self.runtime.name(task.approver_id)
                prefix = f"{stage.name}：{name}已在前一环节同意，自动通过。"
                if done:
                    return prefix + text
                continue
            person = applicant or PersonInfo(application.applicant_id,
                                             application.applicant_id, None)
            if task.delegated_from:
                principal = await self.runtime.name(task.delegated_from)
                card_note = (card_note + " " if card_note else "") + f"代{principal}审批"
                await store.append_audit(application, at=turn.now, actor_id="system",
                                         action="delegated", channel=turn.channel,
                                         detail={"stage": stage.id, "from": task.delegated_from,
                                                 "to": task.approver_id})
            warnings = tuple(await self.overlap_warnings(application, session.definition,
                                                         session.form))
            card = stage_card(application, session, stage.id, task, person, warnings=warnings,
                              note=card_note)
            turn.push(task.approver_id, card)
            if lines := attachment_lines(card):
                turn.push(task.approver_id, lines)
            await self.deadlines.schedule_task(application, task, stage, turn.now)
        return None

    async def _progress(self, turn: Turn, application: Application, session: FlowSession,
                        stage: Stage, decided: ApprovalTask) -> tuple[bool, str]:
        """After an approval: (True, what happens next) when the stage is done, else (False,
        who is still waited for)."""
        tasks = await store.stage_tasks(application.id, stage.id, self.round_of(application))
        queued_in_slot = [t for t in tasks if t.slot == decided.slot and t.status == "queued"]
        if queued_in_slot:  # 加签: the chain of this slot goes on
            follower = queued_in_slot[0]
            follower.status = "pending"
            await store.save_task(follower)
            moved = await self._activate(turn, application, session, stage, [follower])
            if moved is not None:
                return True, moved
            return False, await self.runtime.name(follower.approver_id)
        if stage.mode in ("all", "sequence"):
            open_here = [t for t in tasks if t.status == "pending"]
            if open_here:
                names = [await self.runtime.name(t.approver_id) for t in open_here]
                return False, "、".join(names)
            later = [t for t in tasks if t.status == "queued"]
            if later:
                position = min(t.position for t in later)
                starting = [t for t in later if t.position == position]
                for task in starting:
                    task.status = "pending"
                    await store.save_task(task)
                moved = await self._activate(turn, application, session, stage, starting)
                if moved is not None:
                    return True, moved
                names = [await self.runtime.name(t.approver_id) for t in starting]
                return False, "、".join(names)
        await self._close_waiting(application, tasks)
        next_step = await self.runtime.fire(turn, application, session, "approve",
                                            detail={"stage": stage.id}) or ""
        return True, next_step

    async def _close_waiting(self, application: Application, tasks: list[ApprovalTask]) -> None:
        for task in tasks:
            if task.status in WAITING:
                task.status = "closed"
                await store.save_task(task)
                await self.deadlines.cancel_task(application.id, task.id)

    # ---- taps ----------------------------------------------------------------------------------
    async def task_for_tap(self, turn: Turn, card_key: str) -> tuple[ApprovalTask, Application,
                                                                     FlowDefinition]:
        task = await store.task_by_card(card_key)
        if task is None:
            raise TapRefused("这张卡片已失效。")
        application = await store.lock_application(task.application_id) or task.application
        task.application = application
        self.policy.check_assignee(task, application, turn.user.id)
        await task.refresh_from_db(fields=["status", "decided_by", "decided_at", "comment"])
        definition = await self.runtime.definition_for(application)
        if definition is None:
            raise TapRefused("该事项的流程已更新，请联系经办部门处理。")
        if task.status != "pending" or application.state != stage_state(task.stage_id) \
                or application.status != "pending":
            raise await self._late_tap(turn, task, application)
        return task, application, definition

    async def _late_tap(self, turn: Turn, task: ApprovalTask,
                        application: Application) -> TapRefused:
        """A tap on a card already decided: the card shows the final state again, and the
        approver is told what happened, by whom and when (e.g. 已办结（马工，11月26日 09:00）)."""
        final, outcome = task_outcome(task, application)
        decided = task if task.decided_by else next(
            (t for t in await store.stage_tasks(application.id, task.stage_id)
             if t.decided_by and t.status in ("approved", "rejected", "returned")), None)
        card, told = final, final
        if decided is not None and decided.decided_by and decided.decided_at:
            name = await self.runtime.name(decided.decided_by)
            at = decided.decided_at.astimezone(turn.timezone)
            card = f"{final}（{name} {at:%m-%d %H:%M}）"
            who = "您" if decided.decided_by == turn.user.id else name
            told = f"{final}（{who}，{at.month}月{at.day}日 {at:%H:%M}）"
        if task.status == "closed" and application.status == "withdrawn":
            card = told = "申请人已撤回"
            outcome = "withdrawn"
        turn.reply(CardUpdate(task.card_key, card, recipients=(turn.user.id,), outcome=outcome))
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
        await self.deadlines.cancel_task(application.id, task.id)
        await store.append_audit(application, at=turn.now, actor_id=turn.user.id,
                                 action="decision", channel=turn.channel, comment=comment,
                                 detail={"stage": stage.id, "outcome": task.status})
        word = decision_word(stage.kind, action)
        stamp = turn.local_now.strftime("%m-%d %H:%M")
        if action == "approve":
            done, text = await self._progress(turn, application, session, stage, task)
            if not done:
                turn.reply(CardUpdate(task.card_key, f"您已{word}，等待{text}",
                                      recipients=(turn.user.id,), outcome="approved"))
                turn.push(applicant_id, f"您的《{definition.name}》（#{application.id}）"
                                        f"{turn.user.name}已{word}，还需{text}审批。")
                turn.reply(f"已{word}编号 #{application.id}，还需{text}审批。")
                application.updated_at = turn.now
                await store.save_application(application)
                return
            next_step = text
        else:
            await self._close_waiting(application, await store.stage_tasks(
                application.id, stage.id, self.round_of(application)))
            next_step = await self.runtime.fire(turn, application, session, "reject",
                                                detail={"stage": stage.id,
                                                        "comment": comment}) or ""
        outcome: Outcome = "approved" if action == "approve" else "rejected"
        status = f"已{word}（{turn.user.name} {stamp}）"
        await self._update_cards(turn, application, stage.id, status, outcome,
                                 comment if action != "approve" else "")
        label = "意见" if action == "approve" else "理由"
        reason = f"{label}：{comment}。" if comment else ""
        turn.push(applicant_id, f"您的《{definition.name}》（#{application.id}）"
                                f"{stage.name}：{turn.user.name}已{word}。{reason}{next_step}")
        turn.reply(f"已{word}编号 #{application.id}（{await self.runtime.name(applicant_id)}的"
                   f"{definition.name}）。")
        await store.save_application(application)

    async def _update_cards(self, turn: Turn, application: Application, stage_id: str,
                            status: str, outcome: Outcome, reason: str = "") -> None:
        """Every copy of the stage's cards shows the decision and who made it."""
        for sibling in await store.stage_tasks(application.id, stage_id,
                                               self.round_of(application)):
            if sibling.status in DONE:
                turn.push(sibling.approver_id, CardUpdate(
                    sibling.card_key, status, recipients=(sibling.approver_id,),
                    outcome=outcome, reason=reason))

    # ---- 转交 and 加签 --------------------------------------------------------------------------
    async def _handover(self, turn: Turn, card_key: str, target: PersonInfo, reason: str,
                        what: str) -> tuple[ApprovalTask, Application, FlowDefinition, Stage,
                                            Assignment]:
        task, application, definition = await self.task_for_tap(turn, card_key)
        stage = definition.stage_by_id(task.stage_id)
        holders = {t.approver_id for t in await store.stage_tasks(
            application.id, stage.id, self.round_of(application)) if t.status in WAITING}
        holders.discard(turn.user.id)
        await self.policy.check_handover(actor_id=turn.user.id, target=target,
                                         application=application, stage=stage, reason=reason,
                                         holders=holders, what=what)
        applicant = await self.directory.person(application.applicant_id) or target
        assignment = await self.policy.delegated(target, applicant, turn.today)
        return task, application, definition, stage, assignment

    async def transfer(self, turn: Turn, card_key: str, target: PersonInfo,
                       reason: str = "") -> None:
        task, application, definition, stage, assignment = await self._handover(
            turn, card_key, target, reason, "转交")
        session = await self.runtime.session_for(application, definition)
        task.status, task.decided_by, task.decided_at = "transferred", turn.user.id, turn.now
        task.comment = f"已转交给{target.name}"
        await store.save_task(task)
        await self.deadlines.cancel_task(application.id, task.id)
        new_task = await self._new_task(turn, application, task, assignment, "pending")
        # the message that explains the card comes before it
        turn.push(new_task.approver_id, f"{turn.user.name}将编号 #{application.id} 的{stage.name}"
                                        f"转交给您处理。理由：{reason}")
        await self._activate(turn, application, session, stage, [new_task], auto=False,
                             note=f"{turn.user.name}转交：{reason}")
        turn.reply(CardUpdate(task.card_key, f"已转交给{target.name}", recipients=(turn.user.id,),
                              outcome="transferred", reason=reason))
        turn.reply(f"已转交给{target.name}。")
        turn.push(application.applicant_id, f"您的《{definition.name}》（#{application.id}）"
                                             f"已由{turn.user.name}转交{target.name}处理。")
        await store.append_audit(application, at=turn.now, actor_id=turn.user.id,
                                 action="transfer", from_state=application.state,
                                 to_state=application.state, channel=turn.channel,
                                 comment=reason,
                                 detail={"stage": stage.id, "to": assignment.person.id})
        application.updated_at = turn.now
        await store.save_application(application)

    async def add_approver(self, turn: Turn, card_key: str, target: PersonInfo, reason: str,
                           *, before: bool) -> None:
        """加签: `target` approves before the actor (who then decides), or after the actor's
        approval (which this is)."""
        task, application, definition, stage, assignment = await self._handover(
            turn, card_key, target, reason, "加签")
        session = await self.runtime.session_for(application, definition)
        added = assignment.person
        await self.deadlines.cancel_task(application.id, task.id)
        if before:
            task.status, task.decided_by, task.decided_at = "added", turn.user.id, turn.now
            task.comment = f"已加签{added.name}，其审批后再由您审批"
            await store.save_task(task)
            new_task = await self._new_task(turn, application, task, assignment, "pending")
            await store.create_task(application, stage_id=stage.id, approver_id=turn.user.id,
                                    now=turn.now, status="queued", slot=task.slot,
                                    position=task.position, round=task.round)
            status, outcome = f"已加签{added.name}（先由其审批）", "added"
            told = f"已加签{added.name}，{added.name}审批后会再发给您。"
        else:
            task.status, task.decided_by, task.decided_at = "approved", turn.user.id, turn.now
            task.comment = f"并加签{added.name}"
            await store.save_task(task)
            new_task = await self._new_task(turn, application, task, assignment, "pending")
            status, outcome = f"已同意，加签{added.name}", "approved"
            told = f"已同意并加签{added.name}，{added.name}同意后才进入下一步。"
        await self._activate(turn, application, session, stage, [new_task], auto=False,
                             note=f"{turn.user.name}加签：{reason}")
        turn.reply(CardUpdate(task.card_key, status, recipients=(turn.user.id,),
                              outcome=outcome, reason=reason))
        turn.reply(told)
        turn.push(application.applicant_id, f"您的《{definition.name}》（#{application.id}）"
                                             f"{turn.user.name}加签{added.name}审批。")
        await store.append_audit(application, at=turn.now, actor_id=turn.user.id,
                                 action="add_before" if before else "add_after",
                                 channel=turn.channel, comment=reason,
                                 detail={"stage": stage.id, "to": added.id})
        application.updated_at = turn.now
        await store.save_application(application)

    async def _new_task(self, turn: Turn, application: Application, after: ApprovalTask,
                        assignment: Assignment, status: str) -> ApprovalTask:
        return await store.create_task(
            application, stage_id=after.stage_id, approver_id=assignment.person.id,
            now=turn.now, status=status, slot=after.slot, position=after.position,
            round=after.round,
            delegated_from=assignment.delegated_from.id if assignment.delegated_from else None)

    # ---- 退回修改 -------------------------------------------------------------------------------
    async def returnable_fields(self, turn: Turn, card_key: str) -> list[str]:
        """The numbered answers an approver can name, as in the applicant's summary."""
        _task, application, definition = await self.task_for_tap(turn, card_key)
        session = await self.runtime.session_for(application, definition)
        return [item.label for item in answered_fields(session)]

    async def return_for_changes(self, turn: Turn, card_key: str, numbers: list[int],
                                 comment: str) -> None:
        task, application, definition = await self.task_for_tap(turn, card_key)
        stage = definition.stage_by_id(task.stage_id)
        session = await self.runtime.session_for(application, definition)
        fields = answered_fields(session)
        chosen = [fields[n - 1] for n in dict.fromkeys(numbers) if 1 <= n <= len(fields)]
        if not chosen:
            raise TapRefused(f"请写出要修改的项目序号（1–{len(fields)}），"
                             "例如“2 3 日期与课表冲突”。")
        if len(comment.strip()) < 2:
            raise TapRefused("请说明需要怎样修改（至少 2 个字），申请人会看到。")
        task.status, task.decided_by, task.decided_at = "returned", turn.user.id, turn.now
        task.comment = comment
        await store.save_task(task)
        await self._close_waiting(application, await store.stage_tasks(
            application.id, stage.id, self.round_of(application)))
        await self.deadlines.cancel_task(application.id, task.id)
        stamp = turn.local_now.strftime("%m-%d %H:%M")
        await self._update_cards(turn, application, stage.id,
                                 f"已退回修改（{turn.user.name} {stamp}）", "returned", comment)
        previous = {item.key: session.form.pop(item.key) for item in chosen}
        session.edit_target = ask_state(chosen[0].key)
        application.meta = {**application.meta, "round": self.round_of(application) + 1,
                            "previous": previous,
                            "returned": {"stage": stage.id, "by": turn.user.id,
                                         "fields": [item.key for item in chosen],
                                         "comment": comment}}
        await self.runtime.fire(turn, application, session, "return",
                                detail={"stage": stage.id, "comment": comment,
                                        "fields": [item.key for item in chosen]})
        application.status, application.expires_at = "returned", None
        items = "、".join(f"{item.label}" for item in chosen)
        turn.push(application.applicant_id,
                  f"您的《{definition.name}》（#{application.id}）被{turn.user.name}退回修改。\n"
                  f"需要修改：{items}\n说明：{comment}\n"
                  f"回复“修改申请 {application.id}”开始修改，改好后确认即可继续审批"
                  f"（已同意的环节不再重复）；不再申请可回复“撤回 {application.id}”。")
        applicant = await self.runtime.name(application.applicant_id)
        turn.reply(f"已退回编号 #{application.id}，请{applicant}修改{items}。")
        await store.save_application(application)

    def resubmit_trigger(self, application: Application, session: FlowSession) -> str:
        """For a returned application: continue at the stage that returned it (or the next one
        that applies, if the new answers no longer need that stage)."""
        returned = application.meta.get("returned") or {}
        stage_id = returned.get("stage", "")
        target = session.stage_after(CONFIRM)
        for stage in session.definition.stages:
            if stage.id == stage_id:
                target = stage_state(stage.id) if session.applies(stage) else \
                    session.stage_after(stage_state(stage.id))
        session.edit_target = target
        application.meta = {k: v for k, v in application.meta.items() if k != "returned"}
        return "resubmit"

    # ---- the applicant -------------------------------------------------------------------------
    async def withdraw(self, turn: Turn, application: Application) -> None:
        definition = await self.runtime.definition_for(application)
        if definition is None or application.applicant_id != turn.user.id:
            turn.reply("无法撤回该申请。")
            return
        leave = leave_range(definition, application.form)
        if application.status == "followup":
            if leave is None or leave[0] <= turn.today:
                back = back_word(definition)
                turn.reply(f"编号 #{application.id} 已批准且假期已开始，不能撤回；"
                           f"{back}后请回复“销假”，提前{back}会按实际天数记录。"
                           if leave else f"编号 #{application.id} 已办理完成，不能撤回。")
                return
        elif application.status not in ("pending", "returned"):
            turn.reply(f"编号 #{application.id} {STATUS_LABELS.get(application.status, '')}，"
                       "不能撤回（只有审批中或已批准未开始的请假可以撤回）。")
            return
        session = await self.runtime.session_for(application, definition)
        was = application.status
        if await self.runtime.fire(turn, application, session, "withdraw") is None:
            turn.reply(f"编号 #{application.id} 当前不能撤回。")
            return
        for task in await store.waiting_tasks_of(application.id):
            had_card = task.status == "pending"
            task.status = "closed"
            await store.save_task(task)
            if had_card:
                turn.push(task.approver_id, CardUpdate(task.card_key, "申请人已撤回",
                                                       recipients=(task.approver_id,),
                                                       outcome="withdrawn"))
        if was == "followup":
            for user in sorted({t.decided_by for t in await store.stage_tasks_all(application.id)
                                if t.status == "approved" and t.decided_by}):
                turn.push(user, f"{turn.user.name}已撤回已批准的《{definition.name}》"
                                f"（#{application.id}），假期未开始，不再休假。")
        turn.reply(f"已撤回《{definition.name}》（#{application.id}），审批人的卡片已同步更新。")
        await store.save_application(application)

    async def urge(self, turn: Turn, application: Application) -> None:
        """催办: remind the current approvers, at most once per `urge_interval`."""
        definition = self.runtime.catalog.get(application.flow_id)
        name = definition.name if definition else application.flow_id
        tasks = await store.open_tasks_of(application.id)
        if application.status != "pending" or not tasks:
            turn.reply(f"《{name}》（#{application.id}）当前没有等待审批的环节，无需催办。")
            return
        interval = self.runtime.settings.urge_interval
        last = await store.last_audit(application.id, "urge")
        if last is not None and turn.now - last.at < interval:
            again = last.at + interval
            minutes = max(1, int((again - turn.now).total_seconds() // 60))
            at = last.at.astimezone(turn.timezone)
            turn.reply(f"您已于 {at:%H:%M} 催办过，审批人已收到提醒。"
                       f"为免打扰，{minutes} 分钟后可再次催办。")
            return
        hours = int((turn.now - (application.submitted_at or turn.now)).total_seconds() // 3600)
        waited = f"已等待约 {hours} 小时，" if hours else ""
        names = []
        for task in tasks:
            names.append(await self.runtime.name(task.approver_id))
            turn.push(task.approver_id,
                      f"📣 {turn.user.name}催办：《{name}》（#{application.id}）在您处待审批，"
                      f"{waited}请尽快处理。可在卡片上操作，或回复“同意 {application.id}”"
                      f"“驳回 {application.id} 理由”。")
        await store.append_audit(application, at=turn.now, actor_id=turn.user.id,
                                 action="urge", channel=turn.channel,
                                 detail={"to": [t.approver_id for t in tasks]})
        turn.reply(f"已提醒{'、'.join(names)}尽快处理《{name}》（#{application.id}）。"
                   "每小时最多催办一次。")

    async def comment(self, turn: Turn, application: Application, text: str) -> None:
        """A comment on an application: the applicant's reaches the current approvers, an
        approver's reaches the applicant."""
        definition = self.runtime.catalog.get(application.flow_id)
        name = definition.name if definition else application.flow_id
        await store.append_audit(application, at=turn.now, actor_id=turn.user.id,
                                 action="comment", channel=turn.channel, comment=text)
        if turn.user.id == application.applicant_id:
            told = [t.approver_id for t in await store.open_tasks_of(application.id)]
        else:
            told = [application.applicant_id]
        for user in dict.fromkeys(told):
            if user != turn.user.id:
                turn.push(user, f"💬 {turn.user.name}对《{name}》（#{application.id}）留言：{text}")
        turn.reply(f"已留言（#{application.id}）。")

    # ---- 抄送 ----------------------------------------------------------------------------------
    async def carbon_copy(self, turn: Turn, application: Application, session: FlowSession,
                          point: str) -> None:
        """Tell the flow's CC recipients for `point` (submit/end) — without sensitive answers."""
        definition = session.definition
        rules = [r for r in definition.cc if r.at == point
                 and (r.when is None or r.when.evaluate(session.condition_values()))]
        if not rules:
            return
        applicant = await self.directory.person(application.applicant_id)
        if applicant is None:
            return
        from flows.approvers import resolve_approvers  # local: the same resolver as stages

        people: dict[str, PersonInfo] = {}
        for rule in rules:
            for spec in rule.to:
                try:
                    for person in await resolve_approvers(spec, applicant, self.directory):
                        if person.id != applicant.id:
                            people.setdefault(person.id, person)
                except ApproverNotFound as exc:
                    log.warning("flow=%s application=%s: cc %s: %s", definition.id,
                                application.id, spec, exc)
        keys = tuple(f.key for f in answered_fields(session))
        facts = "；".join(f"{label}：{value}" for label, value in
                         facts_of(session, keys, with_sensitive=False))
        what = "已提交" if point == "submit" else (
            "已办结" if application.status == "completed" else "已结束")
        for person in people.values():
            if not await store.add_carbon_copy(application, person.id, point, turn.now):
                continue
            turn.push(person.id, f"【抄送】{applicant.name}的《{definition.name}》"
                                 f"（#{application.id}）{what}。\n{facts}\n"
                                 f"回复“查看 {application.id}”查看进度。")
        await store.append_audit(application, at=turn.now, actor_id="system", action="cc",
                                 channel=turn.channel,
                                 detail={"point": point, "to": sorted(people)})

    # ---- leave ---------------------------------------------------------------------------------
    async def overlap_warnings(self, application: Application, definition: FlowDefinition,
                               form: dict) -> list[str]:
        """The applicant's other leave, pending or approved, in the same days."""
        mine = leave_range(definition, form)
        if mine is None:
            return []
        leave_flows = [d.id for d in self.runtime.catalog.all() if leave_fields(d)]
        warnings = []
        for other in await store.applications_in_flows(application.applicant_id, leave_flows):
            if other.id == application.id or other.status not in (
                    "pending", "followup", "completed", "returned"):
                continue
            other_definition = self.runtime.catalog.get(other.flow_id)
            if other_definition is None or leave_range(other_definition, other.form) is None:
                continue
            first, last = recorded_leave(other_definition, other)
            if overlaps(mine, (first, last)):
                state = "审批中" if other.status in ("pending", "returned") else "已批准"
                warnings.append(f"同期已有请假 #{other.id}：{range_text(first, last)}（{state}）")
        return warnings

    # ---- helpers -------------------------------------------------------------------------------
    @staticmethod
    def round_of(application: Application) -> int:
        return int((application.meta or {}).get("round", 0))

    async def waiting_names(self, application: Application) -> list[str]:
        return [await self.runtime.name(t.approver_id)
                for t in await store.open_tasks_of(application.id)]

    @staticmethod
    def today_leave_started(definition: FlowDefinition, application: Application,
                            today: date) -> bool:
        found = leave_range(definition, application.form)
        return found is None or found[0] <= today
