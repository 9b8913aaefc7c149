"""Database set-up: Tortoise configuration from a URL, schema migration, health check."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
from tortoise import Tortoise, connections
from tortoise.backends.base.config_generator import expand_db_url
from tortoise.migrations.api import migrate

log = logging.getLogger("campusbot.storage")

MODELS = ["storage.models"]
MIGRATIONS = "storage.migrations"
#: connections per process on PostgreSQL (asyncpg's pool; Tortoise's default is 5)
POSTGRES_POOL_SIZE = 10


def tortoise_config(url: str) -> dict[str, Any]:
    connection = expand_db_url(url)
    if connection["engine"].endswith("sqlite"):
        credentials = connection["credentials"]
        path = credentials.get("file_path", "")
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # wait for another process's write instead of failing at once
        credentials.setdefault("busy_timeout", 5000)
    elif connection["engine"].endswith("asyncpg"):
        credentials = connection["credentials"]
        # turns, the callbacks' group commit and the outbox lanes each hold a connection at
        # once; `?maxsize=N` in the URL sets another size
        credentials.setdefault("maxsize", POSTGRES_POOL_SIZE)
        credentials["connection_class"] = _PooledConnection
    return {
        "connections": {"default": connection},
        "apps": {"models": {"models": MODELS, "default_connection": "default",
                            "migrations": MIGRATIONS}},
        "use_tz": True,
        "timezone": "UTC",
    }


class _PooledConnection(asyncpg.Connection):  # type: ignore[misc]
    """A pooled connection handed back without asyncpg's reset statement (`RESET ALL`,
    `UNLISTEN *`, `CLOSE ALL`, unlocking advisory locks): one round trip on every release,
    a query outside a transaction included — a tenth of the server's CPU under load
    (docs/benchmarks.md). campusbot sets no session state: no SET, LISTEN, cursor or
    session-level advisory lock (only `pg_advisory_xact_lock`, released at commit). An open
    transaction is still rolled back on release, as before."""

    def get_reset_query(self) -> str:
        return ""


def is_postgres() -> bool:
    return connections.get("default").capabilities.dialect == "postgres"


async def init_db(url: str, *, setup: Callable[[], Awaitable[None]] | None = None) -> None:
    """Connect and bring the schema up to date (creating it on a new database), then run
    `setup` (e.g. loading the directory file) — both under a lock shared by every process on
    this database, so processes started together neither migrate nor load at the same time."""
    config = tortoise_config(url)
    async with _start_up_lock(config["connections"]["default"]):
        await migrate(config=config)
        await Tortoise.close_connections()
        await Tortoise.init(config=config)
        if setup is not None:
            await setup()
    log.info("database ready (%s)", connections.get("default").capabilities.dialect)


@contextlib.asynccontextmanager
async def _start_up_lock(connection: dict[str, Any]) -> AsyncIterator[None]:
    """One process starts at a time: servers and workers started together on a new database
    would otherwise all try to create the same tables (all but one fail), and on SQLite their
    directory loads would collide ("database is locked")."""
    credentials = connection["credentials"]
    if connection["engine"].endswith("asyncpg"):
        session = await asyncpg.connect(
            host=credentials.get("host"), port=credentials.get("port"),
            user=credentials.get("user"), password=credentials.get("password"),
            database=credentials.get("database"))
        try:
            await session.execute("SELECT pg_advisory_lock(hashtext('campusbot-start-up'))")
            yield
        finally:
            await session.close()  # ends the session, and with it the lock
        return
    path = credentials.get("file_path", "")
    if not path or path == ":memory:":
        yield
        return
    try:
        import fcntl
    except ImportError:  # Windows: no advisory file locks; start one process first there
        yield
        return
    descriptor = os.open(f"{path}.start-up-lock", os.O_CREAT | os.O_RDWR, 0o600)
    try:
        await asyncio.to_thread(fcntl.flock, descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)  # closing releases the lock


async def close_db() -> None:
    await Tortoise.close_connections()


async def ping() -> bool:
    try:
        await connections.get("default").execute_query("SELECT 1")
    except Exception:  # any failure means "not healthy"; the caller reports it
        log.warning("database ping failed", exc_info=True)
        return False
    return True
