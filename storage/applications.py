"""Applications, their approval tasks, audit trail, reminders and bookings."""

from __future__ import annotations

import secrets
from datetime import date, datetime
from typing import Any

from tortoise.expressions import Q

from storage.db import is_postgres
from storage.errors import ConcurrentUpdate
from storage.held_writes import insert_row, write
from storage.models import (
    Application,
    ApprovalTask,
    AuditEntry,
    Booking,
    CarbonCopy,
    Delegation,
    Reminder,
)
from storage.sql import client, db_values, marks, postgres

#: applications that still wait for someone (an approver, or the applicant to 销假 or fix)
OPEN_STATUSES = ("pending", "followup", "returned")

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


_save_sql: dict[bool, str] = {}


async def save_application(application: Application) -> None:
    """Write the application if nobody else changed it since it was read."""
    db = client()
    is_postgres = postgres(db)
    names = (*_SAVED_FIELDS, "version", "id")
    if is_postgres not in _save_sql:
        m = marks(len(names) + 1, is_postgres)
        sets = ", ".join(f"{name} = {mark}" for name, mark in zip(names[:-1], m, strict=False))
        _save_sql[is_postgres] = (f"UPDATE applications SET {sets} WHERE id = {m[-2]} "
                                  f"AND version = {m[-1]}")
    values: dict[str, Any] = {name: getattr(application, name) for name in _SAVED_FIELDS}
    values.update(version=application.version + 1, id=application.id)
    updated, _ = await db.execute_query(
        _save_sql[is_postgres], [*db_values(Application, names, values), application.version])
    if updated != 1:
        raise ConcurrentUpdate(f"application {application.id}")
    application.version += 1


async def get_application(application_id: int) -> Application | None:
    return await Application.get_or_none(id=application_id)


async def lock_application(application_id: int) -> Application | None:
    """Read an application for a decision, locking its row until the turn commits
    (PostgreSQL; on SQLite the write lock and the version check serialise decisions)."""
    query = Application.filter(id=application_id)
    if is_postgres():
        query = query.select_for_update()
    return await query.first()


async def applications_of(applicant_id: str, limit: int = 10,
                          offset: int = 0) -> list[Application]:
    """Submitted applications, newest first (drafts never submitted are not listed)."""
    return await Application.filter(applicant_id=applicant_id,
                                    submitted_at__isnull=False).order_by("-id").offset(
        offset).limit(limit)


async def count_applications_of(applicant_id: str) -> int:
    return await Application.filter(applicant_id=applicant_id,
                                    submitted_at__isnull=False).count()


async def open_applications_of(applicant_id: str) -> list[Application]:
    """Submitted applications still under way, newest first."""
    return await Application.filter(applicant_id=applicant_id, submitted_at__isnull=False,
                                    status__in=OPEN_STATUSES).order_by("-id")


async def applications_in_flows(applicant_id: str, flow_ids: list[str]) -> list[Application]:
    return await Application.filter(applicant_id=applicant_id, flow_id__in=flow_ids,
                                    submitted_at__isnull=False).order_by("id")


async def applications_in_state(applicant_id: str, state: str) -> list[Application]:
    return await Application.filter(applicant_id=applicant_id, state=state).order_by("-id")


async def expired_dialogs(now: datetime, limit: int = 100) -> list[Application]:
    return await Application.filter(status="filling", expires_at__lt=now).order_by("id").limit(
        limit)


async def append_audit(application: Application, *, at: datetime, actor_id: str, action: str,
                       from_state: str = "", to_state: str = "",
                       detail: dict[str, Any] | None = None, channel: str = "",
                       comment: str = "") -> None:
    """Held for the transaction's COMMIT (storage/held_writes.py): read back only by later
    turns."""
    await write(insert_row("audit_log", _AUDIT, db_values(AuditEntry, _AUDIT, {
        "application_id": application.id, "at": at, "actor_id": actor_id, "action": action,
        "from_state": from_state, "to_state": to_state, "detail": detail or {},
        "channel": channel, "comment": comment})))


_AUDIT = ("application_id", "at", "actor_id", "action", "from_state", "to_state", "detail",
          "channel", "comment")


async def last_audit(application_id: int, action: str) -> AuditEntry | None:
    return await AuditEntry.filter(application_id=application_id, action=action).order_by(
        "-id").first()


async def audit_of(application_id: int) -> list[AuditEntry]:
    return await AuditEntry.filter(application_id=application_id).order_by("id")


# ---- approval tasks ---------------------------------------------------------------------------

def new_card_key(application_id: int) -> str:
    """A neutral key, unique per card (each channel maps it to its platform's card id)."""
    return f"a{application_id}-{secrets.token_hex(6)}"


async def create_task(application: Application, *, stage_id: str, approver_id: str,
                      now: datetime, status: str = "pending", slot: int = 0, position: int = 0,
                      round: int = 0, delegated_from: str | None = None) -> ApprovalTask:
    return await ApprovalTask.create(application=application, stage_id=stage_id,
                                     approver_id=approver_id, status=status,
                                     card_key=new_card_key(application.id), created_at=now,
                                     slot=slot, position=position, round=round,
                                     delegated_from=delegated_from)


async def task_by_card(card_key: str) -> ApprovalTask | None:
    return await ApprovalTask.get_or_none(card_key=card_key).prefetch_related("application")


async def stage_tasks(application_id: int, stage_id: str,
                      round: int | None = None) -> list[ApprovalTask]:
    query = ApprovalTask.filter(application_id=application_id, stage_id=stage_id)
    if round is not None:
        query = query.filter(round=round)
    return await query.order_by("id")


async def stage_tasks_all(application_id: int) -> list[ApprovalTask]:
    return await ApprovalTask.filter(application_id=application_id).order_by("id")


async def open_tasks_of(application_id: int) -> list[ApprovalTask]:
    return await ApprovalTask.filter(application_id=application_id, status="pending").order_by(
        "id")


async def waiting_tasks_of(application_id: int) -> list[ApprovalTask]:
    """Tasks not decided yet: acting now (pending) or after others (queued)."""
    return await ApprovalTask.filter(application_id=application_id,
                                     status__in=("pending", "queued")).order_by("id")


async def pending_tasks_for(approver_id: str, limit: int = 20,
                            offset: int = 0) -> list[ApprovalTask]:
    return await ApprovalTask.filter(approver_id=approver_id, status="pending").order_by(
        "id").offset(offset).limit(limit).prefetch_related("application")


async def count_pending_tasks_for(approver_id: str) -> int:
    return await ApprovalTask.filter(approver_id=approver_id, status="pending").count()


async def pending_task_of(approver_id: str, application_id: int) -> ApprovalTask | None:
    """The approver's card waiting on this application, however long their list is."""
    return await ApprovalTask.filter(approver_id=approver_id, status="pending",
                                     application_id=application_id).order_by("id").first()


async def task_by_id(task_id: int) -> ApprovalTask | None:
    return await ApprovalTask.get_or_none(id=task_id).prefetch_related("application")


async def overdue_tasks(now: datetime, approver_ids: list[str] | None = None,
                        limit: int = 200) -> list[ApprovalTask]:
    query = ApprovalTask.filter(status="pending", due_at__lt=now)
    if approver_ids is not None:
        query = query.filter(approver_id__in=approver_ids)
    return await query.order_by("due_at").limit(limit).prefetch_related("application")


async def save_task(task: ApprovalTask) -> None:
    await task.save(update_fields=["status", "comment", "decided_by", "decided_at", "due_at"])


async def next_slot(application_id: int) -> int:
    last = await ApprovalTask.filter(application_id=application_id).order_by("-slot").first()
    return (last.slot + 1) if last else 0


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


async def cancel_reminders(application_id: int, kinds: list[str] | None = None) -> None:
    query = Reminder.filter(application_id=application_id, status="pending")
    if kinds is not None:
        query = query.filter(kind__in=kinds)
    await query.update(status="cancelled")


async def due_reminders(now: datetime, limit: int = 100) -> list[Reminder]:
    return await Reminder.filter(status="pending", due_at__lte=now).order_by("due_at").limit(limit)


async def claim_reminder(reminder_id: int, status: str = "sent") -> bool:
    """Atomically take a due reminder; False when another process already took it."""
    return await Reminder.filter(id=reminder_id, status="pending").update(status=status) == 1


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


# ---- delegation -------------------------------------------------------------------------------

async def add_delegation(*, principal_id: str, delegate_id: str, starts_on: date, ends_on: date,
                         reason: str, source: str, created_by: str, now: datetime) -> Delegation:
    """A new delegation replaces the principal's delegations that overlap it."""
    await Delegation.filter(principal_id=principal_id, cancelled_at__isnull=True,
                            starts_on__lte=ends_on, ends_on__gte=starts_on).update(
        cancelled_at=now)
    return await Delegation.create(principal_id=principal_id, delegate_id=delegate_id,
                                   starts_on=starts_on, ends_on=ends_on, reason=reason,
                                   source=source, created_by=created_by, created_at=now)


async def delegation_on(principal_id: str, day: date) -> Delegation | None:
    return await Delegation.filter(principal_id=principal_id, cancelled_at__isnull=True,
                                   starts_on__lte=day, ends_on__gte=day).order_by("-id").first()


async def delegations_of(principal_id: str, from_day: date) -> list[Delegation]:
    """Delegations not over yet, as principal."""
    return await Delegation.filter(principal_id=principal_id, cancelled_at__isnull=True,
                                   ends_on__gte=from_day).order_by("starts_on")


async def cancel_delegations(principal_id: str, from_day: date, now: datetime) -> int:
    return await Delegation.filter(principal_id=principal_id, cancelled_at__isnull=True,
                                   ends_on__gte=from_day).update(cancelled_at=now)


# ---- carbon copies ----------------------------------------------------------------------------

async def add_carbon_copy(application: Application, user_id: str, point: str,
                          now: datetime) -> bool:
    """Record that `user_id` was told; False if they already were at this point."""
    if await CarbonCopy.exists(application_id=application.id, user_id=user_id, point=point):
        return False
    await CarbonCopy.create(application=application, user_id=user_id, point=point,
                            created_at=now)
    return True


async def is_carbon_copied(application_id: int, user_id: str) -> bool:
    return await CarbonCopy.exists(application_id=application_id, user_id=user_id)


async def involved_in(application_id: int, user_id: str) -> bool:
    """Whether `user_id` had a card of this application."""
    return await ApprovalTask.filter(Q(approver_id=user_id) | Q(delegated_from=user_id),
                                     application_id=application_id).exists()
