"""Routes each incoming message of a turn to the code that answers it.

Order (first match wins):
1. card taps → approvals;  platform events (enter, menu) → greetings and menus;
2. an answer the bot is waiting for (驳回理由, 转交对象, a numbered choice);
3. commands that never break a dialog: 我的申请, 待办, 更多, 查看 N, 超时, 继续;
4. the application being filled in → the flow engine;
5. commands: 帮助, 办理/详情/联系方式/流程图 (of the process last shown), 我要办理, 销假, the
   approval actions of handlers/approvals.py (同意/驳回/转交/加签/退回修改 N, 撤回, 催办, 留言,
   修改申请, delegation), a service rating (5分, 五星, 很满意, with a comment);
6. a dialog command with nothing open (确认, 修改 3), small talk (你好, 谢谢, 😀): one line;
7. everything else → the service guide (questions, or an intent to apply).
"""

from __future__ import annotations

import logging
import re

from flows.engine import FlowEngine
from flows.incoming import OPENED, Incoming
from flows.search import GuideIndex
from flows.turn import Turn
from handlers import approvals, menu, replies, status
from handlers.guide import answer_question, guide_command, show_guide, start_flow, unit_names
from handlers.ratings import Rating, parse_rating
from storage import applications as store
from storage.models import Application, Conversation

log = logging.getLogger("campusbot.handlers")

ASK_TO_RATE = {"评价", "我要评价", "评分", "打分", "服务评价"}
_VIEW = re.compile(r"^(?:查看|详情|进度)\s*#?(\d+)$")
_REPORT_BACK = re.compile(r"^销假\s*#?(\d*)$")
_APPLY_BY_NAME = re.compile(r"^(?:办理|申请|我要办理|我要申请)\s*[《“]?(.+?)[》”]?$")
MENU_EVENTS = {"menu_guide": "办事指南", "menu_apply": "我要办理", "menu_mine": "我的申请",
               "menu_tasks": "待办"}


class Handlers:
    def __init__(self, engine: FlowEngine, index: GuideIndex) -> None:
        self.engine = engine
        self.index = index

    def warm_up(self) -> None:
        """Build what the first message would otherwise wait for: the search index with its
        word segmenter, and every flow's machine (start-up, before /healthz answers)."""
        self.index.warm_up()
        self.engine.runtime.machines.warm_up(self.engine.catalog.all())

    async def handle(self, turn: Turn, conversation: Conversation, incoming: Incoming) -> None:
        if incoming.kind == "tap":
            await approvals.on_tap(self.engine, turn, conversation, incoming)
        elif incoming.kind == "event":
            await self._event(turn, conversation, incoming)
        elif incoming.kind == "unsupported":
            active = await self._active(turn, conversation)
            turn.reply(replies.PLEASE_TYPE)
            if active is not None:
                await self.engine.prompt(turn, active)
        else:
            await self._text(turn, conversation, incoming)

    async def _event(self, turn: Turn, conversation: Conversation, incoming: Incoming) -> None:
        if incoming.event == OPENED:
            today = turn.today.isoformat()
            if conversation.greeted_on != today:
                conversation.greeted_on = today
                turn.reply(replies.GREETING)
        elif incoming.event in MENU_EVENTS:
            await self._text(turn, conversation, Incoming(
                channel=incoming.channel, user_id=incoming.user_id, kind="text",
                text=MENU_EVENTS[incoming.event]))

    async def _active(self, turn: Turn, conversation: Conversation) -> Application | None:
        """The application being filled in, if any; an idle one is expired on the spot."""
        if conversation.active_application_id is None:
            return None
        application = turn.loaded_application
        if application is None or application.id != conversation.active_application_id:
            application = await store.get_application(conversation.active_application_id)
        if application is None or application.status != "filling":
            conversation.active_application_id = None
            return None
        if application.expires_at and application.expires_at <= turn.now:
            await self.engine.expire(turn, application)
            conversation.active_application_id = None
            return None
        return application

    async def _text(self, turn: Turn, conversation: Conversation, incoming: Incoming) -> None:
        text = incoming.text.strip()
        if await approvals.on_pending(self.engine, turn, conversation, text):
            await self._remind_dialog(turn, conversation)
            return
        if await self._pending_choice(turn, conversation, text):
            return
        active = await self._active(turn, conversation)
        if reply := await self._status(turn, conversation, text):
            turn.reply(reply)
            await self._remind_dialog(turn, conversation, active)
            return
        if active is not None:
            if text == "继续":
                await self.engine.prompt(turn, active)
                return
            await self.engine.continue_dialog(turn, conversation, active, incoming.text,
                                              incoming.attachment, incoming.card_key)
            return
        if incoming.card_key:           # a tap on a question of a dialog already closed
            turn.reply(replies.STALE_CHOICE)
            return
        if incoming.kind == "file":
            turn.reply("收到文件。需要提交材料时，请先开始办理相应事项，在问到材料时再发送。")
            return
        await self._command(turn, conversation, text)

    async def _status(self, turn: Turn, conversation: Conversation, text: str) -> str:
        engine = self.engine
        if text in ("我的申请", "我的办件", "查进度", "进度"):
            return await status.my_applications(turn, engine, conversation)
        if text in ("待办", "待审批", "我的待办"):
            return await status.my_tasks(turn, engine, conversation)
        if text in status.MORE_WORDS and (conversation.pending or {}).get("kind") == "more":
            return await status.more(turn, engine, conversation)
        if text in ("超时", "超期", "逾期", "超时事项"):
            return await status.overdue(turn, engine)
        if match := _VIEW.match(text):
            return await status.view(turn, engine, int(match.group(1)))
        return ""

    async def _remind_dialog(self, turn: Turn, conversation: Conversation,
                             active: Application | None = None) -> None:
        active = active or await self._active(turn, conversation)
        if active is not None:
            definition = self.engine.catalog.get(active.flow_id)
            if definition:
                turn.reply(f"您正在填写《{definition.name}》，回复“继续”接着填写。")

    async def _command(self, turn: Turn, conversation: Conversation, text: str) -> None:
        catalog = self.engine.catalog
        if text in replies.HELP_WORDS:
            turn.reply(replies.HELP)
        elif await guide_command(self.engine, self.index, turn, conversation, text):
            pass
        elif text in ("我要办理", "办事指南", "全部事项", "办事大厅"):
            names = menu.units(catalog, turn.user.id)
            conversation.pending = {"kind": "choose_unit", "options": names}
            turn.reply(menu.unit_menu(names, await unit_names(self.engine)))
        elif (match := _APPLY_BY_NAME.match(text)) and (
                by_name := catalog.by_name(match.group(1))) is not None:
            await start_flow(self.engine, turn, conversation, by_name)
        elif match := _REPORT_BACK.match(text):
            await self._report_back(turn, match.group(1))
        elif not await self._decision_or_rating(turn, conversation, text):
            line = replies.nothing_to_act_on(text) or replies.small_talk(text)
            if line is not None:
                turn.reply(line)
            else:
                await answer_question(self.engine, self.index, turn, conversation, text)

    async def _decision_or_rating(self, turn: Turn, conversation: Conversation,
                                  text: str) -> bool:
        if await approvals.on_text(self.engine, turn, conversation, text):
            return True
        if text in ASK_TO_RATE:
            await self._how_to_rate(turn)
            return True
        rating = parse_rating(text)
        if rating is None:
            return False
        if await self._rate(turn, rating):
            return True
        if rating.explicit:
            turn.reply(replies.NOTHING_TO_RATE)
            return True
        return False

    async def _report_back(self, turn: Turn, number: str) -> None:
        waiting = [a for a in await store.applications_of(turn.user.id, limit=50)
                   if a.status == "followup" and a.state == "followup_report_back"]
        if number:
            waiting = [a for a in waiting if a.id == int(number)]
        if not waiting:
            turn.reply("您目前没有需要销假的请假。")
            return
        if len(waiting) > 1:
            numbers = "、".join(f"#{a.id}" for a in waiting)
            turn.reply(f"您有多条待销假的请假（{numbers}），"
                       f"请回复“销假 编号”，例如“销假 {waiting[0].id}”。")
            return
        await self.engine.finish_followup(turn, waiting[0])

    async def _how_to_rate(self, turn: Turn) -> None:
        waiting = [a for a in await store.applications_of(turn.user.id, limit=50)
                   if a.status == "followup" and a.state == "followup_rate"]
        if not waiting:
            turn.reply(replies.NOTHING_TO_RATE)
            return
        definition = self.engine.catalog.get(waiting[0].flow_id)
        name = f"《{definition.name}》" if definition else ""
        turn.reply(f"请为{name}（#{waiting[0].id}）的服务评分：回复 1–5 分，可以附一句意见，"
                   "例如“5分，修得很快”。")

    async def _rate(self, turn: Turn, rating: Rating) -> bool:
        waiting = [a for a in await store.applications_of(turn.user.id, limit=50)
                   if a.status == "followup" and a.state == "followup_rate"]
        if not waiting:
            return False
        if rating.comment:
            waiting[0].meta = {**waiting[0].meta, "rating_comment": rating.comment}
        await self.engine.finish_followup(turn, waiting[0], rating=rating.score)
        return True

    async def _pending_choice(self, turn: Turn, conversation: Conversation, text: str) -> bool:
        """A numbered answer to a menu the bot just showed; anything else drops the menu."""
        pending = conversation.pending or {}
        kind = pending.get("kind")
        if kind not in ("choose_unit", "choose_flow", "choose_unit_flow"):
            return False
        options: list[str] = pending.get("options", [])
        conversation.pending = {}
        if not (text.isdigit() and 1 <= int(text) <= len(options)):
            by_school_name = {name: unit for unit, name in
                              (await unit_names(self.engine)).items()}
            if text in options or by_school_name.get(text) in options:
                chosen = text if text in options else by_school_name[text]
            else:
                return False  # not a choice: treat the text as a new message
        else:
            chosen = options[int(text) - 1]
        catalog = self.engine.catalog
        if kind == "choose_unit":
            definitions = [d for d in catalog.visible_to(turn.user.id) if d.unit == chosen]
            conversation.pending = {"kind": "choose_unit_flow",
                                    "options": [d.id for d in definitions]}
            turn.reply(menu.flow_menu(chosen, definitions, await unit_names(self.engine)))
            return True
        definition = catalog.get(chosen)
        if definition is None:
            return False
        if kind == "choose_flow" and pending.get("apply") and definition.online:
            await start_flow(self.engine, turn, conversation, definition,
                             pending.get("sentence", ""))
        else:
            await show_guide(self.engine, turn, conversation, definition)
        return True
