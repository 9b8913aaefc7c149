"""Delegation: an approver who is away names someone to act for them for some days.

Said in chat (`我12月1日到5日外出，由钱老师代理`, `取消代理`, `我的代理`) or set by an administrator
(`campusbot delegate`). While it runs, new cards for the approver go to the delegate and are
recorded as delegated; it ends by itself after its last day. Cards already sent stay where they
are. The rules (the delegate is staff, never the applicant) are in flows/policy.py.
"""

from __future__ import annotations

import re
from datetime import date

from flows.dates import DateParseError, parse_date_range
from flows.policy import Policy, TapRefused
from flows.runtime import Runtime
from flows.turn import Turn
from flows.workdays import range_text
from storage import applications as store
from storage.directory import PersonInfo

_AWAY = ("外出", "出差", "休假", "请假", "不在学校", "不在", "开会", "学习", "培训", "公出", "出国")
_SAID = re.compile(
    r"^我?\s*(?P<when>.+?)\s*(?:" + "|".join(_AWAY) + r")[^，,。；;]*[，,；;]\s*"
    r"(?:期间)?\s*(?:由|请|让|委托)\s*(?P<who>[^，,。]+?)\s*"
    r"(?:代理|代审|代批|代为审批|代我审批|代办)(?:审批)?[。.!！]?$")
CANCEL = {"取消代理", "结束代理", "不用代理了", "取消委托"}
SHOW = {"我的代理", "代理", "查看代理"}


class Delegations:
    def __init__(self, runtime: Runtime, policy: Policy) -> None:
        self.runtime = runtime
        self.policy = policy

    @staticmethod
    def understands(text: str) -> bool:
        return text in CANCEL or text in SHOW or _SAID.match(text) is not None

    async def handle(self, turn: Turn, text: str) -> None:
        if text in CANCEL:
            count = await store.cancel_delegations(turn.user.id, turn.today, turn.now)
            turn.reply("已取消代理，新的审批将直接发给您。" if count else "您目前没有设置代理。")
            return
        if text in SHOW:
            await self.show(turn)
            return
        match = _SAID.match(text)
        assert match is not None
        try:
            first, last = parse_date_range(match.group("when"), turn.today)
        except DateParseError:
            turn.reply("没看懂代理的日期。请这样说：我12月1日到5日外出，由钱老师代理。")
            return
        if last < turn.today:
            turn.reply("这段日期已经过去了，请说明今后的外出日期。")
            return
        people = await self.policy.find_people(match.group("who"))
        if len(people) != 1:
            hint = "、".join(f"{p.name}（{p.id}）" for p in people[:5])
            turn.reply(f"找到多位：{hint}。请用工号再说一次，"
                       f"例如“我12月1日到5日外出，由 {people[0].id} 代理”。" if people else
                       f"通讯录中没有找到“{match.group('who')}”，请核对姓名后再说一次。")
            return
        try:
            await self.set(turn, turn.user, people[0], max(first, turn.today), last, "chat",
                           reason=text)
        except TapRefused as refused:
            turn.reply(str(refused))

    async def set(self, turn: Turn, principal: PersonInfo, delegate: PersonInfo, first: date,
                  last: date, source: str, reason: str = "") -> None:
        await self.policy.check_delegate(principal, delegate)
        await store.add_delegation(principal_id=principal.id, delegate_id=delegate.id,
                                   starts_on=first, ends_on=last, reason=reason, source=source,
                                   created_by=turn.user.id, now=turn.now)
        days = range_text(first, last)
        turn.push(principal.id, f"好的：{days}内，新的审批将交由{delegate.name}代理，"
                                "到期自动结束。已发出的卡片仍由您处理。回复“取消代理”可提前结束。")
        turn.push(delegate.id, f"{principal.name}外出（{days}），期间的审批由您代理，"
                               "卡片上会注明“代{0}审批”。".format(principal.name))

    async def show(self, turn: Turn) -> None:
        current = await store.delegations_of(turn.user.id, turn.today)
        if not current:
            turn.reply("您目前没有设置代理。外出时可以说：我12月1日到5日外出，由钱老师代理。")
            return
        lines = ["您设置的代理："]
        for delegation in current:
            name = await self.runtime.name(delegation.delegate_id)
            lines.append(f"{range_text(delegation.starts_on, delegation.ends_on)}：{name}")
        lines.append("回复“取消代理”可提前结束。")
        turn.reply("\n".join(lines))
