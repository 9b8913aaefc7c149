"""Shared fixtures: a real database (SQLite per test, or PostgreSQL when
CAMPUSBOT_TEST_DATABASE_URL is set), a fixed clock, the real app and a simulator client."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiohttp.test_utils import TestClient, TestServer
from tortoise import Tortoise, connections

from bot.app import create_app
from bot.clock import FixedClock
from bot.config import Settings, build_settings

needs_dot = pytest.mark.skipif(shutil.which("dot") is None,
                               reason="Graphviz `dot` is not installed: cannot draw flowcharts")

SHANGHAI = ZoneInfo("Asia/Shanghai")
# Thursday 26 November 2026, 09:00 in Shanghai
START = datetime(2026, 11, 26, 9, 0, tzinfo=SHANGHAI)
PG_URL_ENV = "CAMPUSBOT_TEST_DATABASE_URL"


def test_database_url(tmp_path: Path) -> str:
    return os.environ.get(PG_URL_ENV) or f"sqlite://{tmp_path}/campusbot.sqlite3"


async def wipe_database(url: str) -> None:
    """PostgreSQL is shared between tests: empty every table before a test uses it."""
    if not url.startswith(("postgres", "asyncpg")):
        return
    from storage.db import init_db

    await init_db(url)
    tables = ["outbox", "inbound_events", "audit_log", "reminders", "bookings", "approval_tasks",
              "delegations", "carbon_copies",
              "applications", "conversations", "users", "departments", "api_tokens",
              "assignment_issues", "directory_entries", "directory_state", "flow_definitions",
              "identities", "channel_cards", "person_contacts"]
    await connections.get("default").execute_script(
        "TRUNCATE " + ", ".join(tables) + " RESTART IDENTITY CASCADE")
    await Tortoise.close_connections()


@pytest.fixture(scope="session", autouse=True)
def fresh_postgres_schema() -> None:
    """The PostgreSQL test database outlives a run (CI keeps it between runs, with whatever
    schema an older checkout left): start every run from an empty schema, so the run migrates
    from nothing. Upgrades from older schemas are tested on scratch databases
    (tests/storage/test_upgrade.py)."""
    url = os.environ.get(PG_URL_ENV)
    if not url:
        return
    import asyncio

    import asyncpg

    async def reset() -> None:
        connection = await asyncpg.connect(url.replace("postgres://", "postgresql://", 1))
        try:
            await connection.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
        finally:
            await connection.close()

    asyncio.run(reset())


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated once per run; each test starts from a copy (saves the migration
    time of every app start-up)."""
    import asyncio

    from storage.db import close_db, init_db

    path = tmp_path_factory.mktemp("template") / "campusbot.sqlite3"

    async def migrate() -> None:
        await init_db(f"sqlite://{path}")
        await close_db()

    asyncio.run(migrate())
    return path


@pytest.fixture
def database_url(tmp_path: Path, migrated_sqlite: Path) -> str:
    if os.environ.get(PG_URL_ENV):
        return os.environ[PG_URL_ENV]
    shutil.copy(migrated_sqlite, tmp_path / "campusbot.sqlite3")
    return test_database_url(tmp_path)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(START)


@pytest.fixture
def settings_factory(database_url: str) -> Callable[..., Settings]:
    def make(**sections: dict[str, Any]) -> Settings:
        document: dict[str, Any] = {"database": {"url": database_url}}
        for name, values in sections.items():
            document.setdefault(name, {}).update(values)
        return build_settings(document, {})
    return make


@pytest.fixture
def settings(settings_factory: Callable[..., Settings]) -> Settings:
    return settings_factory()


class Sim:
    """Talks to the running app through the simulator's JSON API, as a script would."""

    def __init__(self, client: TestClient, clock: FixedClock) -> None:
        self.client = client
        self.clock = clock

    async def say(self, user: str, text: str) -> list[dict[str, Any]]:
        response = await self.client.post("/sim/api/messages", json={"user": user, "text": text})
        assert response.status == 200, await response.text()
        return (await response.json())["replies"]

    async def text(self, user: str, text: str) -> str:
        """What the bot answered, as one string (cards shown by their title)."""
        return render(await self.say(user, text))

    async def send_file(self, user: str, name: str) -> str:
        response = await self.client.post("/sim/api/messages",
                                          json={"user": user, "file": {"name": name}})
        return render((await response.json())["replies"])

    async def tap(self, user: str, card: str, action: str) -> list[dict[str, Any]]:
        response = await self.client.post("/sim/api/actions",
                                          json={"user": user, "card": card, "action": action})
        assert response.status == 200, await response.text()
        return (await response.json())["replies"]

    async def inbox(self, user: str) -> list[dict[str, Any]]:
        response = await self.client.get("/sim/api/inbox", params={"user": user})
        return (await response.json())["replies"]

    async def card_for(self, user: str) -> dict[str, Any]:
        cards = [m for m in await self.inbox(user) if m["type"] == "card"]
        assert cards, f"no card reached {user}"
        return cards[-1]

    def advance(self, **kwargs: float) -> None:
        self.clock.advance(timedelta(**kwargs))


def render(replies: list[dict[str, Any]]) -> str:
    parts = []
    for reply in replies:
        if reply["type"] in ("text", "choices"):
            parts.append(reply["text"])
        elif reply["type"] == "card":
            parts.append(f"[卡片] {reply['title']}")
        elif reply["type"] == "card_update":
            parts.append(f"[卡片更新] {reply['status']}")
        elif reply["type"] == "image":
            parts.append(f"[图片] {reply['caption']}")
    return "\n".join(parts)


@pytest.fixture
async def client(settings: Settings, clock: FixedClock,
                 database_url: str) -> AsyncIterator[TestClient]:
    await wipe_database(database_url)
    app = create_app(settings, clock=clock, background=False)
    async with TestClient(TestServer(app)) as test_client:
        yield test_client


@pytest.fixture
def sim(client: TestClient, clock: FixedClock) -> Sim:
    return Sim(client, clock)


#: the made-up 青岚师范学院's own directory, written from the README by an outsider, gaps and all
QINGLAN = Path(__file__).parent / "data" / "qinglan_directory.toml"


@pytest.fixture
async def qinglan_sim(settings_factory: Callable[..., Settings], clock: FixedClock,
                      database_url: str, tmp_path: Path) -> AsyncIterator[tuple[Sim, Path]]:
    """A running server on QINGLAN (a copy, to edit); its IT office head T2001 is the admin."""
    live = tmp_path / "school.toml"
    live.write_text(QINGLAN.read_text(encoding="utf-8"), encoding="utf-8")
    await wipe_database(database_url)
    app = create_app(settings_factory(directory={"file": str(live)},
                                      admin={"users": ["T2001"]}), clock=clock,
                     background=False)
    async with TestClient(TestServer(app)) as client:
        yield Sim(client, clock), live
