"""Stream mode: the connection campusbot opens to DingTalk, so no public URL is needed.

    loop:  POST /v1.0/gateway/connections/open (a new ticket every time: one ticket, one socket)
           → websocket <endpoint>?ticket=… → read frames until the socket ends → again

- Frames are handled in tasks of their own (`handle(frame)` returns the ack), so reading, and
  answering `ping`s, never waits for the database.
- `disconnect`: the server closes the socket ~10 s later; a new connection is opened at once.
- A socket that ends otherwise, or a failed registration, is retried after a backoff that
  doubles from `backoff_base` to `backoff_max`, with jitter (× 0.5–1.0), reset once a
  connection is up — so a fleet of processes never reconnects in step.
- Watchdog: campusbot pings every `watchdog / 3` s; a socket from which nothing (frame or pong)
  arrived for `watchdog` s is closed and replaced (a TCP connection that died without a close
  frame, a laptop's sleep, a stalled server).

Each process holds its own connection; DingTalk gives each frame to one of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from urllib.parse import quote

import aiohttp

from bot.channels.dingtalk.client import DingtalkClient
from bot.channels.dingtalk.errors import redact
from bot.channels.dingtalk.frames import DISCONNECT, PING, SUBSCRIPTIONS, Frame, FrameError
from bot.channels.dingtalk.frames import parse as parse_frame
from bot.channels.dingtalk.frames import pong as pong_for

log = logging.getLogger("campusbot.dingtalk.stream")

Handle = Callable[[Frame], Awaitable[str | None]]


class StreamClient:
    def __init__(self, client: DingtalkClient, handle: Handle, *, watchdog: float = 120.0,
                 backoff_base: float = 1.0, backoff_max: float = 60.0) -> None:
        self.client = client
        self.handle = handle
        self.watchdog = watchdog
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        #: set while a socket is open (tests wait on it)
        self.connected = asyncio.Event()
        #: sockets opened so far, and why the last one ended
        self.connections = 0
        self.last_end = ""
        self._tasks: set[asyncio.Task[None]] = set()
        self._ws: aiohttp.ClientWebSocketResponse | None = None

    def delay(self, failures: int) -> float:
        """Seconds before the next registration after `failures` failures in a row."""
        if failures <= 0:
            return 0.0
        base = min(self.backoff_max, self.backoff_base * 2 ** (failures - 1))
        return base * random.uniform(0.5, 1.0)

    async def run(self) -> None:
        """Hold a connection until cancelled."""
        failures = 0
        while True:
            await asyncio.sleep(self.delay(failures))
            try:
                endpoint, ticket = await self.client.open_connection(SUBSCRIPTIONS)
                separator = "&" if "?" in endpoint else "?"
                url = f"{endpoint}{separator}ticket={quote(ticket, safe='')}"
                async with self.client.http().ws_connect(
                        url, autoping=False, max_msg_size=4 * 1024 * 1024,
                        timeout=aiohttp.ClientWSTimeout(ws_close=2.0)) as ws:
                    self._ws = ws
                    self.connections += 1
                    self.connected.set()
                    failures = 0
                    log.info("DingTalk Stream connected (connection %d)", self.connections)
                    self.last_end = await self._read(ws)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.last_end = f"error: {type(exc).__name__}"
                log.warning("DingTalk Stream connection failed: %s %s", type(exc).__name__,
                            redact(str(exc)))
            finally:
                self._ws = None
                self.connected.clear()
            if self.last_end == DISCONNECT:
                log.info("DingTalk asked to reconnect: opening a new connection now")
                failures = 0
            else:
                failures += 1
                log.info("DingTalk Stream socket ended (%s); reconnecting", self.last_end)

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> str:
        loop = asyncio.get_running_loop()
        last_seen = loop.time()
        keepalive = asyncio.create_task(self._keepalive(ws), name="dingtalk-keepalive")
        try:
            while True:
                remaining = last_seen + self.watchdog - loop.time()
                try:
                    message = await ws.receive(timeout=max(remaining, 0.001))
                except TimeoutError:
                    log.warning("DingTalk Stream silent for %.0f s: reconnecting", self.watchdog)
                    return "watchdog"
                last_seen = loop.time()
                match message.type:
                    case aiohttp.WSMsgType.TEXT:
                        if self._dispatch(ws, message.data) == DISCONNECT:
                            return DISCONNECT
                    case aiohttp.WSMsgType.PING:
                        await ws.pong(message.data)
                    case aiohttp.WSMsgType.PONG | aiohttp.WSMsgType.BINARY:
                        pass
                    case _:  # CLOSE, CLOSING, CLOSED, ERROR
                        return f"closed ({message.type.name})"
        finally:
            keepalive.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keepalive
            with contextlib.suppress(Exception):
                await ws.close()

    def _dispatch(self, ws: aiohttp.ClientWebSocketResponse, text: str) -> str:
        try:
            frame = parse_frame(text)
        except FrameError as exc:
            log.warning("DingTalk Stream: unreadable frame ignored (%s)", exc)
            return ""
        if frame.type == "SYSTEM" and frame.topic == PING:
            self._spawn(self._send(ws, pong_for(frame)))
            return PING
        if frame.type == "SYSTEM" and frame.topic == DISCONNECT:
            return DISCONNECT
        if frame.type == "SYSTEM":
            return ""
        self._spawn(self._answer(ws, frame))
        return frame.topic

    async def _answer(self, ws: aiohttp.ClientWebSocketResponse, frame: Frame) -> None:
        ack = await self.handle(frame)
        if ack is not None:
            await self._send(ws, ack)

    @staticmethod
    async def _send(ws: aiohttp.ClientWebSocketResponse, text: str) -> None:
        if ws.closed:
            return  # no ack: DingTalk delivers the frame again, the store drops the copy
        try:
            await ws.send_str(text)
        except (ConnectionError, RuntimeError, aiohttp.ClientError):
            log.info("DingTalk Stream: ack not sent, the socket closed")

    async def _keepalive(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        while not ws.closed:
            await asyncio.sleep(self.watchdog / 3)
            with contextlib.suppress(ConnectionError, RuntimeError, aiohttp.ClientError):
                await ws.ping()

    def _spawn(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("DingTalk frame handling failed", exc_info=task.exception())

    async def close_socket(self) -> None:
        """Close the current socket (tests; the loop opens a new one)."""
        if self._ws is not None:
            await self._ws.close()

    async def drain(self) -> None:
        """Wait for the frames being handled (their acks), at shutdown."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
