"""A callback's body (bot/channels/body.py, used by the WeCom and DingTalk callbacks): read whole
even when it arrives in pieces, refused with 413 when over the limit (announced or sent), with
408 when the client is still sending after the deadline."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.channels.body import Refused, read_body

LIMIT = 1000


async def echo_length(request: web.Request) -> web.Response:
    try:
        body = await read_body(request, LIMIT, seconds=0.5)
    except Refused as refused:
        return web.Response(status=refused.status)
    return web.Response(text=str(len(body)))


@pytest.fixture
async def server() -> AsyncIterator[TestServer]:
    app = web.Application()
    app.router.add_post("/", echo_length)
    async with TestServer(app, host="127.0.0.1") as running:
        yield running


async def exchange(server: TestServer, length: int, *parts: bytes, pause: float = 0.0,
                   whole: bool = False) -> str:
    """The answer's status line (or the whole answer): a refused client is not waited for."""
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(f"POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                 f"Content-Length: {length}\r\n\r\n".encode())
    for part in parts:
        writer.write(part)
        await writer.drain()
        await asyncio.sleep(pause)
    answer = (await asyncio.wait_for(reader.read() if whole else reader.readline(), 30)).decode()
    writer.close()
    await writer.wait_closed()
    return answer


async def test_a_body_in_pieces_is_read_whole(server: TestServer) -> None:
    answer = await exchange(server, 600, b"a" * 200, b"b" * 200, b"c" * 200, pause=0.05,
                            whole=True)
    assert answer.startswith("HTTP/1.1 200") and answer.endswith("600")


async def test_a_body_still_arriving_after_the_deadline_is_refused(server: TestServer) -> None:
    assert (await exchange(server, 600, b"a" * 100)).startswith("HTTP/1.1 408")


async def test_a_body_over_the_limit_is_refused(server: TestServer) -> None:
    assert (await exchange(server, LIMIT + 1)).startswith("HTTP/1.1 413")
