"""Conditions in flow files: enough to express school rules, never able to run code."""

from __future__ import annotations

import pytest

from flows.conditions import ConditionError, parse_condition


def test_rules_on_form_values() -> None:
    rule = parse_condition("days > 3 and leave_type != '病假'")
    assert rule.names == {"days", "leave_type"}
    assert rule.evaluate({"days": 5, "leave_type": "事假"})
    assert not rule.evaluate({"days": 2, "leave_type": "事假"})


def test_an_unanswered_value_makes_a_comparison_false() -> None:
    assert not parse_condition("amount >= 200000").evaluate({})
    assert parse_condition("not leaves_city").evaluate({})


def test_membership() -> None:
    assert parse_condition("leave_type in ['病假', '婚假']").evaluate({"leave_type": "婚假"})
    assert parse_condition("'student' in applicant_roles").evaluate(
        {"applicant_roles": ["student"]})


@pytest.mark.parametrize("source", ["__import__('os')", "open('x')", "a.b", "x[0]",
                                    "lambda: 1", "days >", "(yield)"])
def test_code_is_refused(source: str) -> None:
    with pytest.raises(ConditionError):
        parse_condition(source)
