"""Card taps and their text equivalents: 同意 / 驳回 (with a reason) / 转交 (to someone)."""

from __future__ import annotations

import re

from flows.engine import FlowEngine, TapRefused
from flows.incoming import Incoming
from flows.turn import Turn
from storage import applications as store
from storage.models import Conversation

TEXT_DECISION = re.compile(r"^(同意|驳回|办结|签收)\s*#?(\d+)\s*(.*)$")
ACTION_OF_WORD = {"同意": "approve", "办结": "approve", "签收": "approve", "驳回": "reject"}
CANCEL = {"取消", "算了", "不驳回了", "不转交了"}


async def on_tap(engine: FlowEngine, turn: Turn, conversation: Conversation,
                 incoming: Incoming) -> None:
    try:
        if incoming.action == "reject":
            await engine.check_tap(turn, incoming.card_key)
            conversation.pending = {"kind": "reject_reason", "card_key": incoming.card_key}
            turn.reply("请输入驳回理由（申请人会看到），回复“取消”放弃驳回：")
        elif incoming.action == "transfer":
            await engine.check_tap(turn, incoming.card_key)
            conversation.pending = {"kind": "transfer_target", "card_key": incoming.card_key}
            turn.reply("请输入要转交的人的姓名或工号，回复“取消”放弃转交：")
        elif incoming.action == "approve":
            await engine.decide(turn, incoming.card_key, "approve")
        else:
            turn.reply("无法识别的操作。")
    except TapRefused as refused:
        turn.reply(str(refused))


async def on_pending(engine: FlowEngine, turn: Turn, conversation: Conversation,
                     text: str) -> bool:
    """Answer a question the bot asked an approver (reason, transfer target); True if handled."""
    pending = conversation.pending or {}
    kind = pending.get("kind")
    if kind not in ("reject_reason", "transfer_target"):
        return False
    words = text.strip()
    if words in CANCEL:
        conversation.pending = {}
        turn.reply("已放弃，卡片仍可继续处理。")
        return True
    try:
        if kind == "reject_reason":
            if len(words) < 2:
                turn.reply("驳回理由至少 2 个字，请说明原因，申请人会看到：")
                return True
            conversation.pending = {}
            await engine.decide(turn, pending["card_key"], "reject", comment=words)
        else:
            people = await engine.directory.find(words)
            if len(people) != 1:
                hint = "、".join(f"{p.name}（{p.id}）" for p in people[:5])
                turn.reply(f"找到多位：{hint}，请输入工号：" if people else
                           f"通讯录中没有找到“{words}”，请重新输入姓名或工号，或回复“取消”：")
                return True
            conversation.pending = {}
            await engine.transfer(turn, pending["card_key"], people[0])
    except TapRefused as refused:
        conversation.pending = {}
        turn.reply(str(refused))
    return True


async def on_text_decision(engine: FlowEngine, turn: Turn, conversation: Conversation,
                           text: str) -> bool:
    """'同意 12' or '驳回 12 材料不全': act on the user's pending task of application 12."""
    match = TEXT_DECISION.match(text.strip())
    if not match:
        return False
    word, number, reason = match.group(1), int(match.group(2)), match.group(3).strip()
    tasks = [t for t in await store.pending_tasks_for(turn.user.id) if t.application.id == number]
    if not tasks:
        turn.reply(f"编号 #{number} 没有待您处理的环节。回复“待办”查看待处理事项。")
        return True
    action = ACTION_OF_WORD[word]
    try:
        if action == "reject" and not reason:
            await engine.check_tap(turn, tasks[0].card_key)
            conversation.pending = {"kind": "reject_reason", "card_key": tasks[0].card_key}
            turn.reply("请输入驳回理由（申请人会看到），回复“取消”放弃驳回：")
        else:
            await engine.decide(turn, tasks[0].card_key, action, comment=reason)
    except TapRefused as refused:
        turn.reply(str(refused))
    return True
