"""Filling in an application: questions and answers, 返回, 修改 N, 确认 and submitting.

What the user types is only ever stored under the question being asked: 返回 and 修改 N go to
questions that apply given the answers as they are, an answer that makes questions stop
applying drops their answers, and a tap on a question that is no longer current is answered
politely and stored nowhere. Questions with options go out as `Choices` (tappable, typing still
works); each asking has its own key, kept in the application's meta.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from flows.actions import CheckContext
from flows.answers import AnswerError, Attachment, display_value, parse_answer
from flows.approvals import Approvals
from flows.bookings import booking_conflict
from flows.definition import Field, FlowDefinition
from flows.guide import days_text
from flows.messages import Choices
from flows.runtime import Runtime
from flows.session import CONFIRM, NEW, FlowSession, ask_state
from flows.texts import answered_fields, dialog_help, intro_count, question, summary
from flows.turn import Turn
from storage import applications as store
from storage.models import Application, Conversation

CANCEL_WORDS = {"取消", "不办了", "退出", "放弃", "算了"}
BACK_WORDS = {"返回", "上一步", "上一项", "回退", "back"}
HELP_WORDS = {"帮助", "help", "?", "？", "怎么填"}
CONFIRM_WORDS = {"确认", "确定", "提交", "确认提交", "对", "没问题", "是"}
_EDIT = re.compile(r"^(?:修改|改)\s*第?\s*(\d{1,2})\s*项?$")
YES_NO = ("是", "否")
STALE_TAP = "您点的是之前的问题，不会改动已填的内容。"


CHOICES_PREFIX = "q"


def answers_current(card_key: str, application: Application, session: FlowSession) -> bool:
    """A tap answers the question it was sent with; it counts only while that question of this
    application is the one being asked (an older card of the same question still counts)."""
    prefix, _, rest = card_key.partition("-")
    number, _, rest = rest.partition("-")
    field_key = rest.rpartition("-")[0]
    return (prefix == CHOICES_PREFIX and number == str(application.id)
            and session.state == ask_state(field_key))


def tap_options(item: Field) -> tuple[str, ...]:
    """What can be tapped to answer `item`: a single choice's options, 是/否; else nothing."""
    if item.type == "yesno":
        return YES_NO
    if item.type == "choice" and not item.multiple:
        return item.options
    return ()


class Dialog:
    def __init__(self, runtime: Runtime, approvals: Approvals) -> None:
        self.runtime = runtime
        self.approvals = approvals

    async def entered(self, turn: Turn, application: Application, session: FlowSession) -> str:
        """A question or the confirmation was entered: ask it."""
        if session.state == CONFIRM:
            route, problem = await self.approvals.route_preview(session)
            text = summary(session, route, problem)
            warnings = await self.approvals.overlap_warnings(application, session.definition,
                                                             session.form)
            if warnings:
                text += "\n⚠ " + "\n⚠ ".join(warnings) + "\n（仍可提交，审批人也会看到这条提醒）"
            turn.reply(text)
            return ""
        item = session.current_field()
        assert item is not None
        previous = application.meta.get("previous", {}).get(item.key)
        text = question(session, item, first=not answered_fields(session),
                        editing=item.key in application.meta.get("previous", {}))
        if previous is not None:
            text += f"\n（原来填的是：{display_value(item, previous)}，直接回复新内容即可）"
        options = tap_options(item)
        if options:
            turn.reply(Choices(text, options, self._choices_key(application, item)))
        else:
            turn.reply(text)
        return ""

    @staticmethod
    def _choices_key(application: Application, item: Field) -> str:
        """A key of its own for each time a question is asked (WeCom wants unique task ids),
        naming the application and the question."""
        asked = int(application.meta.get("asked", 0)) + 1
        application.meta = {**application.meta, "asked": asked}
        return f"{CHOICES_PREFIX}-{application.id}-{item.key}-{asked}"

    async def start(self, turn: Turn, conversation: Conversation, definition: FlowDefinition,
                    prefill: dict[str, Any] | None = None) -> Application:
        await self.runtime.catalog.keep(definition)
        application = await store.create_application(
            flow_id=definition.id, flow_version=definition.version, applicant_id=turn.user.id,
            state=NEW, status="filling", channel=turn.channel, now=turn.now,
            expires_at=turn.now + self.runtime.settings.idle_timeout,
            flow_digest=definition.digest)
        session = await self.runtime.session_for(application, definition)
        filled = []
        for key, value in (prefill or {}).items():
            item = definition.field_by_key(key)
            session.form[key] = value
            filled.append(f"{item.label}：{display_value(item, value)}")
        await store.append_audit(application, at=turn.now, actor_id=turn.user.id,
                                 action="create", detail={"prefilled": sorted(prefill or {})})
        session.drop_inapplicable()
        unit = await self.runtime.directory.department_named(definition.unit)
        intro = (f"开始办理《{definition.name}》（{unit.name if unit else definition.unit}），"
                 f"{intro_count(session)}，一次问一项。")
        if filled:
            intro += "\n已根据您的话填好：" + "；".join(filled) + "。"
        turn.reply(intro)
        await self.runtime.fire(turn, application, session, "start")
        conversation.active_application_id = application.id
        await store.save_application(application)
        return application

    async def continue_dialog(self, turn: Turn, conversation: Conversation,
                              application: Application, text: str,
                              attachment: Attachment | None = None, card_key: str = "") -> None:
        """`card_key`: the text came from tapping the `Choices` with that key."""
        definition = await self.runtime.definition_for(application)
        if definition is None:
            await self._abandon_outdated(turn, conversation, application)
            return
        session = await self.runtime.session_for(application, definition)
        words = text.strip()
        if card_key and not answers_current(card_key, application, session):
            turn.reply(STALE_TAP)
            await self.entered(turn, application, session)
        elif words in CANCEL_WORDS:
            await self.runtime.fire(turn, application, session, "cancel")
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
            application.expires_at = turn.now + self.runtime.settings.idle_timeout
            application.updated_at = turn.now
        await store.save_application(application)

    async def _back(self, turn: Turn, application: Application, session: FlowSession) -> None:
        target = session.previous_dialog_state()
        if target is None:
            turn.reply("已经是第一项了。")
            await self.entered(turn, application, session)
            return
        key = target.removeprefix("ask_")
        if key in session.form:
            application.meta = {**application.meta,
                                "previous": {key: session.form.pop(key)}}
        session.edit_target = target        # chosen before the answer came off the form
        await self.runtime.fire(turn, application, session, "back")

    async def _answer(self, turn: Turn, application: Application, session: FlowSession,
                      text: str, attachment: Attachment | None) -> None:
        item = session.current_field()
        if item is None:
            await self.entered(turn, application, session)
            return
        try:
            value = parse_answer(item, text, turn.today, attachment=attachment)
        except AnswerError as exc:
            turn.reply(f"{exc}\n（当前问题：{item.label}；回复“帮助”查看说明）")
            return
        if item.check:
            problem = await self.runtime.actions[item.check](CheckContext(
                definition=session.definition, form=session.form, turn=turn,
                application_id=application.id, field=item, value=value))
            if problem:
                turn.reply(f"{problem}\n请重新填写{item.label}。")
                return
        session.form[item.key] = value
        session.drop_inapplicable()
        application.meta = {k: v for k, v in application.meta.items() if k != "previous"}
        await self.runtime.fire(turn, application, session, "answer")

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
            await self.runtime.fire(turn, application, session, "edit")
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
            problem = await self.runtime.actions[name](CheckContext(
                definition=definition, form=session.form, turn=turn,
                application_id=application.id))
            if problem:
                turn.reply(f"{problem}\n可以回复“修改 N”修改后再提交，或“取消”放弃。")
                return
        if definition.booking is not None:
            conflict = await booking_conflict(definition, session.form, application.id,
                                              self.runtime.directory)
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
        trigger = "submit"
        if application.meta.get("returned"):  # 退回修改: continue the chain where it was
            trigger = self.approvals.resubmit_trigger(application, session)
        next_step = await self.runtime.fire(turn, application, session, trigger) or ""
        limit = definition.time_limit_days
        limit_text = f"办结时限 {days_text(limit)} 个工作日。" if limit else ""
        turn.reply(f"已提交《{definition.name}》，编号 #{application.id}。{next_step}{limit_text}\n"
                   "回复“我的申请”可随时查看进度。")

    async def prompt(self, turn: Turn, application: Application) -> None:
        """Repeat where the dialog stands (after a restart, a command, or 继续)."""
        definition = await self.runtime.definition_for(application)
        if definition is None:
            return
        session = await self.runtime.session_for(application, definition)
        turn.reply(f"您正在填写《{definition.name}》：")
        assert self.runtime.entered is not None
        await self.runtime.entered(turn, application, session)
        await store.save_application(application)      # the question's new choices key

    async def _abandon_outdated(self, turn: Turn, conversation: Conversation,
                                application: Application) -> None:
        application.state, application.status = "cancelled", "cancelled"
        application.finished_at = turn.now
        conversation.active_application_id = None
        await store.append_audit(application, at=turn.now, actor_id="system", action="outdated")
        turn.reply("该事项的流程已更新，之前填写的内容无法继续，请重新发起办理。抱歉给您带来不便。")

    async def expire(self, turn: Turn, application: Application) -> bool:
        """An idle dialog is closed and the applicant told."""
        definition = await self.runtime.definition_for(application)
        if definition is None or application.status != "filling":
            return False
        if application.meta.get("returned"):  # being fixed after 退回修改: keep it, waiting
            application.status, application.expires_at = "returned", None
            turn.push(application.applicant_id,
                      f"您修改中的《{definition.name}》（#{application.id}）已保存，"
                      f"需要时回复“修改申请 {application.id}”继续。")
            await store.save_application(application)
            return True
        session = await self.runtime.session_for(application, definition)
        if await self.runtime.fire(turn, application, session, "expire") is None:
            return False
        minutes = int(self.runtime.settings.idle_timeout.total_seconds() // 60)
        turn.push(application.applicant_id,
                  f"您填写的《{definition.name}》已超过 {minutes} 分钟没有操作，已自动关闭。"
                  f"需要时请重新发起办理。")
        await store.save_application(application)
        return True
