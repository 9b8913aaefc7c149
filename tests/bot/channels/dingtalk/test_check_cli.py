"""`campusbot dingtalk check` asks the (fake) DingTalk whether the settings work."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp import web

from bot.cli import main
from bot.clock import FixedClock
from tests.bot.channels.dingtalk.conftest import (
    CLIENT_ID,
    CLIENT_SECRET,
    ROBOT_CODE,
    TEMPLATE_ID,
)
from tests.conftest import START
from tests.fakes.dingtalk import FakeDingtalk


@pytest.fixture
def fake_url() -> Iterator[str]:
    """The fake DingTalk in a thread of its own: the command runs its own event loop."""
    loop = asyncio.new_event_loop()
    started = threading.Event()
    holder: dict[str, object] = {}

    async def serve() -> None:
        fake = FakeDingtalk(FixedClock(START), client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
                            robot_code=ROBOT_CODE, template_id=TEMPLATE_ID)
        runner = web.AppRunner(fake.app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        fake.url = f"http://127.0.0.1:{port}"
        holder["url"], holder["runner"] = fake.url, runner
        started.set()

    thread = threading.Thread(target=lambda: (loop.run_until_complete(serve()),
                                              loop.run_forever()), daemon=True)
    thread.start()
    started.wait(10)
    yield str(holder["url"])
    runner = holder["runner"]
    asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)  # type: ignore[attr-defined]
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)
    loop.close()


def config(tmp_path: Path, database_url: str, url: str, **dingtalk: object) -> str:
    section = {"enabled": True, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
               "robot_code": ROBOT_CODE, "card_template_id": TEMPLATE_ID, "api_base": url,
               "oapi_base": url, **dingtalk}
    lines = ["[database]", f"url = {json.dumps(database_url)}", "[simulator]",
             "enabled = false", "[dingtalk]"]
    lines += [f"{k} = {json.dumps(v)}" for k, v in section.items()]
    path = tmp_path / "config.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def test_good_settings_pass_every_check(tmp_path: Path, database_url: str, fake_url: str,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dingtalk", "check", "--config", config(tmp_path, database_url,
                                                         fake_url)]) == 0
    out = capsys.readouterr().out
    assert out.count("✓") == 4 and "卡片模板" in out and "Stream" in out


def test_a_wrong_secret_is_named(tmp_path: Path, database_url: str, fake_url: str,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    path = config(tmp_path, database_url, fake_url, client_secret="wrong")
    assert main(["dingtalk", "check", "--config", path]) == 1
    out = capsys.readouterr().out
    assert "✗ 应用凭据" in out and "wrong" not in out


def test_an_unknown_card_template_is_named(tmp_path: Path, database_url: str, fake_url: str,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    path = config(tmp_path, database_url, fake_url, card_template_id="nope.schema")
    assert main(["dingtalk", "check", "--config", path]) == 1
    out = capsys.readouterr().out
    assert "✗ 卡片模板 nope.schema" in out and "✓ 应用凭据" in out
