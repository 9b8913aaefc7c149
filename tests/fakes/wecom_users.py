"""Simulated WeCom users for fault and load tests: teachers who request leave in chat (some
messages typed in quick bursts), department heads who tap 同意 on the cards, and what each of
them received, compared with a reference run of the same script.

    campus = Campus.generate(departments=3, teachers_per_department=4)
    campus.directory_toml()            # the demo directory plus these people, for campusbot
    campus.members()                   # the same people as WeCom members, for the fake
    run = await campus.run(callbacks, fake, counts)   # every teacher's dialog at once
    compare(reference_run, run)        # lost, doubled, out of order — per user

A teacher waits for the bot's answer before going on (think time in between), except inside a
burst, where the next message follows at once; the order of the answers then shows whether the
messages were handled in order. Replies are matched by count: `calibrate` learns from one
fault-free dialog how many messages each step brings.
"""

from __future__ import annotations

import asyncio
import random
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.wecom import Delivered, FakeWecom
from tests.fakes.wecom_callbacks import CardNotClickable, WecomCallbacks

DEMO_MEMBERS_DEPARTMENT = 1


@dataclass(frozen=True)
class Step:
    text: str
    #: False: the next message follows at once, without waiting for this one's answer
    wait: bool = True


LEAVE_SCRIPT = (
    Step("帮助", wait=False), Step("我要请假"),
    Step("病假", wait=False), Step("明天", wait=False), Step("1"),
    Step("发烧就医，需在家休息"),
    Step("无", wait=False), Step("否"),
    Step("13800000000"), Step("确认"),
)
AFTER_APPROVAL = Step("我的申请")


@dataclass(frozen=True)
class Department:
    id: str
    name: str
    head: str
    head_name: str
    teachers: tuple[tuple[str, str], ...]   # (id, name)


@dataclass
class Campus:
    departments: list[Department]

    @classmethod
    def generate(cls, *, departments: int, teachers_per_department: int) -> Campus:
        result = []
        for d in range(departments):
            teachers = tuple((f"lt{d:03d}{t:02d}", f"教师{d:03d}{t:02d}")
                             for t in range(teachers_per_department))
            result.append(Department(f"load{d:03d}", f"压测学院{d:03d}", f"lh{d:03d}",
                                     f"院长{d:03d}", teachers))
        return cls(result)

    @property
    def teachers(self) -> list[str]:
        return [t for d in self.departments for t, _ in d.teachers]

    @property
    def heads(self) -> list[str]:
        return [d.head for d in self.departments]

    def head_of(self, teacher: str) -> str:
        return next(d.head for d in self.departments if any(t == teacher for t, _ in d.teachers))

    def directory_toml(self, demo: str) -> str:
        """`demo` (the demo directory's text) plus one college per department."""
        parts = [demo]
        for d in self.departments:
            parts.append(f'[[departments]]\nid = "{d.id}"\nname = "{d.name}"\nkind = "college"\n'
                         f'head = "{d.head}"\nleader = "vp_wu"\n')
            parts.append(f'[[users]]\nid = "{d.head}"\nname = "{d.head_name}"\n'
                         f'department = "{d.id}"\nroles = ["cadre", "dept_head", "teacher"]\n'
                         f'title = "{d.name}院长"\n')
            for teacher, name in d.teachers:
                parts.append(f'[[users]]\nid = "{teacher}"\nname = "{name}"\n'
                             f'department = "{d.id}"\nroles = ["teacher"]\ntitle = "讲师"\n')
        return "\n".join(parts)

    def members(self) -> dict[str, dict[str, Any]]:
        people = [(d.head, d.head_name) for d in self.departments] + [
            t for d in self.departments for t in d.teachers]
        return {user: {"userid": user, "name": name, "department": [DEMO_MEMBERS_DEPARTMENT],
                       "main_department": DEMO_MEMBERS_DEPARTMENT, "status": 1}
                for user, name in people}


# ---- one run ---------------------------------------------------------------------------------

@dataclass
class Run:
    """What happened in one run of the script."""

    #: seconds from a message (the last of a burst) to the reply it waited for
    latencies: list[float] = field(default_factory=list)
    #: the card tap → the teacher told the decision
    tap_latencies: list[float] = field(default_factory=list)
    completed: set[str] = field(default_factory=set)
    stuck: dict[str, str] = field(default_factory=dict)   # user → the step they waited at
    callback_failures: int = 0
    received: dict[str, list[str]] = field(default_factory=dict)
    elapsed: float = 0.0
    pending: set[asyncio.Task[None]] = field(default_factory=set, repr=False)

    def percentile(self, share: float, values: list[float] | None = None) -> float:
        ordered = sorted(self.latencies if values is None else values)
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


@dataclass
class Pacing:
    think: tuple[float, float] = (0.3, 1.0)    # seconds between a reply and the next message
    burst_gap: float = 0.02                    # between messages of a burst
    start_within: float = 2.0                  # teachers start spread over this many seconds
    reply_timeout: float = 60.0                # a reply not there by then: the user is stuck
    tap_think: tuple[float, float] = (0.3, 1.0)
    #: at the end, until this many seconds pass without a message (a late double shows)
    settle: float = 1.0


async def calibrate(callbacks: WecomCallbacks, fake: FakeWecom, teacher: str, head: str,
                    *, quiet: float = 0.8, patience: float = 30.0) -> list[int]:
    """How many messages each step brings (then the approval notice, then 我的申请): one
    teacher, one step at a time, each answered until `quiet` s pass without another message."""
    counts = []
    for step in (*LEAVE_SCRIPT, None, AFTER_APPROVAL):
        before = len(fake.to(teacher))
        if step is None:
            await _tap_all(callbacks, fake, head, set())
        else:
            await _deliver(callbacks, callbacks.text_xml(teacher, step.text))
        await fake.wait_for(teacher, before + 1, patience)
        while await fake.wait_for(teacher, len(fake.to(teacher)) + 1, quiet):
            pass
        counts.append(len(fake.to(teacher)) - before)
    return counts


async def run_campus(campus: Campus, callbacks: WecomCallbacks, fake: FakeWecom,
                     counts: list[int], pacing: Pacing | None = None,
                     seed: int = 1) -> Run:
    """Every teacher's dialog at once; every head taps 同意 on each card they get."""
    pacing = pacing or Pacing()
    rng = random.Random(seed)
    run = Run()
    started = time.monotonic()
    done = asyncio.Event()
    teachers = [_teacher(t, callbacks, fake, counts, pacing, random.Random(rng.random()),
                         run, rng.uniform(0, pacing.start_within)) for t in campus.teachers]
    heads = [_head(d, callbacks, fake, pacing, random.Random(rng.random()), run, done)
             for d in campus.departments]
    head_tasks = [asyncio.create_task(h) for h in heads]
    await asyncio.gather(*teachers)
    done.set()
    await asyncio.gather(*head_tasks)
    await asyncio.gather(*run.pending)
    run.elapsed = time.monotonic() - started
    await quiet(fake, pacing.settle)
    for user in [*campus.teachers, *campus.heads]:
        run.received[user] = received_by(fake, user)
    return run


async def quiet(fake: FakeWecom, seconds: float) -> None:
    """Until `seconds` pass without a message or a card update."""
    def state() -> tuple[int, int]:
        return len(fake.delivered), sum(len(c.replaced) for c in fake.cards.values())
    seen = state()
    while True:
        await asyncio.sleep(seconds)
        if state() == seen:
            return
        seen = state()


async def _deliver(callbacks: WecomCallbacks, xml: str) -> bool:
    delivery = await callbacks.deliver(xml)
    return delivery.accepted


async def _teacher(teacher: str, callbacks: WecomCallbacks, fake: FakeWecom, counts: list[int],
                   pacing: Pacing, rng: random.Random, run: Run, delay: float) -> None:
    await asyncio.sleep(delay)
    expected = len(fake.to(teacher))
    steps = [*LEAVE_SCRIPT, None, AFTER_APPROVAL]
    for step, count in zip(steps, counts, strict=True):
        expected += count
        if step is None:           # waiting for the head's decision
            if not await fake.wait_for(teacher, expected, pacing.reply_timeout * 2):
                run.stuck[teacher] = "审批结果"
                return
            continue
        sent = time.monotonic()
        if not await _deliver(callbacks, callbacks.text_xml(teacher, step.text)):
            run.callback_failures += 1
        if not step.wait:
            await asyncio.sleep(pacing.burst_gap)
            continue
        if not await fake.wait_for(teacher, expected, pacing.reply_timeout):
            run.stuck[teacher] = step.text
            return
        run.latencies.append(time.monotonic() - sent)
        await asyncio.sleep(rng.uniform(*pacing.think))
    run.completed.add(teacher)


async def _head(department: Department, callbacks: WecomCallbacks, fake: FakeWecom,
                pacing: Pacing, rng: random.Random, run: Run, done: asyncio.Event) -> None:
    tapped: set[str] = set()
    by_name = {name: teacher for teacher, name in department.teachers}
    while len(tapped) < len(department.teachers):
        await fake.wait_for(department.head, len(fake.to(department.head)) + 1, 1.0)
        if done.is_set() and not _untapped(fake, department.head, tapped):
            return
        for card in _untapped(fake, department.head, tapped):
            await asyncio.sleep(rng.uniform(*pacing.tap_think))
            applicant = by_name.get(applicant_name(card.card) or "")
            before = len(fake.to(applicant)) if applicant else 0
            tapped.add(card.task_id)
            try:
                await _deliver(callbacks, callbacks.tap_xml(department.head, card.task_id,
                                                            "approve"))
            except CardNotClickable:
                continue
            if applicant:
                timing = asyncio.create_task(_time_decision(fake, applicant, before, run))
                run.pending.add(timing)
                timing.add_done_callback(run.pending.discard)


async def _time_decision(fake: FakeWecom, teacher: str, before: int, run: Run) -> None:
    started = time.monotonic()
    if await fake.wait_for(teacher, before + 1, 120):
        run.tap_latencies.append(time.monotonic() - started)


async def _tap_all(callbacks: WecomCallbacks, fake: FakeWecom, head: str,
                   tapped: set[str]) -> None:
    for _ in range(300):
        cards = _untapped(fake, head, tapped)
        if cards:
            for card in cards:
                tapped.add(card.task_id)
                await _deliver(callbacks, callbacks.tap_xml(head, card.task_id, "approve"))
            return
        await asyncio.sleep(0.05)


def _untapped(fake: FakeWecom, head: str, tapped: set[str]) -> list[Any]:
    return [c for c in fake.cards_to(head) if c.task_id not in tapped and head not in c.replaced]


def applicant_name(card: dict[str, Any]) -> str | None:
    """教师00101 from the title 教师00101的教职工请销假审批."""
    title = str(card.get("main_title", {}).get("title", ""))
    return title.split("的", 1)[0] if "的" in title else None


def head_groups(campus: Campus) -> dict[str, list[str]]:
    """For `compare`: a head's messages, one sequence per applicant (their cards may come in
    any order, each applicant's own in order)."""
    return {d.head: [name for _, name in d.teachers] for d in campus.departments}


# ---- comparing runs --------------------------------------------------------------------------

_NORMALISE = [
    (re.compile(r"#\d+"), "#N"),
    (re.compile(r"\d{4}年\d{1,2}月\d{1,2}日（周.）"), "DATE"),
    (re.compile(r"\d{1,2}月\d{1,2}日"), "DATE"),
    (re.compile(r"\d{2}-\d{2} \d{2}:\d{2}"), "TIME"),
]


def normalise(text: str) -> str:
    for pattern, replacement in _NORMALISE:
        text = pattern.sub(replacement, text)
    return text


def describe(delivered: Delivered) -> str:
    if delivered.msgtype == "template_card":
        return "[卡片] " + str(delivered.body.get("main_title", {}).get("title", ""))
    return normalise(delivered.text) if delivered.msgtype == "text" else f"[{delivered.msgtype}]"


def received_by(fake: FakeWecom, user: str) -> list[str]:
    """What the user received, in order, comparable across runs; a card's final state last."""
    items = [describe(d) for d in fake.to(user)]
    for card in fake.cards_to(user):
        if user in card.replaced:
            items.append(f"[卡片更新] {card.card.get('main_title', {}).get('title', '')}: "
                         f"{normalise(card.replaced[user])}")
    return items


@dataclass
class Difference:
    lost: int = 0
    doubled: int = 0
    out_of_order_users: list[str] = field(default_factory=list)
    lost_users: list[str] = field(default_factory=list)
    doubled_users: list[str] = field(default_factory=list)
    same_users: int = 0

    @property
    def clean(self) -> bool:
        return not (self.lost or self.doubled or self.out_of_order_users)


def compare(reference: dict[str, list[str]], run: dict[str, list[str]],
            groups: dict[str, list[str]] | None = None) -> Difference:
    """Per user: messages missing from the run (lost), there more often (doubled), or all there
    but in another order. `groups` splits a user's messages into sequences whose order matters
    only within (e.g. a head's cards: one sequence per applicant) — default: one sequence."""
    difference = Difference()
    for user, expected in reference.items():
        got = run.get(user, [])
        missing = Counter(expected) - Counter(got)
        extra = Counter(got) - Counter(expected)
        if missing:
            difference.lost += sum(missing.values())
            difference.lost_users.append(user)
        if extra:
            difference.doubled += sum(extra.values())
            difference.doubled_users.append(user)
        keys = (groups or {}).get(user)
        if not missing and not extra:
            if _in_order(expected, got, keys):
                difference.same_users += 1
            else:
                difference.out_of_order_users.append(user)
    return difference


def _in_order(expected: list[str], got: list[str], keys: list[str] | None) -> bool:
    if keys is None:
        return expected == got
    return all([m for m in expected if key in m] == [m for m in got if key in m]
               for key in keys)
