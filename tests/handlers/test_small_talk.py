"""Small talk, ratings and commands with nothing to act on: one short, friendly line each."""

from __future__ import annotations

import pytest

from flows.catalog import DEFAULT_CATALOG
from flows.loader import read_flow_files
from handlers.ratings import Rating, parse_rating
from storage.models import Application
from tests.conftest import Sim
from tests.flows.walker import submit

TEACHER = "zhang_t"


@pytest.mark.parametrize("text", ["你好", "您好！", "在吗", "谢谢", "谢谢老师", "好的", "收到",
                                  "😀", "👍👍"])
async def test_greetings_thanks_and_emoji_get_one_line(sim: Sim, text: str) -> None:
    reply = await sim.text(TEACHER, text)
    assert len(reply.split("\n")) == 1
    assert "没有找到" not in reply and "部门" not in reply


@pytest.mark.parametrize("text", ["确认", "修改 3", "返回", "取消", "流程图", "详情", "办理"])
async def test_commands_with_nothing_to_act_on_say_so_in_one_line(sim: Sim, text: str) -> None:
    reply = await sim.text(TEACHER, text)
    assert len(reply.split("\n")) == 1
    assert "没有" in reply or "哪个事项" in reply or "要办什么" in reply


async def test_a_rating_with_nothing_to_rate_says_so(sim: Sim) -> None:
    assert await sim.text(TEACHER, "5分") == "目前没有需要评价的服务。"


@pytest.mark.parametrize(("text", "rating"), [
    ("5", Rating(5, "", True)), ("5分", Rating(5, "", True)), ("五星", Rating(5, "", True)),
    ("5分，修得很快", Rating(5, "修得很快", True)), ("4星 还行", Rating(4, "还行", True)),
    ("很满意", Rating(5)), ("很满意，师傅很专业", Rating(5, "师傅很专业")),
    ("不满意，等了三天", Rating(2, "等了三天")), ("一般", Rating(3)),
])
def test_ratings_as_people_type_them(text: str, rating: Rating) -> None:
    assert parse_rating(text) == rating


@pytest.mark.parametrize("text", ["12", "1.5", "5天后", "2分钟", "我要请假", "一般人能借吗"])
def test_what_is_not_a_rating(text: str) -> None:
    assert parse_rating(text) is None


async def test_a_repair_rated_with_a_comment_keeps_the_comment(sim: Sim) -> None:
    repair = next(d for d in read_flow_files(DEFAULT_CATALOG)[0] if d.id == "it_repair")
    application = await submit(sim, repair, TEACHER)
    for task in await application.tasks.all():
        await sim.tap(task.approver_id, task.card_key, "approve")
    application = await Application.get(id=application.id)
    assert application.state == "followup_rate"
    reply = await sim.text(TEACHER, "5分，修得很快")
    assert "感谢评价" in reply
    rated = await Application.get(id=application.id)
    assert rated.status == "completed"
    assert rated.meta["rating"] == 5 and rated.meta["rating_comment"] == "修得很快"


async def test_asking_to_rate_gets_how_and_the_rating_shows_in_the_history(sim: Sim) -> None:
    repair = next(d for d in read_flow_files(DEFAULT_CATALOG)[0] if d.id == "it_repair")
    application = await submit(sim, repair, TEACHER)
    for task in await application.tasks.all():
        await sim.tap(task.approver_id, task.card_key, "approve")
    how = await sim.text(TEACHER, "评价")
    assert f"#{application.id}" in how and "1–5" in how
    await sim.say(TEACHER, "4分 还行")
    history = await sim.text(TEACHER, f"查看 {application.id}")
    assert "4分" in history and "还行" in history
