"""Upgrading a school's database: rows written under the first release's schema (0001) survive
every later migration, and what was waiting goes on (docs/operations.md, "upgrade")."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from tortoise import Tortoise, connections
from tortoise.migrations.api import migrate

from storage.db import close_db, tortoise_config
from tests.conftest import PG_URL_ENV

NOW = "2026-11-26 01:00:00+00:00"

# rows as the first release wrote them: a leave waiting for its first approver (with the WeCom
# response code of its card), one being filled in, their audit and a sent message
FIRST_RELEASE_ROWS = [
    "INSERT INTO applications (id, flow_id, flow_version, applicant_id, state, status, form, meta, "
    "channel, created_at, updated_at, submitted_at, version) VALUES "
    "(1, 'staff_leave', 1, 'zhang_t', 'stage_dept_head', 'pending', "
    "'{\"leave_type\": \"病假\", \"days\": 5}', '{}', 'wecom', '" + NOW + "', '" + NOW + "', '"
    + NOW + "', 3)",
    "INSERT INTO applications (id, flow_id, flow_version, applicant_id, state, status, form, meta, "
    "channel, created_at, updated_at, version) VALUES "
    "(2, 'staff_leave', 1, 'wang_t', 'ask_days', 'filling', '{\"leave_type\": \"事假\"}', '{}', "
    "'wecom', '" + NOW + "', '" + NOW + "', 2)",
    "INSERT INTO approval_tasks (id, application_id, stage_id, approver_id, status, card_key, "
    "comment, response_code, created_at) VALUES "
    "(1, 1, 'dept_head', 'li_dean', 'pending', 'app1-dept_head-1', '', 'code-of-the-card', '"
    + NOW + "')",
    "INSERT INTO audit_log (id, application_id, at, actor_id, action, from_state, to_state, "
    "detail) VALUES (1, 1, '" + NOW + "', 'zhang_t', 'submit', 'confirm', 'stage_dept_head', "
    "'{}')",
    "INSERT INTO outbox (id, channel, user_id, payload, status, attempts, next_try_at, last_error, "
    "created_at, sent_at) VALUES (1, 'wecom', 'zhang_t', "
    "'{\"type\": \"text\", \"text\": \"已提交\"}', 'sent', 1, "
    "'" + NOW + "', '', '" + NOW + "', '" + NOW + "')",
    "INSERT INTO conversations (user_id, active_application_id, pending, context, last_channel, "
    "updated_at, version) VALUES ('wang_t', 2, '{}', '{}', 'wecom', '" + NOW + "', 5)",
]


@pytest.fixture
async def fresh_url(tmp_path: Path) -> AsyncIterator[str]:
    """A database nobody has migrated yet: a new SQLite file, or a scratch PostgreSQL database
    next to the test one."""
    shared = os.environ.get(PG_URL_ENV)
    if not shared:
        yield f"sqlite://{tmp_path}/old.sqlite3"
        return
    import asyncpg  # type: ignore[import-untyped]

    base, _, _ = shared.rpartition("/")
    name = f"campusbot_upgrade_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(shared.replace("postgres://", "postgresql://", 1))
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{base}/{name}"
    finally:
        await close_db()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def test_a_first_release_database_upgrades_with_its_rows(fresh_url: str) -> None:
    config = tortoise_config(fresh_url)
    await migrate(config=config, target="models.0001_initial")
    await Tortoise.close_connections()
    await Tortoise.init(config=config)
    connection = connections.get("default")
    for statement in FIRST_RELEASE_ROWS:
        await connection.execute_query(statement)
    await Tortoise.close_connections()

    await migrate(config=config)           # every migration since, as `campusbot serve` runs them
    await Tortoise.close_connections()
    await Tortoise.init(config=config)
    connection = connections.get("default")
    _, tasks = await connection.execute_query(
        "SELECT approver_id, status, slot, position, round FROM approval_tasks")
    assert [dict(t) for t in tasks] == [{"approver_id": "li_dean", "status": "pending",
                                         "slot": 0, "position": 0, "round": 0}]
    _, audit = await connection.execute_query("SELECT action, channel, comment FROM audit_log")
    assert [dict(a) for a in audit] == [{"action": "submit", "channel": "", "comment": ""}]
    _, applications = await connection.execute_query(
        "SELECT id, state, status FROM applications ORDER BY id")
    assert [tuple(dict(a).values()) for a in applications] == [
        (1, "stage_dept_head", "pending"), (2, "ask_days", "filling")]
    # the approver's card can still be updated: its WeCom response code moved with it
    _, cards = await connection.execute_query(
        "SELECT channel, card_key, user_id, state FROM channel_cards")
    assert [dict(c) for c in cards] == [{"channel": "wecom", "card_key": "app1-dept_head-1",
                                         "user_id": "li_dean", "state": "code-of-the-card"}]
    await close_db()
