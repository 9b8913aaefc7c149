"""Benchmark: encrypted WeCom text-message callbacks against a running campusbot server, side by
side with the floor of the work — a minimal aiohttp endpoint that only checks the signature and
decrypts.

    .venv/bin/python benchmarks/callback.py [--levels 1,10,50,100] [--requests 2000]
                                            [--repeats 3] [--database URL]

It starts, as separate processes: the floor server (which also plays WeCom's API for the bot's
replies, and counts them) and `campusbot serve` with [wecom] on, a directory of 2,000 synthetic
teachers, and SQLite in a temporary folder (or --database, e.g. PostgreSQL). For each
concurrency level it measures the floor, then campusbot, each `repeats` times after a warm-up,
and waits between measurements until campusbot has run every turn and sent every reply, so the
floor is never measured while campusbot works in the background. Reports requests per second
and p50/p99 latency (medians over the repeats) and the ratios, plus the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
from aiohttp import web

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.channels.wecom.crypto import WecomCrypto  # noqa: E402

CORP_ID = "wwbenchmark000001"
AGENT_ID = 1000002
USERS = 2000
ENCRYPT = re.compile(rb"<Encrypt><!\[CDATA\[(.*?)\]\]></Encrypt>")


# ---- the floor (and a stand-in for WeCom's API) -----------------------------------------------
def serve_floor(port: int, token: str, key: str) -> None:
    crypto = WecomCrypto(token, key, CORP_ID)
    sent = {"count": 0}

    async def floor(request: web.Request) -> web.Response:
        body = await request.read()
        match = ENCRYPT.search(body)
        if match is None:
            return web.Response(status=400)
        encrypt = match.group(1).decode()
        try:
            crypto.verify(request.query["msg_signature"], request.query["timestamp"],
                          request.query["nonce"], encrypt)
            crypto.decrypt(encrypt)
        except (KeyError, ValueError):
            return web.Response(status=403)
        return web.Response()

    async def api(request: web.Request) -> web.Response:
        path = request.match_info["path"]
        if path == "gettoken":
            return web.json_response({"errcode": 0, "access_token": "bench", "expires_in": 7200})
        if path == "message/send":
            await request.read()
            sent["count"] += 1
            return web.json_response({"errcode": 0, "errmsg": "ok", "msgid": "m"})
        return web.json_response({"errcode": 0, "errmsg": "ok"})

    async def stats(request: web.Request) -> web.Response:
        return web.json_response(sent)

    app = web.Application()
    app.router.add_post("/floor", floor)
    app.router.add_get("/stats", stats)
    app.router.add_route("*", "/cgi-bin/{path:.+}", api)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


# ---- load ------------------------------------------------------------------------------------
@dataclass
class Result:
    throughput: float
    p50: float
    p99: float
    errors: int


class Messages:
    """Encrypted, signed text callbacks, prepared before the clock starts."""

    def __init__(self, token: str, key: str) -> None:
        self.crypto = WecomCrypto(token, key, CORP_ID)
        self.msg_id = 9_000_000_000_000_000_000
        self.user = 0

    def batch(self, count: int) -> list[tuple[str, bytes]]:
        batch = []
        for _ in range(count):
            self.msg_id += 1
            self.user = (self.user + 1) % USERS
            plain = (f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName><FromUserName>"
                     f"<![CDATA[t{self.user:04d}]]></FromUserName><CreateTime>{int(time.time())}"
                     f"</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[帮助]]>"
                     f"</Content><MsgId>{self.msg_id}</MsgId><AgentID>{AGENT_ID}</AgentID></xml>")
            encrypt = self.crypto.encrypt(plain)
            timestamp, nonce = str(int(time.time())), str(secrets.randbelow(10**9))
            query = urlencode({"msg_signature": self.crypto.sign(timestamp, nonce, encrypt),
                               "timestamp": timestamp, "nonce": nonce})
            body = (f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName><Encrypt><![CDATA["
                    f"{encrypt}]]></Encrypt><AgentID><![CDATA[{AGENT_ID}]]></AgentID></xml>")
            batch.append((query, body.encode()))
        return batch


async def load(url: str, batch: list[tuple[str, bytes]], concurrency: int) -> Result:
    latencies: list[float] = []
    errors = 0
    queue = list(reversed(batch))
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        async def sender() -> None:
            nonlocal errors
            while queue:
                query, body = queue.pop()
                started = time.perf_counter()
                async with session.post(f"{url}?{query}", data=body) as response:
                    await response.read()
                    if response.status != 200:
                        errors += 1
                latencies.append(time.perf_counter() - started)
        started = time.perf_counter()
        await asyncio.gather(*(sender() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    return Result(throughput=len(batch) / elapsed, p50=latencies[len(latencies) // 2] * 1000,
                  p99=latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
                  errors=errors)


def cpu_seconds(process: subprocess.Popen[bytes]) -> float:
    """User + system CPU time the process has used so far (Linux /proc)."""
    try:
        fields = Path(f"/proc/{process.pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def timed(url: str, batch: list[tuple[str, bytes]], concurrency: int,
                server: subprocess.Popen[bytes]) -> tuple[Result, float]:
    """The load result and the server's CPU milliseconds per request during it."""
    before = cpu_seconds(server)
    result = await load(url, batch, concurrency)
    return result, (cpu_seconds(server) - before) * 1000 / len(batch)


async def replies_sent(base: str) -> int:
    async with aiohttp.ClientSession() as session, session.get(f"{base}/stats") as response:
        return int((await response.json())["count"])


async def drained(base: str, expected: int, *, quiet: float = 10.0) -> float:
    """Wait until campusbot has sent a reply to every callback; returns the seconds waited."""
    started = last_change = time.perf_counter()
    seen = -1
    while True:
        count = await replies_sent(base)
        if count >= expected:
            return time.perf_counter() - started
        if count != seen:
            seen, last_change = count, time.perf_counter()
        elif time.perf_counter() - last_change > quiet:
            print(f"  warning: only {count} of {expected} replies sent", file=sys.stderr)
            return time.perf_counter() - started
        await asyncio.sleep(0.1)


# ---- processes -------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def directory_file(folder: Path) -> Path:
    """The demo directory (so every flow file loads) plus USERS synthetic teachers of 文学院."""
    demo = (ROOT / "storage" / "demo_directory.toml").read_text(encoding="utf-8")
    teachers = [f'[[users]]\nid = "t{n:04d}"\nname = "教师{n:04d}"\ndepartment = "lit"\n'
                'roles = ["teacher"]\n' for n in range(USERS)]
    path = folder / "directory.toml"
    path.write_text(demo + "\n" + "\n".join(teachers), encoding="utf-8")
    return path


async def wait_up(url: str, process: subprocess.Popen[bytes]) -> None:
    async with aiohttp.ClientSession() as session:
        for _ in range(600):
            if process.poll() is not None:
                raise SystemExit(f"{url} exited (see campusbot.log in the temp folder)")
            try:
                async with session.get(url) as response:
                    if response.status < 500:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)
    raise SystemExit(f"{url} did not start")


def machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "aiohttp": aiohttp.__version__, "system": platform.platform()}


@dataclass
class Servers:
    floor: subprocess.Popen[bytes]
    bot: subprocess.Popen[bytes]
    floor_base: str
    bot_base: str
    token: str
    key: str
    database: str
    workers: list[subprocess.Popen[bytes]]

    def stop(self) -> None:
        self.bot.send_signal(signal.SIGINT)   # a clean exit, so a profile gets written
        self.floor.terminate()
        for worker in self.workers:
            worker.terminate()
        for process in (self.bot, self.floor, *self.workers):
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                print("  warning: a server did not stop in 60 s; killed", file=sys.stderr)
                process.kill()
                process.wait()


def start(args: argparse.Namespace) -> Servers:
    token = secrets.token_hex(8)
    key = "".join(secrets.choice("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
                  for _ in range(43))
    folder = Path(tempfile.mkdtemp(prefix="campusbot-bench-"))
    floor_port, bot_port = free_port(), free_port()
    database = args.database or f"sqlite://{folder}/bench.sqlite3"
    floor = subprocess.Popen([sys.executable, __file__, "_floor", str(floor_port), token, key],
                             stderr=subprocess.DEVNULL)
    env = {**os.environ, "CAMPUSBOT_DATABASE__URL": database,
           "CAMPUSBOT_DIRECTORY__FILE": str(directory_file(folder)),
           "CAMPUSBOT_SERVER__PORT": str(bot_port), "CAMPUSBOT_LOG__LEVEL": "WARNING",
           "CAMPUSBOT_SIMULATOR__ENABLED": "false", "CAMPUSBOT_WECOM__ENABLED": "true",
           "CAMPUSBOT_WECOM__CORP_ID": CORP_ID, "CAMPUSBOT_WECOM__AGENT_ID": str(AGENT_ID),
           "CAMPUSBOT_WECOM__SECRET": "bench", "CAMPUSBOT_WECOM__TOKEN": token,
           "CAMPUSBOT_WECOM__ENCODING_AES_KEY": key,
           "CAMPUSBOT_WECOM__API_BASE": f"http://127.0.0.1:{floor_port}",
           # with workers, the server only answers callbacks and they run the turns
           "CAMPUSBOT_SERVER__RUN_TURNS": "false" if args.workers else "true"}
    profile = ["-m", "cProfile", "-o", args.profile] if args.profile else []
    # its log goes to a file: an unread pipe fills up and blocks the server mid-run
    log = (folder / "campusbot.log").open("wb")
    bot = subprocess.Popen([sys.executable, *profile, "-m", "bot.cli", "serve"], cwd=ROOT,
                           env=env, stdout=subprocess.DEVNULL, stderr=log)
    workers = []
    for _ in range(args.workers):
        workers.append(subprocess.Popen([sys.executable, "-m", "bot.cli", "worker"], cwd=ROOT,
                                        env=env, stdout=subprocess.DEVNULL, stderr=log))
    log.close()
    print(f"campusbot log: {folder / 'campusbot.log'}", file=sys.stderr)
    return Servers(floor, bot, f"http://127.0.0.1:{floor_port}",
                   f"http://127.0.0.1:{bot_port}", token, key, database, workers)


async def measure(args: argparse.Namespace, servers: Servers) -> list[dict[str, Any]]:
    floor_base, bot_base = servers.floor_base, servers.bot_base
    await wait_up(f"{floor_base}/stats", servers.floor)
    await wait_up(f"{bot_base}/healthz", servers.bot)
    messages = Messages(servers.token, servers.key)
    warm = messages.batch(300)
    await load(f"{bot_base}/wecom/callback", warm, 10)
    await load(f"{floor_base}/floor", messages.batch(300), 10)
    expected = len(warm)
    await drained(floor_base, expected)
    rows = []
    for level in args.levels:
        floors, bots, drains, floor_cpu, bot_cpu = [], [], [], [], []
        for _ in range(args.repeats):
            result, cpu = await timed(f"{floor_base}/floor", messages.batch(args.requests), level,
                                      servers.floor)
            floors.append(result)
            floor_cpu.append(cpu)
            result, cpu = await timed(f"{bot_base}/wecom/callback", messages.batch(args.requests),
                                      level, servers.bot)
            bots.append(result)
            bot_cpu.append(cpu)
            expected += args.requests
            drains.append(await drained(floor_base, expected))
        row: dict[str, Any] = {
            "concurrency": level,
            "floor": {k: statistics.median(getattr(r, k) for r in floors)
                      for k in ("throughput", "p50", "p99")},
            "campusbot": {k: statistics.median(getattr(r, k) for r in bots)
                          for k in ("throughput", "p50", "p99")},
            "errors": sum(r.errors for r in floors + bots),
            # server CPU per request while the load ran (campusbot's includes the turns and
            # replies that ran meanwhile)
            "floor_cpu_ms": statistics.median(floor_cpu),
            "campusbot_cpu_ms": statistics.median(bot_cpu),
            # callbacks answered and turns finished and replies sent, end to end
            "turns_per_second": statistics.median(
                args.requests / (args.requests / b.throughput + d)
                for b, d in zip(bots, drains, strict=True))}
        row["ratio"] = row["campusbot"]["throughput"] / row["floor"]["throughput"]
        rows.append(row)
        print(format_row(row), flush=True)
    return rows


def format_row(row: dict[str, Any]) -> str:
    f, b = row["floor"], row["campusbot"]
    return (f"| {row['concurrency']:>3} | {f['throughput']:>7.0f} | {f['p50']:>6.1f} | "
            f"{f['p99']:>6.1f} | {b['throughput']:>7.0f} | {b['p50']:>6.1f} | {b['p99']:>6.1f} | "
            f"{row['ratio']:>5.2f} | {row['turns_per_second']:>6.0f} | "
            f"{row['floor_cpu_ms']:.3f} | {row['campusbot_cpu_ms']:.3f} | {row['errors']} |")


HEADER = ("| senders | floor req/s | floor p50 ms | floor p99 ms | campusbot req/s | "
          "campusbot p50 ms | campusbot p99 ms | ratio | turns/s | floor CPU ms/req | "
          "campusbot CPU ms/req | errors |\n"
          "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_floor":
        serve_floor(int(sys.argv[2]), sys.argv[3], sys.argv[4])
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--levels", default="1,10,50,100",
                        type=lambda v: [int(x) for x in v.split(",")])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--database", help="database URL (default: SQLite in a temp folder)")
    parser.add_argument("--workers", type=int, default=0,
                        help="run turns in this many `campusbot worker` processes, the server "
                             "with [server] run_turns = false (default 0: turns in the server)")
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument("--profile", help="run campusbot under cProfile, stats to this file")
    args = parser.parse_args()
    servers = start(args)
    print(json.dumps({**machine(), "database": servers.database.split("://")[0],
                      "workers": args.workers}, ensure_ascii=False))
    print(HEADER)
    try:
        rows = asyncio.run(measure(args, servers))
    finally:
        servers.stop()
    if args.json:
        results = {"machine": machine(), "database": servers.database.split("://")[0],
                   "workers": args.workers, "requests": args.requests, "repeats": args.repeats,
                   "rows": rows}
        Path(args.json).write_text(json.dumps(results, ensure_ascii=False, indent=2) + "\n")


if __name__ == "__main__":
    main()
