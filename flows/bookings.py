"""Room and resource bookings: a request may not take a slot already approved for another."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from flows.definition import FlowDefinition
from storage import applications as store
from storage.directory import Directory

WHOLE_DAY = ("全天", "整天")


def slots_overlap(first: str, second: str) -> bool:
    return first == second or any(w in first or w in second for w in WHOLE_DAY)


async def booking_conflict(definition: FlowDefinition, form: Mapping[str, Any],
                           application_id: int | None, directory: Directory) -> str | None:
    """Name the approved booking this request collides with, or None."""
    booking = definition.booking
    if booking is None or booking.date_field not in form:
        return None
    resource = str(form.get(booking.resource_field, ""))
    day = date.fromisoformat(form[booking.date_field])
    slot = str(form.get(booking.slot_field, ""))
    for other in await store.approved_bookings(definition.id, resource, day, application_id):
        if slots_overlap(other.slot, slot):
            holder = await directory.person(other.application.applicant_id)
            name = holder.name if holder else other.application.applicant_id
            return (f"{resource} {day.month}月{day.day}日 {other.slot} 已被预约"
                    f"（编号 #{other.application.id}，{name}，已批准）")
    return None
