"""One person on two apps: a teacher with a WeCom account and an account on a second chat
platform (the in-test `chat` channel, with its own numeric ids), a head reached on WeCom.
The directory uses the school's own ids (工号); the platforms' ids differ from them.

- replies go back where the message came from;
- cards and notices go where the person wrote last, else where set for them, else to the
  first channel they have an account on;
- applications, 待办 and history are the same from either app."""

from __future__ import annotations

import json
import tomllib
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot import keys
from bot.app import create_app
from bot.clock import FixedClock
from bot.config import Settings
from storage.models import Application, ApprovalTask
from tests.bot.channels.wecom.conftest import AES_KEY, TOKEN, card_row, wecom_section
from tests.conftest import wipe_database
from tests.fakes.chat_channel import ChatPlugin, chat_installed
from tests.fakes.wecom import FakeCard, FakeWecom
from tests.fakes.wecom_callbacks import WecomCallbacks

TEACHER, TEACHER_WECOM, TEACHER_CHAT = "20190001", "ZhangWei", "9001001"
HEAD, HEAD_WECOM, HEAD_CHAT = "20050012", "LiYuan", "9001002"
LEAVE = ("我要请假", "病假", "明天", "2", "发烧就医，需在家休息", "无", "否", "13800000000",
         "确认")


def school_directory(tmp_path: Path, **head: Any) -> str:
    """The demo directory with the school's ids for 张老师 and 李院长, and their accounts."""
    document = tomllib.loads(resources.files("storage").joinpath(
        "demo_directory.toml").read_text("utf-8"))
    ids = {"zhang_t": TEACHER, "li_dean": HEAD}
    for department in document["departments"]:
        for key in ("head", "leader"):
            department[key] = ids.get(department.get(key), department.get(key))
    for user in document["users"]:
        user["id"] = ids.get(user["id"], user["id"])
        if user["id"] == TEACHER:
            user["accounts"] = {"wecom": TEACHER_WECOM, "chat": TEACHER_CHAT}
            user["job_number"] = TEACHER
        if user["id"] == HEAD:
            user.update({"accounts": {"wecom": HEAD_WECOM}, **head})
    path = tmp_path / "school.toml"
    path.write_text(_toml(document), encoding="utf-8")
    return str(path)


def _toml(document: dict[str, Any]) -> str:
    def value(v: Any) -> str:
        if isinstance(v, dict):
            return "{ " + ", ".join(f"{k} = {value(x)}" for k, x in v.items()) + " }"
        return json.dumps(v, ensure_ascii=False)
    lines = []
    for table in ("departments", "users"):
        for entry in document[table]:
            lines.append(f"[[{table}]]")
            lines.extend(f"{k} = {value(v)}" for k, v in entry.items() if v is not None)
    return "\n".join(lines) + "\n"


@dataclass
class School:
    app: Any
    client: TestClient
    wecom: WecomCallbacks
    fake: FakeWecom
    chat: ChatPlugin
    clock: FixedClock

    async def settle(self) -> None:
        await self.app[keys.DISPATCHER].intake.idle()
        while await self.app[keys.SENDER].deliver_due():
            pass

    async def on_chat(self, account: str, text: str) -> list[str]:
        before = len(self.chat.texts(account))
        response = await self.client.post("/chat/messages", json={"from": account, "text": text})
        assert response.status == 200
        await self.settle()
        return self.chat.texts(account)[before:]

    async def on_wecom(self, account: str, text: str) -> list[str]:
        before = len(self.fake.texts(account))
        assert (await self.wecom.text(account, text)).accepted
        await self.settle()
        return self.fake.texts(account)[before:]

    def only_card(self, account: str) -> FakeCard:
        cards = self.fake.cards_to(account)
        assert len(cards) == 1, cards
        return cards[0]


@pytest.fixture
def chat() -> Iterator[ChatPlugin]:
    with chat_installed() as plugin:
        yield plugin


@pytest.fixture
def school_factory(chat: ChatPlugin, settings_factory: Callable[..., Settings],
                   clock: FixedClock, fake_wecom: FakeWecom, database_url: str,
                   tmp_path: Path) -> Callable[..., Any]:
    for person_id in ("zhang_t", "li_dean"):      # WeCom knows them by their WeCom ids
        fake_wecom.members.pop(person_id)
    fake_wecom.members[TEACHER_WECOM] = {"userid": TEACHER_WECOM, "name": "张老师", "status": 1}
    fake_wecom.members[HEAD_WECOM] = {"userid": HEAD_WECOM, "name": "李院长", "status": 1}
    started: list[School] = []

    async def start(**head: Any) -> School:
        await wipe_database(database_url)
        settings = settings_factory(
            wecom=wecom_section(fake_wecom.url),  # type: ignore[attr-defined]
            chat={"enabled": True, "token": "t"}, simulator={"enabled": False},
            directory={"file": school_directory(tmp_path, **head)})
        app = create_app(settings, clock=clock, background=False)
        client = TestClient(TestServer(app, host="127.0.0.1"))
        await client.start_server()
        callbacks = WecomCallbacks(fake_wecom, str(client.make_url("/wecom/callback")),
                                   token=TOKEN, encoding_aes_key=AES_KEY)
        school = School(app, client, callbacks, fake_wecom, chat, clock)
        started.append(school)
        return school
    start.started = started  # type: ignore[attr-defined]
    return start


@pytest.fixture
async def school(school_factory: Callable[..., Any]) -> AsyncIterator[School]:
    running = await school_factory()
    yield running
    await close(running)


async def close(school: School) -> None:
    school.fake.release()
    await school.wecom.close()
    await school.client.close()


async def test_a_teacher_applies_on_one_app_and_the_head_approves_on_wecom(
        school: School) -> None:
    for answer in LEAVE:
        replies = await school.on_chat(TEACHER_CHAT, answer)
    assert "已提交" in replies[0] and "李院长" in replies[0]
    application = await Application.get()
    assert (application.applicant_id, application.channel) == (TEACHER, "chat")
    # the head never wrote: his card goes to his only account, on WeCom
    card = school.only_card(HEAD_WECOM)
    assert card.card["main_title"]["title"] == "张老师的教职工请销假审批"
    assert (await card_row(card.task_id)).user_id == HEAD
    await school.wecom.tap(HEAD_WECOM, card.task_id, "approve")
    await school.settle()
    assert card.replaced[HEAD_WECOM].startswith("已同意（李院长")
    assert (await ApprovalTask.get()).decided_by == HEAD
    # the teacher hears it on the app they used, and nothing reached them on WeCom
    assert "李院长已同意" in school.chat.texts(TEACHER_CHAT)[-1]
    assert school.fake.to(TEACHER_WECOM) == []
    assert not any("李院长已同意" in t for t in school.chat.texts(HEAD_CHAT))


async def test_the_same_person_sees_the_same_record_from_either_app(school: School) -> None:
    for answer in LEAVE:
        await school.on_wecom(TEACHER_WECOM, answer)
    on_chat = await school.on_chat(TEACHER_CHAT, "我的申请")    # the reply stays on chat
    on_wecom = await school.on_wecom(TEACHER_WECOM, "我的申请")
    assert on_wecom == on_chat and "#1" in on_chat[0] and "教职工请销假审批" in on_chat[0]
    # they wrote on chat last: the decision reaches them there, not where they applied
    await school.on_chat(TEACHER_CHAT, "进度")
    await school.wecom.tap(HEAD_WECOM, school.only_card(HEAD_WECOM).task_id, "approve")
    await school.settle()
    assert "李院长已同意" in school.chat.texts(TEACHER_CHAT)[-1]
    assert not any("李院长已同意" in t for t in school.fake.texts(TEACHER_WECOM))


async def test_the_head_s_pending_task_is_the_same_from_either_app(
        school_factory: Callable[..., Any]) -> None:
    school = await school_factory(accounts={"wecom": HEAD_WECOM, "chat": HEAD_CHAT})
    try:
        for answer in LEAVE:
            await school.on_chat(TEACHER_CHAT, answer)
        on_chat = await school.on_chat(HEAD_CHAT, "待办")
        on_wecom = await school.on_wecom(HEAD_WECOM, "待办")
        assert on_chat == on_wecom and "#1" in on_chat[0]
        # a decision typed on the other app acts on the same task
        await school.on_chat(HEAD_CHAT, "同意 1")
        assert (await ApprovalTask.get()).status == "approved"
    finally:
        await close(school)


async def test_cards_go_to_the_channel_set_for_the_person(
        school_factory: Callable[..., Any]) -> None:
    school = await school_factory(accounts={"wecom": HEAD_WECOM, "chat": HEAD_CHAT},
                                  channel="chat")
    try:
        await school.on_wecom(HEAD_WECOM, "待办")     # he last wrote on WeCom ...
        for answer in LEAVE:
            await school.on_chat(TEACHER_CHAT, answer)
        assert school.fake.cards_to(HEAD_WECOM) == []  # ... but the file sets chat for him
        [card] = school.chat.cards(HEAD_CHAT)
        assert card["title"] == "张老师的教职工请销假审批"
        response = await school.client.post("/chat/messages", json={
            "from": HEAD_CHAT, "card": card["card_key"], "action": "approve"})
        assert (await response.json())["processed"]
        await school.settle()
        assert (await ApprovalTask.get()).status == "approved"
        assert school.chat.to(HEAD_CHAT)[-2]["type"] == "card_update"
    finally:
        await close(school)


async def test_reminders_go_where_the_person_wrote_last(school: School) -> None:
    for answer in LEAVE:
        await school.on_wecom(TEACHER_WECOM, answer)
    await school.wecom.tap(HEAD_WECOM, school.only_card(HEAD_WECOM).task_id, "approve")
    await school.settle()
    await school.on_chat(TEACHER_CHAT, "我的申请")
    on_wecom = len(school.fake.texts(TEACHER_WECOM))
    school.clock.advance(timedelta(days=2, hours=8))   # the leave's last day, 17:00
    assert await school.app[keys.JOBS].send_due_reminders() == 1
    await school.settle()
    assert "销假" in school.chat.texts(TEACHER_CHAT)[-1]
    assert len(school.fake.texts(TEACHER_WECOM)) == on_wecom
    assert "已销假" in (await school.on_wecom(TEACHER_WECOM, "销假"))[-1]   # either app
    assert (await Application.get()).status == "completed"
