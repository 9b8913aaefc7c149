"""Load test with faults: 1,000 teachers request leave through the WeCom protocol while their
department heads tap 同意 on the cards, against 2 `campusbot serve` processes (callbacks only,
`run_turns = false`) and `campusbot worker` processes on PostgreSQL — once without faults, then
once per fault, and every user's received messages compared with the fault-free run.

    .venv/bin/python benchmarks/load.py --database postgres://postgres@127.0.0.1:5432/loaddb
        [--departments 100] [--teachers 10] [--workers 2] [--faults none,kill-server,...]
        [--json out.json]

The script (tests/fakes/wecom_users.py): 帮助 + 我要请假 typed back to back, the leave type,
start date and days in one quick burst, the reason, 证明材料 and 离开本市 in another burst, the
phone number, 确认; then the head's tap and the teacher's 我的申请. Teachers start spread over
`--ramp` seconds and think 1–3 s between answers. This process plays WeCom: its API (the fake,
tests/fakes/wecom.py, which counts and checks every call) and its callbacks, signed and
encrypted, delivered round-robin to the two servers like a load balancer and retried on the
next one when a server does not answer.

Faults, each in its own run on a fresh database:
    none          the reference
    kill-server   kill -9 of one server at 30 % of the run; restarted 3 s later
    kill-worker   kill -9 of one worker at 30 %; restarted 3 s later
    db-restart    every connection to the database terminated (pg_terminate_backend, as a
                  restart does) at 30 % and 60 %
    pg-restart    the PostgreSQL server itself restarted (`pg_ctlcluster … restart -m fast`:
                  connections cut, a few seconds without a database) at 30 %; needs a local
                  Debian cluster and the right to restart it
    api-faults    30 % of API calls fail: busy (-1), HTTP 502, timeouts (no answer for 12 s,
                  the bot waits 10 s) before or after taking effect; access tokens revoked
                  every 10 s
    slow-api      every API answer takes 5 s

Reported per run: teachers who completed, p50/p99 from a message (the last of a burst) to the
reply it waited for, p50/p99 from a tap to the teacher hearing the decision, callbacks WeCom
gave up on, users stuck, dead letters, and against the reference: messages lost, doubled, and
users whose messages came out of order.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
from aiohttp import web

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.postgres import empty_database, pg_dsn  # noqa: E402
from bot.clock import SystemClock  # noqa: E402
from tests.fakes.wecom import Chaos, FakeWecom  # noqa: E402
from tests.fakes.wecom_callbacks import WecomCallbacks  # noqa: E402
from tests.fakes.wecom_users import (  # noqa: E402
    Campus,
    Department,
    Pacing,
    Run,
    calibrate,
    compare,
    head_groups,
    run_campus,
)

CORP_ID = "wwloadtest0000001"
AGENT_ID = 1000002
SECRET = "load-secret"
TOKEN = "loadCallbackToken"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
FAULTS = ("none", "kill-server", "kill-worker", "db-restart", "pg-restart", "api-faults",
          "slow-api")
DEMO = (ROOT / "storage" / "demo_directory.toml").read_text(encoding="utf-8")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Cluster:
    """The campusbot processes of one run."""

    env: dict[str, str]
    log: Path
    servers: list[tuple[subprocess.Popen[bytes], str]] = field(default_factory=list)
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def _start(self, command: str, extra: dict[str, str]) -> subprocess.Popen[bytes]:
        with self.log.open("ab") as log:
            return subprocess.Popen([sys.executable, "-m", "bot.cli", command], cwd=ROOT,
                                    env={**self.env, **extra}, stdout=subprocess.DEVNULL,
                                    stderr=log)

    async def serve(self) -> str:
        port = free_port()
        process = self._start("serve", {"CAMPUSBOT_SERVER__PORT": str(port)})
        url = f"http://127.0.0.1:{port}"
        await wait_up(f"{url}/healthz", process)
        self.servers.append((process, url))
        return url

    def worker(self) -> subprocess.Popen[bytes]:
        process = self._start("worker", {})
        self.workers.append(process)
        return process

    def stop(self) -> None:
        processes = [p for p, _ in self.servers] + self.workers
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


async def wait_up(url: str, process: subprocess.Popen[bytes]) -> None:
    import aiohttp

    async with aiohttp.ClientSession() as session:
        for _ in range(1200):
            if process.poll() is not None:
                raise SystemExit(f"{url} exited; see the log")
            try:
                async with session.get(url) as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)
    raise SystemExit(f"{url} did not start")


# ---- the database --------------------------------------------------------------------------

async def left_to_do(url: str) -> tuple[int, int]:
    """(events waiting for their turn, messages waiting to be sent)."""
    connection = await asyncpg.connect(pg_dsn(url))
    try:
        events = await connection.fetchval(
            "SELECT count(*) FROM inbound_events WHERE status = 'received'")
        messages = await connection.fetchval(
            "SELECT count(*) FROM outbox WHERE status IN ('pending', 'sending')")
        return int(events), int(messages)
    finally:
        await connection.close()


async def database_facts(url: str) -> dict[str, int]:
    connection = await asyncpg.connect(pg_dsn(url))
    try:
        return {
            "dead_letters": int(await connection.fetchval(
                "SELECT count(*) FROM outbox WHERE status = 'failed'")),
            "events_given_up": int(await connection.fetchval(
                "SELECT count(*) FROM inbound_events WHERE status = 'failed'")),
            "turns": int(await connection.fetchval(
                "SELECT count(*) FROM inbound_events WHERE status = 'done'")),
            "messages_sent": int(await connection.fetchval(
                "SELECT count(*) FROM outbox WHERE status = 'sent'")),
        }
    finally:
        await connection.close()


async def terminate_connections(url: str) -> int:
    connection = await asyncpg.connect(pg_dsn(url))
    try:
        return int(await connection.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"))
    finally:
        await connection.close()


def restart_postgres() -> float:
    """Restart the local PostgreSQL cluster (Debian's pg_ctlcluster, fast mode: every
    connection is cut, the server stops and starts again); the seconds it took."""
    clusters = sorted(Path("/etc/postgresql").glob("*/main"))
    if not clusters or shutil.which("pg_ctlcluster") is None:
        raise SystemExit("pg-restart needs a local Debian PostgreSQL cluster and pg_ctlcluster")
    started = time.perf_counter()
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", clusters[-1].parent.name,
                    "main", "restart", "-m", "fast"], check=True, capture_output=True)
    return time.perf_counter() - started


# ---- one run -------------------------------------------------------------------------------

@dataclass
class Setup:
    args: argparse.Namespace
    campus: Campus
    calibration: Campus
    directory: Path
    folder: Path
    counts: list[int] | None = None


async def serve_fake(campus: Campus, calibration: Campus) -> tuple[FakeWecom, web.AppRunner,
                                                                   str]:
    fake = FakeWecom(SystemClock(), corp_id=CORP_ID, agent_id=AGENT_ID, secret=SECRET,
                     members={**campus.members(), **calibration.members()})
    runner = web.AppRunner(fake.app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port, backlog=2048).start()
    return fake, runner, f"http://127.0.0.1:{port}"


async def one_run(setup: Setup, fault: str) -> dict[str, Any]:
    args = setup.args
    await empty_database(args.database)
    fake, fake_runner, api = await serve_fake(setup.campus, setup.calibration)
    log = setup.folder / f"{fault}.log"
    env = {**os.environ, "CAMPUSBOT_DATABASE__URL": args.database,
           "CAMPUSBOT_DIRECTORY__FILE": str(setup.directory), "CAMPUSBOT_LOG__LEVEL": "WARNING",
           "CAMPUSBOT_SIMULATOR__ENABLED": "false", "CAMPUSBOT_WECOM__ENABLED": "true",
           "CAMPUSBOT_WECOM__CORP_ID": CORP_ID, "CAMPUSBOT_WECOM__AGENT_ID": str(AGENT_ID),
           "CAMPUSBOT_WECOM__SECRET": SECRET, "CAMPUSBOT_WECOM__TOKEN": TOKEN,
           "CAMPUSBOT_WECOM__ENCODING_AES_KEY": AES_KEY, "CAMPUSBOT_WECOM__API_BASE": api,
           "CAMPUSBOT_SERVER__RUN_TURNS": "false"}
    cluster = Cluster(env, log)
    callbacks: WecomCallbacks | None = None
    try:
        urls = [await cluster.serve() for _ in range(args.servers)]
        for _ in range(args.workers):
            cluster.worker()
        callbacks = WecomCallbacks(fake, f"{urls[0]}/wecom/callback", token=TOKEN,
                                   encoding_aes_key=AES_KEY)
        teacher = setup.calibration.teachers[0]
        counts = await calibrate(callbacks, fake, teacher, setup.calibration.head_of(teacher))
        if setup.counts is None:
            setup.counts = counts
            print(f"  replies per step: {counts}", file=sys.stderr)
        elif counts != setup.counts:
            print(f"  warning: calibration differs: {counts}", file=sys.stderr)
        callbacks.urls = [f"{url}/wecom/callback" for url in urls]
        pacing = Pacing(think=(1.0, 3.0), start_within=args.ramp, reply_timeout=args.timeout,
                        tap_think=(1.0, 3.0), settle=3.0)
        injected = Injected()
        expected = args.ramp + 40.0
        faults = asyncio.create_task(inject(fault, expected, cluster, callbacks, fake,
                                            args.database, injected))

        async def drained() -> bool:
            try:
                return await left_to_do(args.database) == (0, 0)
            except (OSError, asyncpg.PostgresError):
                return False
        assert setup.counts is not None
        run = await run_campus(setup.campus, callbacks, fake, setup.counts, pacing,
                               drained=drained)
        faults.cancel()
        fake.set_chaos(Chaos())
        facts = await database_facts(args.database)
    finally:
        if callbacks is not None:
            await callbacks.close()
        cluster.stop()
        await fake_runner.cleanup()
    return summary(fault, run, facts, injected, fake, cluster)


@dataclass
class Injected:
    events: list[str] = field(default_factory=list)


async def inject(fault: str, expected: float, cluster: Cluster, callbacks: WecomCallbacks,
                 fake: FakeWecom, database: str, injected: Injected) -> None:
    if fault == "api-faults":
        fake.set_chaos(Chaos(rate=0.3, hang=12.0, revoke_tokens_every=10.0, seed=3))
        injected.events.append("API: 30 % of calls fail, tokens revoked every 10 s")
        return
    if fault == "slow-api":
        fake.set_chaos(Chaos(latency=5.0))
        injected.events.append("API: every answer after 5 s")
        return
    if fault == "none":
        return
    await asyncio.sleep(expected * 0.3)
    if fault == "kill-server":
        process, url = cluster.servers[0]
        process.send_signal(signal.SIGKILL)
        injected.events.append(f"kill -9 server {url} at {expected * 0.3:.0f} s")
        await asyncio.sleep(3)
        restarted = await cluster.serve()
        assert callbacks.urls is not None
        callbacks.urls[0] = f"{restarted}/wecom/callback"
        injected.events.append("server restarted")
    elif fault == "kill-worker":
        cluster.workers[0].send_signal(signal.SIGKILL)
        injected.events.append(f"kill -9 worker at {expected * 0.3:.0f} s")
        await asyncio.sleep(3)
        cluster.worker()
        injected.events.append("worker restarted")
    elif fault == "pg-restart":
        took = await asyncio.to_thread(restart_postgres)
        injected.events.append(f"PostgreSQL restarted at {expected * 0.3:.0f} s "
                               f"(down and up again in {took:.1f} s)")
    elif fault == "db-restart":
        for share in (0.3, 0.6):
            cut = await terminate_connections(database)
            injected.events.append(f"{cut} database connections terminated at "
                                   f"{expected * share:.0f} s")
            await asyncio.sleep(expected * 0.3)


def summary(fault: str, run: Run, facts: dict[str, int], injected: Injected,
            fake: FakeWecom, cluster: Cluster) -> dict[str, Any]:
    return {
        "fault": fault, "events": injected.events, "elapsed_s": round(run.elapsed, 1),
        "teachers": len(run.completed) + len(run.stuck), "completed": len(run.completed),
        "stuck": len(run.stuck), "stuck_at": dict(run.stuck),
        "callbacks_given_up": run.callback_failures,
        "reply_p50_ms": round(run.percentile(0.5) * 1000),
        "reply_p99_ms": round(run.percentile(0.99) * 1000),
        "decision_p50_ms": round(run.percentile(0.5, run.tap_latencies) * 1000),
        "decision_p99_ms": round(run.percentile(0.99, run.tap_latencies) * 1000),
        "replies_measured": len(run.latencies), "api_calls": len(fake.calls),
        "api_faults": dict(fake.chaos_counts), **facts, "received": run.received,
    }


def compare_to(reference: dict[str, Any], result: dict[str, Any], campus: Campus) -> None:
    difference = compare(reference["received"], result["received"], head_groups(campus))
    result.update(lost=difference.lost, doubled=difference.doubled,
                  out_of_order=len(difference.out_of_order_users),
                  users_as_reference=difference.same_users,
                  users=len(reference["received"]),
                  examples={"lost": difference.lost_users[:3],
                            "doubled": difference.doubled_users[:3],
                            "out_of_order": difference.out_of_order_users[:3]})


ROW = ("| {fault} | {completed}/{teachers} | {reply_p50_ms} | {reply_p99_ms} | "
       "{decision_p50_ms} | {decision_p99_ms} | {callbacks_given_up} | {stuck} | "
       "{dead_letters} | {lost} | {doubled} | {out_of_order} | {users_as_reference}/{users} | "
       "{elapsed_s} |")
HEADER = ("| fault | completed | reply p50 ms | reply p99 ms | decision p50 ms | "
          "decision p99 ms | callbacks given up | stuck | dead letters | lost | doubled | "
          "out of order | users as reference | run s |\n"
          "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")


async def main_async(args: argparse.Namespace) -> list[dict[str, Any]]:
    campus = Campus.generate(departments=args.departments,
                             teachers_per_department=args.teachers)
    calibration = Campus([Department("calib", "校准学院", "calib_head", "校准院长",
                                     (("calib_t", "校准教师"),))])
    folder = Path(tempfile.mkdtemp(prefix="campusbot-load-"))
    directory = folder / "directory.toml"
    directory.write_text(calibration.directory_toml(campus.directory_toml(DEMO)),
                         encoding="utf-8")
    print(f"logs in {folder}", file=sys.stderr)
    setup = Setup(args, campus, calibration, directory, folder)
    results: list[dict[str, Any]] = []
    reference: dict[str, Any] | None = None
    print(HEADER)
    for fault in args.faults:
        started = time.monotonic()
        result = await one_run(setup, fault)
        if reference is None:
            reference = result
        compare_to(reference, result, campus)
        print(ROW.format(**result), flush=True)
        print(f"  {fault}: {'; '.join(result['events']) or 'no fault'}; api faults "
              f"{result['api_faults']}; {result['turns']} turns, {result['messages_sent']} "
              f"messages sent; examples {result['examples']}; "
              f"{time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)
        results.append(result)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", required=True,
                        help="a PostgreSQL database of its own: it is emptied before each run")
    parser.add_argument("--departments", type=int, default=100)
    parser.add_argument("--teachers", type=int, default=10, help="per department")
    parser.add_argument("--servers", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--ramp", type=float, default=60.0,
                        help="teachers start spread over this many seconds")
    parser.add_argument("--timeout", type=float, default=180.0,
                        help="a reply not there after this many seconds: the user is stuck")
    parser.add_argument("--faults", default=",".join(FAULTS),
                        type=lambda v: [f for f in v.split(",") if f])
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()
    if not args.database.startswith(("postgres", "asyncpg")):
        raise SystemExit("--database must be PostgreSQL (the runs need several processes)")
    unknown = set(args.faults) - set(FAULTS)
    if unknown:
        raise SystemExit(f"unknown faults: {', '.join(sorted(unknown))}")
    if args.faults[0] != "none":
        args.faults.insert(0, "none")   # the reference comes first
    results = asyncio.run(main_async(args))
    if args.json:
        for result in results:
            result.pop("received", None)
        Path(args.json).write_text(json.dumps(results, ensure_ascii=False, indent=2) + "\n")


if __name__ == "__main__":
    main()
