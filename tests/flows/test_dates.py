"""Dates as teachers type them on a phone, read relative to Thursday 26 November 2026."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from flows.dates import DateParseError, parse_date, parse_date_range, parse_datetime_range

TODAY = date(2026, 11, 26)


def at(*parts: int) -> datetime:
    """A wall-clock time as typed (form values are local times, without a zone)."""
    return datetime(*parts)  # noqa: DTZ001


@pytest.mark.parametrize(("text", "expected"), [
    ("2026-12-07", date(2026, 12, 7)),
    ("2026/12/7", date(2026, 12, 7)),
    ("2026年12月7日", date(2026, 12, 7)),
    ("12月7日", date(2026, 12, 7)),
    ("12月7号", date(2026, 12, 7)),
    ("十二月七日", date(2026, 12, 7)),
    ("12/7", date(2026, 12, 7)),
    ("今天", TODAY),
    ("明天", date(2026, 11, 27)),
    ("后天", date(2026, 11, 28)),
    ("下周一", date(2026, 11, 30)),
    ("上周五", date(2026, 11, 20)),
    ("周五", date(2026, 11, 27)),
    ("3天后", date(2026, 11, 29)),
    ("1月5日", date(2027, 1, 5)),           # early next year, not ten months ago
])
def test_dates(text: str, expected: date) -> None:
    assert parse_date(text, TODAY) == expected


@pytest.mark.parametrize("text", ["过几天", "2月30日", "13/45", "", "明年"])
def test_not_dates(text: str) -> None:
    with pytest.raises(DateParseError):
        parse_date(text, TODAY)


@pytest.mark.parametrize(("text", "start", "end"), [
    ("12月7日至9日", date(2026, 12, 7), date(2026, 12, 9)),
    ("明天到后天", date(2026, 11, 27), date(2026, 11, 28)),
    ("2026-12-07-2026-12-09", date(2026, 12, 7), date(2026, 12, 9)),
    ("12月30日-1月2日", date(2026, 12, 30), date(2027, 1, 2)),
    ("下周一至下周三", date(2026, 11, 30), date(2026, 12, 2)),
])
def test_date_ranges(text: str, start: date, end: date) -> None:
    assert parse_date_range(text, TODAY) == (start, end)


@pytest.mark.parametrize(("text", "start", "end"), [
    ("12月7日 14:00-16:00", at(2026, 12, 7, 14), at(2026, 12, 7, 16)),
    ("昨天8点到10点", at(2026, 11, 25, 8), at(2026, 11, 25, 10)),
    ("昨天下午3点-下午5点", at(2026, 11, 25, 15), at(2026, 11, 25, 17)),
    ("11月20日14:00至11月21日9:00", at(2026, 11, 20, 14), at(2026, 11, 21, 9)),
])
def test_datetime_ranges(text: str, start: datetime, end: datetime) -> None:
    assert parse_datetime_range(text, TODAY) == (start, end)
