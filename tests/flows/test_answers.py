"""Each field type accepts what people type and refuses the rest with a message saying what is
expected."""

from __future__ import annotations

from datetime import date

import pytest

from flows.answers import AnswerError, Attachment, parse_answer
from flows.definition import Field

TODAY = date(2026, 11, 26)


def field(**kwargs: object) -> Field:
    values: dict[str, object] = {"key": "x", "label": "测试项", "type": "text", "example": "示例"}
    values.update(kwargs)
    return Field(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(("spec", "text", "value"), [
    ({"type": "number", "unit": "天"}, "3天", 3),
    ({"type": "number", "unit": "天"}, "两天半", 2.5),
    ({"type": "number", "unit": "元"}, "5万元", 50000),
    ({"type": "number", "unit": "元"}, "12,000", 12000),
    ({"type": "choice", "options": ("事假", "病假")}, "2", "病假"),
    ({"type": "choice", "options": ("事假", "病假")}, "病假", "病假"),
    ({"type": "choice", "options": ("电脑", "打印机", "投影"), "multiple": True}, "1、3",
     ["电脑", "投影"]),
    ({"type": "yesno"}, "是的", True),
    ({"type": "yesno"}, "不是", False),
    ({"type": "phone"}, "138 0000 0000", "13800000000"),
    ({"type": "phone"}, "0731-88880000", "0731-88880000"),
    ({"type": "email"}, "a.b@example.edu.cn", "a.b@example.edu.cn"),
    ({"type": "plate"}, "湘a·12345", "湘A12345"),
    ({"type": "plate"}, "湘AD12345", "湘AD12345"),
    ({"type": "date", "not_before": "today"}, "明天", "2026-11-27"),
    ({"type": "date_range"}, "明天到后天", ["2026-11-27", "2026-11-28"]),
    ({"type": "text", "required": False}, "无", None),
    # a time in another unit of the same kind is converted, never read as the field's unit
    ({"type": "number", "unit": "天"}, "一周", 7),
    ({"type": "number", "unit": "天"}, "两周", 14),
    ({"type": "number", "unit": "天"}, "1个星期", 7),
    ({"type": "number", "unit": "个月"}, "一年", 12),
    ({"type": "number", "unit": "个月"}, "1年", 12),
    ({"type": "number", "unit": "个月"}, "半年", 6),
    ({"type": "number", "unit": "个月"}, "6个月", 6),
])
def test_accepted(spec: dict[str, object], text: str, value: object) -> None:
    assert parse_answer(field(**spec), text, TODAY) == value


@pytest.mark.parametrize(("spec", "text", "says"), [
    ({"type": "number", "minimum": 0.5, "maximum": 180, "unit": "天"}, "很多", "数字"),
    ({"type": "number", "minimum": 0.5, "maximum": 180, "unit": "天"}, "500", "不能大于 180"),
    ({"type": "number", "integer": True}, "2.5", "整数"),
    ({"type": "date", "not_before": "today"}, "昨天", "不能早于"),
    ({"type": "date"}, "改天", "没看懂这个日期"),
    ({"type": "date_range", "max_days": 7}, "12月1日至12月20日", "最长 7 天"),
    ({"type": "choice", "options": ("事假", "病假")}, "3", "1–2"),
    ({"type": "yesno"}, "也许", "是"),
    ({"type": "phone"}, "12345", "手机号"),
    ({"type": "email"}, "abc", "邮箱"),
    ({"type": "plate"}, "ABC123", "省份简称"),
    ({"type": "text", "min_length": 4}, "发烧", "至少需要 4 个字"),
    ({"type": "text", "pattern": r"\d{8}", "pattern_hint": "8 位学号"}, "abc", "8 位学号"),
    ({"type": "attachment"}, "稍后", "上传"),
    # a unit that cannot be converted exactly is asked again in the field's unit
    ({"type": "number", "unit": "天"}, "半个月", "按“天”填写"),
    ({"type": "number", "unit": "天"}, "1年", "按“天”填写"),
    ({"type": "number", "unit": "个月"}, "两周", "按“个月”填写"),
])
def test_refused_with_what_is_expected(spec: dict[str, object], text: str, says: str) -> None:
    with pytest.raises(AnswerError) as refused:
        parse_answer(field(**spec), text, TODAY)
    assert says in str(refused.value)


def test_an_uploaded_file_answers_an_attachment_question() -> None:
    value = parse_answer(field(type="attachment"), "", TODAY,
                         attachment=Attachment(name="诊断证明.jpg", media_id="m1"))
    assert value == {"name": "诊断证明.jpg", "media_id": "m1", "url": ""}


@pytest.mark.parametrize(("label", "text", "value"), [
    ("是否离开本市", "不离开", False), ("是否离开本市", "不离开本市", False),
    ("是否离开本市", "要离开", True), ("是否离开本市", "离开", True),
    ("是否出境", "不出境", False), ("是否出境", "没出境", False), ("是否出境", "出境", True),
])
def test_the_question_echoed_is_an_answer(label: str, text: str, value: bool) -> None:
    assert parse_answer(field(type="yesno", label=label), text, TODAY) is value


@pytest.mark.parametrize(("text", "value"), [
    ("是", True), ("否", False), ("对", True), ("不是", False), ("要", True), ("不要", False),
    ("好的", True), ("需要", True), ("不需要", False), ("没有", False), ("嗯", True),
])
def test_yes_and_no_as_people_answer(text: str, value: bool) -> None:
    assert parse_answer(field(type="yesno"), text, TODAY) is value


@pytest.mark.parametrize("text", ["无", "不知道", "也许", "明天", "湖南"])
def test_anything_else_on_a_yes_no_question_is_asked_again(text: str) -> None:
    with pytest.raises(AnswerError) as refused:
        parse_answer(field(type="yesno", required=False), text, TODAY)
    assert "“是”或“否”" in str(refused.value)


@pytest.mark.parametrize(("unit", "value", "text"), [
    ("元", 200000, "20万元（200,000元）"), ("元", 1234567, "123.46万元（1,234,567元）"),
    ("元", 5000, "5,000元"), ("元", 12500.5, "1.25万元（12,500.5元）"), ("天", 2.5, "2.5天"),
    ("人", 30, "30人"),
])
def test_amounts_read_as_people_write_them(unit: str, value: float, text: str) -> None:
    from flows.answers import display_value

    assert display_value(field(type="number", unit=unit), value) == text


def test_a_date_range_reads_with_its_length() -> None:
    from flows.answers import display_value, short_value

    item = field(type="date_range")
    assert display_value(item, ["2026-12-07", "2026-12-09"]) == "12月7日–12月9日（3天）"
    assert short_value(item, ["2026-12-07", "2026-12-09"]) == "12月7日–12月9日（3天）"
    assert display_value(item, ["2026-12-30", "2027-01-02"]) == "2026年12月30日–2027年1月2日（4天）"
