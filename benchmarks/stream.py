"""Benchmark: DingTalk Stream-mode frames into a running campusbot, side by side with the floor
of the work — a minimal websocket client that acks every frame as soon as it arrives.

    .venv/bin/python benchmarks/stream.py [--levels 1,10,100] [--frames 2000] [--repeats 3]
                                          [--database URL]

This process plays DingTalk: the token, the gateway (`connections/open`), the websocket that
pushes robot-message frames, and batchSend for the replies (counted). It starts, as separate
processes, the floor client and `campusbot serve` with [dingtalk] on (Stream mode), a directory of
2,000 synthetic teachers and SQLite in a temporary folder (or --database). Each connection is
told apart by its clientId. For each level (frames in flight, i.e. pushed but not yet acked) it
measures the floor, then campusbot, `repeats` times after a warm-up, waiting between runs until
campusbot has run every turn and sent every reply. Reports acks per second and p50/p99 from push
to ack (medians over the repeats), the ratios, and the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from aiohttp import WSMsgType, web

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.callback import directory_file, free_port, machine, wait_up  # noqa: E402

TOPIC = "/v1.0/im/bot/messages/get"
USERS = 2000
BOT, FLOOR = "dingbench", "dingfloor"


# ---- the floor: a client that only acks ----------------------------------------------------
async def floor_client(base: str) -> None:
    async with aiohttp.ClientSession() as session:
        for _ in range(600):   # until the gateway is up
            try:
                async with session.post(f"{base}/v1.0/gateway/connections/open", json={
                        "clientId": FLOOR, "clientSecret": "s", "subscriptions": []}) as answer:
                    opened = await answer.json()
                break
            except aiohttp.ClientError:
                await asyncio.sleep(0.05)
        async with session.ws_connect(f"{opened['endpoint']}?ticket={opened['ticket']}") as ws:
            async for message in ws:
                if message.type != WSMsgType.TEXT:
                    break
                frame = json.loads(message.data)
                await ws.send_str(json.dumps({
                    "code": 200, "message": "OK", "data": '{"response": null}',
                    "headers": {"messageId": frame["headers"]["messageId"],
                                "contentType": "application/json"}}))


# ---- DingTalk, played here -----------------------------------------------------------------
@dataclass
class Result:
    throughput: float
    p50: float
    p99: float


class Gateway:
    def __init__(self) -> None:
        self.sockets: dict[str, web.WebSocketResponse] = {}
        self.tickets: dict[str, str] = {}
        self.pending: dict[str, tuple[float, asyncio.Future[float]]] = {}
        self.replies = 0
        self.both_connected = asyncio.Event()
        self.app = web.Application()
        self.app.router.add_post("/v1.0/oauth2/accessToken", self.token)
        self.app.router.add_post("/v1.0/gateway/connections/open", self.open)
        self.app.router.add_get("/connect", self.connect)
        self.app.router.add_post("/v1.0/robot/oToMessages/batchSend", self.batch_send)
        self.url = ""

    async def token(self, request: web.Request) -> web.Response:
        return web.json_response({"accessToken": "bench", "expireIn": 7200})

    async def open(self, request: web.Request) -> web.Response:
        body = await request.json()
        ticket = secrets.token_hex(8)
        self.tickets[ticket] = str(body["clientId"])
        return web.json_response({"endpoint": self.url.replace("http", "ws") + "/connect",
                                  "ticket": ticket})

    async def connect(self, request: web.Request) -> web.StreamResponse:
        client = self.tickets.pop(request.query["ticket"])
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        self.sockets[client] = ws
        if len(self.sockets) == 2:
            self.both_connected.set()
        async for message in ws:
            if message.type == WSMsgType.TEXT:
                ack = json.loads(message.data)
                entry = self.pending.pop(ack["headers"]["messageId"], None)
                if entry is not None and not entry[1].done():
                    entry[1].set_result(time.perf_counter() - entry[0])
        return ws

    async def batch_send(self, request: web.Request) -> web.Response:
        await request.read()
        self.replies += 1
        return web.json_response({"processQueryKey": "k", "flowControlledStaffIdList": []})

    async def run(self, client: str, frames: list[str], ids: list[str], level: int) -> Result:
        ws = self.sockets[client]
        latencies: list[float] = []
        window = asyncio.Semaphore(level)

        async def one(text: str, message_id: str) -> None:
            async with window:
                future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
                self.pending[message_id] = (time.perf_counter(), future)
                await ws.send_str(text)
                latencies.append(await asyncio.wait_for(future, 30))

        started = time.perf_counter()
        await asyncio.gather(*(one(t, i) for t, i in zip(frames, ids, strict=True)))
        elapsed = time.perf_counter() - started
        latencies.sort()
        return Result(len(frames) / elapsed, latencies[len(latencies) // 2] * 1000,
                      latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000)


class Frames:
    def __init__(self) -> None:
        self.count = 0

    def batch(self, size: int) -> tuple[list[str], list[str]]:
        texts, ids = [], []
        for _ in range(size):
            self.count += 1
            message_id = f"frame{self.count}"
            data = {"msgId": f"msg{self.count}", "msgtype": "text", "text": {"content": "帮助"},
                    "senderStaffId": f"t{self.count % USERS:04d}", "conversationType": "1",
                    "robotCode": BOT, "createAt": int(time.time() * 1000)}
            texts.append(json.dumps({
                "specVersion": "1.0", "type": "CALLBACK",
                "headers": {"topic": TOPIC, "messageId": message_id,
                            "contentType": "application/json"},
                "data": json.dumps(data, ensure_ascii=False)}, ensure_ascii=False))
            ids.append(message_id)
        return texts, ids


async def drained(gateway: Gateway, expected: int, quiet: float = 10.0) -> None:
    seen, last = -1, time.perf_counter()
    while gateway.replies < expected:
        if gateway.replies != seen:
            seen, last = gateway.replies, time.perf_counter()
        elif time.perf_counter() - last > quiet:
            print(f"  warning: {gateway.replies} of {expected} replies", file=sys.stderr)
            return
        await asyncio.sleep(0.1)


def start(args: argparse.Namespace, url: str) -> tuple[subprocess.Popen[bytes],
                                                       subprocess.Popen[bytes], int]:
    """campusbot (connecting to the gateway at `url` once it is up) and the floor client."""
    folder = Path(tempfile.mkdtemp(prefix="campusbot-stream-"))
    bot_port = free_port()
    env = {**os.environ, "CAMPUSBOT_DATABASE__URL": args.database or
           f"sqlite://{folder}/bench.sqlite3",
           "CAMPUSBOT_DIRECTORY__FILE": str(directory_file(folder)),
           "CAMPUSBOT_SERVER__PORT": str(bot_port), "CAMPUSBOT_LOG__LEVEL": "WARNING",
           "CAMPUSBOT_SIMULATOR__ENABLED": "false", "CAMPUSBOT_DINGTALK__ENABLED": "true",
           "CAMPUSBOT_DINGTALK__CLIENT_ID": BOT, "CAMPUSBOT_DINGTALK__CLIENT_SECRET": "bench",
           "CAMPUSBOT_DINGTALK__API_BASE": url, "CAMPUSBOT_DINGTALK__OAPI_BASE": url}
    with (folder / "campusbot.log").open("wb") as log:
        bot = subprocess.Popen([sys.executable, "-m", "bot.cli", "serve"], cwd=ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=log)
    floor = subprocess.Popen([sys.executable, __file__, "_floor", url],
                             stderr=subprocess.DEVNULL)
    print(f"campusbot log: {folder / 'campusbot.log'}", file=sys.stderr)
    return bot, floor, bot_port


async def measure(args: argparse.Namespace, port: int, bot: subprocess.Popen[bytes],
                  bot_port: int) -> list[tuple[int, Result, Result]]:
    gateway = Gateway()
    runner = web.AppRunner(gateway.app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    gateway.url = f"http://127.0.0.1:{port}"
    frames = Frames()
    sent = 0
    try:
        await wait_up(f"http://127.0.0.1:{bot_port}/healthz", bot)
        await asyncio.wait_for(gateway.both_connected.wait(), 60)
        warm = frames.batch(200)
        await gateway.run(BOT, *warm, 50)
        sent += 200
        await drained(gateway, sent)
        rows = []
        for level in args.levels:
            floors, bots = [], []
            for _ in range(args.repeats):
                floors.append(await gateway.run(FLOOR, *frames.batch(args.frames), level))
                bots.append(await gateway.run(BOT, *frames.batch(args.frames), level))
                sent += args.frames
                await drained(gateway, sent)
            rows.append((level, _median(floors), _median(bots)))
    finally:
        await runner.cleanup()
    return rows


def main(args: argparse.Namespace) -> None:
    port = free_port()
    bot, floor, bot_port = start(args, f"http://127.0.0.1:{port}")
    try:
        rows = asyncio.run(measure(args, port, bot, bot_port))
    finally:
        bot.send_signal(signal.SIGINT)
        floor.terminate()
        for process in (bot, floor):
            process.wait(timeout=60)
    print(f"machine: {json.dumps(machine(), ensure_ascii=False)}")
    print(f"frames per run: {args.frames}, repeats: {args.repeats} (medians)")
    print("| in flight | floor acks/s | campusbot acks/s | ratio | floor p50 / p99 ms "
          "| campusbot p50 / p99 ms |")
    print("|---|---|---|---|---|---|")
    for level, fl, cb in rows:
        print(f"| {level} | {fl.throughput:,.0f} | {cb.throughput:,.0f} "
              f"| {cb.throughput / fl.throughput:.2f} | {fl.p50:.2f} / {fl.p99:.2f} "
              f"| {cb.p50:.2f} / {cb.p99:.2f} |")


def _median(results: list[Result]) -> Result:
    return Result(statistics.median(r.throughput for r in results),
                  statistics.median(r.p50 for r in results),
                  statistics.median(r.p99 for r in results))


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "_floor":
        asyncio.run(floor_client(sys.argv[2]))
        raise SystemExit(0)
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--levels", default="1,10,100",
                        type=lambda s: [int(x) for x in s.split(",")])
    parser.add_argument("--frames", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--database")
    main(parser.parse_args())
