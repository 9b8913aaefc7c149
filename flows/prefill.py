"""The answers a sentence already gives, so that 下周一开始请6天事假，回老家处理家事 starts the
form with 事假, the date, 6 days and the reason filled in, and only the rest is asked.

Only what the sentence states clearly is taken, and each value goes through the field's own
parser (so bounds hold); nothing is guessed: a number is taken only for the one field of its
unit, a date only when the form has one date question, a reason only from a clause that names
no value and no request. Questions asked only for some answers (`when`) are never filled.
"""

from __future__ import annotations

import contextlib
import re
import unicodedata
from datetime import date, timedelta
from typing import Any

from flows.answers import AnswerError, parse_answer
from flows.definition import Field, FlowDefinition
from flows.stated import DATE_SPAN, DATE_WORDS, NUMERAL, QUANTITY
from flows.vocabulary import APPLY_ACTS, STOP_WORDS

_PARENTHESIS = re.compile(r"[（(].*?[)）]")
_CLAUSES = re.compile(r"[，,。.;；!！\s]+")
#: where a reason told first ends and the request begins, in one clause (奶奶住院了|我想请假)
_REQUEST_START = re.compile(r"(?<=[了啦呢])(?=我?(?:想|要|得|需要|准备|打算))")
#: a place the sentence says one goes to (去北京开会, 到上海出差, 赴杭州培训)
_GOING_TO = re.compile(r"(?:去|到|赴|前往)([\u4e00-\u9fff]{2,10}?)"
                       r"(?:开会|出差|参加|培训|学习|考察|调研|汇报|办事|探亲|看病|就医|交流|访问|旅游|旅行|度假|"
                       r"[，,。;；!！\s]|$)")
#: free-text questions asking where (外出地点)
_PLACE_LABELS = ("地点", "目的地", "去向")
#: counting words for a number field without a unit (采购数量: 30台)
_COUNTED = "台|个|件|套|把|张|辆|间|部|块"
#: labels of the free-text questions a clause of the sentence may answer
_REASON_LABELS = ("事由", "原因", "用途", "描述", "情况")
_DISTINCT = re.compile(r"[0-9A-Za-z]")
#: a question's hint that says which option some words mean: 出差、开会、培训请选“因公外出”
_HINTED = re.compile(r"([^。；，,]+?)请选“([^”]+)”")


def stated_answers(definition: FlowDefinition, text: str, today: date) -> dict[str, Any]:
    """{field key: value} for what `text` states; validated like a typed answer."""
    sentence = unicodedata.normalize("NFKC", text)
    plain = [f for f in definition.fields if f.when is None]
    values: dict[str, Any] = {}
    for item in plain:
        value = _value(item, plain, sentence, today)
        if value is not None:
            values[item.key] = value
    place = _place_field(plain, values)
    if place is not None and (where := _GOING_TO.search(sentence)):
        with contextlib.suppress(AnswerError):
            values[place.key] = parse_answer(place, where.group(1), today)
    reason = _reason_field(plain, values)
    if reason is not None and (clause := _reason_clause(sentence)):
        with contextlib.suppress(AnswerError):
            values[reason.key] = parse_answer(reason, clause, today)
    return values


def _value(item: Field, fields: list[Field], sentence: str, today: date) -> Any:
    if item.type == "choice" and not item.multiple:
        return _named_option(item, sentence)
    if item.type == "number":
        same = [f for f in fields if f.type == "number" and f.unit == item.unit]
        return _stated_number(item, sentence, today) if len(same) == 1 else None
    if item.type == "date":
        dates = [f for f in fields if f.type in ("date", "date_range")]
        return _stated_date(item, sentence, today) if len(dates) == 1 else None
    if item.type == "date_range":
        spans = [f for f in fields if f.type in ("date", "date_range")]
        days = [f for f in fields if f.type == "number" and f.unit == "天"]
        return _stated_span(item, sentence, today, counts_days=not days) \
            if len(spans) == 1 else None
    return None


def _named_option(item: Field, sentence: str) -> str | None:
    """The option the sentence names: whole (病假, 下午), or by its distinctive part with a
    number or letter in it (201琴房 → 201琴房教室, 录播教室A → 录播教室A（主楼301）)."""
    text = _plain(sentence)
    cores = {o: _plain(_PARENTHESIS.sub("", o)) for o in item.options if o != "其他"}
    named = [o for o, core in cores.items() if core and core in text]
    # 陪产假 also contains 产假: keep only the longest of nested options
    named = [o for o in named if not any(o != other and cores[o] in cores[other]
                                         for other in named)]
    if len(named) == 1:
        return named[0]
    if named:
        return None
    hinted = {option for words, option in _hinted_words(item) if any(w in text for w in words)}
    if len(hinted) == 1:
        return hinted.pop()
    distinct = [o for o, core in cores.items() if (part := _common(core, text)) and
                len(part) >= 3 and _DISTINCT.search(part)]
    return distinct[0] if len(distinct) == 1 else None


def _hinted_words(item: Field) -> list[tuple[list[str], str]]:
    """(words, option) from the question's hint, for the options the flow file says some
    everyday words mean (出差、开会、培训、学习请选“因公外出”)."""
    return [([w for w in words.split("、") if len(w) >= 2], option)
            for words, option in _HINTED.findall(item.hint) if option in item.options]


def _common(first: str, second: str) -> str:
    """The longest piece both strings contain."""
    best = ""
    for start in range(len(first)):
        for end in range(len(first), start + len(best), -1):
            if first[start:end] in second:
                best = first[start:end]
                break
    return best


def _plain(text: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text)).lower()


def _stated_number(item: Field, sentence: str, today: date) -> float | int | None:
    if item.unit == "元":
        pattern = rf"{NUMERAL}\s*(?:(?:万|千)\s*元?|元|块钱?)(?!后|以后)"
    elif item.unit:
        pattern = rf"{NUMERAL}\s*(?:万|千)?\s*个?{re.escape(item.unit)}(?:半)?(?!后|以后)"
    else:
        pattern = rf"{NUMERAL}\s*(?:{_COUNTED})(?!后|以后)"
    found = [m.group(0) for m in re.finditer(pattern, sentence)]
    if len(found) != 1:
        return None
    typed = found[0].replace("个" + item.unit, item.unit) if item.unit else found[0]
    typed = re.sub(rf"(?:{_COUNTED}|块钱?)$", "", typed) if item.unit not in ("天",) else typed
    with contextlib.suppress(AnswerError):
        return parse_answer(item, typed, today)
    return None


def _stated_date(item: Field, sentence: str, today: date) -> str | None:
    found = [m.group(0) for m in DATE_WORDS.finditer(sentence)]
    if len(found) != 1 or DATE_SPAN.search(sentence):
        return None
    with contextlib.suppress(AnswerError):
        return parse_answer(item, found[0], today)
    return None


def _stated_span(item: Field, sentence: str, today: date, *,
                 counts_days: bool) -> list[str] | None:
    """下周一到周三 as it is; or, when the form has no question for the number of days, a start
    with a length (下周一开始出差3天) as the days from the start."""
    if span := DATE_SPAN.search(sentence):
        with contextlib.suppress(AnswerError):
            return parse_answer(item, span.group(0), today)
        return None
    starts = [m.group(0) for m in DATE_WORDS.finditer(sentence)]
    lengths = re.findall(rf"({NUMERAL})\s*天(?!后|以后)", sentence)
    if not counts_days or len(starts) != 1 or len(lengths) != 1:
        return None
    with contextlib.suppress(AnswerError, ValueError):
        first = date.fromisoformat(parse_answer(_as_date(item), starts[0], today))
        days = parse_answer(_as_days(item), f"{lengths[0]}天", today)
        if float(days).is_integer() and days >= 1:
            last = first + timedelta(days=int(days) - 1)
            return parse_answer(item, f"{first.isoformat()}至{last.isoformat()}", today)
    return None


def _as_date(item: Field) -> Field:
    return Field(key=item.key, label=item.label, type="date", example="",
                 not_before=item.not_before)


def _as_days(item: Field) -> Field:
    return Field(key=item.key, label=item.label, type="number", example="", unit="天",
                 minimum=0.5)


def _reason_field(fields: list[Field], filled: dict[str, Any]) -> Field | None:
    """The one free-text question asking why or what (请假事由, 故障描述), when the form has
    exactly one."""
    reasons = [f for f in fields if f.type == "text" and f.label.endswith(_REASON_LABELS)
               and f.key not in filled]
    return reasons[0] if len(reasons) == 1 else None


def _place_field(fields: list[Field], filled: dict[str, Any]) -> Field | None:
    """The one free-text question asking where to (外出地点), when the form has exactly one."""
    places = [f for f in fields if f.type == "text" and f.label.endswith(_PLACE_LABELS)
              and f.key not in filled]
    return places[0] if len(places) == 1 else None


def _reason_clause(sentence: str) -> str:
    """The clause saying why (回老家处理家事) or what is wrong (我办公室的电脑开不了机了): of a
    sentence of several clauses, the longest one that asks for nothing and states no date or
    quantity; "" if there is none."""
    parts = [piece for p in _CLAUSES.split(sentence) if p
             for piece in _REQUEST_START.split(p) if piece]
    if len(parts) < 2:
        return ""
    plain = [p for p in parts if not (APPLY_ACTS.search(p) or DATE_WORDS.search(p)
                                      or QUANTITY.search(p))]
    plain = [p for p in plain if len(p) >= 4 and p not in STOP_WORDS]
    return max(plain, key=len) if plain else ""
