"""Turn what a user typed into a typed form value, or say clearly what is expected.

Values are stored as JSON: text, numbers, ISO dates ('2026-12-07'), date ranges as two ISO dates,
datetime ranges as two ISO datetimes, choices as the option text (a list when multiple), yes/no
as booleans, attachments as {"name", "media_id", "url"}. A skipped optional field is None.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from flows.dates import (
    DateParseError,
    format_date,
    format_datetime,
    parse_date,
    parse_date_range,
    parse_datetime_range,
)
from flows.definition import Field
from flows.numerals import parse_number, quantity_text

SKIP_WORDS = {"无", "没有", "跳过", "不填", "略", "暂无", "否", "没", "不用", "不需要", "无需",
              "暂时没有", "还没有"}
#: yes and no as people answer a yes/no question; anything else (无, 不知道) is asked again
_YES = {"是", "是的", "对", "对的", "有", "要", "需要", "好", "好的", "行", "可以", "嗯", "嗯嗯",
        "确定", "同意", "会", "yes", "y", "ok"}
_NO = {"否", "不是", "不", "不对", "没有", "没", "不要", "不需要", "不用", "不会", "无需", "no",
       "n"}
_MOBILE = re.compile(r"1[3-9]\d{9}")
_LANDLINE = re.compile(r"0\d{2,3}-?\d{7,8}(?:-\d{1,6})?")
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
_PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
_PLATE = re.compile(rf"[{_PROVINCES}][A-HJ-NP-Z](?:[A-HJ-NP-Z0-9]{{5}}|[DF][A-HJ-NP-Z0-9]{{5}}|"
                    r"[A-HJ-NP-Z0-9]{5}[DF]|[A-HJ-NP-Z0-9]{4}[挂学警])")
_URL = re.compile(r"https?://\S+")
#: a free-text question asking where (外出地点, 活动地址): the answer names a place
_PLACE_LABELS = ("地点", "地址", "目的地", "去向", "场所")
_NO_WORDS = re.compile(r"[^\u4e00-\u9fffA-Za-z]*")
_NUMBER_WITH_UNIT = re.compile(
    r"^(?:约|大约|大概|共|合计|总共|￥|¥)?\s*([\d.]+|[零〇一二两三四五六七八九十百千万亿半.]+)\s*(万|千)?\s*"
    r"(?:元|天|日|个|人|次|小时|台|辆|间|套|件|份|位|名|分|周|月|年)?\s*$"
)


class AnswerError(ValueError):
    """The answer does not fit the field; the message says what is expected (in Chinese)."""


@dataclass(frozen=True)
class Attachment:
    name: str
    media_id: str = ""
    url: str = ""


def _day_bound(name: str, today: date) -> date | None:
    return {"today": today, "tomorrow": today + timedelta(days=1),
            "yesterday": today - timedelta(days=1)}.get(name)


def _check_date_bounds(field: Field, value: date, today: date) -> None:
    low = _day_bound(field.not_before, today)
    high = _day_bound(field.not_after, today)
    if low and value < low:
        raise AnswerError(f"{field.label}不能早于{format_date(low)}，请重新输入。")
    if high and value > high:
        raise AnswerError(f"{field.label}不能晚于{format_date(high)}，请重新输入。")


def expectation(field: Field) -> str:
    """One sentence saying what a valid answer looks like, with the field's example."""
    example = f"例如：{field.example}" if field.example else ""
    match field.type:
        case "date":
            what = "请输入日期（如 12月7日、2026-12-07、明天、下周一）"
        case "date_range":
            what = "请输入起止日期（如 12月7日至12月9日、明天到后天、下周二开始4天）"
        case "datetime_range":
            what = "请输入起止时间（如 11月20日 14:00-16:00、昨天8点到10点）"
        case "choice":
            several = "，可多选，用逗号分隔" if field.multiple else ""
            what = f"请回复选项序号或名称{several}"
        case "yesno":
            what = "请回复“是”或“否”"
        case "number":
            bounds = _number_bounds(field)
            what = f"请输入数字{bounds}"
        case "phone":
            what = "请输入 11 位手机号或带区号的座机号"
        case "email":
            what = "请输入邮箱地址"
        case "plate":
            what = "请输入车牌号：省份简称+字母+5 位字母数字（新能源车 6 位）"
        case "attachment":
            what = "请上传文件或图片，也可以发送文件链接"
        case _:
            what = field.pattern_hint or "请输入文字"
    return f"{what}，{example}" if example else what


def _number_bounds(field: Field) -> str:
    unit = field.unit
    if field.minimum is not None and field.maximum is not None:
        return f"（{_num(field.minimum)}–{_num(field.maximum)}{unit}）"
    if field.minimum is not None:
        return f"（不少于 {_num(field.minimum)}{unit}）"
    if field.maximum is not None:
        return f"（不超过 {_num(field.maximum)}{unit}）"
    return ""


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def parse_answer(field: Field, text: str, today: date, *,
                 attachment: Attachment | None = None) -> Any:
    """Parse `text` (or an uploaded `attachment`) for `field`; raise AnswerError if invalid."""
    text = text.strip()
    if not field.required and text in SKIP_WORDS and field.type != "yesno":
        return None
    if field.type == "attachment":
        return _attachment(field, text, attachment)
    if not text:
        raise AnswerError(f"{field.label}不能为空。{expectation(field)}")
    parser = _PARSERS.get(field.type, _text)
    return parser(field, text, today)


def _text(field: Field, text: str, today: date) -> str:
    if len(text) < field.min_length:
        raise AnswerError(f"{field.label}至少需要 {field.min_length} 个字，请写得具体一些。"
                          f"{('例如：' + field.example) if field.example else ''}")
    if len(text) > field.max_length:
        raise AnswerError(f"{field.label}最多 {field.max_length} 个字，"
                          f"当前 {len(text)} 个字，请精简。")
    if field.label.endswith(_PLACE_LABELS) and _NO_WORDS.fullmatch(text):
        raise AnswerError(f"{field.label}请写地名，不要只写号码或数字。"
                          f"{('例如：' + field.example) if field.example else ''}")
    if field.pattern and not re.fullmatch(field.pattern, text):
        raise AnswerError(f"{field.label}格式不对：{field.pattern_hint}"
                          f"{('，例如：' + field.example) if field.example else ''}")
    return text


#: units of time, each as (kind, how many of the kind's base unit): days or months
_TIME_UNITS = {"天": ("day", 1), "日": ("day", 1), "周": ("day", 7), "星期": ("day", 7),
               "礼拜": ("day", 7), "个星期": ("day", 7), "个礼拜": ("day", 7),
               "个月": ("month", 1), "月": ("month", 1), "年": ("month", 12)}
_TIME_SUFFIX = re.compile("(" + "|".join(sorted(_TIME_UNITS, key=len, reverse=True)) + ")$")


def _in_field_unit(field: Field, cleaned: str) -> tuple[str, int]:
    """A time given in another unit of the field's kind (一周 for 天, 一年 for 个月): the number
    part and the factor to the field's unit. A unit of another kind is asked again: 半个月 is
    not a whole number of days, and guessing would route the request wrongly."""
    wanted = _TIME_UNITS.get(field.unit)
    given = _TIME_SUFFIX.search(cleaned)
    if wanted is None or given is None or given.group(1) == field.unit:
        return cleaned, 1
    kind, size = _TIME_UNITS[given.group(1)]
    if kind != wanted[0] or size % wanted[1]:
        raise AnswerError(f"请按“{field.unit}”填写{field.label}。{expectation(field)}")
    return cleaned[: given.start()], size // wanted[1]


def _number(field: Field, text: str, today: date) -> float | int:
    cleaned = text.replace(",", "").replace("，", "").replace(" ", "")
    cleaned, factor = _in_field_unit(field, cleaned)
    if field.unit and cleaned.endswith(f"{field.unit}半"):  # 两天半 = 2.5 天
        cleaned = cleaned[: -len(field.unit) - 1] + "半"
    if field.unit and cleaned.endswith(field.unit):
        cleaned = cleaned[: -len(field.unit)]
    match = _NUMBER_WITH_UNIT.match(cleaned)
    try:
        if not match:
            raise ValueError(cleaned)
        value = parse_number(match.group(1))
        if match.group(2) == "万":
            value *= 10_000
        elif match.group(2) == "千":
            value *= 1000
        value *= factor
    except ValueError as exc:
        raise AnswerError(f"没看懂这个数字。{expectation(field)}") from exc
    if field.integer and not float(value).is_integer():
        raise AnswerError(f"{field.label}应为整数。{expectation(field)}")
    if field.minimum is not None and value < field.minimum:
        raise AnswerError(f"{field.label}不能小于 {_num(field.minimum)}{field.unit}。"
                          f"{expectation(field)}")
    if field.maximum is not None and value > field.maximum:
        raise AnswerError(f"{field.label}不能大于 {_num(field.maximum)}{field.unit}。"
                          f"{expectation(field)}")
    return int(value) if float(value).is_integer() else value


def _date(field: Field, text: str, today: date) -> str:
    try:
        value = parse_date(text, today)
    except DateParseError as exc:
        raise AnswerError(f"没看懂这个日期。{expectation(field)}") from exc
    _check_date_bounds(field, value, today)
    return value.isoformat()


def _date_range(field: Field, text: str, today: date) -> list[str]:
    try:
        start, end = parse_date_range(text, today)
    except DateParseError as exc:
        raise AnswerError(f"没看懂这个日期范围。{expectation(field)}") from exc
    if end < start:
        raise AnswerError("结束日期早于开始日期，请重新输入起止日期。")
    _check_date_bounds(field, start, today)
    if field.max_days is not None and (end - start).days + 1 > field.max_days:
        raise AnswerError(f"{field.label}最长 {field.max_days} 天，请重新输入。")
    return [start.isoformat(), end.isoformat()]


def _datetime_range(field: Field, text: str, today: date) -> list[str]:
    try:
        start, end = parse_datetime_range(text, today)
    except DateParseError as exc:
        raise AnswerError(f"没看懂这个时间段。{expectation(field)}") from exc
    if end <= start:
        raise AnswerError("结束时间应晚于开始时间，请重新输入。")
    _check_date_bounds(field, start.date(), today)
    if field.max_days is not None and (end - start) > timedelta(days=field.max_days):
        raise AnswerError(f"{field.label}最长 {field.max_days} 天，请缩小范围。")
    return [start.isoformat(timespec="minutes"), end.isoformat(timespec="minutes")]


def _choice(field: Field, text: str, today: date) -> str | list[str]:
    parts = [p for p in re.split(r"[,，、;；\s]+", text) if p] if field.multiple else [text]
    chosen: list[str] = []
    for part in parts:
        option = _match_option(field, part)
        if option not in chosen:
            chosen.append(option)
    return chosen if field.multiple else chosen[0]


def _match_option(field: Field, text: str) -> str:
    cleaned = text.strip().rstrip("。.")
    if cleaned.isdigit() and 1 <= int(cleaned) <= len(field.options):
        return field.options[int(cleaned) - 1]
    for option in field.options:
        if cleaned == option:
            return option
    partial = [o for o in field.options if cleaned and (cleaned in o or o in cleaned)]
    if len(partial) == 1:
        return partial[0]
    numbered = "；".join(f"{i}. {o}" for i, o in enumerate(field.options, 1))
    raise AnswerError(f"请回复 1–{len(field.options)} 的序号或选项名称：{numbered}")


def _yesno(field: Field, text: str, today: date) -> bool:
    cleaned = text.strip().rstrip("。.!！").lower()
    if cleaned in _YES:
        return True
    if cleaned in _NO:
        return False
    echoed = _echoed(field.label, cleaned)
    if echoed is not None:
        return echoed
    raise AnswerError(f"没看懂。{field.label}：请回复“是”或“否”。")


def _echoed(label: str, answer: str) -> bool | None:
    """The question's own words as the answer: 是否离开本市 → 离开 / 要离开 (yes), 不离开 /
    没离开本市 (no). None when the answer does not echo the question."""
    if not label.startswith("是否"):
        return None
    asked = label[2:]
    negated = answer[:1] in ("不", "没")
    core = answer[1:] if negated else answer.removeprefix("要").removeprefix("会")
    if len(core) >= 2 and asked.startswith(core):
        return not negated
    return None


def _phone(field: Field, text: str, today: date) -> str:
    cleaned = re.sub(r"[\s（）()]", "", text).replace("—", "-").replace("－", "-")
    if cleaned.startswith("+86"):
        cleaned = cleaned[3:]
    if _MOBILE.fullmatch(cleaned) or _LANDLINE.fullmatch(cleaned):
        return cleaned
    raise AnswerError(f"电话号码格式不对。{expectation(field)}")


def _email(field: Field, text: str, today: date) -> str:
    if _EMAIL.fullmatch(text):
        return text
    raise AnswerError(f"邮箱格式不对。{expectation(field)}")


def _plate(field: Field, text: str, today: date) -> str:
    cleaned = re.sub(r"[\s·•\-.]", "", text).upper()
    if _PLATE.fullmatch(cleaned):
        return cleaned
    raise AnswerError(f"车牌号格式不对。{expectation(field)}")


def _attachment(field: Field, text: str, attachment: Attachment | None) -> dict[str, str]:
    if attachment is not None:
        return {"name": attachment.name, "media_id": attachment.media_id, "url": attachment.url}
    if match := _URL.search(text):
        return {"name": text.replace(match.group(0), "").strip() or "链接", "media_id": "",
                "url": match.group(0)}
    skip = "；没有请回复“无”" if not field.required else ""
    raise AnswerError(f"还没有收到{field.label}。{expectation(field)}{skip}。")


_PARSERS = {
    "text": _text, "number": _number, "date": _date, "date_range": _date_range,
    "datetime_range": _datetime_range, "choice": _choice, "yesno": _yesno, "phone": _phone,
    "email": _email, "plate": _plate,
}


def display_value(field: Field, value: Any) -> str:
    """A stored value as the user reads it in summaries and cards."""
    if value is None:
        return "（未填）"
    match field.type:
        case "date":
            return format_date(date.fromisoformat(value))
        case "date_range":
            start, end = (date.fromisoformat(v) for v in value)
            return range_text(start, end)
        case "datetime_range":
            start, end = (datetime.fromisoformat(v) for v in value)
            return f"{format_datetime(start)} 至 {format_datetime(end)}"
        case "yesno":
            return "是" if value else "否"
        case "choice":
            return "、".join(value) if isinstance(value, list) else str(value)
        case "number":
            return quantity_text(value, field.unit)
        case "attachment":
            return value.get("name") or value.get("url") or "已上传"
        case _:
            return str(value)


def range_text(start: date, end: date) -> str:
    """12月7日–12月9日（3天）; the years are written only when the range crosses one."""
    days = (end - start).days + 1
    if start.year != end.year:
        return (f"{start.year}年{start.month}月{start.day}日–{end.year}年{end.month}月{end.day}日"
                f"（{days}天）")
    if start == end:
        return f"{start.month}月{start.day}日（1天）"
    return f"{start.month}月{start.day}日–{end.month}月{end.day}日（{days}天）"


def short_value(field: Field, value: Any) -> str:
    """A compact form for cards (WeCom allows 30 characters per value)."""
    if value is None:
        return "—"
    if field.type == "date":
        day = date.fromisoformat(value)
        return f"{day.month}月{day.day}日"
    if field.type == "date_range":
        start, end = (date.fromisoformat(v) for v in value)
        return range_text(start, end)
    if field.type == "datetime_range":
        start, end = (datetime.fromisoformat(v) for v in value)
        return f"{start.month}月{start.day}日{start:%H:%M}-{end:%H:%M}" if (
            start.date() == end.date()) else f"{start:%m-%d %H:%M}至{end:%m-%d %H:%M}"
    text = display_value(field, value)
    return text if len(text) <= 30 else text[:29] + "…"
