"""Stages the directory could not assign: who stood in, or which applications wait."""

from __future__ import annotations

from datetime import datetime

from storage.models import Application, AssignmentIssue

FALLBACK = "fallback"
WAITING = "waiting"
ASSIGNED = "assigned"
CLOSED = "closed"


async def open_issue(application_id: int, stage_id: str) -> AssignmentIssue | None:
    return await AssignmentIssue.filter(application_id=application_id, stage_id=stage_id,
                                        state__in=(FALLBACK, WAITING)).first()


async def record(application: Application, *, stage_id: str, gap: str, state: str,
                 fallback_ids: list[str], now: datetime) -> AssignmentIssue:
    return await AssignmentIssue.create(application=application, flow_id=application.flow_id,
                                        stage_id=stage_id, gap=gap[:255], state=state,
                                        fallback_ids=fallback_ids, created_at=now)


async def waiting(limit: int = 100) -> list[AssignmentIssue]:
    """Applications nobody could be found for, oldest first."""
    return await AssignmentIssue.filter(state=WAITING).order_by("id").limit(limit)


async def mark_assigned(issue_id: int, now: datetime) -> bool:
    """True for the one process that moves the issue on (another may retry at the same time)."""
    return await AssignmentIssue.filter(id=issue_id, state=WAITING).update(
        state=ASSIGNED, resolved_at=now) == 1


async def issues_of(application_id: int) -> list[AssignmentIssue]:
    return await AssignmentIssue.filter(application_id=application_id).order_by("id")


async def close(issue_id: int, now: datetime) -> None:
    """The application no longer waits at that stage (withdrawn, or moved on)."""
    await AssignmentIssue.filter(id=issue_id, state=WAITING).update(state=CLOSED, resolved_at=now)


async def stood_in(application_id: int, stage_id: str) -> bool:
    """Whether a stand-in got this stage of the application (the directory lacked its
    approver)."""
    return await AssignmentIssue.filter(application_id=application_id, stage_id=stage_id,
                                        state=FALLBACK).exists()
