"""Figures about the work in the database, for monitoring (bot/metrics.py): a handful of
aggregate queries, each on an indexed status column."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tortoise.functions import Count, Min

from storage.applications import OPEN_STATUSES
from storage.models import Application, ApprovalTask, InboundEvent, OutboxMessage
from storage.outbox import UNFINISHED


@dataclass(frozen=True)
class Stats:
    outbox_depth: dict[str, int]
    outbox_oldest_age: float
    dead_letters: int
    inbound_waiting: int
    inbound_oldest_age: float
    applications_open: dict[str, int]
    approvals_overdue: int


def _age(now: datetime, oldest: datetime | None) -> float:
    return max(0.0, (now - oldest).total_seconds()) if oldest is not None else 0.0


async def read(now: datetime) -> Stats:
    depth = await OutboxMessage.filter(status__in=list(UNFINISHED)).annotate(
        n=Count("id"), oldest=Min("created_at")).group_by("channel").values(
        "channel", "n", "oldest")
    oldest_out = min((row["oldest"] for row in depth if row["oldest"] is not None), default=None)
    waiting = await InboundEvent.filter(status="received").annotate(
        n=Count("id"), oldest=Min("received_at")).values("n", "oldest")
    open_apps = await Application.filter(status__in=list(OPEN_STATUSES)).annotate(
        n=Count("id")).group_by("status").values("status", "n")
    return Stats(
        outbox_depth={row["channel"]: int(row["n"]) for row in depth},
        outbox_oldest_age=_age(now, oldest_out),
        dead_letters=await OutboxMessage.filter(status="failed").count(),
        inbound_waiting=int(waiting[0]["n"]) if waiting else 0,
        inbound_oldest_age=_age(now, waiting[0]["oldest"] if waiting else None),
        applications_open=dict.fromkeys(OPEN_STATUSES, 0) | {
            row["status"]: int(row["n"]) for row in open_apps},
        approvals_overdue=await ApprovalTask.filter(status="pending", due_at__lt=now).count(),
    )
