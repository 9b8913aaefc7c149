"""Named checks that flow files call (`check = "name"` on a field, `checks = [...]` on a flow)."""

from __future__ import annotations

from flows.actions import ActionRegistry, CheckContext
from storage.models import Application

actions = ActionRegistry()


@actions.check
async def plate_not_registered(context: CheckContext) -> str | None:
    """A vehicle may be registered once: refuse a plate already pending or approved."""
    plate = context.value
    candidates = await Application.filter(
        flow_id=context.definition.id, status__in=["pending", "completed", "followup"],
    ).exclude(id=context.application_id or 0)
    for application in candidates:
        if application.form.get(context.field.key if context.field else "") == plate:
            return f"车牌 {plate} 已有登记记录（编号 #{application.id}），无需重复登记。"
    return None
