"""`GET /metrics`: the Prometheus text format (version 0.0.4), written here without a client
library.

Two kinds of figures:
- counted in this process since it started (callbacks by result, turns and their duration,
  platform API errors by code, deliveries by outcome): every server and worker process has its
  own; Prometheus sums them across the processes it scrapes;
- read from the database at each scrape (outbox depth and the age of its oldest message, dead
  letters, events waiting for their turn, open applications, overdue approvals): the same from
  every process; take one (`max`) rather than the sum.

docs/operations.md lists them with what to alert on.
"""

from __future__ import annotations

import bisect
import logging
import math
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from aiohttp import web

from bot import keys
from storage import stats

log = logging.getLogger("campusbot.metrics")

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
Labels = tuple[tuple[str, str], ...]


def _labels(labels: Labels, extra: Labels = ()) -> str:
    pairs = (*labels, *extra)
    if not pairs:
        return ""
    return "{" + ",".join(f'{name}="{_escape(value)}"' for name, value in pairs) + "}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value)) if not float(value).is_integer() else str(int(value))


@dataclass
class Counter:
    name: str
    help: str
    values: dict[Labels, float] = field(default_factory=dict)

    def inc(self, amount: float = 1.0, **labels: str) -> None:
        key = tuple(sorted(labels.items()))
        self.values[key] = self.values.get(key, 0.0) + amount

    def value(self, **labels: str) -> float:
        return self.values.get(tuple(sorted(labels.items())), 0.0)

    def lines(self) -> Iterable[str]:
        yield f"# HELP {self.name} {self.help}"
        yield f"# TYPE {self.name} counter"
        for labels, value in sorted(self.values.items()):
            yield f"{self.name}{_labels(labels)} {_number(value)}"


@dataclass
class Histogram:
    name: str
    help: str
    buckets: Sequence[float]
    counts: list[int] = field(default_factory=list)
    total: float = 0.0
    count: int = 0

    def __post_init__(self) -> None:
        self.counts = [0] * len(self.buckets)

    def observe(self, value: float) -> None:
        index = bisect.bisect_left(self.buckets, value)
        if index < len(self.counts):
            self.counts[index] += 1
        self.total += value
        self.count += 1

    def lines(self) -> Iterable[str]:
        yield f"# HELP {self.name} {self.help}"
        yield f"# TYPE {self.name} histogram"
        cumulative = 0
        for bound, count in zip(self.buckets, self.counts, strict=True):
            cumulative += count
            yield f"{self.name}_bucket{_labels((('le', _number(bound)),))} {cumulative}"
        yield f'{self.name}_bucket{{le="+Inf"}} {self.count}'
        yield f"{self.name}_sum {_number(self.total)}"
        yield f"{self.name}_count {self.count}"


def gauge(name: str, help: str, values: dict[Labels, float]) -> Iterable[str]:
    yield f"# HELP {name} {help}"
    yield f"# TYPE {name} gauge"
    for labels, value in sorted(values.items()):
        yield f"{name}{_labels(labels)} {_number(value)}"


# ---- what this process counts ------------------------------------------------------------------

CALLBACKS = Counter(
    "campusbot_callbacks_total",
    "Platform callbacks answered, by channel and result (accepted, duplicate, ignored, "
    "bad_request, forbidden, too_slow, too_large, unavailable).")
TURNS = Counter(
    "campusbot_turns_total",
    "Turns run, by result (done; failed: to be retried; given_up: the user asked to resend).")
TURN_SECONDS = Histogram(
    "campusbot_turn_duration_seconds",
    "Time of a turn that completed, from its start to its commit (retries included).",
    (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0))
API_ERRORS = Counter(
    "campusbot_api_errors_total",
    "Errors of the platforms' APIs, by channel and code (the platform's errcode, or "
    "'transport' for a timeout, a lost connection or an HTTP error).")
DELIVERIES = Counter(
    "campusbot_outbox_deliveries_total",
    "Outbox delivery attempts, by channel and outcome (sent, retry, dead).")
COUNTED = (CALLBACKS, TURNS, TURN_SECONDS, API_ERRORS, DELIVERIES)
STARTED = time.time()


# ---- the endpoint ------------------------------------------------------------------------------

async def render(now_stats: stats.Stats | None) -> str:
    lines: list[str] = []
    for metric in COUNTED:
        lines.extend(metric.lines())
    lines.extend(gauge("campusbot_process_start_time_seconds",
                       "When this process started (Unix time).", {(): STARTED}))
    lines.extend(gauge("campusbot_database_up",
                       "1 when the database answered this scrape's queries.",
                       {(): 0 if now_stats is None else 1}))
    if now_stats is not None:
        lines.extend(_database_lines(now_stats))
    return "\n".join(lines) + "\n"


def _database_lines(s: stats.Stats) -> Iterable[str]:
    yield from gauge("campusbot_outbox_depth",
                     "Messages waiting to be sent (pending or being sent), by channel.",
                     {(("channel", c),): n for c, n in s.outbox_depth.items()})
    yield from gauge("campusbot_outbox_oldest_age_seconds",
                     "Age of the oldest message waiting to be sent (0 when none waits).",
                     {(): s.outbox_oldest_age})
    yield from gauge("campusbot_dead_letters",
                     "Messages given up (campusbot outbox dead).", {(): s.dead_letters})
    yield from gauge("campusbot_inbound_waiting",
                     "Stored messages and taps whose turn has not run yet.",
                     {(): s.inbound_waiting})
    yield from gauge("campusbot_inbound_oldest_age_seconds",
                     "Age of the oldest stored message whose turn has not run (0 when none).",
                     {(): s.inbound_oldest_age})
    yield from gauge("campusbot_applications_open",
                     "Applications submitted and not finished, by status.",
                     {(("status", st),): n for st, n in s.applications_open.items()})
    yield from gauge("campusbot_approvals_overdue",
                     "Approval tasks still pending after their time limit.",
                     {(): s.approvals_overdue})


async def metrics(request: web.Request) -> web.Response:
    try:
        current: stats.Stats | None = await stats.read(request.app[keys.CLOCK].now())
    except Exception:  # the database is away: the counters still tell what happened
        log.warning("metrics: the database did not answer", exc_info=True)
        current = None
    return web.Response(text=await render(current), headers={"Content-Type": CONTENT_TYPE})
