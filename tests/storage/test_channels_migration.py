"""Migration 0005: a WeCom card's response codes leave the shared task table for its row in
channel_cards, and people synced from WeCom get their account linked — on a database that
was in use before."""

from __future__ import annotations

from tortoise import Tortoise, connections
from tortoise.migrations.api import migrate

from storage.db import close_db, init_db, tortoise_config
from storage.models import ApprovalTask, ChannelCard, Identity, Person, PersonContact
from tests.storage.test_db import new_database  # noqa: F401  (the fixture)

BEFORE = [
    "INSERT INTO users (id, name, roles, roles_text, title, active, source, updated_at) "
    "VALUES ('li_dean', '李院长', '[]', ',', '', {true}, 'file', '2026-11-26 01:00:00'), "
    "('W1001', '周老师', '[]', ',', '', {true}, 'wecom', '2026-11-26 01:00:00')",
    "INSERT INTO applications (flow_id, flow_version, applicant_id, state, status, form, meta, "
    "channel, created_at, updated_at, version) VALUES ('staff_leave', 1, 'W1001', 'stage_head', "
    "'pending', '{{}}', '{{}}', 'wecom', '2026-11-26 01:00:00', '2026-11-26 01:00:00', 0)",
    "INSERT INTO approval_tasks (application_id, stage_id, approver_id, status, card_key, "
    "comment, response_code, created_at) VALUES "
    "(1, 'head', 'li_dean', 'pending', 'a1-0f3c', '', 'code-send code-tap', "
    "'2026-11-26 01:00:00'), "
    "(1, 'head', 'hr_chen', 'pending', 'a1-77aa', '', NULL, '2026-11-26 01:00:00')",
]


async def test_codes_and_wecom_people_move_to_their_tables(
        new_database: str) -> None:  # noqa: F811
    config = tortoise_config(new_database)
    await migrate(config=config, target="models.0001_initial")
    await Tortoise.close_connections()
    await Tortoise.init(config=config)
    client = connections.get("default")
    true = "TRUE" if client.capabilities.dialect == "postgres" else "1"
    for statement in BEFORE:
        await client.execute_script(statement.format(true=true))
    await close_db()

    await init_db(new_database)
    try:
        card = await ChannelCard.get(channel="wecom", external_id="a1-0f3c")
        assert (card.card_key, card.user_id, card.external_user, card.state) == (
            "a1-0f3c", "li_dean", "li_dean", "code-send code-tap")
        assert card.kind == "card" and card.data == {} and card.sent_at is not None
        # a card that never got a code needs no row: its taps still name the card key
        assert not await ChannelCard.exists(card_key="a1-77aa")
        assert await ApprovalTask.filter(card_key="a1-77aa").exists()
        assert [(i.channel, i.external_id, i.person_id)
                for i in await Identity.all()] == [("wecom", "W1001", "W1001")]
        assert await Person.filter(id="W1001").exists()
        assert await PersonContact.all().count() == 0
    finally:
        await close_db()
