"""The flow engine: runs applications through their flow's shared machine.

Every public method works inside the caller's database transaction (the dispatcher's turn): it
loads what it needs, fires triggers, saves with a version check and queues messages on the turn.
Nothing is sent from here; the turn's messages reach the outbox only if the transaction commits.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from math import ceil
from typing import Any

from flows.actions import ActionRegistry, CheckContext
from flows.answers import AnswerError, Attachment, display_value, parse_answer, short_value
from flows.approvers import effective_roles
from flows.assignment import assign, report_gap
from flows.bookings import booking_conflict
from flows.catalog import Catalog
from flows.definition import FlowDefinition, Followup, Stage
from flows.guide import days_text
from flows.machine import FlowMachines
from flows.messages import Button, Card, CardUpdate
from flows.session import (
    CONFIRM,
    FINAL_STATES,
    NEW,
    Applicant,
    FlowSession,
    ask_state,
    stage_state,
)
from flows.texts import COMPLETED_BY_KIND, answered_fields, dialog_help, question, summary
from flows.turn import Turn
from storage import applications as store
from storage.directory import Directory, PersonInfo
from storage.models import Application, ApprovalTask, Conversation

log = logging.getLogger("campusbot.flows")

CANCEL_WORDS = {"取消", "不办了", "退出", "放弃", "算了"}
BACK_WORDS = {"返回", "上一步", "上一项", "回退", "back"}
HELP_WORDS = {"帮助", "help", "?", "？", "怎么填"}
CONFIRM_WORDS = {"确认", "确定", "提交", "确认提交", "对", "没问题", "是"}
_EDIT = re.compile(r"^(?:修改|改)\s*第?\s*(\d{1,2})\s*项?$")

STAGE_BUTTONS = {
    "approve": (Button("approve", "同意"), Button("reject", "驳回", "danger"),
                Button("transfer", "转交", "default")),
    # a job that cannot be done (or lacks material) goes back to the applicant with a reason
    "handle": (Button("approve", "办结"), Button("reject", "退回", "danger"),
               Button("transfer", "转交", "default")),
    "acknowledge": (Button("approve", "签收"),),
}
DECISION_WORDS = {"approve": "同意", "reject": "驳回"}
STAGE_DONE_WORDS = {"approve": "同意", "handle": "办结", "acknowledge": "签收"}


@dataclass(frozen=True)
class EngineSettings:
    idle_timeout: timedelta = timedelta(minutes=30)
    report_back_hour: int = 17
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


class TapRefused(Exception):
    """A card tap that changes nothing; the message (Chinese) tells the tapper why."""


class FlowEngine:
    def __init__(self, catalog: Catalog, directory: Directory, actions: ActionRegistry,
                 settings: EngineSettings | None = None) -> None:
        self.catalog = catalog
        self.directory = directory
        self.actions = actions
        self.settings = settings or EngineSettings()
        self.machines = FlowMachines()

    # ---- loading -------------------------------------------------------------------------------
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

    async def _fire(self, turn: Turn, application: Application, session: FlowSession,
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
                                     detail=detail or {})
        log.info("flow=%s application=%s user=%s %s: %s",
                 session.definition.id, application.id, turn.user.id, trigger, session.state)
        return await self._entered(turn, application, session)

    # ---- entering states -----------------------------------------------------------------------
    async def _entered(self, turn: Turn, application: Application, session: FlowSession) -> str:
        state = session.state
        if state.startswith("ask_"):
            item = session.current_field()
            assert item is not None
            text = question(session, item, first=not answered_fields(session))
            previous = application.meta.get("previous", {}).get(item.key)
            if previous is not None:
                text += f"\n（原来填的是：{display_value(item, previous)}，直接回复新内容即可）"
            turn.reply(text)
            return ""
        if state == CONFIRM:
            route, problem = await self.route_preview(session)
            turn.reply(summary(session, route, problem))
            return ""
        stage = session.current_stage()
        if stage is not None:
            return await self._open_stage(turn, application, session, stage)
        followup = session.current_followup()
        if followup is not None:
            return await self._open_followup(turn, application, session, followup)
        return await self._finish(turn, application, session)

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

    async def _open_stage(self, turn: Turn, application: Application, session: FlowSession,
                          stage: Stage) -> str:
        definition = session.definition
        applicant = await self.directory.person(application.applicant_id)
        assignment = await assign(definition, stage, applicant, self.directory)
        waiting = await report_gap(turn, application, definition, stage, assignment,
                                   admins=self.settings.admins,
                                   generation=await self.directory.generation())
        if assignment.nobody:
            return waiting
        people = list(assignment.people)
        names = assignment.names()
        if stage.kind == "approve" and await self._already_approved_by(application, stage, people):
            # the same person approved an earlier stage: asking twice adds nothing (审批人去重)
            await store.append_audit(application, at=turn.now, actor_id="system",
                                     action="auto_approve", from_state=session.state,
                                     to_state=session.state,
                                     detail={"stage": stage.id,
                                             "approvers": [p.id for p in people]})
            after = await self._fire(turn, application, session, "approve",
                                     detail={"stage": stage.id, "auto": True}) or ""
            return f"{stage.name}：{names}已在前一环节同意，自动通过。{after}"
        for person in people:
            task = await store.create_task(application, stage_id=stage.id, approver_id=person.id,
                                           now=turn.now)
            turn.push(person.id, self._card(application, session, stage, task,
                                            applicant or person))
        mode = "（需全部同意）" if stage.mode == "all" and len(people) > 1 else ""
        return f"下一步：{stage.name}（{names}）{mode}。"

    async def _already_approved_by(self, application: Application, stage: Stage,
                                   people: list[PersonInfo]) -> bool:
        approved = {t.approver_id for t in await store.stage_tasks_all(application.id)
                    if t.status == "approved"}
        wanted = {p.id for p in people}
        return wanted <= approved if stage.mode == "all" else bool(wanted & approved)

    def _card(self, application: Application, session: FlowSession, stage: Stage,
              task: ApprovalTask, applicant: PersonInfo) -> Card:
        definition = session.definition
        keys = stage.card_facts or tuple(f.key for f in answered_fields(session))[:5]
        facts = [("申请人", applicant.name)]
        for key in keys:
            if key in session.form and session.applies(definition.field_by_key(key)):
                item = definition.field_by_key(key)
                facts.append((item.label, short_value(item, session.form[key])))
        return Card(
            card_key=task.card_key,
            title=f"{applicant.name}的{definition.name}",
            subtitle=f"{stage.name} · 编号 #{application.id}",
            facts=tuple(facts[:6]),
            buttons=STAGE_BUTTONS[stage.kind],
            application_id=application.id,
        )

    async def _open_followup(self, turn: Turn, application: Application, session: FlowSession,
                             followup: Followup) -> str:
        if followup.kind == "report_back":
            end = leave_end(session, followup)
            due = datetime.combine(end, time(self.settings.report_back_hour),
                                   turn.timezone).astimezone(UTC)
            await store.schedule_reminder(application, kind="report_back",
                                          user_id=application.applicant_id,
                                          due_at=max(due, turn.now), now=turn.now)
            return f"假期至 {end.month}月{end.day}日，返岗后请回复“销假”。"
        return "请为本次服务评分：回复 1–5 的数字（5 分为非常满意）。"

    async def _finish(self, turn: Turn, application: Application, session: FlowSession) -> str:
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

    # ---- the dialog ----------------------------------------------------------------------------
    async def start(self, turn: Turn, conversation: Conversation, definition: FlowDefinition,
                    prefill: dict[str, Any] | None = None) -> Application:
        await self.catalog.keep(definition)
        application = await store.create_application(
            flow_id=definition.id, flow_version=definition.version, applicant_id=turn.user.id,
            state=NEW, status="filling", channel=turn.channel, now=turn.now,
            expires_at=turn.now + self.settings.idle_timeout, flow_digest=definition.digest)
        session = await self.session_for(application, definition)
        filled = []
        for key, value in (prefill or {}).items():
            item = definition.field_by_key(key)
            session.form[key] = value
            filled.append(f"{item.label}：{display_value(item, value)}")
        await store.append_audit(application, at=turn.now, actor_id=turn.user.id,
                                 action="create", detail={"prefilled": sorted(prefill or {})})
        count = len(session.applicable_fields())
        intro = f"开始办理《{definition.name}》（{definition.unit}），共 {count} 项，一次问一项。"
        if filled:
            intro += "\n已根据您的话填好：" + "；".join(filled) + "。"
        turn.reply(intro)
        await self._fire(turn, application, session, "start")
        conversation.active_application_id = application.id
        await store.save_application(application)
        return application

    async def continue_dialog(self, turn: Turn, conversation: Conversation,
                              application: Application, text: str,
                              attachment: Attachment | None = None) -> None:
        definition = await self.definition_for(application)
        if definition is None:
            await self._abandon_outdated(turn, conversation, application)
            return
        session = await self.session_for(application, definition)
        words = text.strip()
        if words in CANCEL_WORDS:
            await self._fire(turn, application, session, "cancel")
            conversation.active_application_id = None
            turn.reply(f"已取消《{definition.name}》的填写，填过的内容不会提交。")
        elif words in HELP_WORDS:
            turn.reply(dialog_help(session))
        elif words in BACK_WORDS:
            await self._back(turn, application, session)
        elif session.state == CONFIRM:
            await self._at_confirm(turn, conversation, application, session, words)
        else:
            await self._answer(turn, application, session, text, attachment)
        if application.status == "filling":
            application.expires_at = turn.now + self.settings.idle_timeout
            application.updated_at = turn.now
        await store.save_application(application)

    async def _back(self, turn: Turn, application: Application, session: FlowSession) -> None:
        target = session.previous_dialog_state()
        if target is None:
            turn.reply("已经是第一项了。")
            await self._entered(turn, application, session)
            return
        key = target.removeprefix("ask_")
        if key in session.form:
            application.meta = {**application.meta,
                                "previous": {key: session.form.pop(key)}}
        await self._fire(turn, application, session, "back")

    async def _answer(self, turn: Turn, application: Application, session: FlowSession,
                      text: str, attachment: Attachment | None) -> None:
        item = session.current_field()
        if item is None:
            await self._entered(turn, application, session)
            return
        try:
            value = parse_answer(item, text, turn.today, attachment=attachment)
        except AnswerError as exc:
            turn.reply(f"{exc}\n（当前问题：{item.label}；回复“帮助”查看说明）")
            return
        if item.check:
            problem = await self.actions[item.check](CheckContext(
                definition=session.definition, form=session.form, turn=turn,
                application_id=application.id, field=item, value=value))
            if problem:
                turn.reply(f"{problem}\n请重新填写{item.label}。")
                return
        session.form[item.key] = value
        application.meta = {k: v for k, v in application.meta.items() if k != "previous"}
        await self._fire(turn, application, session, "answer")

    async def _at_confirm(self, turn: Turn, conversation: Conversation, application: Application,
                          session: FlowSession, words: str) -> None:
        if match := _EDIT.match(words):
            fields = answered_fields(session)
            number = int(match.group(1))
            if not 1 <= number <= len(fields):
                turn.reply(f"没有第 {number} 项，请回复 1–{len(fields)} 之间的序号，例如“修改 2”。")
                return
            item = fields[number - 1]
            application.meta = {**application.meta,
                                "previous": {item.key: session.form.pop(item.key)}}
            session.edit_target = ask_state(item.key)
            await self._fire(turn, application, session, "edit")
            return
        if words not in CONFIRM_WORDS:
            turn.reply("请回复“确认”提交，“修改 N”修改第 N 项，或“取消”放弃。")
            return
        await self.submit(turn, conversation, application, session)

    async def submit(self, turn: Turn, conversation: Conversation, application: Application,
                     session: FlowSession) -> None:
        definition = session.definition
        applicable = {f.key for f in session.applicable_fields()}
        session.form = {k: v for k, v in session.form.items() if k in applicable}
        for name in definition.checks:
            problem = await self.actions[name](CheckContext(
                definition=definition, form=session.form, turn=turn,
                application_id=application.id))
            if problem:
                turn.reply(f"{problem}\n可以回复“修改 N”修改后再提交，或“取消”放弃。")
                return
        if definition.booking is not None:
            conflict = await booking_conflict(definition, session.form, application.id,
                                              self.directory)
            if conflict:
                turn.reply(f"{conflict}。\n请回复“修改 N”换一个时间或场地，或“取消”放弃。")
                return
            booking = definition.booking
            await store.hold_booking(
                application, flow_id=definition.id,
                resource=str(session.form.get(booking.resource_field, "")),
                day=date.fromisoformat(session.form[booking.date_field]),
                slot=str(session.form.get(booking.slot_field, "")))
        application.submitted_at = turn.now
        application.expires_at = None
        conversation.active_application_id = None
        next_step = await self._fire(turn, application, session, "submit") or ""
        limit = definition.time_limit_days
        limit_text = f"办结时限 {days_text(limit)} 个工作日。" if limit else ""
        turn.reply(f"已提交《{definition.name}》，编号 #{application.id}。{next_step}{limit_text}\n"
                   "回复“我的申请”可随时查看进度。")

    async def prompt(self, turn: Turn, application: Application) -> None:
        """Repeat where the dialog stands (after a restart, a command, or 继续)."""
        definition = await self.definition_for(application)
        if definition is None:
            return
        session = await self.session_for(application, definition)
        turn.reply(f"您正在填写《{definition.name}》：")
        await self._entered(turn, application, session)

    async def _abandon_outdated(self, turn: Turn, conversation: Conversation,
                                application: Application) -> None:
        application.state, application.status = "cancelled", "cancelled"
        application.finished_at = turn.now
        conversation.active_application_id = None
        await store.append_audit(application, at=turn.now, actor_id="system", action="outdated")
        turn.reply("该事项的流程已更新，之前填写的内容无法继续，请重新发起办理。抱歉给您带来不便。")

    # ---- approval ------------------------------------------------------------------------------
    async def _task_for_tap(self, turn: Turn, card_key: str) -> tuple[ApprovalTask, Application,
                                                                      FlowDefinition]:
        task = await store.task_by_card(card_key)
        if task is None:
            raise TapRefused("这张卡片已失效。")
        application = task.application
        if task.approver_id != turn.user.id:
            log.warning("card tap by someone else: card=%s application=%s assignee=%s user=%s",
                        card_key, application.id, task.approver_id, turn.user.id)
            raise TapRefused("这张卡片不是发给您的，您无法处理。")
        definition = await self.definition_for(application)
        if definition is None:
            raise TapRefused("该事项的流程已更新，请联系经办部门处理。")
        if task.status != "pending" or application.state != stage_state(task.stage_id):
            raise await self._late_tap(turn, task, application)
        return task, application, definition

    async def _late_tap(self, turn: Turn, task: ApprovalTask,
                        application: Application) -> TapRefused:
        """A tap on a card already decided: the card shows the final state again, and the
        approver is told what happened, by whom and when (e.g. 已办结（马工，11月26日 09:00）)."""
        final = _task_outcome(task, application)
        decided = task if task.decided_by else next(
            (t for t in await store.stage_tasks(application.id, task.stage_id)
             if t.decided_by and t.status in ("approved", "rejected")), None)
        card, told = final, final
        if decided is not None and decided.decided_by and decided.decided_at:
            name = await self._name(decided.decided_by)
            at = decided.decided_at.astimezone(turn.timezone)
            card = f"{final}（{name} {at:%m-%d %H:%M}）"
            who = "您" if decided.decided_by == turn.user.id else name
            told = f"{final}（{who}，{at.month}月{at.day}日 {at:%H:%M}）"
        turn.reply(CardUpdate(task.card_key, card, recipients=(turn.user.id,)))
        return TapRefused(f"该申请（编号 #{application.id}）{told}，无需重复操作。")

    async def check_tap(self, turn: Turn, card_key: str) -> ApprovalTask:
        """Validate a tap before asking the approver for a reason or a transfer target."""
        task, _, _ = await self._task_for_tap(turn, card_key)
        return task

    async def decide(self, turn: Turn, card_key: str, action: str, comment: str = "") -> None:
        """Apply 同意/驳回/办结/签收 from a card; raise TapRefused when it changes nothing."""
        task, application, definition = await self._task_for_tap(turn, card_key)
        stage = definition.stage_by_id(task.stage_id)
        session = await self.session_for(application, definition)
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
        word = STAGE_DONE_WORDS[stage.kind] if action == "approve" else (
            "退回" if stage.kind == "handle" else "驳回")
        stamp = turn.local_now.strftime("%m-%d %H:%M")
        others = [t for t in await store.stage_tasks(application.id, stage.id)
                  if t.id != task.id and t.status == "pending"]
        if action == "approve" and stage.mode == "all" and others:
            waiting = "、".join([(await self._name(t.approver_id)) for t in others])
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
        next_step = await self._fire(turn, application, session, trigger,
                                     detail={"stage": stage.id, "comment": comment}) or ""
        status = f"已{word}（{turn.user.name} {stamp}）"
        for sibling in await store.stage_tasks(application.id, stage.id):
            if sibling.status in ("approved", "rejected", "closed"):
                turn.push(sibling.approver_id, CardUpdate(sibling.card_key, status,
                                                          recipients=(sibling.approver_id,)))
        reason = f"理由：{comment}。" if comment else ""
        turn.push(applicant_id, f"您的《{definition.name}》（#{application.id}）"
                                f"{stage.name}：{turn.user.name}已{word}。{reason}{next_step}")
        turn.reply(f"已{word}编号 #{application.id}（{await self._name(applicant_id)}的"
                   f"{definition.name}）。")
        await store.save_application(application)

    async def transfer(self, turn: Turn, card_key: str, target: PersonInfo) -> None:
        task, application, definition = await self._task_for_tap(turn, card_key)
        if target.id == turn.user.id:
            raise TapRefused("不能转交给自己。")
        stage = definition.stage_by_id(task.stage_id)
        session = await self.session_for(application, definition)
        task.status, task.decided_by, task.decided_at = "transferred", turn.user.id, turn.now
        task.comment = f"转交给{target.name}"
        await store.save_task(task)
        new_task = await store.create_task(application, stage_id=stage.id, approver_id=target.id,
                                           now=turn.now)
        applicant = await self.directory.person(application.applicant_id) or target
        turn.push(target.id, self._card(application, session, stage, new_task, applicant))
        turn.push(target.id,
                  f"{turn.user.name}将编号 #{application.id} 的{stage.name}转交给您处理。")
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

    async def withdraw(self, turn: Turn, application: Application) -> None:
        definition = await self.definition_for(application)
        if definition is None or application.applicant_id != turn.user.id:
            turn.reply("无法撤回该申请。")
            return
        session = await self.session_for(application, definition)
        if await self._fire(turn, application, session, "withdraw") is None:
            turn.reply(f"编号 #{application.id} 当前不能撤回（只有审批中的申请可以撤回）。")
            return
        for task in await store.open_tasks_of(application.id):
            task.status = "closed"
            await store.save_task(task)
            turn.push(task.approver_id, CardUpdate(task.card_key, "申请人已撤回",
                                                   recipients=(task.approver_id,)))
        turn.reply(f"已撤回《{definition.name}》（#{application.id}）。")
        await store.save_application(application)

    async def finish_followup(self, turn: Turn, application: Application,
                              rating: int | None = None) -> None:
        """销假 or a service rating: the applicant completes the followup step."""
        definition = await self.definition_for(application)
        if definition is None:
            return
        session = await self.session_for(application, definition)
        followup = session.current_followup()
        if followup is None:
            return
        if followup.kind == "report_back":
            session.form["returned_on"] = turn.today.isoformat()
        else:
            application.meta = {**application.meta, "rating": rating}
        outcome = await self._fire(turn, application, session, "followup_done",
                                   detail={"rating": rating} if rating else {}) or ""
        notice = (f"{turn.user.name}已于{turn.today.month}月{turn.today.day}日销假"
                  if followup.kind == "report_back" else
                  f"{turn.user.name}对本次服务的评价：{rating} 分")
        for task in await store.stage_tasks_all(application.id):
            if task.status == "approved":
                turn.push(task.approver_id, f"{notice}（{definition.name}，#{application.id}）。")
        turn.reply(outcome if followup.kind == "report_back" else f"感谢评价！{outcome}")
        await store.save_application(application)

    async def expire(self, turn: Turn, application: Application) -> bool:
        definition = await self.definition_for(application)
        if definition is None or application.status != "filling":
            return False
        session = await self.session_for(application, definition)
        if await self._fire(turn, application, session, "expire") is None:
            return False
        minutes = int(self.settings.idle_timeout.total_seconds() // 60)
        turn.push(application.applicant_id,
                  f"您填写的《{definition.name}》已超过 {minutes} 分钟没有操作，已自动关闭。"
                  f"需要时请重新发起办理。")
        await store.save_application(application)
        return True

    async def reassign(self, turn: Turn, application: Application) -> bool:
        """Open the current stage again for an application that found nobody (the directory
        may have been fixed); True when it reached someone."""
        definition = await self.definition_for(application)
        if definition is None or application.status != "pending" or \
                await store.open_tasks_of(application.id):
            return False
        session = await self.session_for(application, definition)
        stage = session.current_stage()
        if stage is None:
            return False
        before = application.state
        next_step = await self._open_stage(turn, application, session, stage)
        if not await store.open_tasks_of(application.id) and application.state == before:
            return False
        application.updated_at = turn.now
        turn.push(application.applicant_id, f"您的《{definition.name}》（#{application.id}）"
                                            f"已找到办理人。{next_step}")
        await store.save_application(application)
        return True

    async def _name(self, user_id: str) -> str:
        person = await self.directory.person(user_id)
        return person.name if person else user_id


def leave_end(session: FlowSession, followup: Followup) -> date:
    form = session.form
    if followup.range_field:
        return date.fromisoformat(form[followup.range_field][1])
    start = date.fromisoformat(form[followup.start_field])
    days = float(form[followup.days_field])
    return start + timedelta(days=max(ceil(days), 1) - 1)


def _task_outcome(task: ApprovalTask, application: Application) -> str:
    match task.status:
        case "approved":
            return "已同意" if not task.comment else f"已同意（{task.comment}）"
        case "rejected":
            return "已驳回"
        case "transferred":
            return task.comment or "已转交"
        case "closed":
            return {"withdrawn": "申请人已撤回", "rejected": "已被驳回",
                    "cancelled": "已取消"}.get(application.status, "已由他人处理")
    return "已处理"
