"""PostgreSQL helpers shared by the benchmarks."""

from __future__ import annotations

import asyncpg  # type: ignore[import-untyped]


def pg_dsn(url: str) -> str:
    """asyncpg's DSN for a campusbot database URL (postgres://…; campusbot's own options
    such as `?maxsize=` left out)."""
    return "postgresql://" + url.split("://", 1)[1].split("?", 1)[0]


async def empty_database(url: str) -> None:
    """Drop every table: a run measures its own rows, not what earlier runs left (a reused
    database had the members' last hour of messages growing from run to run, and the
    deliveries reading it slowing down with it)."""
    connection = await asyncpg.connect(pg_dsn(url))
    try:
        await connection.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    finally:
        await connection.close()
