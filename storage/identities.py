"""Accounts on channels, linked to people of the directory: one person, one record, whichever
app they write from.

A link is (channel, the platform's user id) → person id. Links come from
- the directory file: a user's `accounts = { wecom = "…", dingtalk = "…" }` (source `file`);
- each channel's directory sync: a member is matched to a person by a link made before, else
  by job number, else by mobile, else by a person whose id is that job number (schools often
  use the 工号 as the WeCom userid) — see `match` (source `sync`);
- the first message of someone the directory did not know, looked up on the platform
  (source `contact`).
A link from the file is never replaced by an automatic one.

The keys that match people (mobile, job number) and the channel set for a person are kept in
`person_contacts`, from the directory file (`mobile`, `job_number`, `channel`) and from syncs
(`remember`); again the file's win.

Without any link, a platform id that is also a person's id is that person: the directory's ids
are the platform's when there is one channel (and always in the simulator).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field

from tortoise.exceptions import IntegrityError

from storage.directory import Directory
from storage.directory_file import DirectoryFile, DirectoryFileError
from storage.directory_store import bump_generation
from storage.models import Identity, Person, PersonContact
from storage.sql import client, marks, postgres
from storage.transactions import transaction

FILE = "file"
SYNC = "sync"
CONTACT = "contact"
#: a stronger source is never replaced by a weaker one
_STRENGTH = {FILE: 2, SYNC: 1, CONTACT: 1}
_MOBILE = re.compile(r"(?:\+?86|0086)?(1\d{10})")


def normalize_mobile(value: str | None) -> str | None:
    """A mainland mobile as 11 digits (spaces, dashes and a +86 prefix dropped); other numbers
    as their digits; None when there is nothing to match on."""
    if not value:
        return None
    digits = "".join(c for c in str(value) if c.isdigit() or c == "+")
    found = _MOBILE.fullmatch(digits)
    if found:
        return found.group(1)
    digits = digits.replace("+", "")
    return digits if len(digits) >= 5 else None


async def person_of(channel: str, external_id: str) -> str | None:
    """The person an account is linked to, if it is."""
    row = await Identity.filter(channel=channel, external_id=external_id).first().values(
        "person_id")
    return row["person_id"] if row else None


async def all_links() -> dict[tuple[str, str], str]:
    """Every link: (channel, account) → person id, in one query (a process keeps them in memory
    per directory generation, bot/people.py)."""
    rows = await Identity.all().values_list("channel", "external_id", "person_id")
    return {(str(channel), str(account)): str(person) for channel, account, person in rows}


def address_sql(channel: str, person: str) -> str:
    """The SQL expression for a person's account on a channel: the newest link, else their
    directory id. `channel` and `person` are SQL (placeholders or columns); the outbox reads
    it with a delivery's other facts (`outbox.delivery_views`)."""
    return (f"COALESCE((SELECT external_id FROM identities WHERE channel = {channel} "
            f"AND person_id = {person} ORDER BY updated_at DESC, id DESC LIMIT 1), {person})")


async def address(channel: str, person_id: str) -> str:
    """The person's account on `channel` (`address_sql`)."""
    db = client()   # a fixed statement: every delivery of some channels asks it
    is_postgres = postgres(db)
    m = marks(2, is_postgres, numbered=True)
    person = f"{m[1]}::text" if is_postgres else m[1]
    rows = await db.execute_query_dict(f"SELECT {address_sql(m[0], person)} AS address",
                                       [channel, person_id])
    return str(rows[0]["address"])


async def accounts_of(person_id: str) -> dict[str, str]:
    """channel → account, for every channel the person is linked on."""
    rows = await Identity.filter(person_id=person_id).order_by("updated_at", "id").values(
        "channel", "external_id")
    return {row["channel"]: row["external_id"] for row in rows}


async def preferred_channel(person_id: str) -> str | None:
    row = await PersonContact.filter(person_id=person_id).first().values("preferred_channel")
    return row["preferred_channel"] if row else None


async def link(channel: str, external_id: str, person_id: str, *, source: str = SYNC) -> bool:
    """Link an account to a person; True when something changed. A link made by a stronger
    source (the directory file over a sync) is kept."""
    existing = await Identity.get_or_none(channel=channel, external_id=external_id)
    if existing is None:
        try:
            async with transaction():  # a savepoint when called inside a transaction
                await Identity.create(channel=channel, external_id=external_id,
                                      person_id=person_id, source=source)
        except IntegrityError:  # linked at the same moment by another process
            return False
        return True
    if existing.person_id == person_id and existing.source == source:
        return False
    if _STRENGTH.get(existing.source, 0) > _STRENGTH.get(source, 0):
        return False
    existing.person_id, existing.source = person_id, source
    await existing.save(update_fields=["person_id", "source", "updated_at"])
    return True


async def match(channel: str, external_id: str, directory: Directory, *,
                mobile: str | None = None, job_number: str | None = None) -> str | None:
    """The person a platform member is, for a directory sync: the person already linked, else
    the one person of the directory with this job number, else with this mobile, else the
    person whose id is this job number. None: nobody yet (the sync adds them)."""
    linked = await person_of(channel, external_id)
    if linked is not None:
        return linked
    job_number = (job_number or "").strip() or None
    mobile = normalize_mobile(mobile)
    for column, value in (("job_number", job_number), ("mobile", mobile)):
        if value is None:
            continue
        ids = await PersonContact.filter(**{column: value}).values_list("person_id", flat=True)
        present = [str(i) for i in ids if await directory.person(str(i)) is not None]
        if len(present) == 1:
            return present[0]
    if job_number is not None and await directory.person(job_number) is not None:
        return job_number
    return None


async def remember(person_id: str, *, mobile: str | None = None,
                   job_number: str | None = None) -> None:
    """Keep what a sync learnt about a person's keys (never over what the file says)."""
    mobile, job_number = normalize_mobile(mobile), (job_number or "").strip() or None
    if mobile is None and job_number is None:
        return
    row = await PersonContact.get_or_none(person_id=person_id)
    if row is None:
        try:
            async with transaction():
                await PersonContact.create(person_id=person_id, source=SYNC, mobile=mobile,
                                           job_number=job_number)
        except IntegrityError:
            pass
    elif row.source != FILE:
        row.mobile, row.job_number = mobile or row.mobile, job_number or row.job_number
        await row.save(update_fields=["mobile", "job_number", "updated_at"])


async def new_person_id(channel: str, external_id: str, directory: Directory) -> str:
    """An id for a person a sync adds: the platform id, unless another person has it already
    (ids of two platforms can collide), then prefixed with the channel."""
    if await directory.person(external_id) is None and not await Person.exists(id=external_id):
        return external_id
    return f"{channel}-{external_id}"[:64]


async def link_own_ids(channel: str, person_ids: Iterable[str], *,
                       source: str = SYNC) -> tuple[int, int]:
    """After a sync that stored each member under their platform id: link each account to that
    person. A member the directory file links to another person keeps that link, and the
    duplicate the sync made of them is deactivated. Returns (linked, deactivated)."""
    linked = deactivated = 0
    for person_id in person_ids:
        owner = await person_of(channel, person_id)
        if owner is None or owner == person_id:
            linked += await link(channel, person_id, person_id, source=source)
        elif await Person.filter(id=person_id, source=channel, active=True).update(
                active=False):
            deactivated += 1
    if linked or deactivated:
        await bump_generation()   # processes remember links per generation (bot/people.py)
    return linked, deactivated


# ---- the directory file ---------------------------------------------------------------------

@dataclass(frozen=True)
class FileAccounts:
    """What the directory file says about reaching one person."""

    person_id: str
    mobile: str | None = None
    job_number: str | None = None
    channel: str | None = None
    accounts: dict[str, str] = field(default_factory=dict)


def file_accounts(file: DirectoryFile, channels: Collection[str]) -> list[FileAccounts]:
    """The `mobile`, `job_number`, `channel` and `accounts` of the file's users, checked
    against the registered channels; raises DirectoryFileError naming every bad entry."""
    errors: list[str] = []
    found: list[FileAccounts] = []
    owners: dict[tuple[str, str], str] = {}
    known = "、".join(sorted(channels))
    for entry in file.users:
        values = entry.values
        if entry.id is None or not any(k in values for k in (
                "mobile", "job_number", "channel", "accounts")):
            continue
        channel = values.get("channel")
        if channel is not None and channel not in channels:
            errors.append(f"{entry.where}.channel: 未知的渠道 {channel!r}（可用：{known}）")
        mobile = normalize_mobile(values.get("mobile"))
        if values.get("mobile") and mobile is None:
            errors.append(f"{entry.where}.mobile: 不是有效的手机号")
        accounts: dict[str, str] = values.get("accounts", {})
        for name, account in accounts.items():
            if name not in channels:
                errors.append(f"{entry.where}.accounts.{name}: 未知的渠道（可用：{known}）")
            elif len(account) > 64:
                errors.append(f"{entry.where}.accounts.{name}: 账号最长 64 个字符")
            elif (other := owners.setdefault((name, account), entry.id)) != entry.id:
                errors.append(f"{entry.where}.accounts.{name}: 账号 {account!r} 已属于用户 "
                              f"{other}")
        found.append(FileAccounts(person_id=entry.id, mobile=mobile,
                                  job_number=values.get("job_number"), channel=channel,
                                  accounts=dict(accounts)))
    if errors:
        raise DirectoryFileError("\n".join(errors))
    return found


async def apply_file_accounts(entries: Iterable[FileAccounts]) -> int:
    """Make the file's keys and links the ones in force (what the file no longer lists is
    dropped; a sync's link to an account the file now gives someone is replaced). Returns how
    many accounts the file links."""
    entries = list(entries)
    links = [(channel, account, e.person_id) for e in entries
             for channel, account in e.accounts.items()]
    async with transaction():
        await Identity.filter(source=FILE).delete()
        await PersonContact.filter(source=FILE).delete()
        by_channel: dict[str, list[str]] = {}
        for channel, account, _ in links:
            by_channel.setdefault(channel, []).append(account)
        for channel, accounts in by_channel.items():
            await Identity.filter(channel=channel, external_id__in=accounts).delete()
        await Identity.bulk_create([
            Identity(channel=channel, external_id=account, person_id=person_id, source=FILE)
            for channel, account, person_id in links])
        contacts = [e for e in entries if e.mobile or e.job_number or e.channel]
        await PersonContact.filter(person_id__in=[e.person_id for e in contacts]).delete()
        await PersonContact.bulk_create([
            PersonContact(person_id=e.person_id, mobile=e.mobile, job_number=e.job_number,
                          preferred_channel=e.channel, source=FILE) for e in contacts])
        # processes remember links per directory generation (bot/people.py)
        await bump_generation()
    return len(links)


async def file_accounts_applied() -> bool:
    """Whether anything from a directory file is in force (false on a database that has never
    had the file's accounts applied)."""
    return await Identity.filter(source=FILE).exists() or \
        await PersonContact.filter(source=FILE).exists()
