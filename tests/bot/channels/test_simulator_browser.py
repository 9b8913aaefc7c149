"""The simulator page as people use it: a phone-sized (390×844) headless Chromium on a real
`campusbot serve` process. A teacher requests leave on one phone, the approver decides on
another. Screenshots of every step are saved under test-artifacts/simulator/<test>/.

Skipped when Playwright for Python or Chromium is missing (Debian: `apt install chromium`;
Playwright's own browser download is never used)."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from flows.incoming import Incoming
from flows.messages import Button, Card, CardUpdate, Choices, Text
from storage import outbox
from storage.db import close_db, init_db
from storage.models import InboundEvent
from tests.conftest import needs_dot, wipe_database
from tests.processes import processes

try:
    from playwright.async_api import async_playwright, expect
except ImportError:  # the dev extra is not installed
    async_playwright = expect = None

if TYPE_CHECKING:
    from playwright.async_api import Browser, Locator, Page, Response

CHROMIUM = shutil.which("chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
WIDTH, HEIGHT = 390, 844
WAIT_MS = 15_000

pytestmark = [
    pytest.mark.skipif(async_playwright is None,
                       reason="Playwright for Python is not installed (pip install -e '.[dev]')"),
    pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt install chromium)"),
]


# ---- fixtures ------------------------------------------------------------------------------

@pytest.fixture
async def server(database_url: str) -> AsyncIterator[str]:
    """A real `campusbot serve` process on the test database; its base URL."""
    await wipe_database(database_url)
    with processes(database_url) as started:
        yield await started.serve()


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    assert async_playwright is not None and CHROMIUM is not None
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            await launched.close()


class Album:
    """A test's screenshots, numbered in the order they were taken, across phones."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.taken = 0

    async def take(self, page: Page, name: str) -> None:
        self.taken += 1
        await page.screenshot(path=self.folder / f"{self.taken:02d}-{name}.png")


@pytest.fixture
def artifacts(request: pytest.FixtureRequest) -> Album:
    folder = Path(request.config.rootpath) / "test-artifacts" / "simulator" / request.node.name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return Album(folder)


@pytest.fixture
async def server_database(server: str, database_url: str) -> AsyncIterator[None]:
    """The running server's database, opened from the test as well."""
    await init_db(database_url)
    try:
        yield
    finally:
        await close_db()


async def deliver(user: str, *payloads: dict[str, Any]) -> None:
    """Queue messages for `user` as a turn would; the page fetches them when it polls."""
    for payload in payloads:
        await outbox.enqueue(channel="sim", user_id=user, payload=payload, now=datetime.now(UTC))


async def inbound_events(user: str) -> list[Incoming]:
    events = await InboundEvent.filter(user_id=user).order_by("id")
    return [Incoming.from_payload(e.payload) for e in events]


# ---- a phone -------------------------------------------------------------------------------

class Phone:
    """One person's phone: a 390×844 page on the simulator, acting as `user`. Every page error,
    console error, POST it makes and message it receives is recorded."""

    def __init__(self, page: Page, user: str, album: Album) -> None:
        self.page, self.user, self.album = page, user, album
        self.errors: list[str] = []
        self.posts: list[dict[str, Any]] = []
        self.received: list[dict[str, Any]] = []
        page.on("pageerror", lambda error: self.errors.append(f"page error: {error}"))
        page.on("console", lambda message: self.errors.append(f"console: {message.text}")
                if message.type == "error" else None)
        page.on("request", lambda request: self.posts.append(
            {"url": request.url, **(request.post_data_json or {})})
            if request.method == "POST" else None)
        page.on("response", self._record_replies)

    async def _record_replies(self, response: Response) -> None:
        if "/sim/api/" in response.url and response.ok:
            with contextlib.suppress(Exception):  # a page closing mid-response
                self.received.extend((await response.json()).get("replies", []))

    @classmethod
    async def open(cls, browser: Browser, server: str, user: str, album: Album) -> Phone:
        context = await browser.new_context(
            viewport={"width": WIDTH, "height": HEIGHT}, device_scale_factor=2, is_mobile=True,
            has_touch=True, locale="zh-CN")
        context.set_default_timeout(WAIT_MS)
        page = await context.new_page()
        phone = cls(page, user, album)
        await page.goto(f"{server}/sim?user={user}")
        await page.locator(".log:not([hidden]) .note").wait_for()
        return phone

    @property
    def log(self) -> Locator:
        return self.page.locator(".log:not([hidden])")

    async def shot(self, name: str) -> None:
        await self.album.take(self.page, f"{self.user}-{name}")

    async def bot_count(self) -> int:
        return await self.log.locator(".msg.bot").count()

    async def replies_after(self, before: int) -> str:
        """Wait until the page has shown the answer to what was just sent; all new bot texts."""
        await self.page.wait_for_function(
            """n => document.querySelectorAll('.log:not([hidden]) .msg.bot').length > n
                    && !document.querySelector('.log:not([hidden]) .me.pending')""", arg=before)
        texts = await self.log.locator(".msg.bot").all_inner_texts()
        return "\n".join(texts[before:])

    async def last_bot(self) -> str:
        return await self.log.locator(".msg.bot").last.inner_text()

    async def say(self, text: str) -> str:
        before = await self.bot_count()
        await self.page.fill("#text", text)
        await self.page.press("#text", "Enter")
        return await self.replies_after(before)

    async def answer(self, text: str) -> str:
        """Tap the option when the question offers it as a button, else type it."""
        before = await self.bot_count()
        last = self.log.locator(".msg.bot").nth(before - 1)  # this one, not whichever is last
        option = last.locator(f".options button[data-option='{text}']:not([disabled])")
        if await option.count():
            await self.shot(f"choice-{text}")
            await option.tap()
            reply = await self.replies_after(before)
            assert await last.locator(".options button.chosen").all_inner_texts() == [text]
            assert await last.locator(".options button:enabled").count() == 0
            return reply
        return await self.say(text)

    async def wait_for_text(self, text: str) -> None:
        await self.page.wait_for_function(
            "t => document.querySelector('.log:not([hidden])').textContent.includes(t)", arg=text)

    async def layout(self) -> dict[str, float]:
        return await self.page.evaluate("""() => {
            const bar = document.getElementById('send').getBoundingClientRect();
            const head = document.querySelector('header').getBoundingClientRect();
            const wide = Array.from(document.querySelectorAll('.msg'))
                .filter(m => m.getBoundingClientRect().right > innerWidth + 0.5).length;
            return {barTop: bar.top, barBottom: bar.bottom, headTop: head.top,
                    viewportHeight: innerHeight, pageWidth: document.documentElement.scrollWidth,
                    pageHeight: document.documentElement.scrollHeight, wideMessages: wide};
        }""")

    async def assert_fits_the_screen(self) -> None:
        box = await self.layout()
        assert box["headTop"] >= 0
        assert box["barTop"] >= 0 and box["barBottom"] <= box["viewportHeight"] == HEIGHT, box
        assert box["pageWidth"] <= WIDTH and box["pageHeight"] <= HEIGHT, box
        assert box["wideMessages"] == 0, box

    async def close(self) -> None:
        await self.page.context.close()


LEAVE_ANSWERS = (("请核对", "确认"), ("请假类型", "病假"), ("开始日期", "明天"),
                 ("天数", "3"), ("事由", "发烧就医，医生建议在家休息"), ("证明", "无"),
                 ("离开本市", "否"), ("电话", "13800000000"))


async def request_sick_leave(teacher: Phone) -> None:
    """张老师 asks for 3 days of sick leave and answers whatever the dialog asks."""
    reply = await teacher.say("我想请3天病假")
    await teacher.shot("leave-started")
    for _ in range(12):
        if "已提交" in reply:
            await teacher.shot("leave-submitted")
            return
        question = await teacher.last_bot()
        answer = next((a for key, a in LEAVE_ANSWERS if key in question), None)
        assert answer is not None, f"unexpected question: {question}"
        if answer == "确认":
            await teacher.shot("leave-summary")
        reply = await teacher.answer(answer)
    raise AssertionError(f"the leave request was not submitted: {reply}")


def rgb(css_color: str) -> tuple[int, int, int]:
    red, green, blue = (int(part) for part in
                        css_color[css_color.index("(") + 1:css_color.index(")")].split(",")[:3])
    return red, green, blue


async def status_color(card: Locator) -> tuple[int, int, int]:
    return rgb(await card.locator(".status").evaluate("e => getComputedStyle(e).color"))


# ---- tests ---------------------------------------------------------------------------------

async def test_leave_request_approved_on_a_second_phone_with_three_quick_taps(
        server: str, browser: Browser, artifacts: Album) -> None:
    teacher = await Phone.open(browser, server, "zhang_t", artifacts)
    await request_sick_leave(teacher)
    await teacher.assert_fits_the_screen()

    dean = await Phone.open(browser, server, "li_dean", artifacts)
    card = dean.log.locator(".card").last
    approve = card.locator(".buttons button", has_text="同意")
    await approve.wait_for()
    assert "张老师的教职工请销假审批" in await card.inner_text()
    await dean.shot("card-received")

    before = await dean.bot_count()
    await approve.evaluate("button => { button.click(); button.click(); button.click(); }")
    assert "已同意编号" in await dean.replies_after(before)
    await card.locator(".status").wait_for()
    await dean.shot("card-approved")

    # one tap reached the server; the card shows the outcome in green, without buttons
    assert [p["action"] for p in dean.posts if p["url"].endswith("/sim/api/actions")] == \
        ["approve"]
    assert await card.locator(".buttons").count() == 0
    assert "已同意" in await card.locator(".status").inner_text()
    red, green, blue = await status_color(card)
    assert green > red and green > blue

    # later replies still arrive: the approver's next message, the teacher's push
    assert "目前没有待您处理的事项" in await dean.say("待办")
    await teacher.wait_for_text("李院长已同意")
    await teacher.shot("told-approved")
    long_text = "我想问一下这个申请的情况" * 12 + "https://example.edu.cn/" + "x" * 150
    await dean.say(long_text)
    await dean.shot("long-text")
    await dean.assert_fits_the_screen()
    assert dean.errors == [] and teacher.errors == []


async def test_a_rejected_card_is_shown_in_red_and_the_teacher_gets_the_reason(
        server: str, browser: Browser, artifacts: Album) -> None:
    teacher = await Phone.open(browser, server, "zhang_t", artifacts)
    await request_sick_leave(teacher)
    dean = await Phone.open(browser, server, "li_dean", artifacts)
    card = dean.log.locator(".card").last
    reject = card.locator(".buttons button", has_text="驳回")
    await reject.wait_for()

    before = await dean.bot_count()
    await reject.tap()
    assert "驳回理由" in await dean.replies_after(before)
    # still undecided, so the approver can change their mind
    await expect(card.locator(".buttons button:disabled")).to_have_count(0)
    assert await card.locator(".buttons button", has_text="同意").is_enabled()
    reply = await dean.say("请补充医院诊断证明后重新提交")
    assert "已驳回编号" in reply
    await dean.shot("card-rejected")

    status = await card.locator(".status").inner_text()
    assert "已驳回" in status
    update = next(p for p in dean.received if p["type"] == "card_update")
    if update.get("reason"):  # updates carry the reason apart from the status (issue 10)
        assert f"理由：{update['reason']}" in status
    assert await card.get_attribute("data-tone") == "bad"
    red, green, blue = await status_color(card)
    assert red > green and red > blue
    await teacher.wait_for_text("请补充医院诊断证明后重新提交")
    await teacher.shot("told-rejected")
    await dean.assert_fits_the_screen()
    assert dean.errors == [] and teacher.errors == []


async def test_decided_cards_show_the_outcome_and_the_reason_they_carry(
        server: str, browser: Browser, artifacts: Album, server_database: None) -> None:
    phone = await Phone.open(browser, server, "li_dean", artifacts)
    cards = {key: Card(key, f"卡片 {key}", "部门负责人审批 · 编号 #9", (("申请人", "张老师"),),
                       ()).payload() for key in ("a", "b", "c", "d", "e")}
    updates = [
        {**CardUpdate("a", "已处理（李院长 11-26 09:12）").payload(),
         "outcome": "rejected", "reason": "材料不全，请补充"},
        CardUpdate("b", "已退回（马工 11-26 09:30）").payload(),  # no outcome: read the status
        {**CardUpdate("c", "已同意（李院长 11-26 10:00）").payload(), "outcome": "approved"},
        {**CardUpdate("d", "已转交给王老师").payload(), "outcome": "transferred"},
        CardUpdate("e", "申请人已撤回").payload(),
    ]
    buttons = tuple(Button(key, text, style) for key, text, style in (
        ("approve", "同意", "primary"), ("reject", "驳回", "danger"),
        ("return", "退回修改", "default"), ("transfer", "转交", "default"),
        ("add", "加签", "default")))
    facts = (("申请人", "王老师"), ("请假时间", "12月7日–12月9日，3天"))
    open_card = Card("f", "王老师的教职工请销假审批", "部门负责人审批 · 编号 #10", facts,
                     buttons).payload()
    await deliver("li_dean", *cards.values(), *updates, open_card)
    await phone.page.locator(".card[data-card='f'] .buttons").wait_for()
    await phone.shot("outcomes")

    # every button of an undecided card is inside it, whatever their number
    assert await phone.page.evaluate("""() => {
        const card = document.querySelector(".card[data-card='f']").getBoundingClientRect();
        return Array.from(document.querySelectorAll(".card[data-card='f'] .buttons button"))
            .every(b => { const r = b.getBoundingClientRect();
                          return r.left >= card.left && r.right <= card.right && r.width >= 84; });
    }""")
    await phone.assert_fits_the_screen()

    tones = {key: await phone.log.locator(f".card[data-card='{key}']").get_attribute("data-tone")
             for key in cards}
    assert tones == {"a": "bad", "b": "bad", "c": "good", "d": "neutral", "e": "neutral"}
    rejected = phone.log.locator(".card[data-card='a'] .status")
    assert "理由：材料不全，请补充" in await rejected.inner_text()
    colors = {key: await status_color(phone.log.locator(f".card[data-card='{key}']"))
              for key in ("a", "c", "d")}
    assert len(set(colors.values())) == 3
    await phone.log.locator(".card[data-card='f']").scroll_into_view_if_needed()
    await phone.shot("five-buttons")
    assert phone.errors == []


async def test_choices_are_tapped_or_typed_and_show_the_answer(
        server: str, browser: Browser, artifacts: Album, server_database: None) -> None:
    phone = await Phone.open(browser, server, "zhang_t", artifacts)
    await deliver("zhang_t", Choices(
        "（1/8）请选择请假类型：", ("病假", "事假", "年休假", "婚假", "产假", "丧假", "探亲假"),
        "ask:leave_type:1").payload())
    choices = phone.log.locator(".choices[data-key='ask:leave_type:1']")
    await choices.locator("button").first.wait_for()
    await phone.assert_fits_the_screen()
    await phone.shot("choices-offered")

    before = await phone.bot_count()
    await choices.locator("button", has_text="事假").evaluate(
        "button => { button.click(); button.click(); button.click(); }")
    await phone.replies_after(before)
    await phone.shot("choice-tapped")
    sent = [p for p in phone.posts if p["url"].endswith("/sim/api/messages")]
    assert [(p["text"], p["card_key"]) for p in sent] == [("事假", "ask:leave_type:1")]
    buttons = choices.locator(".options button")
    assert await buttons.count() == 7
    assert all(await buttons.evaluate_all("bs => bs.map(b => b.disabled)"))
    assert await choices.locator("button.chosen").all_inner_texts() == ["事假"]

    await deliver("zhang_t",
                  Choices("是否离开本市？", ("是", "否"), "ask:away:1").payload())
    second = phone.log.locator(".choices[data-key='ask:away:1']")
    await second.locator("button").first.wait_for()
    await phone.say("否")  # typed, not tapped
    assert await second.locator("button.chosen").all_inner_texts() == ["否"]
    await phone.shot("choice-typed")

    texts = [(e.text, e.card_key) for e in await inbound_events("zhang_t")]
    assert texts == [("事假", "ask:leave_type:1"), ("否", "")]
    assert phone.errors == []


async def test_switching_users_keeps_each_conversation_and_what_arrived_meanwhile(
        server: str, browser: Browser, artifacts: Album, server_database: None) -> None:
    phone = await Phone.open(browser, server, "zhang_t", artifacts)
    await phone.say("你好")
    await phone.page.select_option("#who", "li_dean")
    await phone.log.locator(".note", has_text="李院长").wait_for()
    assert await phone.log.locator(".me").count() == 0
    await deliver("zhang_t", Text("您的申请有新进展").payload())  # while 李院长 is shown
    await phone.say("待办")
    await phone.page.select_option("#who", "zhang_t")
    await phone.wait_for_text("您的申请有新进展")
    await phone.shot("back-to-zhang")
    assert await phone.log.locator(".me").all_inner_texts() == ["你好"]
    assert phone.page.url.endswith("?user=zhang_t")
    assert phone.errors == []


async def test_a_message_that_did_not_go_through_says_so_in_chinese_and_can_be_resent(
        server: str, browser: Browser, artifacts: Album, server_database: None) -> None:
    phone = await Phone.open(browser, server, "zhang_t", artifacts)
    await phone.page.route("**/sim/api/messages", lambda route: route.abort())
    await phone.page.fill("#text", "我要请假")
    await phone.page.press("#text", "Enter")
    failed = phone.log.locator(".me.failed")
    await failed.locator(".resend").wait_for()
    assert "连接不上服务器" in await failed.locator(".send-error").inner_text()
    await phone.shot("send-failed")

    await phone.page.unroute("**/sim/api/messages")
    before = await phone.bot_count()
    await failed.locator(".resend").tap()
    assert "请假" in await phone.replies_after(before)
    assert await phone.log.locator(".me.failed, .send-error").count() == 0

    await phone.page.route("**/sim/api/messages", lambda route: route.fulfill(
        status=502, body="Bad Gateway", content_type="text/plain"))
    await phone.page.fill("#text", "病假")
    await phone.page.press("#text", "Enter")
    await failed.locator(".resend").wait_for()
    assert "服务器出错了（HTTP 502）" in await failed.locator(".send-error").inner_text()
    await phone.shot("server-error")
    # the page's own network failures are expected here; nothing else went wrong
    assert [e for e in phone.errors if "Failed to load resource" not in e] == []
    assert [e.text for e in await inbound_events("zhang_t")] == ["我要请假"]


async def test_a_reply_taller_than_the_screen_is_shown_from_its_start(
        server: str, browser: Browser, artifacts: Album, server_database: None) -> None:
    phone = await Phone.open(browser, server, "zhang_t", artifacts)
    await deliver("zhang_t", Text("第一条").payload())
    await phone.wait_for_text("第一条")
    lines = "\n".join(f"{n}. 第 {n} 行说明" for n in range(1, 61))
    await deliver("zhang_t", Text(f"开头在这里\n{lines}\n结尾在这里").payload())
    await phone.wait_for_text("结尾在这里")
    await phone.shot("long-reply")
    long_reply = await phone.log.locator(".msg.bot", has_text="开头在这里").bounding_box()
    chat = await phone.page.locator("#chat").bounding_box()
    assert long_reply and chat and chat["y"] <= long_reply["y"] < chat["y"] + 40
    assert await phone.page.locator("#newer").is_hidden()


@needs_dot
async def test_a_flowchart_opens_full_size_and_zooms_with_two_fingers(
        server: str, browser: Browser, artifacts: Album) -> None:
    phone = await Phone.open(browser, server, "wang_t", artifacts)
    await phone.say("怎么请假")
    await phone.say("流程图")
    thumb = phone.log.locator(".image .thumb img").last
    await phone.page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=await thumb.element_handle())
    await phone.shot("flowchart-in-chat")
    thumb_width = (await thumb.bounding_box() or {}).get("width", 0)
    natural_width = await thumb.evaluate("img => img.naturalWidth")
    assert 0 < thumb_width < WIDTH < natural_width

    await thumb.tap()
    viewer = phone.page.locator("#viewer")
    await viewer.wait_for()
    full = viewer.locator("img")
    await phone.page.wait_for_function("() => document.getElementById('viewer').dataset.scale")
    # opened at the picture's own size, where the text is as large as it was drawn
    assert (await full.bounding_box() or {})["width"] == pytest.approx(natural_width, abs=1)
    await phone.shot("flowchart-full-size")

    await pinch(phone.page, spread_from=40, spread_to=160)
    zoomed = (await full.bounding_box() or {})["width"]
    assert zoomed > natural_width * 1.5
    await phone.shot("flowchart-pinched")

    await viewer.locator("[data-zoom=fit]").tap()
    box = await full.bounding_box() or {}
    assert box["width"] <= WIDTH and box["height"] <= HEIGHT
    await phone.shot("flowchart-whole")
    await viewer.locator("[data-zoom=close]").tap()
    await viewer.wait_for(state="hidden")
    await phone.assert_fits_the_screen()
    assert phone.errors == []


async def pinch(page: Page, *, spread_from: int, spread_to: int) -> None:
    """Two fingers moving apart in the middle of the screen (Chrome DevTools touch events)."""
    session = await page.context.new_cdp_session(page)
    x, y = WIDTH // 2, HEIGHT // 2

    def fingers(spread: int) -> list[dict[str, int]]:
        return [{"x": x - spread, "y": y, "id": 1}, {"x": x + spread, "y": y, "id": 2}]

    await session.send("Input.dispatchTouchEvent",
                       {"type": "touchStart", "touchPoints": fingers(spread_from)})
    for spread in range(spread_from, spread_to + 1, 10):
        await session.send("Input.dispatchTouchEvent",
                           {"type": "touchMove", "touchPoints": fingers(spread)})
    await session.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
