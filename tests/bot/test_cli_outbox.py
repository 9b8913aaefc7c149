"""`campusbot outbox dead` lists the messages given up; `retry` puts them back in the queue."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.cli import main
from storage.db import close_db, init_db
from storage.models import OutboxMessage
from tests.conftest import START, wipe_database


@pytest.fixture
def config(tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    path = tmp_path / "config.toml"
    path.write_text("", encoding="utf-8")
    monkeypatch.setenv("CAMPUSBOT_DATABASE__URL", database_url)
    return str(path)


def prepare(database_url: str) -> int:
    async def fill() -> int:
        await wipe_database(database_url)
        await init_db(database_url)
        try:
            await OutboxMessage.create(channel="wecom", user_id="zhang_t",
                                       payload={"type": "text", "text": "您的申请已提交"},
                                       status="sent", next_try_at=START, created_at=START)
            dead = await OutboxMessage.create(
                channel="wecom", user_id="left_t", status="failed", attempts=1,
                payload={"type": "card", "title": "张老师的教职工请销假审批"},
                next_try_at=START, created_at=START, failed_at=START,
                last_error="WeCom message/send: errcode 81013 user & party & tag all invalid")
            return dead.id
        finally:
            await close_db()
    return asyncio.run(fill())


def test_dead_letters_are_listed_and_sent_again(config: str, database_url: str,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    dead = prepare(database_url)
    assert main(["outbox", "dead", "--config", config]) == 0
    listed = capsys.readouterr().out
    assert f"#{dead}" in listed and "left_t" in listed and "81013" in listed
    assert "卡片「张老师的教职工请销假审批」" in listed and "11-26 09:00" in listed
    assert "zhang_t" not in listed                              # sent messages are not dead
    assert main(["outbox", "retry", str(dead), "--config", config]) == 0
    assert main(["outbox", "dead", "--config", config]) == 0
    assert "没有发送失败的消息" in capsys.readouterr().out
    assert main(["outbox", "retry", "999999", "--config", config]) == 1
