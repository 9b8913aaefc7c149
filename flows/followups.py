"""What follows an approval and waits for the applicant: 销假 after leave, a service rating.

销假 is accepted only once the leave has started (before, the applicant is offered 撤回); an
early return shortens the recorded leave to the days actually taken. The applicant is reminded
on the leave's last day; with no 销假 N working days later, reminded again, and a working day
after that the approvers are told (flows/reminders.py).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from math import ceil

from flows.cards import leave_fields, leave_range
from flows.definition import FlowDefinition, Followup
from flows.reminders import Deadlines
from flows.runtime import Runtime
from flows.session import FlowSession
from flows.texts import back_word
from flows.turn import Turn
from flows.workdays import range_text
from storage import applications as store
from storage.models import Application


def leave_end(session: FlowSession, followup: Followup) -> date:
    form = session.form
    if followup.range_field:
        return date.fromisoformat(form[followup.range_field][1])
    start = date.fromisoformat(form[followup.start_field])
    days = float(form[followup.days_field])
    return start + timedelta(days=max(ceil(days), 1) - 1)


class Followups:
    def __init__(self, runtime: Runtime, deadlines: Deadlines) -> None:
        self.runtime = runtime
        self.deadlines = deadlines

    async def open(self, turn: Turn, application: Application, session: FlowSession,
                   followup: Followup) -> str:
        if followup.kind == "report_back":
            end = leave_end(session, followup)
            due = datetime.combine(end, time(self.runtime.settings.report_back_hour),
                                   turn.timezone).astimezone(UTC)
            await store.schedule_reminder(application, kind="report_back",
                                          user_id=application.applicant_id,
                                          due_at=max(due, turn.now), now=turn.now)
            await self.deadlines.schedule_report_back(application, end, turn.now)
            return (f"假期至 {end.month}月{end.day}日，{back_word(session.definition)}"
                    "后请回复“销假”。")
        return "请为本次服务评分：回复 1–5 的数字（5 分为非常满意）。"

    async def finish(self, turn: Turn, application: Application,
                     rating: int | None = None) -> None:
        """销假 or a service rating: the applicant completes the followup step."""
        definition = await self.runtime.definition_for(application)
        if definition is None:
            return
        session = await self.runtime.session_for(application, definition)
        followup = session.current_followup()
        if followup is None:
            return
        shortened = ""
        if followup.kind == "report_back":
            leave = leave_range(definition, application.form)
            if leave is not None and turn.today < leave[0]:
                turn.reply(f"您的《{definition.name}》（#{application.id}）从"
                           f"{leave[0].month}月{leave[0].day}日开始，假期尚未开始，无需销假。"
                           f"如不再需要这次请假，可回复“撤回 {application.id}”。")
                return
            session.form["returned_on"] = turn.today.isoformat()
            if leave is not None and turn.today <= leave[1]:
                shortened = self._shorten(application, definition, leave, turn.today)
        else:
            application.meta = {**application.meta, "rating": rating}
        outcome = await self.runtime.fire(turn, application, session, "followup_done",
                                          detail={"rating": rating} if rating else {}) or ""
        comment = application.meta.get("rating_comment", "")
        notice = (f"{turn.user.name}已于{turn.today.month}月{turn.today.day}日销假{shortened}"
                  if followup.kind == "report_back" else
                  f"{turn.user.name}对本次服务的评价：{rating} 分" +
                  (f"，“{comment}”" if comment else ""))
        for task in await store.stage_tasks_all(application.id):
            if task.status == "approved":
                turn.push(task.approver_id, f"{notice}（{definition.name}，#{application.id}）。")
        if followup.kind == "report_back":
            turn.reply(f"{outcome}{shortened}" if shortened else outcome)
        else:
            turn.reply(f"感谢评价！{outcome}")
        await store.save_application(application)

    @staticmethod
    def _shorten(application: Application, definition: FlowDefinition,
                 leave: tuple[date, date], returned: date) -> str:
        """Back before the leave ended: record the days actually taken."""
        first = leave[0]
        last = max(first, returned - timedelta(days=1))
        keys = leave_fields(definition)
        days: float = (last - first).days + 1
        if keys and not keys[2]:
            days = min(days, float(application.form.get(keys[1], days)))
        application.meta = {**application.meta,
                            "leave_actual": [first.isoformat(), last.isoformat()],
                            "leave_actual_days": days}
        return (f"（提前{back_word(definition)}，"
                f"实际请假 {range_text(first, last, days)}）")
