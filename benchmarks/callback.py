"""Benchmark: encrypted WeCom text-message callbacks against a running campusbot server, side by
side with two floors:

- the callback floor: a minimal aiohttp endpoint that only checks the signature and decrypts
  (how fast callbacks can be answered at all);
- the end-to-end floor: the least a durable bot can do per message — verify, decrypt, one
  durable INSERT (group-committed, as campusbot's intake), answer 200, then one API send of
  the reply (how fast replies can reach users at all).

    .venv/bin/python benchmarks/callback.py [--levels 1,10,50,100] [--requests 2000]
                                            [--repeats 3] [--database URL]

It starts, as separate processes: the callback floor (which also plays WeCom's API for every
reply, and counts them by sender), the end-to-end floor (SQLite in its own file, or a table in
the --database), and `campusbot serve` with [wecom] on, a directory of 2,000 synthetic
teachers, and SQLite in a temporary folder (or --database, e.g. PostgreSQL, emptied first).
For each concurrency level it measures the callback floor, the end-to-end floor, then
campusbot, each `repeats` times after a warm-up, and waits after each until every reply has
reached the API, so nothing is measured while another works in the background. Replies/s end
to end = requests ÷ (time of the last reply at the API − time the first request was sent).
Reports replies/s, ack (callback answer) p50/p99 and req/s (medians over the repeats), the
ratios to the floors, the servers' CPU per reply over the same span, plus the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
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
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
from aiohttp import web

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.postgres import empty_database, pg_dsn  # noqa: E402
from bot.channels.wecom.crypto import WecomCrypto  # noqa: E402

CORP_ID = "wwbenchmark000001"
AGENT_ID = 1000002
USERS = 2000
ENCRYPT = re.compile(rb"<Encrypt><!\[CDATA\[(.*?)\]\]></Encrypt>")


# ---- the floor (and a stand-in for WeCom's API) -----------------------------------------------
def serve_floor(port: int, token: str, key: str) -> None:
    crypto = WecomCrypto(token, key, CORP_ID)
    # replies received, by sender (campusbot's token is "bench", the end-to-end floor's
    # "floor"), and the wall-clock time the last one arrived
    sent: dict[str, Any] = {"count": 0, "floor": 0, "last": 0.0, "floor_last": 0.0}

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
            who = "floor" if request.query.get("access_token") == "floor" else "count"
            sent[who] += 1
            sent["floor_last" if who == "floor" else "last"] = time.time()
            return web.json_response({"errcode": 0, "errmsg": "ok", "msgid": "m"})
        return web.json_response({"errcode": 0, "errmsg": "ok"})

    async def stats(request: web.Request) -> web.Response:
        return web.json_response(sent)

    app = web.Application()
    app.router.add_post("/floor", floor)
    app.router.add_get("/stats", stats)
    app.router.add_route("*", "/cgi-bin/{path:.+}", api)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


# ---- the end-to-end floor ----------------------------------------------------------------------
FROM_USER = re.compile(r"<FromUserName><!\[CDATA\[(.*?)\]\]></FromUserName>")
MSG_ID = re.compile(r"<MsgId>(\d+)</MsgId>")
CONTENT = re.compile(r"<Content><!\[CDATA\[(.*?)\]\]></Content>")
FLOOR_TABLE = "bench_floor_events"


class FloorStore:
    """One durable INSERT per message, committed in groups: every message that arrives while a
    commit is in flight goes into the next one (as campusbot's intake does), the unique key on
    the message id de-duplicating. SQLite: a file, WAL, synchronous=FULL, in a thread;
    PostgreSQL: asyncpg."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.queue: list[tuple[tuple[str, str, str], asyncio.Future[None]]] = []
        self.flusher: asyncio.Task[None] | None = None
        self.sqlite: Any = None
        self.pool: Any = None

    async def open(self) -> None:
        ddl = (f"CREATE TABLE IF NOT EXISTS {FLOOR_TABLE} (id BIGSERIAL PRIMARY KEY, "
               "msg_id TEXT NOT NULL UNIQUE, user_id TEXT NOT NULL, content TEXT NOT NULL)")
        if self.url.startswith("sqlite://"):
            import sqlite3

            self.sqlite = sqlite3.connect(self.url.removeprefix("sqlite://"),
                                          check_same_thread=False, isolation_level=None)
            self.sqlite.execute("PRAGMA journal_mode=WAL")
            self.sqlite.execute("PRAGMA synchronous=FULL")
            self.sqlite.execute(ddl.replace("BIGSERIAL", "INTEGER"))
        else:
            import asyncpg  # type: ignore[import-untyped]

            self.pool = await asyncpg.create_pool(pg_dsn(self.url), min_size=1, max_size=2)
            await self.pool.execute(ddl)

    async def insert(self, row: tuple[str, str, str]) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.queue.append((row, future))
        if self.flusher is None or self.flusher.done():
            self.flusher = asyncio.create_task(self.flush())
        await future

    async def flush(self) -> None:
        while self.queue:
            batch, self.queue = self.queue[:100], self.queue[100:]
            rows = [row for row, _ in batch]
            try:
                if self.sqlite is not None:
                    await asyncio.to_thread(self._write_sqlite, rows)
                else:
                    async with self.pool.acquire() as connection, connection.transaction():
                        await connection.executemany(
                            f"INSERT INTO {FLOOR_TABLE} (msg_id, user_id, content) "
                            "VALUES ($1, $2, $3) ON CONFLICT (msg_id) DO NOTHING", rows)
            except Exception as exc:
                for _, future in batch:
                    future.set_exception(exc)
                continue
            for _, future in batch:
                future.set_result(None)

    def _write_sqlite(self, rows: list[tuple[str, str, str]]) -> None:
        self.sqlite.execute("BEGIN")
        self.sqlite.executemany(f"INSERT INTO {FLOOR_TABLE} (msg_id, user_id, content) "
                                "VALUES (?, ?, ?) ON CONFLICT (msg_id) DO NOTHING", rows)
        self.sqlite.execute("COMMIT")


def serve_e2e_floor(port: int, token: str, key: str, database: str, api: str) -> None:
    """The least a durable bot can do per message: verify, decrypt, one durable insert, answer
    200, then one API send of the reply (up to 64 at once, as campusbot's sender)."""
    crypto = WecomCrypto(token, key, CORP_ID)
    store = FloorStore(database)
    sends = asyncio.Semaphore(64)
    state: dict[str, Any] = {}
    background: set[asyncio.Task[None]] = set()

    async def reply(user: str) -> None:
        async with sends:
            body = {"touser": user, "msgtype": "text", "agentid": AGENT_ID,
                    "text": {"content": "您好，这是回复。"}}
            async with state["session"].post(f"{api}/cgi-bin/message/send",
                                              params={"access_token": "floor"},
                                              json=body) as response:
                await response.read()

    async def floor(request: web.Request) -> web.Response:
        body = await request.read()
        match = ENCRYPT.search(body)
        if match is None:
            return web.Response(status=400)
        encrypt = match.group(1).decode()
        try:
            crypto.verify(request.query["msg_signature"], request.query["timestamp"],
                          request.query["nonce"], encrypt)
            plain = crypto.decrypt(encrypt)
        except (KeyError, ValueError):
            return web.Response(status=403)
        user, msg_id = FROM_USER.search(plain), MSG_ID.search(plain)
        content = CONTENT.search(plain)
        if user is None or msg_id is None or content is None:
            return web.Response(status=400)
        await store.insert((msg_id.group(1), user.group(1), content.group(1)))
        task = asyncio.create_task(reply(user.group(1)))
        background.add(task)
        task.add_done_callback(background.discard)
        return web.Response()

    async def lifecycle(app: web.Application) -> Any:
        await store.open()
        state["session"] = aiohttp.ClientSession()
        yield
        await state["session"].close()

    app = web.Application()
    app.cleanup_ctx.append(lifecycle)
    app.router.add_post("/e2e", floor)
    app.router.add_get("/healthz", lambda request: web.Response())  # type: ignore[arg-type,return-value]
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
        # a new range each run: a reused --database keeps the earlier runs' events, and the
        # same MsgIds again would all be duplicates (no turn, no reply)
        self.msg_id = 9_000_000_000_000_000_000 + time.time_ns() // 1000 * 10_000
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
                server: subprocess.Popen[bytes],
                until: Callable[[], Awaitable[float]] | None = None
                ) -> tuple[Result, float, float]:
    """The load result, the server's CPU milliseconds per request, and requests per second —
    each over the load alone, or when `until` is given (it returns when the API stand-in had
    the last reply, and that reply's time) from the first request until then: the turns and
    deliveries after the last callback included."""
    before = cpu_seconds(server)
    started = time.time()
    result = await load(url, batch, concurrency)
    finished = await until() if until is not None else time.time()
    cpu = (cpu_seconds(server) - before) * 1000 / len(batch)
    return result, cpu, len(batch) / (finished - started)


async def api_stats(base: str) -> dict[str, Any]:
    async with aiohttp.ClientSession() as session, session.get(f"{base}/stats") as response:
        return dict(await response.json())


async def drained(base: str, expected: int, *, who: str = "count",
                  quiet: float = 10.0) -> float:
    """Wait until the API stand-in has received `expected` replies in all from `who`
    (campusbot: "count", the end-to-end floor: "floor"); returns the wall-clock time
    (time.time()) the last of them arrived."""
    last_key = "last" if who == "count" else "floor_last"
    last_change = time.perf_counter()
    seen = -1
    while True:
        stats = await api_stats(base)
        count = int(stats[who])
        if count >= expected:
            return float(stats[last_key])
        if count != seen:
            seen, last_change = count, time.perf_counter()
        elif time.perf_counter() - last_change > quiet:
            print(f"  warning: only {count} of {expected} replies sent ({who})", file=sys.stderr)
            return float(stats[last_key])
        await asyncio.sleep(0.02)


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
    e2e_floor: subprocess.Popen[bytes]
    bot: subprocess.Popen[bytes]
    floor_base: str
    e2e_floor_base: str
    bot_base: str
    token: str
    key: str
    database: str
    workers: list[subprocess.Popen[bytes]]

    def stop(self) -> None:
        self.bot.send_signal(signal.SIGINT)   # a clean exit, so a profile gets written
        self.floor.terminate()
        self.e2e_floor.terminate()
        for worker in self.workers:
            worker.terminate()
        for process in (self.bot, self.floor, self.e2e_floor, *self.workers):
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
    floor_port, e2e_port, bot_port = free_port(), free_port(), free_port()
    database = args.database or f"sqlite://{folder}/bench.sqlite3"
    floor = subprocess.Popen([sys.executable, __file__, "_floor", str(floor_port), token, key],
                             stderr=subprocess.DEVNULL)
    # the end-to-end floor stores in its own SQLite file, or in a table of the PostgreSQL
    # database campusbot uses
    floor_database = args.database or f"sqlite://{folder}/floor.sqlite3"
    e2e_floor = subprocess.Popen([sys.executable, __file__, "_e2e_floor", str(e2e_port), token,
                                  key, floor_database, f"http://127.0.0.1:{floor_port}"])
    env = {**os.environ, "CAMPUSBOT_DATABASE__URL": database,
           "CAMPUSBOT_DIRECTORY__FILE": str(directory_file(folder)),
           "CAMPUSBOT_SERVER__PORT": str(bot_port), "CAMPUSBOT_LOG__LEVEL": args.log_level,
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
    return Servers(floor, e2e_floor, bot, f"http://127.0.0.1:{floor_port}",
                   f"http://127.0.0.1:{e2e_port}", f"http://127.0.0.1:{bot_port}", token, key,
                   database, workers)


def median_of(results: list[Result]) -> dict[str, float]:
    return {k: statistics.median(getattr(r, k) for r in results)
            for k in ("throughput", "p50", "p99")}


async def measure(args: argparse.Namespace, servers: Servers) -> list[dict[str, Any]]:
    floor_base, e2e_base, bot_base = servers.floor_base, servers.e2e_floor_base, servers.bot_base
    await wait_up(f"{floor_base}/stats", servers.floor)
    await wait_up(f"{e2e_base}/healthz", servers.e2e_floor)
    await wait_up(f"{bot_base}/healthz", servers.bot)
    messages = Messages(servers.token, servers.key)
    warm = messages.batch(300)
    await load(f"{bot_base}/wecom/callback", warm, 10)
    await load(f"{floor_base}/floor", messages.batch(300), 10)
    await load(f"{e2e_base}/e2e", messages.batch(300), 10)
    expected = expected_floor = len(warm)
    await drained(floor_base, expected)
    await drained(floor_base, expected_floor, who="floor")
    rows = []
    for level in args.levels:
        floors, e2es, bots = [], [], []
        e2e_rates, bot_rates, floor_cpu, e2e_cpu, bot_cpu = [], [], [], [], []
        for _ in range(args.repeats):
            result, cpu, _ = await timed(f"{floor_base}/floor", messages.batch(args.requests),
                                         level, servers.floor)
            floors.append(result)
            floor_cpu.append(cpu)
            # end to end: from the first request until the API stand-in got the last reply
            expected_floor += args.requests
            result, cpu, rate = await timed(
                f"{e2e_base}/e2e", messages.batch(args.requests), level, servers.e2e_floor,
                until=functools.partial(drained, floor_base, expected_floor, who="floor"))
            e2es.append(result)
            e2e_cpu.append(cpu)
            e2e_rates.append(rate)
            expected += args.requests
            result, cpu, rate = await timed(
                f"{bot_base}/wecom/callback", messages.batch(args.requests), level, servers.bot,
                until=functools.partial(drained, floor_base, expected))
            bots.append(result)
            bot_cpu.append(cpu)
            bot_rates.append(rate)
        row: dict[str, Any] = {
            "concurrency": level,
            "floor": median_of(floors),
            "e2e_floor": median_of(e2es),
            "campusbot": median_of(bots),
            "errors": sum(r.errors for r in floors + e2es + bots),
            # server CPU per reply, end to end (until the API had the last reply)
            "floor_cpu_ms": statistics.median(floor_cpu),
            "e2e_floor_cpu_ms": statistics.median(e2e_cpu),
            "campusbot_cpu_ms": statistics.median(bot_cpu),
            # replies that reached the API stand-in per second, end to end
            "e2e_floor_replies_per_second": statistics.median(e2e_rates),
            "replies_per_second": statistics.median(bot_rates),
            "e2e_ratios": [b / f for b, f in zip(bot_rates, e2e_rates, strict=True)]}
        row["ratio"] = row["campusbot"]["throughput"] / row["floor"]["throughput"]
        row["e2e_ratio"] = row["replies_per_second"] / row["e2e_floor_replies_per_second"]
        rows.append(row)
        print(format_row(row), flush=True)
    return rows


def format_row(row: dict[str, Any]) -> str:
    f, e, b = row["floor"], row["e2e_floor"], row["campusbot"]
    return (f"| {row['concurrency']:>3} | {row['e2e_floor_replies_per_second']:>6.0f} | "
            f"{row['replies_per_second']:>6.0f} | {row['e2e_ratio']:>5.2f} | "
            f"{e['p99']:>6.1f} | {b['p50']:>6.1f} | {b['p99']:>6.1f} | "
            f"{f['throughput']:>7.0f} | {b['throughput']:>7.0f} | {row['ratio']:>5.2f} | "
            f"{row['e2e_floor_cpu_ms']:.3f} | {row['campusbot_cpu_ms']:.3f} | {row['errors']} |")


HEADER = ("| senders | end-to-end floor replies/s | campusbot replies/s | ratio | "
          "end-to-end floor ack p99 ms | campusbot ack p50 ms | campusbot ack p99 ms | "
          "callback floor req/s | campusbot req/s | callback ratio | "
          "end-to-end floor CPU ms/reply | campusbot CPU ms/reply | errors |\n"
          "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_floor":
        serve_floor(int(sys.argv[2]), sys.argv[3], sys.argv[4])
        return
    if len(sys.argv) > 1 and sys.argv[1] == "_e2e_floor":
        serve_e2e_floor(int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6])
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
    parser.add_argument("--log-level", default="WARNING",
                        help="campusbot's log level (INFO: a line per turn with its duration)")
    args = parser.parse_args()
    if args.database and args.database.startswith(("postgres", "asyncpg")):
        asyncio.run(empty_database(args.database))   # not the earlier runs' messages
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
