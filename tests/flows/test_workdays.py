"""Working days on the Chinese calendar: holidays, 调休 working days, vacations, quiet hours."""

from __future__ import annotations

from datetime import date, datetime, time

import pytest

from flows.workdays import CalendarError, WorkCalendar, parse_days, parse_hours, range_text
from tests.conftest import SHANGHAI

CALENDAR = WorkCalendar(SHANGHAI)


def local(moment: datetime) -> datetime:
    return moment.astimezone(SHANGHAI)


def test_a_deadline_spans_new_year_and_a_shifted_working_day() -> None:
    # received Wednesday 31 December 2025; 1–3 January 2026 are 元旦 holidays and Sunday 4
    # January is a 调休 working day: three working days are 4, 5 and 6 January
    received = datetime(2025, 12, 31, 10, 0, tzinfo=SHANGHAI)
    deadline = local(CALENDAR.deadline(received, 3))
    assert deadline == datetime(2026, 1, 6, 17, 30, tzinfo=SHANGHAI)
    assert CALENDAR.is_workday(date(2026, 1, 4))           # a Sunday that is worked
    assert not CALENDAR.is_workday(date(2026, 1, 2))       # a Friday that is not
    # counting weekdays only would end on Monday 5 January
    assert deadline.date() != date(2026, 1, 5)


def test_half_time_and_the_last_morning_fall_in_office_hours() -> None:
    received = datetime(2026, 11, 26, 9, 0, tzinfo=SHANGHAI)        # Thursday
    deadline = CALENDAR.deadline(received, 2)                         # Monday 30, 17:30
    assert local(deadline) == datetime(2026, 11, 30, 17, 30, tzinfo=SHANGHAI)
    half = local(CALENDAR.half_time(received, deadline))
    assert half.date() == date(2026, 11, 27) and time(8, 30) <= half.time() <= time(17, 30)
    assert local(CALENDAR.last_day_morning(deadline)) == datetime(2026, 11, 30, 8, 30,
                                                                  tzinfo=SHANGHAI)


def test_school_vacations_from_config_are_not_working_days() -> None:
    winter = WorkCalendar(SHANGHAI, vacations=parse_days("2026-12-01~2026-12-04", "v"))
    received = datetime(2026, 11, 30, 10, 0, tzinfo=SHANGHAI)        # Monday
    assert local(winter.deadline(received, 1)).date() == date(2026, 12, 7)
    assert local(CALENDAR.deadline(received, 1)).date() == date(2026, 12, 1)


def test_a_year_without_official_data_counts_weekends_and_configured_days() -> None:
    later = WorkCalendar(SHANGHAI, extra_holidays=parse_days("2099-01-01", "h"),
                         extra_workdays=parse_days("2099-01-03", "w"))
    assert not later.is_workday(date(2099, 1, 1))           # Thursday, configured holiday
    assert later.is_workday(date(2099, 1, 3))               # Saturday, configured working day
    assert not later.is_workday(date(2099, 1, 4))           # Sunday


def test_quiet_hours_over_midnight() -> None:
    night = datetime(2026, 11, 26, 23, 0, tzinfo=SHANGHAI)
    assert CALENDAR.is_quiet(night)
    assert local(CALENDAR.after_quiet(night)) == datetime(2026, 11, 27, 8, 0, tzinfo=SHANGHAI)
    assert not CALENDAR.is_quiet(datetime(2026, 11, 26, 12, 0, tzinfo=SHANGHAI))


def test_bad_calendar_settings_say_what_is_expected() -> None:
    with pytest.raises(CalendarError, match="2027-01-18"):
        parse_days("寒假", "approvals.vacations")
    with pytest.raises(CalendarError, match="08:30-17:30"):
        parse_hours("早上", "approvals.work_hours")


def test_ranges_read_as_people_write_them() -> None:
    assert range_text(date(2026, 12, 7), date(2026, 12, 9)) == "12月7日–12月9日，3天"
    assert range_text(date(2026, 12, 7), date(2026, 12, 7), 0.5) == "12月7日，0.5天"
