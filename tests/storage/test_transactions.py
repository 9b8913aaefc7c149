"""Writes held for the COMMIT (storage/held_writes.py): they land with the transaction or not
at all, a guarded one that finds its row changed undoes everything the transaction wrote, and
a failure among them leaves the database usable."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient
from tortoise.exceptions import IntegrityError

from storage import applications as store
from storage import sql
from storage.conversations import lock_conversation, save_conversation
from storage.errors import ConcurrentUpdate
from storage.held_writes import Write, write
from storage.models import Application, AuditEntry, Conversation
from storage.sql import db_values, marks, postgres
from storage.transactions import transaction
from tests.conftest import START

TEACHER = "zhang_t"


async def new_application() -> Application:
    return await store.create_application(
        flow_id="staff_leave", flow_version=1, applicant_id=TEACHER, state="new",
        status="filling", channel="sim", now=START, expires_at=None)


async def start_with(save: Conversation) -> int:
    """A turn's writes: an application (at once), its audit row and `save` (both held)."""
    async with transaction():
        application = await new_application()
        await store.append_audit(application, at=START, actor_id=TEACHER, action="start")
        await save_conversation(save, START)
    return application.id


async def test_a_conversation_changed_meanwhile_undoes_the_whole_transaction(
        client: TestClient) -> None:
    mine = await lock_conversation(TEACHER, START)
    theirs = await lock_conversation(TEACHER, START)
    theirs.pending = {"kind": "reject_reason", "card_key": "a1-x"}
    await save_conversation(theirs, START)
    mine.pending = {}
    with pytest.raises(ConcurrentUpdate):
        await start_with(mine)
    assert await Application.filter(applicant_id=TEACHER).count() == 0
    assert await AuditEntry.all().count() == 0
    assert (await Conversation.get(user_id=TEACHER)).pending == theirs.pending
    assert await Application.exists(id=await start_with(theirs))   # a fresh read succeeds


async def test_held_writes_land_with_the_commit(client: TestClient) -> None:
    async with transaction():
        application = await new_application()
        await store.append_audit(application, at=START, actor_id=TEACHER, action="start")
        await store.append_audit(application, at=START, actor_id=TEACHER, action="answer")
    assert [entry.action for entry in await store.audit_of(application.id)] == [
        "start", "answer"]


async def insert_twice() -> None:
    """An application (at once), then a held INSERT of a conversation that exists."""
    async with transaction():
        await new_application()
        names = ("user_id", "pending", "context", "updated_at", "version")
        await write(Write(
            f"INSERT INTO conversations ({', '.join(names)}) "
            f"VALUES ({', '.join(marks(len(names), postgres(sql.client())))})",
            db_values(Conversation, names, {"user_id": TEACHER, "pending": {}, "context": {},
                                            "updated_at": START, "version": 0})))


async def test_a_failing_held_write_rolls_back_and_the_database_goes_on(
        client: TestClient) -> None:
    await lock_conversation(TEACHER, START)   # the row the held INSERT collides with
    with pytest.raises(IntegrityError):
        await insert_twice()
    assert not await Application.exists(applicant_id=TEACHER)
    async with transaction():                  # the connection and its lock are free again
        again = await new_application()
    assert await Application.exists(id=again.id)
