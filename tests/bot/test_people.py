"""Who wrote, and where a person is reached, among the enabled channels only."""

from __future__ import annotations

from aiohttp.test_utils import TestClient

from bot.people import People
from storage import identities
from storage.conversations import lock_conversation, save_conversation
from storage.directory import DatabaseDirectory, PersonInfo
from storage.models import Person
from tests.conftest import START

TEACHER = "zhang_t"      # in the demo directory


async def used_last(person_id: str, channel: str) -> None:
    conversation = await lock_conversation(person_id, START)
    conversation.last_channel = channel
    await save_conversation(conversation, START)


async def test_cards_go_where_set_else_where_used_last_else_to_an_account(
        client: TestClient) -> None:
    people = People(DatabaseDirectory(), ["wecom", "dingtalk", "chat", "sim"])
    assert await people.channel_for(TEACHER) == "wecom"          # nothing known: the first
    await identities.link("dingtalk", "0451", TEACHER)
    assert await people.channel_for(TEACHER) == "dingtalk"       # the one they have an account on
    await used_last(TEACHER, "sim")
    assert await people.channel_for(TEACHER) == "dingtalk"       # a tester's, not theirs
    await used_last(TEACHER, "chat")
    assert await people.channel_for(TEACHER) == "chat"           # where they wrote last
    await identities.apply_file_accounts([identities.FileAccounts(TEACHER, channel="wecom")])
    assert await people.channel_for(TEACHER) == "wecom"          # set for them


async def test_a_channel_that_is_off_is_never_chosen(client: TestClient) -> None:
    await identities.apply_file_accounts([identities.FileAccounts(TEACHER, channel="dingtalk")])
    await used_last(TEACHER, "dingtalk")
    await identities.link("dingtalk", "0451", TEACHER)
    await identities.link("wecom", "ZhangWei", TEACHER)
    assert await People(DatabaseDirectory(), ["wecom", "sim"]).channel_for(TEACHER) == "wecom"
    assert await People(DatabaseDirectory(), ["sim"]).channel_for(TEACHER) == "sim"


async def test_an_account_is_its_linked_person_and_a_stranger_is_looked_up_once(
        client: TestClient) -> None:
    looked_up: list[str] = []

    async def lookup(account: str) -> PersonInfo | None:
        looked_up.append(account)
        if account != "W-new":
            return None
        await Person.create(id="W-new", name="新同事", roles=["teacher"],
                            roles_text=",teacher,", source="wecom")
        return PersonInfo("W-new", "新同事", None)

    directory = DatabaseDirectory()
    people = People(directory, ["wecom", "sim"], {"wecom": lookup})

    async def who(channel: str, account: str) -> str | None:
        person = await people.person_of(channel, account)
        return person.name if person else None
    await identities.link("wecom", "ZhangWei", TEACHER)
    assert await who("wecom", "ZhangWei") == "张老师"
    assert await who("sim", TEACHER) == "张老师"
    assert await who("sim", "nobody") is None                    # no lookup there
    assert await who("wecom", "stranger") is None
    assert await who("wecom", "W-new") == "新同事"
    assert await identities.person_of("wecom", "W-new") == "W-new"   # linked on first contact
    directory.invalidate()
    await who("wecom", "W-new")
    assert looked_up == ["stranger", "W-new"]
    # an account linked to someone who left is nobody now
    await identities.link("wecom", "Leaver", "W-new")
    await Person.filter(id="W-new").update(active=False)
    directory.invalidate()
    assert await who("wecom", "Leaver") is None
