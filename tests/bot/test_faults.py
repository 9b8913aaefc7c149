"""Faults under load, at a small scale: teachers request leave through the WeCom protocol while
their department head taps 同意, and something fails meanwhile — a server or a worker killed
with kill -9, the database connections cut (PostgreSQL restarting), the WeCom API failing 30 %
of calls with timeouts and revoked tokens, or answering slowly. Every teacher must receive
exactly what a fault-free dialog brings, in the same order: nothing lost, nothing doubled.
(benchmarks/load.py runs the same at scale, with figures.)"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from importlib import resources
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot import keys
from bot.app import create_app
from bot.clock import SystemClock
from bot.config import Settings
from storage import outbox
from storage.db import close_db, init_db
from storage.errors import DATABASE_UNAVAILABLE
from storage.models import InboundEvent
from tests.bot.channels.wecom.conftest import AES_KEY, TOKEN, wecom_section
from tests.conftest import PG_URL_ENV, wipe_database
from tests.fakes.wecom import Chaos, FakeWecom
from tests.fakes.wecom_callbacks import WecomCallbacks
from tests.fakes.wecom_users import (
    Campus,
    Pacing,
    Run,
    calibrate,
    compare,
    received_by,
    run_campus,
)
from tests.processes import Processes, processes, wecom_env

DEMO_DIRECTORY = resources.files("storage").joinpath("demo_directory.toml").read_text("utf-8")
# A reply may take over a minute under 30 % API failures: a message failing ten times in a row
# (each try may also need a new token, which can fail too) is retried after 60 s by then
# (bot/sender.RETRY_DELAYS). The figures that matter — lost, doubled, order — do not depend on it.
PACING = Pacing(think=(0.05, 0.3), start_within=1.0, reply_timeout=150.0,
                tap_think=(0.05, 0.3), settle=1.0)


@pytest.fixture
def campus(live_wecom: FakeWecom) -> Campus:
    """Five teachers of one college (the first one calibrates) and their dean."""
    campus = Campus.generate(departments=1, teachers_per_department=5)
    live_wecom.members.update(campus.members())
    return campus


@pytest.fixture
def directory_file(tmp_path: Path, campus: Campus) -> str:
    path = tmp_path / "directory.toml"
    path.write_text(campus.directory_toml(DEMO_DIRECTORY), encoding="utf-8")
    return str(path)


async def drained() -> bool:
    """Every stored message handled and every outbox message sent (or given up)."""
    with contextlib.suppress(*DATABASE_UNAVAILABLE):
        return not await InboundEvent.filter(status="received").exists() and (
            await outbox.pending_count() == 0)
    return False


async def calibrated(callbacks: WecomCallbacks, fake: FakeWecom,
                     campus: Campus) -> tuple[Campus, list[int], list[str]]:
    """One teacher's dialog without faults: the reply counts per step and what the others must
    receive; the campus without that teacher."""
    first = campus.teachers[0]
    counts = await calibrate(callbacks, fake, first, campus.head_of(first), quiet=0.3)
    reference = received_by(fake, first)
    rest = Campus([replace(d, teachers=tuple(t for t in d.teachers if t[0] != first))
                   for d in campus.departments])
    return rest, counts, reference


def assert_as_without_faults(run: Run, campus: Campus, reference: list[str],
                             fake: FakeWecom) -> None:
    assert not run.stuck, run.stuck
    assert run.completed == set(campus.teachers)
    difference = compare(dict.fromkeys(campus.teachers, reference),
                         {t: run.received[t] for t in campus.teachers})
    assert difference.clean, (difference, {
        user: run.received[user] for user in {*difference.lost_users,
                                              *difference.doubled_users,
                                              *difference.out_of_order_users}}, reference)
    for department in campus.departments:           # each card once, each decided once
        got = received_by(fake, department.head)
        for _, name in department.teachers:
            title = f"{name}的教职工请销假审批"
            assert got.count(f"[卡片] {title}") == 1, got
            assert sum(item.startswith(f"[卡片更新] {title}") for item in got) == 1, got


# ---- in this process: the API and the database fail -------------------------------------------

@contextlib.asynccontextmanager
async def live_bot(settings: Settings) -> AsyncIterator[tuple[web.Application, str]]:
    """The whole bot on the real clock, with its outbox sender and jobs running."""
    app = create_app(settings, clock=SystemClock(), background=True)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        yield app, str(client.make_url("/wecom/callback"))


@pytest.fixture
def live_settings(settings_factory: Callable[..., Settings], live_wecom: FakeWecom,
                  directory_file: str) -> Settings:
    return settings_factory(wecom=wecom_section(live_wecom.url),  # type: ignore[attr-defined]
                            simulator={"enabled": False}, directory={"file": directory_file})


async def run_with(settings: Settings, fake: FakeWecom, campus: Campus, database_url: str,
                   fault: Callable[[web.Application], contextlib.AbstractAsyncContextManager[None]]
                   ) -> None:
    await wipe_database(database_url)
    async with live_bot(settings) as (app, url):
        channel = app[keys.SENDER].channels["wecom"]
        channel.client.timeout = aiohttp.ClientTimeout(total=0.5)   # type: ignore[attr-defined]
        callbacks = WecomCallbacks(fake, url, token=TOKEN, encoding_aes_key=AES_KEY)
        try:
            rest, counts, reference = await calibrated(callbacks, fake, campus)
            async with fault(app):
                run = await run_campus(rest, callbacks, fake, counts, PACING, drained=drained)
        finally:
            await callbacks.close()
    assert_as_without_faults(run, rest, reference, fake)


async def test_the_api_failing_30_percent_with_timeouts_and_revoked_tokens(
        live_settings: Settings, live_wecom: FakeWecom, campus: Campus,
        database_url: str) -> None:
    @contextlib.asynccontextmanager
    async def chaos(app: web.Application) -> AsyncIterator[None]:
        live_wecom.set_chaos(Chaos(rate=0.3, hang=1.0, revoke_tokens_every=4.0, seed=9))
        yield
        live_wecom.set_chaos(Chaos())
    await run_with(live_settings, live_wecom, campus, database_url, chaos)
    counts = live_wecom.chaos_counts
    assert counts.get("timeout") and counts.get("lost_answer") and counts.get("busy")
    assert counts.get("revoked_tokens")
    assert any(code == 42001 for _, code in live_wecom.calls)   # and the bot recovered


async def test_a_slow_api(live_settings: Settings, live_wecom: FakeWecom, campus: Campus,
                          database_url: str) -> None:
    @contextlib.asynccontextmanager
    async def slow(app: web.Application) -> AsyncIterator[None]:
        live_wecom.set_chaos(Chaos(latency=0.4))     # every answer takes 0.4 s (scaled down)
        yield
        live_wecom.set_chaos(Chaos())
    await run_with(live_settings, live_wecom, campus, database_url, slow)


@pytest.mark.skipif(not os.environ.get(PG_URL_ENV),
                    reason="cutting database connections needs PostgreSQL")
async def test_the_database_connections_cut_while_users_talk(
        live_settings: Settings, live_wecom: FakeWecom, campus: Campus,
        database_url: str) -> None:
    import asyncpg  # type: ignore[import-untyped]

    cuts = []

    @contextlib.asynccontextmanager
    async def restarting_database(app: web.Application) -> AsyncIterator[None]:
        async def cut_every_second() -> None:
            admin = await asyncpg.connect(database_url)
            try:
                while True:
                    await asyncio.sleep(0.7)
                    cuts.append(await admin.fetchval(
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND pid <> pg_backend_pid()"))
            finally:
                await admin.close()
        cutting = asyncio.create_task(cut_every_second())
        try:
            yield
        finally:
            cutting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await cutting
    await run_with(live_settings, live_wecom, campus, database_url, restarting_database)
    assert len(cuts) >= 3 and sum(cuts) >= 3     # connections were really cut, several times


# ---- real processes killed with kill -9 -------------------------------------------------------

async def run_processes(fake: FakeWecom, campus: Campus, database_url: str,
                        directory_file: str, start: Callable[[Processes], object],
                        kill: Callable[[Processes, WecomCallbacks], object]) -> None:
    await wipe_database(database_url)
    env = {**wecom_env(fake.url),  # type: ignore[attr-defined]
           "CAMPUSBOT_DIRECTORY__FILE": directory_file}
    with processes(database_url, env) as started:
        urls = await start(started)  # type: ignore[misc]
        callbacks = WecomCallbacks(fake, f"{urls[0]}/wecom/callback", token=TOKEN,
                                   encoding_aes_key=AES_KEY)
        try:
            rest, counts, reference = await calibrated(callbacks, fake, campus)
            callbacks.urls = [f"{url}/wecom/callback" for url in urls]
            await init_db(database_url)      # this process reads how much is left to send
            running = asyncio.create_task(run_campus(rest, callbacks, fake, counts, PACING,
                                                     drained=drained))
            await asyncio.sleep(1.5)                      # mid-burst
            await kill(started, callbacks)  # type: ignore[misc]
            run = await running
        finally:
            await callbacks.close()
            await close_db()
    assert_as_without_faults(run, rest, reference, fake)


async def test_a_server_killed_mid_burst(live_wecom: FakeWecom, campus: Campus,
                                         database_url: str, directory_file: str) -> None:
    async def start(started: Processes) -> list[str]:
        return [await started.serve(), await started.serve()]

    async def kill(started: Processes, callbacks: WecomCallbacks) -> None:
        victim = started.running[0]
        victim.send_signal(signal.SIGKILL)            # WeCom now reaches only the other one
        victim.wait(timeout=10)
        await asyncio.sleep(1.0)
        restarted = await started.serve()             # as systemd would restart it
        assert callbacks.urls is not None
        callbacks.urls[0] = f"{restarted}/wecom/callback"
    await run_processes(live_wecom, campus, database_url, directory_file, start, kill)


async def test_a_worker_killed_mid_burst(live_wecom: FakeWecom, campus: Campus,
                                         database_url: str, directory_file: str) -> None:
    async def start(started: Processes) -> list[str]:
        url = await started.serve(CAMPUSBOT_SERVER__RUN_TURNS="false")
        started.worker()
        started.worker()
        return [url]

    async def kill(started: Processes, callbacks: WecomCallbacks) -> None:
        victim = started.running[1]
        victim.send_signal(signal.SIGKILL)            # its turns and its claims die with it
        victim.wait(timeout=10)
        await asyncio.sleep(1.0)
        started.worker()
    await run_processes(live_wecom, campus, database_url, directory_file, start, kill)
