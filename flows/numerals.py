"""Chinese numerals as people type them: 三, 十二, 二十五, 两, 一万二, 3.5, 半."""

from __future__ import annotations

import re

_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6,
           "七": 7, "八": 8, "九": 9}
_UNITS = {"十": 10, "百": 100, "千": 1000}
_BIG_UNITS = {"万": 10_000, "亿": 100_000_000}

CHINESE_NUMBER_CHARS = "".join(_DIGITS) + "".join(_UNITS) + "".join(_BIG_UNITS)
NUMBER_PATTERN = rf"(?:\d+(?:\.\d+)?|[{CHINESE_NUMBER_CHARS}]+)"


def _small(text: str) -> int:
    """Value of a numeral below 10 000, e.g. 三千二百零五 or 十二."""
    total = 0
    digit: int | None = None
    for char in text:
        if char in _DIGITS:
            digit = _DIGITS[char]
        elif char in _UNITS:
            total += (1 if digit is None else digit) * _UNITS[char]
            digit = None
        else:
            raise ValueError(text)
    if digit is not None:
        total += digit
    return total


def chinese_to_int(text: str) -> int:
    """Parse a Chinese numeral; raise ValueError when it is not one.

    Handles the colloquial short forms 一万二 (12 000) and 三千五 (3 500).
    """
    if not text or any(c not in CHINESE_NUMBER_CHARS for c in text):
        raise ValueError(text)
    for big_char, big_value in sorted(_BIG_UNITS.items(), key=lambda kv: -kv[1]):
        if big_char in text:
            head, _, tail = text.partition(big_char)
            head_value = chinese_to_int(head) if head else 1
            if len(tail) == 1 and tail in _DIGITS:
                return head_value * big_value + _DIGITS[tail] * big_value // 10
            return head_value * big_value + (chinese_to_int(tail) if tail else 0)
    if len(text) == 2 and text[0] in _DIGITS and text[1] in _DIGITS and text[0] != "零":
        # 十 omitted by nobody, but 一二 style digit strings (一二三 = 123) also appear
        return _DIGITS[text[0]] * 10 + _DIGITS[text[1]]
    for unit_char, unit_value in (("千", 1000), ("百", 100)):
        if text.endswith(tuple(_DIGITS)) and len(text) >= 3 and text[-2] == unit_char:
            # 三千五 means 3500, 两百五 means 250
            return _small(text[:-1]) + _DIGITS[text[-1]] * unit_value // 10
    return _small(text)


def parse_number(text: str) -> float:
    """Parse '3', '3.5', '三', '两', '半', '两天半'-style numbers (without the unit)."""
    text = text.strip().replace(",", "").replace("，", "")
    half = 0.0
    if text == "半":
        return 0.5
    if text.endswith("半") and len(text) > 1:
        half = 0.5
        text = text[:-1]
    if re.fullmatch(r"\d+(?:\.\d+)?", text):
        return float(text) + half
    multiplier = 1
    if text and text[-1] in _BIG_UNITS and re.fullmatch(r"\d+(?:\.\d+)?", text[:-1]):
        multiplier = _BIG_UNITS[text[-1]]
        return float(text[:-1]) * multiplier + half
    return float(chinese_to_int(text)) + half


def plain_number(value: float) -> str:
    """3, 2.5, 0.75: no trailing .0, at most two decimals."""
    return f"{round(float(value), 2):g}" if not float(value).is_integer() else str(int(value))


def grouped(value: float) -> str:
    """200,000 and 1,234.5: thousands grouped as on a receipt."""
    whole = float(value).is_integer()
    return f"{int(value):,}" if whole else f"{float(value):,.2f}".rstrip("0").rstrip(".")


def quantity_text(value: float, unit: str) -> str:
    """A number with its unit as people read it: 3天, 5,000元, and from 10 000 yuan on both
    the 万 reading and the exact amount — 20万元（200,000元）."""
    if unit != "元":
        return f"{plain_number(value)}{unit}"
    if abs(value) >= 10_000:
        return f"{plain_number(value / 10_000)}万元（{grouped(value)}元）"
    return f"{grouped(value)}元"
