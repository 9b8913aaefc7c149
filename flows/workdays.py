"""Working days on the Chinese calendar: 办结时限, reminders and quiet hours.

Weekends, public holidays and 调休 working days come from the `chinesecalendar` package (the State
Council's schedule, updated every year when it is published); school vacations and, for a year
the package does not know yet, extra holidays and working days come from config. A year without
official data counts weekends only, and says so once in the log.

A time limit of N working days is counted from the next working day after the task arrived
(期间开始的当日不计入) and ends at the close of the N-th working day.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import chinese_calendar

log = logging.getLogger("campusbot.flows")

_RANGE = re.compile(r"^\s*(\d{4}-\d{2}-\d{2})\s*(?:~|\.\.|至|到)\s*(\d{4}-\d{2}-\d{2})\s*$")
_HOURS = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


class CalendarError(ValueError):
    """A calendar setting cannot be read; the message says which and why (Chinese)."""


def parse_days(text: str, what: str) -> frozenset[date]:
    """'2027-01-18~2027-02-26, 2027-04-05' → every day named, ranges inclusive."""
    days: set[date] = set()
    for part in filter(None, (p.strip() for p in re.split(r"[,，;；\s]+(?=\d{4}-)", text))):
        try:
            if match := _RANGE.match(part):
                start, end = (date.fromisoformat(match.group(i)) for i in (1, 2))
                if end < start:
                    raise ValueError
                days.update(start + timedelta(n) for n in range((end - start).days + 1))
            else:
                days.add(date.fromisoformat(part))
        except ValueError:
            raise CalendarError(f"{what}: 无法识别“{part}”，应为 2027-01-18 或 "
                                f"2027-01-18~2027-02-26") from None
    return frozenset(days)


def parse_hours(text: str, what: str) -> tuple[time, time] | None:
    """'08:30-17:30' → (08:30, 17:30); '' → None."""
    if not text.strip():
        return None
    match = _HOURS.match(text)
    try:
        if match is None:
            raise ValueError
        start = time(int(match.group(1)), int(match.group(2)))
        end = time(int(match.group(3)), int(match.group(4)))
    except ValueError:
        raise CalendarError(f"{what}: 应为“08:30-17:30”这样的时段") from None
    return start, end


@dataclass(frozen=True)
class WorkCalendar:
    timezone: ZoneInfo
    work_start: time = time(8, 30)
    work_end: time = time(17, 30)
    #: school vacations (寒暑假): not working days for approvals
    vacations: frozenset[date] = frozenset()
    extra_holidays: frozenset[date] = frozenset()
    extra_workdays: frozenset[date] = frozenset()
    #: no reminders between these local times (start after end means over midnight)
    quiet: tuple[time, time] | None = (time(22, 0), time(8, 0))
    _warned: set[int] = field(default_factory=set, compare=False, repr=False)

    # ---- days ------------------------------------------------------------------------------------
    def is_workday(self, day: date) -> bool:
        if day in self.extra_workdays:
            return True
        if day in self.vacations or day in self.extra_holidays:
            return False
        try:
            return bool(chinese_calendar.is_workday(day))
        except NotImplementedError:
            if day.year not in self._warned:
                self._warned.add(day.year)
                log.warning("no official holiday calendar for %d: counting weekends only "
                            "(update chinesecalendar, or set [approvals] extra_holidays)",
                            day.year)
            return day.weekday() < 5

    def next_workday(self, day: date) -> date:
        """The first working day after `day`."""
        day += timedelta(days=1)
        for _ in range(400):
            if self.is_workday(day):
                return day
            day += timedelta(days=1)
        raise CalendarError("一年内没有工作日，请检查假期配置")

    def add_workdays(self, day: date, count: int) -> date:
        """The `count`-th working day after `day` (`day` itself not counted)."""
        for _ in range(count):
            day = self.next_workday(day)
        return day

    def workdays_between(self, first: date, last: date) -> int:
        """Working days from `first` to `last`, both included."""
        return sum(1 for n in range((last - first).days + 1)
                   if self.is_workday(first + timedelta(days=n)))

    # ---- moments ---------------------------------------------------------------------------------
    def local(self, moment: datetime) -> datetime:
        return moment.astimezone(self.timezone)

    def at(self, day: date, clock: time) -> datetime:
        return datetime.combine(day, clock, self.timezone).astimezone(UTC)

    def deadline(self, received: datetime, days: float) -> datetime:
        """The close of the N-th working day after the day `received` (N rounded up)."""
        count = max(1, math.ceil(days))
        return self.at(self.add_workdays(self.local(received).date(), count), self.work_end)

    def working_seconds(self, start: datetime, end: datetime) -> float:
        """Office hours of working days between two moments."""
        total = 0.0
        day = self.local(start).date()
        last = self.local(end).date()
        while day <= last:
            if self.is_workday(day):
                opens, closes = self.at(day, self.work_start), self.at(day, self.work_end)
                low, high = max(opens, start), min(closes, end)
                if high > low:
                    total += (high - low).total_seconds()
            day += timedelta(days=1)
        return total

    def after_working_seconds(self, start: datetime, seconds: float) -> datetime:
        """The moment `seconds` of office hours after `start`."""
        day = self.local(start).date()
        left = seconds
        for _ in range(800):
            if self.is_workday(day):
                opens, closes = self.at(day, self.work_start), self.at(day, self.work_end)
                low = max(opens, start)
                if closes > low:
                    span = (closes - low).total_seconds()
                    if left <= span:
                        return low + timedelta(seconds=left)
                    left -= span
            day += timedelta(days=1)
        raise CalendarError("时限过长")

    def half_time(self, received: datetime, deadline: datetime) -> datetime:
        """When half of the office hours between arrival and deadline are gone."""
        return self.after_working_seconds(received, self.working_seconds(received,
                                                                         deadline) / 2)

    def last_day_morning(self, deadline: datetime) -> datetime:
        return self.at(self.local(deadline).date(), self.work_start)

    # ---- quiet hours -----------------------------------------------------------------------------
    def is_quiet(self, moment: datetime) -> bool:
        if self.quiet is None:
            return False
        start, end = self.quiet
        now = self.local(moment).time()
        return start <= now < end if start < end else (now >= start or now < end)

    def after_quiet(self, moment: datetime) -> datetime:
        """`moment`, or the end of the quiet hours it falls in."""
        if not self.is_quiet(moment):
            return moment
        assert self.quiet is not None
        local = self.local(moment)
        end_day = local.date() if local.time() < self.quiet[1] else local.date() + timedelta(1)
        return self.at(end_day, self.quiet[1])


def range_text(first: date, last: date, days: float | None = None) -> str:
    """12月7日–12月9日，3天 (a single day: 12月7日，1天)."""
    count = days if days is not None else (last - first).days + 1
    amount = f"{count:g}天"
    if first == last:
        return f"{first.month}月{first.day}日，{amount}"
    return f"{first.month}月{first.day}日–{last.month}月{last.day}日，{amount}"


def overlaps(a: tuple[date, date], b: tuple[date, date]) -> bool:
    return a[0] <= b[1] and b[0] <= a[1]


def days_of(ranges: Iterable[tuple[date, date]]) -> int:
    return sum((last - first).days + 1 for first, last in ranges)
