"""`campusbot worker` beside a server with `[server] run_turns = false`, as real processes: the
server answers WeCom, the worker answers the teacher, and messages wait safely while no worker
runs, also after one was killed with kill -9."""

from __future__ import annotations

import asyncio
import signal

from tests.bot.channels.wecom.conftest import AES_KEY, TOKEN
from tests.conftest import wipe_database
from tests.fakes.wecom import FakeWecom
from tests.fakes.wecom_callbacks import WecomCallbacks
from tests.processes import Processes, processes, wecom_env

TEACHER = "zhang_t"


async def replies(fake: FakeWecom, user: str, count: int, seconds: float = 20) -> list[str]:
    for _ in range(int(seconds / 0.05)):
        if len(fake.read(user)) >= count:
            break
        await asyncio.sleep(0.05)
    return fake.read(user)


async def test_messages_wait_for_a_worker_and_survive_one_killed(
        live_wecom: FakeWecom, database_url: str) -> None:
    fake = live_wecom
    await wipe_database(database_url)
    with processes(database_url, {**wecom_env(fake.url),  # type: ignore[attr-defined]
                                  "CAMPUSBOT_SERVER__RUN_TURNS": "false"}) as started:
        url = await started.serve()
        callbacks = WecomCallbacks(fake, f"{url}/wecom/callback", token=TOKEN,
                                   encoding_aes_key=AES_KEY)
        try:
            assert (await callbacks.text(TEACHER, "我要请假")).statuses == [200]
            await asyncio.sleep(0.5)
            assert fake.read(TEACHER) == []              # stored, waiting for a worker
            first = started.worker()
            assert "请假类型" in "".join(await replies(fake, TEACHER, 2))

            first.send_signal(signal.SIGKILL)
            first.wait(timeout=10)
            assert (await callbacks.text(TEACHER, "病假")).statuses == [200]
            await asyncio.sleep(0.5)
            assert not any("开始日期" in text for text in fake.read(TEACHER))
            started.worker()
            assert "开始日期" in (await replies(fake, TEACHER, 3))[-1]
        finally:
            await callbacks.close()
        assert_clean_exit(started)


def assert_clean_exit(started: Processes) -> None:
    """The live worker and the server stop on SIGTERM without an error."""
    started.stop_all()
    for process in started.running:
        if process.returncode != -signal.SIGKILL:
            assert process.returncode == 0, process.args
