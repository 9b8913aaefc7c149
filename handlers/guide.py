"""Questions about the service guide, and sentences that ask to start a process."""

from __future__ import annotations

from flows.approvers import effective_roles
from flows.catalog import may_apply
from flows.definition import FlowDefinition
from flows.engine import FlowEngine
from flows.guide import audience_text, guide_text
from flows.search import GuideIndex
from flows.turn import Turn
from handlers import menu, replies
from storage.models import Conversation

MAX_CHOICES = 5


async def roles_of(engine: FlowEngine, turn: Turn) -> tuple[str, ...]:
    return await effective_roles(turn.user, engine.directory)


async def show_guide(engine: FlowEngine, turn: Turn, conversation: Conversation,
                     definition: FlowDefinition) -> None:
    roles = await roles_of(engine, turn)
    turn.reply(guide_text(definition, can_apply=may_apply(definition, roles)))
    conversation.context = {**(conversation.context or {}), "last_flow": definition.id}


async def start_flow(engine: FlowEngine, turn: Turn, conversation: Conversation,
                     definition: FlowDefinition, sentence: str = "") -> None:
    roles = await roles_of(engine, turn)
    if not definition.online:
        await show_guide(engine, turn, conversation, definition)
        return
    if not may_apply(definition, roles):
        turn.reply(f"《{definition.name}》面向{audience_text(definition)}办理，您当前身份不能申请。"
                   "如有疑问请联系" + (definition.contact.unit or definition.unit) + "。")
        return
    if definition.status != "live" and turn.user.id not in definition.reviewers:
        turn.reply(f"《{definition.name}》尚未上线，敬请期待。")
        return
    prefill = GuideIndex.prefill(definition, sentence, turn.today) if sentence else {}
    conversation.context = {**(conversation.context or {}), "last_flow": definition.id}
    await engine.start(turn, conversation, definition, prefill)


async def answer_question(engine: FlowEngine, index: GuideIndex, turn: Turn,
                          conversation: Conversation, text: str) -> None:
    """Show the guide, start the flow (for an intent to apply), or ask which one was meant."""
    roles = await roles_of(engine, turn)
    visible = {d.id for d in engine.catalog.visible_to(turn.user.id)}
    matches = [m for m in index.search(text, roles) if m.definition.id in visible]
    if not matches:
        turn.reply(replies.UNKNOWN)
        return
    best = matches[0]
    close = [m for m in matches if m.score >= best.score * 0.9][:MAX_CHOICES]
    if len(close) > 1:
        options = [m.definition for m in close]
        conversation.pending = {"kind": "choose_flow", "options": [d.id for d in options],
                                "sentence": text,
                                "apply": index.is_apply_intent(text)}
        turn.reply(menu.choice_menu(options))
        return
    if index.is_apply_intent(text) and best.definition.online:
        await start_flow(engine, turn, conversation, best.definition, text)
    else:
        await show_guide(engine, turn, conversation, best.definition)
