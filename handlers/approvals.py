"""Approvers' and applicants' actions, by card tap or in text.

Approver: 同意 / 驳回 (with a reason) / 退回修改 (naming the answers to fix) / 转交 and 加签 (to
someone, with a reason) — on the card, or `同意 12`, `驳回 12 理由`, `转交 12 王老师 理由`,
`加签 12 钱处长 前 理由`, `退回修改 12 2 3 说明`. Applicant: `撤回`, `催办` (with or without a
number: one open application is acted on, several are offered as a numbered list),
`留言 12 内容`, `修改申请 12` after a return. Anyone: delegation sentences (flows/delegation.py).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

from flows.engine import FlowEngine, TapRefused
from flows.incoming import Incoming
from flows.turn import Turn
from storage import applications as store
from storage.models import Application, Conversation

TEXT_DECISION = re.compile(r"^(同意|驳回|办结|签收)\s*#?(\d+)\s*(.*)$")
#: the decision word alone: it acts on the approver's one waiting card
BARE_DECISION = re.compile(r"^(同意|驳回|办结|签收)[。.!！]?$")
ACTION_OF_WORD = {"同意": "approve", "办结": "approve", "签收": "approve", "驳回": "reject"}
CANCEL = {"取消", "算了", "不驳回了", "不转交了", "不加签了", "不退回了"}
_HANDOVER = re.compile(r"^(转交|加签)\s*#?(\d+)\s+(\S+)\s*(.*)$")
_RETURN = re.compile(r"^退回(?:修改)?\s*#?(\d+)\s+(.+)$")
_NUMBERS = re.compile(r"^\s*((?:\d{1,2}\s*[,，、\s]\s*)*\d{1,2})\s*(.*)$")
_APPLICANT = re.compile(r"^(撤回|催办|催一下|修改申请)\s*#?(\d*)$")
_COMMENT = re.compile(r"^(?:留言|评论|备注)\s*#?(\d+)\s+(.+)$")
_BEFORE = {"前", "之前", "前加签", "在前"}
_AFTER = {"后", "之后", "后加签", "在后"}
PENDING_KINDS = ("reject_reason", "transfer_target", "add_target", "return_fields",
                 "pick_application")

ASK_TRANSFER = "请输入转交对象和理由，例如“王老师 出差期间请代为处理”，回复“取消”放弃转交："
ASK_ADD = ("请输入加签对象、先后和理由，例如“钱处长 后 涉及经费请把关”。"
           "“前”：先由其审批再回到您；“后”：您同意后再由其审批（默认）。回复“取消”放弃：")
ASK_REASON = "请输入驳回理由（申请人会看到），回复“取消”放弃驳回："


async def on_tap(engine: FlowEngine, turn: Turn, conversation: Conversation,
                 incoming: Incoming) -> None:
    key = incoming.card_key
    try:
        if incoming.action == "reject":
            await engine.check_tap(turn, key)
            conversation.pending = {"kind": "reject_reason", "card_key": key}
            turn.reply(ASK_REASON)
        elif incoming.action == "transfer":
            await engine.check_tap(turn, key)
            conversation.pending = {"kind": "transfer_target", "card_key": key}
            turn.reply(ASK_TRANSFER)
        elif incoming.action == "add":
            await engine.check_tap(turn, key)
            conversation.pending = {"kind": "add_target", "card_key": key}
            turn.reply(ASK_ADD)
        elif incoming.action == "return":
            await _ask_return(engine, turn, conversation, key)
        elif incoming.action == "approve":
            await engine.decide(turn, key, "approve")
        else:
            turn.reply("无法识别的操作。")
    except TapRefused as refused:
        turn.reply(str(refused))


async def _ask_return(engine: FlowEngine, turn: Turn, conversation: Conversation,
                      card_key: str) -> None:
    labels = await engine.approvals.returnable_fields(turn, card_key)
    conversation.pending = {"kind": "return_fields", "card_key": card_key}
    lines = ["请回复需要申请人修改的项目序号和说明，例如“2 3 日期与课表冲突，请调整”："]
    lines += [f"{number}. {label}" for number, label in enumerate(labels, 1)]
    lines.append("回复“取消”放弃退回。")
    turn.reply("\n".join(lines))


#: an approver asked for the reason often types the command again in front of it (驳回 13 …)
_REPEATED_REJECT = re.compile(r"^(?:驳回|不同意|拒绝)\s*#?\d*\s*[:：,，、]?")


async def on_pending(engine: FlowEngine, turn: Turn, conversation: Conversation,
                     text: str) -> bool:
    """Answer a question the bot asked (reason, target, answers to fix, which application);
    True if handled."""
    pending = conversation.pending or {}
    kind = pending.get("kind")
    if kind not in PENDING_KINDS:
        return False
    words = text.strip()
    if kind == "pick_application":
        return await _picked(engine, turn, conversation, pending, words)
    if words in CANCEL:
        conversation.pending = {}
        turn.reply("已放弃，卡片仍可继续处理。")
        return True
    card_key = pending["card_key"]
    try:
        if kind == "reject_reason":
            words = _REPEATED_REJECT.sub("", words, count=1).strip()
            if len(words) < 2:
                turn.reply("驳回理由至少 2 个字，请说明原因，申请人会看到：")
                return True
            conversation.pending = {}
            await engine.decide(turn, card_key, "reject", comment=words)
        elif kind == "return_fields":
            match = _NUMBERS.match(words)
            if match is None or not match.group(2).strip():
                turn.reply("请写出序号和说明，例如“2 3 日期与课表冲突，请调整”：")
                return True
            numbers = [int(n) for n in re.findall(r"\d+", match.group(1))]
            await engine.approvals.return_for_changes(turn, card_key, numbers,
                                                      match.group(2).strip())
            conversation.pending = {}
        else:
            if pending.get("target"):  # the person is known: this is the reason
                words = f"{pending['target']} {words}"
            target = await _handover(engine, turn, card_key, kind == "add_target", words)
            if target:
                verb = "加签" if kind == "add_target" else "转交"
                conversation.pending = {**pending, "target": target}
                turn.reply(f"请说明{verb}给{await engine.runtime.name(target)}的理由"
                           "（对方和申请人会看到），回复“取消”放弃：")
                return True
            if target is None:
                return True
            conversation.pending = {}
    except TapRefused as refused:
        if "理由" in str(refused) or "序号" in str(refused) or "说明" in str(refused):
            turn.reply(f"{refused}请重新输入，或回复“取消”：")
            return True
        conversation.pending = {}
        turn.reply(str(refused))
    return True


async def _handover(engine: FlowEngine, turn: Turn, card_key: str, add: bool,
                    words: str) -> str | None:
    """'王老师 理由' (转交) or '钱处长 后 理由' (加签). Returns "" when done, the person's id
    when only the reason is missing, None when the person is unclear."""
    name, _, rest = words.partition(" ")
    rest = rest.strip()
    if not rest:  # 王老师出差期间请代为处理: no space between name and reason
        name, rest = await _split_name(engine, words)
    people = await engine.policy.find_people(name)
    if len(people) != 1:
        hint = "、".join(f"{p.name}（{p.id}）" for p in people[:5])
        turn.reply(f"找到多位：{hint}，请输入工号和理由：" if people else
                   f"通讯录中没有找到“{name}”，请重新输入姓名和理由，或回复“取消”：")
        return None
    before = False
    word, _, reason = rest.partition(" ")
    if add and word in _BEFORE | _AFTER:
        before, rest = word in _BEFORE, reason.strip()
    if not rest:
        return people[0].id
    if add:
        await engine.approvals.add_approver(turn, card_key, people[0], rest, before=before)
    else:
        await engine.transfer(turn, card_key, people[0], rest)
    return ""


async def _split_name(engine: FlowEngine, words: str) -> tuple[str, str]:
    """The longest start of `words` that names someone (陈处长, 钱老师), and the rest."""
    if await engine.policy.find_people(words):
        return words, ""
    for length in range(min(len(words), 6), 1, -1):
        prefix = words[:length]
        people = await engine.policy.find_people(prefix)
        if any(p.name == prefix or p.id == prefix for p in people) or (
                people and prefix[1:] in ("老师", "处长", "院长", "主任", "部长", "校长", "书记")):
            return prefix, words[length:].strip()
    return words, ""


async def on_text(engine: FlowEngine, turn: Turn, conversation: Conversation,
                  text: str) -> bool:
    """The text forms of every action; True if `text` was one."""
    words = text.strip()
    if await on_text_decision(engine, turn, conversation, words):
        return True
    if match := _HANDOVER.match(words):
        task = await _task_of(turn, int(match.group(2)))
        if task is not None:
            add = match.group(1) == "加签"
            try:
                target = await _handover(engine, turn, task, add,
                                         f"{match.group(3)} {match.group(4)}".strip())
                if target:
                    conversation.pending = {"kind": "add_target" if add else "transfer_target",
                                            "card_key": task, "target": target}
                    turn.reply(f"请说明{match.group(1)}给{await engine.runtime.name(target)}"
                               "的理由（对方和申请人会看到），回复“取消”放弃：")
            except TapRefused as refused:
                turn.reply(str(refused))
        return True
    if match := _RETURN.match(words):
        task = await _task_of(turn, int(match.group(1)))
        if task is not None:
            numbers = _NUMBERS.match(match.group(2))
            try:
                if numbers is None or not numbers.group(2).strip():
                    await _ask_return(engine, turn, conversation, task)
                else:
                    await engine.approvals.return_for_changes(
                        turn, task, [int(n) for n in re.findall(r"\d+", numbers.group(1))],
                        numbers.group(2).strip())
            except TapRefused as refused:
                turn.reply(str(refused))
        return True
    if match := _COMMENT.match(words):
        application = await store.get_application(int(match.group(1)))
        if application is None or not await _may_comment(application, turn.user.id):
            turn.reply(f"没有找到与您相关的申请 #{match.group(1)}。")
        else:
            await engine.approvals.comment(turn, application, match.group(2).strip())
        return True
    if match := _APPLICANT.match(words):
        await applicant_action(engine, turn, conversation, match.group(1), match.group(2))
        return True
    if engine.delegations.understands(words):
        await engine.delegations.handle(turn, words)
        return True
    return False


async def _only_task(turn: Turn, word: str) -> str | None:
    """The approver's one waiting card, or None after saying there is none or several."""
    waiting = await store.pending_tasks_for(turn.user.id, limit=2)
    if not waiting:
        turn.reply("目前没有待您处理的审批。")
        return None
    if len(waiting) > 1:
        count = await store.count_pending_tasks_for(turn.user.id)
        turn.reply(f"您有 {count} 项待处理，请回复“{word} 编号”，例如“{word} "
                   f"{waiting[0].application.id}”；回复“待办”查看全部。")
        return None
    return waiting[0].card_key


async def _task_of(turn: Turn, number: int) -> str | None:
    task = await store.pending_task_of(turn.user.id, number)
    if task is None:
        turn.reply(f"编号 #{number} 没有待您处理的环节。回复“待办”查看待处理事项。")
        return None
    return task.card_key


async def _may_comment(application: Application, user_id: str) -> bool:
    return application.applicant_id == user_id or await store.involved_in(application.id,
                                                                           user_id)


async def on_text_decision(engine: FlowEngine, turn: Turn, conversation: Conversation,
                           text: str) -> bool:
    """'同意 12' or '驳回 12 材料不全': act on the user's pending task of application 12,
    however many tasks wait for them."""
    match = TEXT_DECISION.match(text.strip())
    if match:
        word, number, reason = match.group(1), int(match.group(2)), match.group(3).strip()
        card_key = await _task_of(turn, number)
    elif bare := BARE_DECISION.match(text.strip()):
        word, reason = bare.group(1), ""
        card_key = await _only_task(turn, word)
    else:
        return False
    if card_key is None:
        return True
    action = ACTION_OF_WORD[word]
    try:
        if action == "reject" and not reason:
            await engine.check_tap(turn, card_key)
            conversation.pending = {"kind": "reject_reason", "card_key": card_key}
            turn.reply(ASK_REASON)
        else:
            await engine.decide(turn, card_key, action, comment=reason)
    except TapRefused as refused:
        turn.reply(str(refused))
    return True


# ---- applicant actions with or without a number ----------------------------------------------

ACTION_WORDS = {"撤回": "withdraw", "催办": "urge", "催一下": "urge", "修改申请": "resume"}


async def applicant_action(engine: FlowEngine, turn: Turn, conversation: Conversation,
                           word: str, number: str) -> None:
    action = ACTION_WORDS[word]
    candidates = await _candidates(engine, turn, action)
    if number:
        application = await store.get_application(int(number))
        if application is None or application.applicant_id != turn.user.id:
            turn.reply(f"没有找到您的申请 #{number}。回复“我的申请”查看编号。")
            return
        await _run(engine, turn, conversation, action, application)
        return
    if not candidates:
        turn.reply({"withdraw": "您目前没有可以撤回的申请。",
                    "urge": "您目前没有等待审批的申请。",
                    "resume": "您目前没有被退回修改的申请。"}[action])
        return
    if len(candidates) == 1:
        await _run(engine, turn, conversation, action, candidates[0])
        return
    conversation.pending = {"kind": "pick_application", "action": action,
                            "options": [a.id for a in candidates]}
    lines = [f"您有 {len(candidates)} 项申请可以{word}，请回复序号："]
    for index, application in enumerate(candidates, 1):
        definition = engine.catalog.get(application.flow_id)
        name = definition.name if definition else application.flow_id
        local = (application.submitted_at or application.created_at).astimezone(turn.timezone)
        lines.append(f"{index}. #{application.id} {name}（{local.month}月{local.day}日提交）")
    turn.reply("\n".join(lines))


async def _candidates(engine: FlowEngine, turn: Turn, action: str) -> list[Application]:
    found = []
    for application in await store.open_applications_of(turn.user.id):
        if (action, application.status) in (("urge", "pending"), ("resume", "returned")):
            found.append(application)
        elif action == "withdraw":
            definition = engine.catalog.get(application.flow_id)
            if application.status in ("pending", "returned") or (
                    application.status == "followup" and definition is not None
                    and not engine.approvals.today_leave_started(definition, application,
                                                                 turn.today)):
                found.append(application)
    return found


async def _picked(engine: FlowEngine, turn: Turn, conversation: Conversation,
                  pending: dict, words: str) -> bool:
    options: list[int] = pending.get("options", [])
    conversation.pending = {}
    number = words.lstrip("#")
    if number.isdigit() and 1 <= int(number) <= len(options):
        chosen = options[int(number) - 1]
    elif number.isdigit() and int(number) in options:
        chosen = int(number)
    else:
        return False  # not a choice: treat it as a new message
    application = await store.get_application(chosen)
    if application is not None:
        await _run(engine, turn, conversation, pending["action"], application)
    return True


async def _run(engine: FlowEngine, turn: Turn, conversation: Conversation, action: str,
               application: Application) -> None:
    actions: dict[str, Callable[[], Awaitable[None]]] = {
        "withdraw": lambda: engine.withdraw(turn, application),
        "urge": lambda: engine.approvals.urge(turn, application),
        "resume": lambda: engine.resume_returned(turn, conversation, application),
    }
    await actions[action]()
