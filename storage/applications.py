"""Applications, their approval tasks, audit trail, reminders and bookings."""

from __future__ import annotations

import secrets
from datetime import date, datetime
from typing import Any

from storage.errors import ConcurrentUpdate
from storage.models import Application, ApprovalTask, AuditEntry, Booking, Reminder

_SAVED_FIELDS = ("state", "status", "form", "meta", "updated_at", "submitted_at", "finished_at",
                 "expires_at", "flow_version")


async def create_application(*, flow_id: str, flow_version: int, applicant_id: str, state: str,
                             status: str, channel: str, now: datetime,
                             expires_at: datetime | None,
                             flow_digest: str | None = None) -> Application:
    return await Application.create(
        flow_id=flow_id, flow_version=flow_version, flow_digest=flow_digest,
        applicant_id=applicant_id, state=state,
        status=status, form={}, meta={}, channel=channel, created_at=now, updated_at=now,
        expires_at=expires_at, version=0,
    )


async def save_application(application: Application) -> None:
    """Write the application if nobody else changed it since it was read."""
    values: dict[str, Any] = {name: getattr(application, name) for name in _SAVED_FIELDS}
    updated = await Application.filter(id=application.id, version=application.version).update(
        **values, version=application.version + 1)
    if updated != 1:
        raise ConcurrentUpdate(f"application {application.id}")
    application.version += 1


async def get_application(application_id: int) -> Application | None:
    return await Application.get_or_none(id=application_id)


async def applications_of(applicant_id: str, limit: int = 10) -> list[Application]:
    """Submitted applications, newest first (drafts never submitted are not listed)."""
    return await Application.filter(applicant_id=applicant_id,
                                    submitted_at__isnull=False).order_by("-id").limit(limit)


async def applications_in_state(applicant_id: str, state: str) -> list[Application]:
    return await Application.filter(applicant_id=applicant_id, state=state).order_by("-id")


async def expired_dialogs(now: datetime, limit: int = 100) -> list[Application]:
    return await Application.filter(status="filling", expires_at__lt=now).order_by("id").limit(
        limit)


async def append_audit(application: Application, *, at: datetime, actor_id: str, action: str,
                       from_state: str = "", to_state: str = "",
                       detail: dict[str, Any] | None = None) -> None:
    await AuditEntry.create(application=application, at=at, actor_id=actor_id, action=action,
                            from_state=from_state, to_state=to_state, detail=detail or {})


async def audit_of(application_id: int) -> list[AuditEntry]:
    return await AuditEntry.filter(application_id=application_id).order_by("id")


# ---- approval tasks ---------------------------------------------------------------------------

def new_card_key(application_id: int) -> str:
    """A WeCom-safe task id (letters, digits, _-@; at most 128 bytes), unique per card."""
    return f"a{application_id}-{secrets.token_hex(6)}"


async def create_task(application: Application, *, stage_id: str, approver_id: str,
                      now: datetime) -> ApprovalTask:
    return await ApprovalTask.create(application=application, stage_id=stage_id,
                                     approver_id=approver_id, status="pending",
                                     card_key=new_card_key(application.id), created_at=now)


async def task_by_card(card_key: str) -> ApprovalTask | None:
    return await ApprovalTask.get_or_none(card_key=card_key).prefetch_related("application")


async def stage_tasks(application_id: int, stage_id: str) -> list[ApprovalTask]:
    return await ApprovalTask.filter(application_id=application_id, stage_id=stage_id).order_by(
        "id")


async def stage_tasks_all(application_id: int) -> list[ApprovalTask]:
    return await ApprovalTask.filter(application_id=application_id).order_by("id")


async def open_tasks_of(application_id: int) -> list[ApprovalTask]:
    return await ApprovalTask.filter(application_id=application_id, status="pending")


async def pending_tasks_for(approver_id: str, limit: int = 20) -> list[ApprovalTask]:
    return await ApprovalTask.filter(approver_id=approver_id, status="pending").order_by(
        "id").limit(limit).prefetch_related("application")


async def save_task(task: ApprovalTask) -> None:
    # not response_code: callbacks keep it up to date outside the turn, and writing back the
    # value loaded at the start of the turn could bring back a code WeCom already used up
    await task.save(update_fields=["status", "comment", "decided_by", "decided_at"])


async def set_response_code(card_key: str, code: str) -> None:
    await ApprovalTask.filter(card_key=card_key).update(response_code=code)


# ---- reminders --------------------------------------------------------------------------------

async def schedule_reminder(application: Application, *, kind: str, user_id: str,
                            due_at: datetime, now: datetime) -> None:
    existing = await Reminder.get_or_none(application_id=application.id, kind=kind)
    if existing:
        existing.due_at, existing.status, existing.user_id = due_at, "pending", user_id
        await existing.save(update_fields=["due_at", "status", "user_id"])
        return
    await Reminder.create(application=application, kind=kind, user_id=user_id, due_at=due_at,
                          created_at=now)


async def cancel_reminders(application_id: int) -> None:
    await Reminder.filter(application_id=application_id, status="pending").update(
        status="cancelled")


async def due_reminders(now: datetime, limit: int = 100) -> list[Reminder]:
    return await Reminder.filter(status="pending", due_at__lte=now).order_by("due_at").limit(limit)


async def claim_reminder(reminder_id: int) -> bool:
    """Atomically take a due reminder; False when another process already took it."""
    return await Reminder.filter(id=reminder_id, status="pending").update(status="sent") == 1


# ---- bookings ---------------------------------------------------------------------------------

async def hold_booking(application: Application, *, flow_id: str, resource: str, day: date,
                       slot: str) -> None:
    await Booking.filter(application_id=application.id).delete()
    await Booking.create(application=application, flow_id=flow_id, resource=resource, day=day,
                         slot=slot, status="pending")


async def set_booking_status(application_id: int, status: str) -> None:
    await Booking.filter(application_id=application_id).update(status=status)


async def approved_bookings(flow_id: str, resource: str, day: date,
                            exclude_application: int | None) -> list[Booking]:
    query = Booking.filter(flow_id=flow_id, resource=resource, day=day, status="approved")
    if exclude_application is not None:
        query = query.exclude(application_id=exclude_application)
    return await query.prefetch_related("application")


async def reminder_with_application(reminder_id: int) -> Reminder:
    return await Reminder.get(id=reminder_id).prefetch_related("application")
