"""Dates and times the way people type them on a phone.

Accepted dates: 2026-12-07, 2026/12/7, 2026.12.7, 2026年12月7日, 12月7日, 12月7号, 12/7,
今天, 明天, 后天, 大后天, 昨天, 前天, 下周一, 本周五, 这周五, 上周五, 周五, 3天后.
Ranges join two of these with 至, 到, ~ or -; the second may omit month or year (12月7日至9日);
or give a start and a length (下周二开始4天, 从12月7日起3天, 下周二起，共4天).
Times: 14:00, 14点, 下午2点, 2点半, 14时30分.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta

from flows.numerals import NUMBER_PATTERN, parse_number

_WEEKDAYS = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6, "七": 6}
_RELATIVE_DAYS = {"今天": 0, "今日": 0, "明天": 1, "明日": 1, "后天": 2, "大后天": 3,
                  "昨天": -1, "昨日": -1, "前天": -2, "大前天": -3}
_NUM = r"(\d{1,2}|[一二三四五六七八九十两]{1,3})"

_ISO = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*[日号]?")
_MONTH_DAY = re.compile(rf"{_NUM}\s*月\s*{_NUM}\s*[日号]?")
_SLASH = re.compile(r"(\d{1,2})\s*/\s*(\d{1,2})")
_DAY_ONLY = re.compile(rf"{_NUM}\s*[日号]")
_WEEK = re.compile(r"(下下|下|本|这|这个|下个|上上|上|上个)?\s*"
                   r"(?:周|星期|礼拜)([一二三四五六日天七])")
_IN_DAYS = re.compile(rf"({NUMBER_PATTERN})\s*天(?:以)?后")
_TIME = re.compile(
    r"(凌晨|早上|早晨|上午|中午|下午|晚上|傍晚)?\s*"
    rf"{_NUM}\s*(?:[:：]\s*(\d{{2}})|[点时]\s*(?:(半)|(\d{{1,2}}|[一二三四五六七八九十]{{1,3}})\s*分?)?)"
)


class DateParseError(ValueError):
    """The text is not a date (or time) we understand."""


def _to_int(text: str) -> int:
    return int(parse_number(text))


def _nearest_year(month: int, day: int, today: date) -> date:
    """12月7日 without a year: the occurrence nearest to today (within half a year)."""
    for year in (today.year, today.year + 1, today.year - 1):
        try:
            candidate = date(year, month, day)
        except ValueError as exc:
            raise DateParseError(f"{month}月{day}日 不是有效日期") from exc
        if abs((candidate - today).days) <= 183:
            return candidate
    return date(today.year, month, day)


def _safe_date(year: int, month: int, day: int) -> date:
    try:
        return date(year, month, day)
    except ValueError as exc:
        raise DateParseError(f"{year}年{month}月{day}日 不是有效日期") from exc


def parse_date(text: str, today: date, *, default_month: tuple[int, int] | None = None) -> date:
    """Parse one date; `default_month` (year, month) lets '9日' follow an earlier '12月7日'."""
    cleaned = text.strip().replace(" ", "")
    if not cleaned:
        raise DateParseError("空白")
    if cleaned in _RELATIVE_DAYS:
        return today + timedelta(days=_RELATIVE_DAYS[cleaned])
    if match := _ISO.fullmatch(cleaned):
        return _safe_date(*(int(g) for g in match.groups()))
    if match := _MONTH_DAY.fullmatch(cleaned):
        month, day = _to_int(match.group(1)), _to_int(match.group(2))
        if default_month is not None:
            return _nearest_after(default_month[0], month, day)
        return _nearest_year(month, day, today)
    if match := _SLASH.fullmatch(cleaned):
        month, day = int(match.group(1)), int(match.group(2))
        if default_month is not None:
            return _nearest_after(default_month[0], month, day)
        return _nearest_year(month, day, today)
    if (match := _DAY_ONLY.fullmatch(cleaned)) and default_month is not None:
        return _safe_date(default_month[0], default_month[1], _to_int(match.group(1)))
    if match := _WEEK.fullmatch(cleaned):
        return _weekday(match.group(1) or "", _WEEKDAYS[match.group(2)], today)
    if match := _IN_DAYS.fullmatch(cleaned):
        return today + timedelta(days=int(parse_number(match.group(1))))
    raise DateParseError(cleaned)


def _nearest_after(year: int, month: int, day: int) -> date:
    return _safe_date(year, month, day)


def _weekday(prefix: str, weekday: int, today: date) -> date:
    monday = today - timedelta(days=today.weekday())
    if prefix in ("下", "下个"):
        return monday + timedelta(days=7 + weekday)
    if prefix == "下下":
        return monday + timedelta(days=14 + weekday)
    if prefix in ("上", "上个"):
        return monday + timedelta(days=weekday - 7)
    if prefix == "上上":
        return monday + timedelta(days=weekday - 14)
    if prefix in ("本", "这", "这个"):
        return monday + timedelta(days=weekday)
    # a bare 周五 means the coming one (today included)
    candidate = monday + timedelta(days=weekday)
    return candidate if candidate >= today else candidate + timedelta(days=7)


#: a range told as its first day and its length in days
_START_AND_LENGTH = re.compile(rf"(?:从|自)?(.+?)(?:开始|起)[,，\s]*"
                               rf"(?:共|一共|请假?|外出|出差|休)?\s*({NUMBER_PATTERN})\s*天")
_RANGE_SEPARATORS = ("至", "到", "~", "～", "—", "－", "——")


def split_range(text: str) -> tuple[str, str]:
    """Split '12月7日至9日' into its two ends; '-' only where both halves are non-empty."""
    cleaned = text.strip()
    for separator in _RANGE_SEPARATORS:
        if separator in cleaned:
            start, _, end = cleaned.partition(separator)
            if start.strip() and end.strip():
                return start.strip(), end.strip()
    if " - " in cleaned:
        start, _, end = cleaned.partition(" - ")
        return start.strip(), end.strip()
    raise DateParseError(cleaned)


def parse_date_range(text: str, today: date) -> tuple[date, date]:
    """Parse a date range; the end inherits month and year from the start when omitted."""
    if match := _START_AND_LENGTH.fullmatch(text.strip()):
        start = parse_date(match.group(1), today)
        days = parse_number(match.group(2))
        if not float(days).is_integer() or days < 1:
            raise DateParseError(text)
        return start, start + timedelta(days=int(days) - 1)
    try:
        start_text, end_text = split_range(text)
    except DateParseError:
        start_text, end_text = _split_on_hyphen(text, today)
    start = parse_date(start_text, today)
    end = parse_date(end_text, today, default_month=(start.year, start.month))
    if end < start and _MONTH_DAY.fullmatch(end_text.replace(" ", "")):
        end = _safe_date(start.year + 1, end.month, end.day)
    return start, end


def _split_on_hyphen(text: str, today: date) -> tuple[str, str]:
    """'2026-12-07-2026-12-09' or '12/7-12/9': try every '-' as the separator."""
    cleaned = text.strip()
    for index, char in enumerate(cleaned):
        if char != "-":
            continue
        start, end = cleaned[:index], cleaned[index + 1 :]
        try:
            first = parse_date(start, today)
            parse_date(end, today, default_month=(first.year, first.month))
        except DateParseError:
            continue
        return start, end
    raise DateParseError(cleaned)


def parse_time(text: str) -> time:
    """Parse 14:00, 14点, 下午2点, 2点半, 9时30分."""
    cleaned = text.strip().replace(" ", "")
    match = _TIME.fullmatch(cleaned)
    if not match:
        raise DateParseError(cleaned)
    period, hour_text, colon_minutes, half, minute_text = match.groups()
    hour = _to_int(hour_text)
    if colon_minutes is not None:
        minute = int(colon_minutes)
    elif half:
        minute = 30
    elif minute_text:
        minute = _to_int(minute_text)
    else:
        minute = 0
    if period in ("下午", "晚上", "傍晚") and hour < 12:
        hour += 12
    if period == "中午" and hour < 6:
        hour += 12
    if not (0 <= hour <= 23 and 0 <= minute <= 59):
        raise DateParseError(cleaned)
    return time(hour, minute)


_DATE_THEN_TIME = re.compile(r"(.*?[日号天]|\d{4}-\d{1,2}-\d{1,2}|\d{1,2}/\d{1,2}|"
                             r"(?:下|本|这|上)?(?:周|星期)[一二三四五六日天])\s*(.+)")


def parse_datetime(text: str, today: date, *, default_date: date | None = None) -> datetime:
    """Parse '12月7日 14:00', '昨天下午3点'; a bare time takes `default_date`."""
    cleaned = text.strip()
    if default_date is not None:
        try:
            return datetime.combine(default_date, parse_time(cleaned))
        except DateParseError:
            pass
    match = _DATE_THEN_TIME.fullmatch(cleaned.replace(" ", ""))
    if not match:
        raise DateParseError(cleaned)
    day = parse_date(match.group(1), today)
    return datetime.combine(day, parse_time(match.group(2)))


def parse_datetime_range(text: str, today: date) -> tuple[datetime, datetime]:
    """Parse '12月7日 14:00-16:00', '昨天8点到10点', '11月20日14:00至11月21日9:00'."""
    cleaned = text.strip()
    for separator in (*_RANGE_SEPARATORS, "-"):
        if separator not in cleaned:
            continue
        start_text, _, end_text = cleaned.rpartition(separator)
        try:
            start = parse_datetime(start_text, today)
            end = parse_datetime(end_text, today, default_date=start.date())
        except DateParseError:
            continue
        return start, end
    raise DateParseError(cleaned)


def format_date(value: date) -> str:
    weekday = "一二三四五六日"[value.weekday()]
    return f"{value.year}年{value.month}月{value.day}日（周{weekday}）"


def format_datetime(value: datetime) -> str:
    return f"{value.year}年{value.month}月{value.day}日 {value:%H:%M}"
