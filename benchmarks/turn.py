"""Benchmark: what one turn costs — database statements, round trips and CPU time — by kind of
turn, in this process, on SQLite (default) or PostgreSQL.

    .venv/bin/python benchmarks/turn.py [--users 200] [--database URL] [--profile out.prof]
                                        [--top 25] [--json out.json] [--batch 10]

Each synthetic teacher (added to the demo directory) talks through the real dispatcher and
handlers, as the simulator's messages do: 帮助, 我要请假, the leave form's answers one by one,
确认, 我的申请. Only the turn is measured (`Dispatcher.process`, after the event was stored):
statements and transaction commands counted by wrapping Tortoise's clients
(tests/query_count.py), CPU as the process's CPU time (user + system, `time.process_time`)
around it. Reported per kind: medians, and the statements of one example turn.
With --profile, a second pass of `--profile-users` more users runs under cProfile, timed by
the main thread's CPU clock (waits for the database are not counted), around the plain dialog
turns (an answer to a question) only; the top entries by own time are printed. The figures
in the table never come from a profiled turn.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import pstats
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.postgres import empty_database  # noqa: E402
from bot.clock import SystemClock  # noqa: E402
from bot.config import Settings, build_settings  # noqa: E402
from bot.services import build_services, load_directory  # noqa: E402
from flows.incoming import Incoming  # noqa: E402
from storage.db import close_db, init_db  # noqa: E402
from storage.models import Application  # noqa: E402
from tests.query_count import count_queries  # noqa: E402

#: (kind, text): the leave request of README.md, answer by answer
SCRIPT = [("help", "帮助"), ("start", "我要请假"), ("answer", "事假"), ("answer", "下周一"),
          ("answer", "2"), ("answer", "回老家处理家中急事"), ("answer", "无"), ("answer", "否"),
          ("answer", "13800138000"), ("submit", "确认"), ("status", "我的申请")]


def directory_file(folder: Path, users: int) -> Path:
    demo = (ROOT / "storage" / "demo_directory.toml").read_text(encoding="utf-8")
    teachers = [f'[[users]]\nid = "t{n:04d}"\nname = "教师{n:04d}"\ndepartment = "lit"\n'
                'roles = ["teacher"]\n' for n in range(users)]
    path = folder / "directory.toml"
    path.write_text(demo + "\n" + "\n".join(teachers), encoding="utf-8")
    return path


async def run(args: argparse.Namespace) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix="campusbot-turn-"))
    total = args.users + (args.profile_users if args.profile else 0)
    url = args.database or f"sqlite://{folder}/turn.sqlite3"
    if url.startswith(("postgres://", "postgresql://")):
        await empty_database(url)   # each run counts its own users and applications
    settings = build_settings({"database": {"url": url},
                               "directory": {"file": str(directory_file(folder, total))},
                               "log": {"level": "WARNING"}}, {})
    await init_db(url, setup=lambda: load_directory(settings))
    try:
        return await measure(args, settings, total)
    finally:
        await close_db()


async def measure(args: argparse.Namespace, settings: Settings, total: int) -> dict[str, Any]:
    services = await build_services(settings, SystemClock())
    dispatcher = services.dispatcher
    profile = cProfile.Profile(time.thread_time) if args.profile else None
    statements: dict[str, list[int]] = defaultdict(list)
    trips: dict[str, list[int]] = defaultdict(list)
    cpu: dict[str, list[float]] = defaultdict(list)
    examples: dict[str, list[str]] = {}
    serial = 0
    with count_queries() as counted:   # installed once: no wrapping cost inside the turns
        for n in range(total if args.batch < 2 else 0):
            user = f"t{n:04d}"
            for kind, text in SCRIPT:
                serial += 1
                accepted = await dispatcher.accept(Incoming(
                    channel="sim", user_id=user, kind="text", text=text,
                    dedupe_key=f"b{serial}"))
                assert accepted is not None
                measured = args.warm_up <= n < args.users
                if n >= args.users and profile is not None and kind == "answer":
                    profile.enable()
                counted.reset()
                started = time.process_time()
                result = await dispatcher.process(accepted)
                spent = time.process_time() - started
                if profile is not None:
                    profile.disable()
                assert result.processed, (user, text)
                if not measured:
                    continue
                statements[kind].append(counted.statements)
                trips[kind].append(counted.round_trips)
                cpu[kind].append(spent * 1000)
                examples.setdefault(kind, list(counted.sql))
        if args.batch >= 2:
            await run_batched(args, dispatcher, counted, statements, trips, cpu, examples)
    rows = {kind: {"turns": len(cpu[kind]),
                   "statements": statistics.median(statements[kind]),
                   "statements_max": max(statements[kind]),
                   "round_trips": statistics.median(trips[kind]),
                   "cpu_ms": statistics.median(cpu[kind]),
                   "cpu_ms_p90": sorted(cpu[kind])[int(len(cpu[kind]) * 0.9)]}
            for kind in cpu}
    # the dialog really went through: every user has a submitted application
    submitted = await Application.filter(submitted_at__isnull=False).count()
    assert submitted == total, f"{submitted} of {total} leave requests submitted"
    await services.close_channels()
    result: dict[str, Any] = {"database": settings.database.url.split("://")[0],
                              "users": args.users, "rows": rows, "examples": examples}
    if profile is not None:
        profile.dump_stats(args.profile)
    return result


async def run_batched(args: argparse.Namespace, dispatcher: Any, counted: Any,
                      statements: dict[str, list[int]], trips: dict[str, list[int]],
                      cpu: dict[str, list[float]], examples: dict[str, list[str]]) -> None:
    """`--batch N`: groups of N users say each line of the script together, and their N turns
    run as the server runs a burst's (`Dispatcher.process_batch`, one transaction); each
    turn is counted as the batch's figures divided by N."""
    serial = 0
    for first in range(0, args.users, args.batch):
        group = [f"t{n:04d}" for n in range(first, min(first + args.batch, args.users))]
        for kind, text in SCRIPT:
            batch = []
            for user in group:
                serial += 1
                accepted = await dispatcher.accept(Incoming(
                    channel="sim", user_id=user, kind="text", text=text,
                    dedupe_key=f"b{serial}"))
                assert accepted is not None
                batch.append(accepted)
            counted.reset()
            started = time.process_time()
            await dispatcher.process_batch(batch)
            spent = time.process_time() - started
            if first < args.warm_up:
                continue
            turns = len(batch)   # each turn of the batch counts with the batch's mean
            statements[kind].extend([round(counted.statements / turns, 1)] * turns)
            trips[kind].extend([round(counted.round_trips / turns, 1)] * turns)
            cpu[kind].extend([spent * 1000 / turns] * turns)
            examples.setdefault(kind, list(counted.sql))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--warm-up", type=int, default=20,
                        help="users whose turns are not measured (default 20)")
    parser.add_argument("--database", help="database URL (default: SQLite in a temp folder); "
                        "a PostgreSQL database is emptied first")
    parser.add_argument("--profile", help="cProfile the dialog answers, stats to this file")
    parser.add_argument("--profile-users", type=int, default=100,
                        help="users of the profiled pass (default 100)")
    parser.add_argument("--top", type=int, default=25, help="profile entries printed")
    parser.add_argument("--sql", action="store_true", help="print each kind's statements")
    parser.add_argument("--batch", type=int, default=1,
                        help="turns of this many users in one transaction, as in a burst "
                             "(default 1: each turn on its own; figures per turn)")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()
    result = asyncio.run(run(args))
    print(f"database: {result['database']}, users measured: {args.users - args.warm_up}")
    print("| turn | turns | statements (median) | max | round trips incl. BEGIN/COMMIT | "
          "CPU ms (median) | CPU ms (p90) |\n|---|---:|---:|---:|---:|---:|---:|")
    for kind, row in result["rows"].items():
        print(f"| {kind} | {row['turns']} | {row['statements']:g} | {row['statements_max']} | "
              f"{row['round_trips']:g} | {row['cpu_ms']:.2f} | {row['cpu_ms_p90']:.2f} |")
    if args.sql:
        for kind, sql in result["examples"].items():
            print(f"\n{kind}:")
            for statement in sql:
                print("   ", " ".join(statement.split())[:220])
    if args.profile:
        print()
        pstats.Stats(args.profile).sort_stats("tottime").print_stats(args.top)
    if args.json:
        Path(args.json).write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n")


if __name__ == "__main__":
    main()
