"""What follows an approval and waits for the applicant: 销假 after leave, a service rating."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from math import ceil

from flows.definition import Followup
from flows.runtime import Runtime
from flows.session import FlowSession
from flows.texts import back_word
from flows.turn import Turn
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
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    async def open(self, turn: Turn, application: Application, session: FlowSession,
                   followup: Followup) -> str:
        if followup.kind == "report_back":
            end = leave_end(session, followup)
            due = datetime.combine(end, time(self.runtime.settings.report_back_hour),
                                   turn.timezone).astimezone(UTC)
            await store.schedule_reminder(application, kind="report_back",
                                          user_id=application.applicant_id,
                                          due_at=max(due, turn.now), now=turn.now)
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
        if followup.kind == "report_back":
            session.form["returned_on"] = turn.today.isoformat()
        else:
            application.meta = {**application.meta, "rating": rating}
        outcome = await self.runtime.fire(turn, application, session, "followup_done",
                                          detail={"rating": rating} if rating else {}) or ""
        comment = application.meta.get("rating_comment", "")
        notice = (f"{turn.user.name}已于{turn.today.month}月{turn.today.day}日销假"
                  if followup.kind == "report_back" else
                  f"{turn.user.name}对本次服务的评价：{rating} 分" +
                  (f"，“{comment}”" if comment else ""))
        for task in await store.stage_tasks_all(application.id):
            if task.status == "approved":
                turn.push(task.approver_id, f"{notice}（{definition.name}，#{application.id}）。")
        turn.reply(outcome if followup.kind == "report_back" else f"感谢评价！{outcome}")
        await store.save_application(application)
