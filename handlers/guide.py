"""Questions about the service guide, and sentences that ask to start a process.

`answer_question` asks the search index (flows/search.py) what the user means:
- sure of one process: its guide (unit, section, post, person, steps with materials, time limit,
  address, phone, e-mail, how to start) — or, for an intent to apply (我要报修电脑), the dialog
  straight away with what the sentence already says filled in;
- unsure between a few: a numbered list to pick from (the router handles the number);
- outside the catalog: says so and offers the units to browse, never a confident guess.
"""

from __future__ import annotations

from flows.approvers import effective_roles
from flows.catalog import may_apply
from flows.definition import FlowDefinition
from flows.engine import FlowEngine
from flows.guide import audience_text, guide_text
from flows.search import Answer, GuideIndex
from flows.turn import Turn
from handlers import menu
from storage.models import Conversation

MAX_CHOICES = 5
NOT_FOUND = "抱歉，我不知道“{question}”的答案：网上办事大厅的办事事项里没有找到相关内容。"
BROWSE_UNITS = "您可以按部门查看全部事项（回复序号）："
BROWSE_HINT = "也可以换个说法再问，例如“电脑坏了找谁修”，或回复“我要办理”。"
NONE_OF_THESE = "都不是？可以换个说法再问，或回复“我要办理”按部门查看全部事项。"


async def roles_of(engine: FlowEngine, turn: Turn) -> tuple[str, ...]:
    return await effective_roles(turn.user, engine.directory)


def cannot_apply_note(definition: FlowDefinition) -> str:
    contact = definition.contact.unit or definition.unit
    return (f"说明：《{definition.name}》面向{audience_text(definition)}，"
            f"您当前的身份不能在线申请；如有疑问请联系{contact}。")


async def show_guide(engine: FlowEngine, turn: Turn, conversation: Conversation,
                     definition: FlowDefinition) -> None:
    """The guide; for an online process the user may not apply for, also why not."""
    roles = await roles_of(engine, turn)
    allowed = may_apply(definition, roles)
    text = guide_text(definition, can_apply=allowed)
    if definition.online and not allowed:
        text += "\n" + cannot_apply_note(definition)
    turn.reply(text)
    conversation.context = {**(conversation.context or {}), "last_flow": definition.id}


async def start_flow(engine: FlowEngine, turn: Turn, conversation: Conversation,
                     definition: FlowDefinition, sentence: str = "") -> None:
    """Start the dialog (with what `sentence` already says filled in), or say why not."""
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
    answer = index.find(text, roles, only=visible)
    if answer.status == "unknown" or answer.best is None:
        decline(engine, turn, conversation, text)
    elif answer.status == "ambiguous":
        offer_choices(turn, conversation, answer, text)
    elif answer.apply and wants_dialog(answer.best, roles):
        await start_flow(engine, turn, conversation, answer.best, text)
    else:
        await show_guide(engine, turn, conversation, answer.best)


def wants_dialog(definition: FlowDefinition, roles: tuple[str, ...]) -> bool:
    """An intent to apply starts the dialog of an online process the user may apply for;
    otherwise the guide answers (with the reason when they may not apply)."""
    return definition.online and may_apply(definition, roles)


def offer_choices(turn: Turn, conversation: Conversation, answer: Answer, text: str) -> None:
    options = [m.definition for m in answer.matches[:MAX_CHOICES]]
    conversation.pending = {"kind": "choose_flow", "options": [d.id for d in options],
                            "sentence": text, "apply": answer.apply}
    turn.reply(menu.choice_menu(options) + "\n" + NONE_OF_THESE)


def decline(engine: FlowEngine, turn: Turn, conversation: Conversation, text: str) -> None:
    """Say it is not known and offer the units (the catalog's categories) to browse."""
    units = menu.units(engine.catalog, turn.user.id)
    question = text if len(text) <= 20 else text[:20] + "…"
    lines = [NOT_FOUND.format(question=question)]
    if units:
        conversation.pending = {"kind": "choose_unit", "options": units}
        lines += [BROWSE_UNITS, *(f"{i}. {name}" for i, name in enumerate(units, 1))]
    lines.append(BROWSE_HINT)
    turn.reply("\n".join(lines))
