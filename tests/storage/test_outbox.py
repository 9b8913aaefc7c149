"""The outbox as a queue over time: claims read the unfinished messages, not the history."""

from __future__ import annotations

import json

from aiohttp.test_utils import TestClient
from tortoise import connections

from storage import outbox
from tests.conftest import START

SENT_BEFORE = 2_000


async def _plan(sql: str, values: list[object]) -> str:
    db = connections.get("default")
    if db.capabilities.dialect == "postgres":
        rows = await db.execute_query_dict(f"EXPLAIN (FORMAT JSON) {sql}", values)
        return json.dumps(rows[0]["QUERY PLAN"])
    rows = await db.execute_query_dict(f"EXPLAIN QUERY PLAN {sql}", values)
    return " ".join(str(row["detail"]) for row in rows)


async def test_a_claim_reads_the_unfinished_messages_through_their_own_index(
        client: TestClient) -> None:
    # a busy term: thousands of messages sent (each updated twice, so until VACUUM their old
    # versions stay in every index on status) and a few waiting; a claim that went through the
    # status index read all of them (23 ms per claim on PostgreSQL, most of its CPU under load)
    sent = [outbox.NewMessage("wecom", f"t{n:04d}", {"type": "text", "text": "好的"},
                              f"sent-{n}") for n in range(SENT_BEFORE)]
    await outbox.enqueue_many(sent, START, "turn-sent")
    claimed = await outbox.claim_due(START, ["wecom"], owner="test", limit=SENT_BEFORE)
    await outbox.mark_sent_many([message.id for message in claimed], START)
    await outbox.enqueue_many([outbox.NewMessage("wecom", "zhang_t", {"type": "text",
                                                                      "text": "请填写开始日期"},
                                                 "waiting")], START, "turn-waiting")

    sql, values = outbox.claim_statement(START, ["wecom"], owner="test", limit=100, per_user=10,
                                         postgres=connections.get("default").capabilities
                                         .dialect == "postgres")
    plan = await _plan(sql, values)
    if connections.get("default").capabilities.dialect == "postgres":
        assert "outbox_unfinished" in plan
    else:   # SQLite updates its indexes in place: the status index holds no old versions
        assert "SEARCH outbox USING INDEX" in plan and "SCAN outbox" not in plan
    assert [m.user_id for m in await outbox.claim_due(START, ["wecom"], owner="test")] == [
        "zhang_t"]
