"""A title the asker gives themselves (我是院长) names the roles the question is about."""

from __future__ import annotations

import pytest

from flows.titles import stated_roles


@pytest.mark.parametrize(("sentence", "role"), [
    ("我是院长 想出国开个会", "dept_head"),
    ("我是文学院副院长 下周出差", "cadre"),
    ("我副院长 下个月出国访学", "cadre"),
    ("我是副校长", "school_leader"),
    ("我是附小校长，下个月要去上海培训", "affiliated_head"),
    ("我在附属小学当副校长 下周去市里学习", "affiliated_deputy"),
    ("我是辅导员", "counselor"),
])
def test_a_stated_title_gives_its_role(sentence: str, role: str) -> None:
    assert stated_roles(sentence)[0] == role


@pytest.mark.parametrize("sentence", [
    "我要去省里开两天会", "我是校长办公室的 想问下", "我们院长下周出差",
])
def test_no_title_of_ones_own_gives_nothing(sentence: str) -> None:
    assert stated_roles(sentence) == ()
