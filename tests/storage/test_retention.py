"""docs/deploying.md's retention statement: deleting an application deletes what belongs to it."""

from __future__ import annotations

from aiohttp.test_utils import TestClient
from tortoise import connections

from storage import applications as store
from storage import assignments
from storage.models import ApprovalTask, AssignmentIssue, AuditEntry, Reminder
from tests.conftest import START


async def test_deleting_old_applications_takes_their_approvals_audit_and_reminders(
        client: TestClient) -> None:
    application = await store.create_application(
        flow_id="staff_leave", flow_version=1, applicant_id="zhang_t", state="completed",
        status="completed", channel="sim", now=START, expires_at=None)
    await store.create_task(application, stage_id="dept_head", approver_id="li_dean", now=START)
    await store.append_audit(application, at=START, actor_id="zhang_t", action="submit")
    await store.schedule_reminder(application, kind="report_back", user_id="zhang_t",
                                  due_at=START, now=START)
    await assignments.record(application, stage_id="dept_head", gap="x", state="fallback",
                             fallback_ids=["li_dean"], now=START)
    application.finished_at = START
    await store.save_application(application)
    await connections.get("default").execute_query(
        "DELETE FROM applications WHERE finished_at < $1" if
        connections.get("default").capabilities.dialect == "postgres" else
        "DELETE FROM applications WHERE finished_at < ?", [START.replace(year=2027)])
    for model in (ApprovalTask, AuditEntry, Reminder, AssignmentIssue):
        assert not await model.exists(), model.__name__
