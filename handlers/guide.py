"""Questions about the service guide, and sentences that ask to start a process.

`answer_question` asks the search index (flows/search.py) what the user means:
- sure of one process: its short guide (what, who, time limit, materials, how to start) — or,
  for an intent to apply (我要报修电脑), the dialog straight away with what the sentence already
  says filled in;
- one likely process but not sure: its short guide, saying so (never a one-item list);
- unsure between a few: a numbered list to pick from (the router handles the number);
- outside the catalog: says so in a few lines, with examples and `我要办理`, never a guess.

After a guide, `办理`, `详情`, `联系方式` and `流程图` act on that process (`guide_command`).
"""

from __future__ import annotations

import re
import unicodedata

from flows.approvers import effective_roles
from flows.catalog import may_apply
from flows.definition import FlowDefinition
from flows.engine import FlowEngine
from flows.guide import audience_text, contact_text, guide_summary, guide_text, unit_of
from flows.messages import Image
from flows.search import Answer, GuideIndex
from flows.turn import Turn
from flows.unit_names import named_unit, school_names, unit_words
from handlers import menu
from storage.models import Conversation

MAX_CHOICES = 5
NOT_FOUND = "抱歉，没有找到和“{question}”相关的办事事项。"
CAN_DO = ("我可以查办事指南、在线申请和审批，例如问“电脑坏了找谁修”“怎么借录播教室”，"
          "或说“我要请假”。")
BROWSE = "回复“我要办理”按部门查看全部事项。"
NONE_OF_THESE = "都不是？可以换个说法再问，或回复“我要办理”按部门查看全部事项。"
LIKELY = "您问的可能是："
LIKELY_START = "您要办的可能是《{name}》，先为您开始办理；不是的话回复“取消”，换个说法再说。"
NOT_IT = "不是这个？换个说法再问，或回复“我要办理”查看全部事项。"
UNIT_HINT = "选好事项后回复“联系方式”可查看负责人和电话。"
NO_PROCESS = "请先告诉我是哪个事项，例如“IT报修{command}”。"
NOTHING_TO_APPLY = "请告诉我要办什么，例如“我要请假”，或回复“我要办理”查看全部事项。"
#: what a guide's follow-up commands are called, and the words that ask for them
GUIDE_COMMANDS = {"办理": ("办理", "开始办理", "申请", "我要申请", "开始申请"),
                  "详情": ("详情", "详细", "详细步骤", "完整步骤", "步骤", "看详情"),
                  "联系方式": ("联系方式", "联系人", "电话", "联系电话", "怎么联系"),
                  "流程图": ("流程图", "看流程图", "业务流程图")}


async def roles_of(engine: FlowEngine, turn: Turn) -> tuple[str, ...]:
    return await effective_roles(turn.user, engine.directory)


def _units(engine: FlowEngine) -> list[str]:
    return [unit for d in engine.catalog.all() for unit in (d.unit, d.contact.unit) if unit]


async def unit_names(engine: FlowEngine) -> dict[str, str]:
    """The school's own names for the catalog's units (flows/unit_names.py)."""
    return await school_names(engine.directory, _units(engine))


def cannot_apply_note(definition: FlowDefinition, names: dict[str, str] | None = None) -> str:
    return (f"您当前的身份不能在线申请（面向{audience_text(definition)}），"
            f"如有疑问请联系{unit_of(definition, names)}。")


def _remember(conversation: Conversation, definition: FlowDefinition) -> None:
    conversation.context = {**(conversation.context or {}), "last_flow": definition.id}


async def show_guide(engine: FlowEngine, turn: Turn, conversation: Conversation,
                     definition: FlowDefinition, *, likely: bool = False) -> None:
    """The short guide; for an online process the user may not apply for, also why not;
    `likely`: the search was not sure, so say it may be this one."""
    roles = await roles_of(engine, turn)
    allowed = may_apply(definition, roles)
    names = await unit_names(engine)
    text = guide_summary(definition, can_apply=allowed, names=names)
    if definition.online and not allowed:
        text += "\n" + cannot_apply_note(definition, names)
    if likely:
        text = f"{LIKELY}{text}\n{NOT_IT}"
    turn.reply(text)
    _remember(conversation, definition)


async def start_flow(engine: FlowEngine, turn: Turn, conversation: Conversation,
                     definition: FlowDefinition, sentence: str = "") -> None:
    """Start the dialog (with what `sentence` already says filled in), or say why not."""
    roles = await roles_of(engine, turn)
    if not definition.online:
        await show_guide(engine, turn, conversation, definition)
        return
    if not may_apply(definition, roles):
        turn.reply(f"《{definition.name}》面向{audience_text(definition)}办理，您当前身份不能申请。"
                   f"如有疑问请联系{unit_of(definition, await unit_names(engine))}。")
        return
    if definition.status != "live" and turn.user.id not in definition.reviewers:
        turn.reply(f"《{definition.name}》尚未上线，敬请期待。")
        return
    prefill = GuideIndex.prefill(definition, sentence, turn.today) if sentence else {}
    _remember(conversation, definition)
    await engine.start(turn, conversation, definition, prefill)


async def answer_question(engine: FlowEngine, index: GuideIndex, turn: Turn,
                          conversation: Conversation, text: str) -> None:
    """Show the guide, start the flow (for an intent to apply), or ask which one was meant.
    A wish to do something (我的车牌想录进门禁) starts the dialog even when the search is not
    sure which process it is, saying so; a question gets the guide."""
    roles = await roles_of(engine, turn)
    visible = {d.id for d in engine.catalog.visible_to(turn.user.id)}
    answer = by_clause(index, text, roles, visible, index.find(text, roles, only=visible))
    if answer.status == "unknown" or answer.best is None:
        if not await unit_processes(engine, turn, conversation, text):
            decline(turn, text)
    elif answer.status == "ambiguous":
        offer_choices(turn, conversation, answer, text, await unit_names(engine))
    elif answer.apply and wants_dialog(answer.best, roles):
        if answer.status == "likely":
            turn.reply(LIKELY_START.format(name=answer.best.name))
        await start_flow(engine, turn, conversation, answer.best, text)
    else:
        await show_guide(engine, turn, conversation, answer.best,
                         likely=answer.status == "likely")


_CLAUSES = re.compile(r"[，,。;；!！\s]+")


def by_clause(index: GuideIndex, text: str, roles: tuple[str, ...], visible: set[str],
              answer: Answer) -> Answer:
    """A sentence of several clauses the search is unsure of, or finds nothing in, asked clause
    by clause: the purpose or reason told beside the request (我下周去教育部汇报工作，外出4天;
    …请10天年休假，带父母去海南旅游) must not hide it. Taken only when the clauses point to exactly
    one process, and (when the whole sentence had a likely one) it is that one; it is as sure
    as the surest clause."""
    if answer.status not in ("unknown", "likely"):
        return answer
    clauses = [c for c in _CLAUSES.split(unicodedata.normalize("NFKC", text)) if len(c) >= 2]
    if len(clauses) < 2:
        return answer
    found = [a for c in clauses
             if (a := index.find(c, roles, only=visible)).status in ("confident", "likely")]
    best = {a.best.id for a in found if a.best is not None}
    if len(best) != 1 or (answer.best is not None and answer.best.id not in best):
        return answer
    # a clause's one keyword (外出4天) is as sure as the search is of that clause
    sure = any(a.status == "confident" for a in found)
    return Answer("confident" if sure else "likely", found[0].matches, answer.apply)


def wants_dialog(definition: FlowDefinition, roles: tuple[str, ...]) -> bool:
    """An intent to apply starts the dialog of an online process the user may apply for;
    otherwise the guide answers (with the reason when they may not apply)."""
    return definition.online and may_apply(definition, roles)


def offer_choices(turn: Turn, conversation: Conversation, answer: Answer, text: str,
                  names: dict[str, str] | None = None) -> None:
    options = [m.definition for m in answer.matches[:MAX_CHOICES]]
    conversation.pending = {"kind": "choose_flow", "options": [d.id for d in options],
                            "sentence": text, "apply": answer.apply}
    turn.reply(menu.choice_menu(options, names) + "\n" + NONE_OF_THESE)


async def unit_processes(engine: FlowEngine, turn: Turn, conversation: Conversation,
                         text: str) -> bool:
    """A question about a unit no process explains (人事部的电话多少): the unit's processes,
    found by any name the school's directory gives the unit; False when it names no unit."""
    unit = named_unit(text, await unit_words(engine.directory, _units(engine)))
    definitions = [d for d in engine.catalog.visible_to(turn.user.id) if d.unit == unit]
    if unit is None or not definitions:
        return False
    conversation.pending = {"kind": "choose_unit_flow", "options": [d.id for d in definitions]}
    turn.reply(menu.flow_menu(unit, definitions, await unit_names(engine)) + "\n" + UNIT_HINT)
    return True


def decline(turn: Turn, text: str) -> None:
    """Say it is not known, in three lines: what the bot can do, examples, the full list."""
    question = text if len(text) <= 20 else text[:20] + "…"
    turn.reply("\n".join([NOT_FOUND.format(question=question), CAN_DO, BROWSE]))


def command_of(text: str) -> tuple[str, str] | None:
    """(command, what it is about) for 办理 / 详情 / 联系方式 / 流程图, alone or after a process
    name (IT报修流程图, 流程图 IT报修); None for anything else."""
    for command, words in GUIDE_COMMANDS.items():
        for word in sorted(words, key=len, reverse=True):
            if text == word:
                return command, ""
            if command != "办理" and len(text) > len(word) and (
                    text.endswith(word) or text.startswith(word)):
                subject = text.removesuffix(word) if text.endswith(word) else \
                    text.removeprefix(word)
                return command, subject.strip(" 的：:")
    return None


async def guide_command(engine: FlowEngine, index: GuideIndex, turn: Turn,
                        conversation: Conversation, text: str) -> bool:
    """办理 / 详情 / 联系方式 / 流程图 about the process last shown (or named with it); one line
    when there is none. False when `text` is no such command."""
    parsed = command_of(text)
    if parsed is None:
        return False
    command, subject = parsed
    catalog = engine.catalog
    definition = catalog.get((conversation.context or {}).get("last_flow", ""))
    if subject:
        roles = await roles_of(engine, turn)
        visible = {d.id for d in catalog.visible_to(turn.user.id)}
        answer = index.find(subject, roles, only=visible)
        if answer.status not in ("confident", "likely"):
            return False        # not about one process: let the search answer the whole text
        definition = answer.best
    if definition is None:
        turn.reply(NOTHING_TO_APPLY if command == "办理" else NO_PROCESS.format(command=command))
        return True
    _remember(conversation, definition)
    if command == "办理":
        await start_flow(engine, turn, conversation, definition)
    elif command == "详情":
        roles = await roles_of(engine, turn)
        turn.reply(guide_text(definition, can_apply=may_apply(definition, roles),
                              names=await unit_names(engine)))
    elif command == "联系方式":
        turn.reply(contact_text(definition, await unit_names(engine)))
    else:
        turn.reply(Image(f"flowchart:{definition.id}", f"《{definition.name}》业务流程图"))
    return True
