"""Accounts on several channels, linked to one person: matched by a sync, listed in the
directory file, and never taken from the file by a sync."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from storage import identities
from storage.directory import DatabaseDirectory
from storage.directory_file import DirectoryFileError, parse_directory
from storage.models import Identity, Person, PersonContact

CHANNELS = ("wecom", "dingtalk", "sim")


async def person(person_id: str, **values: Any) -> Person:
    """A person a platform sync stored."""
    return await Person.create(id=person_id, name=values.pop("name", person_id),
                               roles=["teacher"], roles_text=",teacher,",
                               source=values.pop("source", "wecom"), **values)


@pytest.mark.parametrize(("raw", "normal"), [
    ("13800000001", "13800000001"), ("+86 138-0000-0001", "13800000001"),
    ("0086 13800000001", "13800000001"), ("010-6275 1234", "01062751234"),
    ("", None), (None, None), ("12", None), ("无", None),
])
def test_mobiles_compare_as_digits(raw: str | None, normal: str | None) -> None:
    assert identities.normalize_mobile(raw) == normal


async def test_a_member_is_matched_by_link_then_job_number_then_mobile(
        client: TestClient) -> None:
    directory = DatabaseDirectory()
    await person("ZhangWei", name="张伟")
    await identities.remember("ZhangWei", job_number="20190001", mobile="13800000001")
    await person("LiNa", name="李娜")
    await identities.remember("LiNa", mobile="139 0000 0002")
    await person("T-77", name="王芳")

    async def match(account: str, **keys: str) -> str | None:
        return await identities.match("dingtalk", account, directory, **keys)
    # a DingTalk member with a job number, with only a mobile, with nothing known
    assert await match("manager4421", job_number="20190001") == "ZhangWei"
    assert await match("0451", mobile="+86 139 0000 0002") == "LiNa"
    assert await match("0452", mobile="13700000000") is None
    # a school whose WeCom userids are the 工号: a member whose job number is a person's id
    await person("19980002", name="赵敏")
    directory.invalidate()
    assert await match("0453", job_number="19980002") == "19980002"
    # a link made before wins over anything the platform says now
    await identities.link("dingtalk", "0452", "T-77")
    assert await match("0452", job_number="20190001") == "T-77"


async def test_an_ambiguous_key_matches_nobody(client: TestClient) -> None:
    directory = DatabaseDirectory()
    await person("a1")
    await person("a2")
    for person_id in ("a1", "a2"):      # a shared office phone
        await identities.remember(person_id, mobile="13800000009")
    assert await identities.match("dingtalk", "x", directory, mobile="13800000009") is None
    await Person.filter(id="a2").update(active=False)       # one of them left
    directory.invalidate()
    assert await identities.match("dingtalk", "x", directory, mobile="13800000009") == "a1"


async def test_the_file_outranks_a_sync_and_addresses_follow_links(client: TestClient) -> None:
    await person("20190001")
    assert await identities.link("wecom", "ZhangWei", "20190001", source=identities.FILE)
    assert not await identities.link("wecom", "ZhangWei", "dup")           # a sync: ignored
    assert await identities.person_of("wecom", "ZhangWei") == "20190001"
    assert await identities.address("wecom", "20190001") == "ZhangWei"
    assert await identities.address("dingtalk", "20190001") == "20190001"  # no account there
    assert await identities.link("dingtalk", "0001", "20190001")
    assert await identities.accounts_of("20190001") == {"wecom": "ZhangWei", "dingtalk": "0001"}
    await identities.apply_file_accounts([identities.FileAccounts(
        "20190001", mobile="13800000001", job_number="20190001")])
    await identities.remember("20190001", mobile="13999999999")           # a sync: ignored
    assert (await PersonContact.get(person_id="20190001")).mobile == "13800000001"


async def test_a_sync_links_its_members_and_retires_duplicates_of_file_people(
        client: TestClient) -> None:
    await identities.link("wecom", "ZhangWei", "20190001", source=identities.FILE)
    # the WeCom sync stored everyone under their userid, ZhangWei too
    await person("ZhangWei")
    await person("LiNa")
    linked, retired = await identities.link_own_ids("wecom", ["ZhangWei", "LiNa"])
    assert (linked, retired) == (1, 1)
    assert await identities.person_of("wecom", "LiNa") == "LiNa"
    assert await identities.person_of("wecom", "ZhangWei") == "20190001"
    assert not (await Person.get(id="ZhangWei")).active
    assert await identities.link_own_ids("wecom", ["ZhangWei", "LiNa"]) == (0, 0)


async def test_ids_of_two_platforms_may_collide(client: TestClient) -> None:
    await person("0451")
    directory = DatabaseDirectory()
    assert await identities.new_person_id("dingtalk", "0451", directory) == "dingtalk-0451"
    assert await identities.new_person_id("dingtalk", "0452", directory) == "0452"


def users(*entries: dict[str, Any]) -> dict[str, Any]:
    return {"users": [{"name": "某人", **entry} for entry in entries]}


def test_the_file_names_every_bad_account_entry() -> None:
    with pytest.raises(DirectoryFileError, match=r"users\[0\]\.accounts: 应为表"):
        parse_directory(users({"id": "c", "accounts": "ZhangWei"}), "school.toml")
    with pytest.raises(DirectoryFileError, match=r"users\[0\]\.job_number: 应为文本"):
        parse_directory(users({"id": "d", "job_number": 20190001}), "school.toml")
    file = parse_directory(users(
        {"id": "a", "accounts": {"wecom": "ZhangWei", "feishu": "x"}, "channel": "qq"},
        {"id": "b", "accounts": {"wecom": "ZhangWei"}, "mobile": "电话"},
    ), "school.toml")
    with pytest.raises(DirectoryFileError) as error:
        identities.file_accounts(file, CHANNELS)
    message = str(error.value)
    for problem in ("school.toml: users[0].accounts.feishu: 未知的渠道",
                    "users[0].channel: 未知的渠道 'qq'",
                    "users[1].accounts.wecom: 账号 'ZhangWei' 已属于用户 a",
                    "users[1].mobile: 不是有效的手机号"):
        assert problem in message, problem


async def test_the_file_sets_keys_links_and_the_preferred_channel(client: TestClient) -> None:
    await identities.link("dingtalk", "old-account", "20190001", source=identities.FILE)
    await identities.link("wecom", "synced", "20190001")
    await identities.link("wecom", "ZhangWei", "someone-else")        # a sync's guess
    file = parse_directory(users({
        "id": "20190001", "mobile": "13800000001", "job_number": "20190001",
        "channel": "dingtalk", "accounts": {"wecom": "ZhangWei", "dingtalk": "0451"}}),
        "school.toml")
    assert await identities.apply_file_accounts(identities.file_accounts(file, CHANNELS)) == 2
    contact = await PersonContact.get(person_id="20190001")
    assert (contact.mobile, contact.job_number, contact.preferred_channel) == (
        "13800000001", "20190001", "dingtalk")
    accounts = {(i.channel, i.external_id, i.source)
                for i in await Identity.filter(person_id="20190001")}
    # the account the file no longer lists is gone; the one a sync found stays
    assert accounts == {("wecom", "ZhangWei", "file"), ("dingtalk", "0451", "file"),
                        ("wecom", "synced", "sync")}
    assert await identities.person_of("wecom", "ZhangWei") == "20190001"   # the file's say
    assert await identities.preferred_channel("20190001") == "dingtalk"
