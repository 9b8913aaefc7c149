"""Due work: 办结时限 of tasks and applications, reminders, escalation, and 销假 follow-ups.

Each reminder is a row (`reminders`) with a kind and a due time, written in the same
transaction as its cause; the scheduler job claims due rows atomically, so several processes
never send one twice and a restart loses none. Kinds:

    half:<task>   the approver, when half the working time is gone
    last:<task>   the approver, on the morning of the last working day
    due:<task>    time is out: the approver's unit head is told (escalation)
    app_due       the whole process is over its time limit: the head of the flow's unit
    report_back   the applicant, on the last day of leave
    rb_late       the applicant, N working days after the leave without 销假
    rb_tell       the approvers, a working day after that
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime

from flows.cards import leave_range, recorded_leave
from flows.definition import FlowDefinition, Stage
from flows.runtime import Runtime
from flows.texts import back_word
from flows.turn import Turn
from flows.workdays import WorkCalendar
from storage import applications as store
from storage.directory import PersonInfo
from storage.models import Application, ApprovalTask, Reminder

log = logging.getLogger("campusbot.flows")

TASK_KINDS = ("half", "last", "due")
#: a later reminder of the same task makes an earlier one pointless (after a restart, say)
SUPERSEDES = {"half": ("last", "due"), "last": ("due",)}


def task_kind(kind: str, task_id: int) -> str:
    return f"{kind}:{task_id}"


def split_kind(kind: str) -> tuple[str, int | None]:
    name, _, task = kind.partition(":")
    return name, int(task) if task.isdigit() else None


def when_text(moment: datetime, turn: Turn) -> str:
    local = moment.astimezone(turn.timezone)
    weekday = "一二三四五六日"[local.weekday()]
    return f"{local.month}月{local.day}日（周{weekday}）{local:%H:%M}"


@dataclass
class Push:
    to: str
    text: str


class Deadlines:
    """Writes the reminder rows for a task, an application or a leave."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    @property
    def calendar(self) -> WorkCalendar:
        return self.runtime.settings.calendar

    async def schedule_task(self, application: Application, task: ApprovalTask, stage: Stage,
                            now: datetime) -> None:
        if not stage.time_limit_days:
            return
        calendar = self.calendar
        due = calendar.deadline(now, stage.time_limit_days)
        task.due_at = due
        await store.save_task(task)
        last = calendar.last_day_morning(due)
        half = calendar.half_time(now, due)
        user = task.approver_id
        if now < half < last:
            await store.schedule_reminder(application, kind=task_kind("half", task.id),
                                          user_id=user, due_at=half, now=now)
        if calendar.local(last).date() > calendar.local(now).date():
            await store.schedule_reminder(application, kind=task_kind("last", task.id),
                                          user_id=user, due_at=last, now=now)
        await store.schedule_reminder(application, kind=task_kind("due", task.id), user_id=user,
                                      due_at=due, now=now)

    async def cancel_task(self, application_id: int, task_id: int) -> None:
        await store.cancel_reminders(application_id, [task_kind(k, task_id) for k in TASK_KINDS])

    async def schedule_application(self, application: Application, definition: FlowDefinition,
                                   now: datetime) -> None:
        if not definition.time_limit_days or not definition.stages:
            return
        due = self.calendar.deadline(now, definition.time_limit_days)
        application.meta = {**application.meta, "due_at": due.isoformat()}
        await store.schedule_reminder(application, kind="app_due",
                                      user_id=application.applicant_id, due_at=due, now=now)

    async def schedule_report_back(self, application: Application, end: date,
                                   now: datetime) -> None:
        calendar = self.calendar
        grace = self.runtime.settings.report_back_grace_days
        late = calendar.add_workdays(end, grace)
        await store.schedule_reminder(application, kind="rb_late",
                                      user_id=application.applicant_id,
                                      due_at=calendar.at(late, calendar.work_start), now=now)
        await store.schedule_reminder(application, kind="rb_tell",
                                      user_id=application.applicant_id,
                                      due_at=calendar.at(calendar.next_workday(late),
                                                         calendar.work_start), now=now)


class ReminderTexts:
    """What a due reminder says, and to whom; nothing when it no longer applies."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    async def pushes(self, turn: Turn, reminder: Reminder) -> list[Push]:
        application = reminder.application
        definition = self.runtime.catalog.get(application.flow_id)
        if definition is None:
            return []
        name, task_id = split_kind(reminder.kind)
        applicant = await self.runtime.name(application.applicant_id)
        title = f"{applicant}的《{definition.name}》（#{application.id}）"
        if task_id is not None:
            return await self._task(turn, name, task_id, application, definition, title)
        if name == "app_due":
            return await self._application_due(turn, application, definition, title)
        if name in ("report_back", "rb_late", "rb_tell"):
            return await self._report_back(turn, name, application, definition)
        return []

    async def _task(self, turn: Turn, name: str, task_id: int, application: Application,
                    definition: FlowDefinition, title: str) -> list[Push]:
        task = await store.task_by_id(task_id)
        if task is None or task.status != "pending" or task.due_at is None:
            return []
        stage = definition.stage_by_id(task.stage_id)
        deadline = when_text(task.due_at, turn)
        act = f"请在卡片上处理，或回复“同意 {application.id}”“驳回 {application.id} 理由”。"
        if name == "half":
            return [Push(task.approver_id, f"⏰ 提醒：{title}在您处待{stage.name}，"
                                           f"办结时限 {deadline}，时间已过半。{act}")]
        if name == "last":
            return [Push(task.approver_id, f"⏰ 今天是办结时限的最后一天：{title}在您处待"
                                           f"{stage.name}，请于 {deadline} 前处理。{act}")]
        head = await self.escalation_target(task.approver_id)
        approver = await self.runtime.name(task.approver_id)
        pushes = [Push(task.approver_id, f"⚠ {title}的{stage.name}已超过办结时限（{deadline}）"
                                         + (f"，已报告{head.name}" if head else "")
                                         + f"。{act}")]
        if head is not None:
            pushes.append(Push(head.id, f"⚠ 督办：{title}在{approver}处（{stage.name}）已超过"
                                        f"办结时限（{deadline}），请督促办理。回复“超时”查看超时事项。"))
        await store.append_audit(application, at=turn.now, actor_id="system", action="escalate",
                                 detail={"stage": stage.id, "task": task.id,
                                         "to": head.id if head else None})
        return pushes

    async def _application_due(self, turn: Turn, application: Application,
                               definition: FlowDefinition, title: str) -> list[Push]:
        if application.status != "pending":
            return []
        head = await self.unit_head(definition.unit)
        if head is None:
            log.warning("flow=%s application=%s over time, no head of %s to tell",
                        definition.id, application.id, definition.unit)
            return []
        await store.append_audit(application, at=turn.now, actor_id="system",
                                 action="escalate", detail={"to": head.id, "process": True})
        limit = f"{definition.time_limit_days:g} 个工作日"
        return [Push(head.id, f"⚠ 督办：{title}已超过办结时限（{limit}），仍未办结。"
                              f"回复“查看 {application.id}”查看进度，“超时”查看全部超时事项。")]

    async def _report_back(self, turn: Turn, name: str, application: Application,
                           definition: FlowDefinition) -> list[Push]:
        if application.status != "followup" or leave_range(definition, application.form) is None:
            return []
        _first, last = recorded_leave(definition, application)
        end = f"{last.month}月{last.day}日"
        back = back_word(definition)
        if name == "report_back":
            return [Push(application.applicant_id,
                         f"您的《{definition.name}》（#{application.id}）假期今天（{end}）到期。"
                         f"{back}后请回复“销假”完成销假；如需续假，请重新提交请假申请。")]
        grace = self.runtime.settings.report_back_grace_days
        if name == "rb_late":
            return [Push(application.applicant_id,
                         f"您的《{definition.name}》（#{application.id}）假期已于{end}结束，"
                         f"已超过 {grace} 个工作日未销假。请回复“销假”；"
                         f"如未按时{back}，请联系{'辅导员' if back == '返校' else '部门负责人'}。")]
        applicant = await self.runtime.name(application.applicant_id)
        approvers = {t.decided_by for t in await store.stage_tasks_all(application.id)
                     if t.status == "approved" and t.decided_by}
        return [Push(user, f"{applicant}的《{definition.name}》（#{application.id}）假期已于{end}"
                           f"结束，超过 {grace} 个工作日仍未销假，已提醒本人。")
                for user in sorted(approvers)]

    # ---- who is told when time runs out ----------------------------------------------------------
    async def escalation_target(self, approver_id: str) -> PersonInfo | None:
        """The head of the approver's unit; for the head, the school leader in charge."""
        directory = self.runtime.directory
        approver = await directory.person(approver_id)
        if approver is None or not approver.department:
            return None
        department = await directory.department(approver.department)
        if department is None:
            return None
        for candidate in (department.head, department.leader):
            if candidate and candidate != approver_id:
                return await directory.person(candidate)
        return None

    async def unit_head(self, unit_name: str) -> PersonInfo | None:
        directory = self.runtime.directory
        for department in await directory.departments():
            if department.name == unit_name and department.head:
                return await directory.person(department.head)
        return None
