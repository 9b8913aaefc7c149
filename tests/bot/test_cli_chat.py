"""`campusbot chat --as USER`: the simulator in a terminal."""

from __future__ import annotations

import asyncio
import sys

from aiohttp.test_utils import TestClient


async def chat(url: str, user: str, lines: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "chat", "--as", user, "--url", url,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(lines.encode()), timeout=30)
    return process.returncode or 0, out.decode(), err.decode()


async def test_a_teacher_chats_in_the_terminal(client: TestClient) -> None:
    url = str(client.make_url("")).rstrip("/")
    code, out, _ = await chat(url, "zhang_t", "我要请假\n2\n")
    assert code == 0
    assert "以 张老师（zhang_t）身份聊天" in out
    assert "1. 事假" in out and "开始日期" in out


async def test_an_unknown_user_is_refused_with_the_choices(client: TestClient) -> None:
    url = str(client.make_url("")).rstrip("/")
    code, _, err = await chat(url, "nobody", "")
    assert code == 2
    assert "通讯录中没有用户 nobody" in err and "zhang_t" in err


async def test_no_server_running_says_how_to_start_one() -> None:
    code, _, err = await chat("http://127.0.0.1:9", "zhang_t", "")
    assert code == 2
    assert "make run" in err
