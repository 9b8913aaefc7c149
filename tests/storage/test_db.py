"""Schema set-up: servers and workers started together on a new database all come up."""

from __future__ import annotations

import asyncio
import os
import secrets
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.conftest import PG_URL_ENV

START_ONE = """
import asyncio, sys
from storage.db import close_db, init_db, ping

async def main() -> None:
    await init_db(sys.argv[1])
    assert await ping()
    await close_db()

asyncio.run(main())
"""


@pytest.fixture
async def new_database(tmp_path: Path) -> AsyncIterator[str]:
    """An empty database: a new SQLite file, or a new PostgreSQL database in the PG pass."""
    base = os.environ.get(PG_URL_ENV)
    if not base:
        yield f"sqlite://{tmp_path}/new.sqlite3"
        return
    import asyncpg  # type: ignore[import-untyped]

    name = f"campusbot_new_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(base.replace("postgres://", "postgresql://", 1))
    await admin.execute(f"CREATE DATABASE {name}")
    try:
        yield base.rsplit("/", 1)[0] + f"/{name}"
    finally:
        await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await admin.close()


async def test_processes_started_together_on_a_new_database_all_start(
        new_database: str) -> None:
    processes = [await asyncio.create_subprocess_exec(
        sys.executable, "-c", START_ONE, new_database, stderr=asyncio.subprocess.PIPE)
        for _ in range(4)]
    try:
        results = await asyncio.wait_for(
            asyncio.gather(*(p.communicate() for p in processes)), 60)
    except TimeoutError:
        for process in processes:
            if process.returncode is None:
                process.kill()
        raise AssertionError("start-up hung on a new database") from None
    failures = [err.decode() for p, (_, err) in zip(processes, results, strict=True)
                if p.returncode != 0]
    assert failures == []


def test_the_postgresql_pool_size_is_ten_unless_the_url_says_otherwise() -> None:
    from storage.db import tortoise_config

    def pool(url: str) -> int:
        return int(tortoise_config(url)["connections"]["default"]["credentials"]["maxsize"])
    assert pool("postgres://campusbot@db:5432/campusbot") == 10
    assert pool("postgres://campusbot@db:5432/campusbot?maxsize=25") == 25   # docs/operations.md
