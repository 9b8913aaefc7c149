"""Nothing a user typed is saved to the wrong question: 返回 and 修改 N only go to questions that
apply, a changed answer drops the questions it no longer asks, and unclear yes/no is asked
again (the defects quoted in issue 11, each as a test)."""

from __future__ import annotations

from storage.models import Application, Conversation
from tests.conftest import Sim

TEACHER = "zhang_t"


async def active(user: str) -> Application:
    conversation = await Conversation.get(user_id=user)
    assert conversation.active_application_id is not None
    return await Application.get(id=conversation.active_application_id)


async def start_personal_leave(sim: Sim) -> None:
    for answer in ("我要请假", "事假", "明天", "3", "家中有事需要处理"):
        await sim.say(TEACHER, answer)


async def test_back_from_the_phone_skips_the_destination_not_asked(sim: Sim) -> None:
    await start_personal_leave(sim)
    await sim.say(TEACHER, "否")                            # 是否离开本市
    back = await sim.text(TEACHER, "返回")                  # at the phone question
    assert "是否离开本市" in back and "外出地点" not in back
    await sim.say(TEACHER, "是")
    application = await active(TEACHER)
    assert application.form["leaves_city"] is True
    assert "destination" not in application.form
    assert application.state == "ask_destination"           # now it applies, so it is asked


async def test_changing_an_answer_drops_the_questions_it_no_longer_asks(sim: Sim) -> None:
    await start_personal_leave(sim)
    await sim.say(TEACHER, "是")
    await sim.say(TEACHER, "湖南省岳阳市")
    summary = await sim.text(TEACHER, "13800000000")
    assert "外出地点：湖南省岳阳市" in summary
    number = next(line.split(".")[0] for line in summary.split("\n") if "是否离开本市" in line)
    await sim.say(TEACHER, f"修改 {number}")
    after = await sim.text(TEACHER, "否")
    assert "请核对" in after and "外出地点" not in after
    application = await active(TEACHER)
    assert "destination" not in application.form


async def test_none_is_not_taken_for_no(sim: Sim) -> None:
    await start_personal_leave(sim)
    reply = await sim.text(TEACHER, "无")
    assert "“是”或“否”" in reply
    application = await active(TEACHER)
    assert "leaves_city" not in application.form and application.state == "ask_leaves_city"


async def test_the_counter_never_shrinks_below_the_questions_done(sim: Sim) -> None:
    intro = await sim.text(TEACHER, "我要请假")
    # 证明材料 and 外出地点 may apply, depending on answers to come: counted, so the total
    # never grows when one of them is asked
    assert "最多 8 项" in intro
    totals = []
    for answer in ("病假", "明天", "3", "发烧就医需要休息", "无", "否"):
        reply = await sim.text(TEACHER, answer)
        if "）请填写" in reply:
            position, total = reply.split("（", 1)[1].split("）", 1)[0].split("/")
            totals.append((int(position), int(total)))
    assert all(total >= position for position, total in totals)
    assert [position for position, _ in totals] == list(range(2, 2 + len(totals)))
