"""The callback side of the fake WeCom: signs, encrypts and delivers messages and taps.

It encrypts with wechatpy (an implementation independent of campusbot's), delivers like WeCom:
POST with msg_signature, timestamp and nonce, retried (with a new timestamp and nonce) when the
answer is not a 200, up to three retries, and can also deliver the same message twice, lose
the answer to a delivery that succeeded, or tap a card that was already decided. With `urls`
it stands for WeCom behind a load balancer in front of several servers: attempts go round-robin,
and a server that does not answer (killed) costs an attempt, the retry goes to the next one.
"""

from __future__ import annotations

import asyncio
import base64
import secrets
import time
from dataclasses import dataclass
from urllib.parse import urlencode

import aiohttp
from wechatpy.crypto import _get_signature  # type: ignore[import-untyped]
from wechatpy.enterprise.crypto import PrpCrypto  # type: ignore[import-untyped]

from tests.fakes import wecom_xml
from tests.fakes.wecom import FakeWecom

WECOM_TIMEOUT = 5.0
RETRIES = 3
#: a server that refused a connection is left out by the balancer this long
DOWN_SECONDS = 5.0


class CardNotClickable(AssertionError):
    """WeCom greys out a card's buttons after an update: they cannot be tapped."""


@dataclass
class Delivery:
    statuses: list[int]

    @property
    def accepted(self) -> bool:
        return bool(self.statuses) and self.statuses[-1] == 200


class WecomCallbacks:
    def __init__(self, fake: FakeWecom, url: str, *, token: str, encoding_aes_key: str) -> None:
        self.fake = fake
        self.url = url
        self.token = token
        self._prp = PrpCrypto(base64.b64decode(encoding_aes_key + "="))
        self._msg_id = 7_000_000_000_000_000_000
        self._session: aiohttp.ClientSession | None = None
        #: several servers behind a balancer (see the module docstring); None: `url` only
        self.urls: list[str] | None = None
        self._next_url = 0
        self._down: dict[str, float] = {}

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        return self._session

    def now(self) -> int:
        return int(self.fake.clock.now().timestamp())

    # ---- what users do -------------------------------------------------------------------
    def text_xml(self, user: str, content: str) -> str:
        self._msg_id += 1
        return wecom_xml.message(self.fake.corp_id, self.fake.agent_id, user, self.now(), "text",
                                 self._msg_id, Content=content)

    async def text(self, user: str, content: str, *, lose_answers: int = 0) -> Delivery:
        return await self.deliver(self.text_xml(user, content), lose_answers=lose_answers)

    async def image(self, user: str) -> Delivery:
        self._msg_id += 1
        return await self.deliver(wecom_xml.message(
            self.fake.corp_id, self.fake.agent_id, user, self.now(), "image", self._msg_id,
            PicUrl="https://wework.qpic.cn/fake/0", MediaId="img-media-1"))

    async def other(self, user: str, msg_type: str, **fields: str | int) -> Delivery:
        self._msg_id += 1
        return await self.deliver(wecom_xml.message(
            self.fake.corp_id, self.fake.agent_id, user, self.now(), msg_type, self._msg_id,
            **fields))

    async def event(self, user: str, name: str, key: str = "") -> Delivery:
        return await self.deliver(wecom_xml.event(self.fake.corp_id, self.fake.agent_id, user,
                                                  self.now(), name, EventKey=key))

    def tap_xml(self, user: str, task_id: str, key: str, *, late: bool = False,
                forged: bool = False) -> str:
        """A tap on `user`'s card: WeCom sends a fresh single-use ResponseCode with it."""
        card = self.fake.cards.get(task_id)
        if not forged:
            assert card is not None and user in card.recipients, f"{user} has no card {task_id}"
            if user in card.replaced and not late:
                raise CardNotClickable(card.replaced[user])
        code = self.fake.issue_code(task_id)
        return wecom_xml.event(self.fake.corp_id, self.fake.agent_id, user, self.now(),
                               "template_card_event", EventKey=key, TaskId=task_id,
                               CardType="button_interaction", ResponseCode=code)

    async def tap(self, user: str, task_id: str, key: str, **options: bool) -> Delivery:
        return await self.deliver(self.tap_xml(user, task_id, key, **options))

    def vote_xml(self, user: str, task_id: str, option_ids: list[str]) -> str:
        """Options ticked on a vote card, then its submit button: WeCom sends the submit key
        as EventKey and the ticked ids under SelectedItems."""
        card = self.fake.cards.get(task_id)
        assert card is not None and user in card.recipients, f"{user} has no card {task_id}"
        if user in card.replaced:
            raise CardNotClickable(card.replaced[user])
        content = card.card
        code = self.fake.issue_code(task_id)
        selected = ("<SelectedItems><SelectedItem><QuestionKey>"
                    + wecom_xml.cdata(content["checkbox"]["question_key"])
                    + "</QuestionKey><OptionIds>"
                    + "".join(f"<OptionId>{wecom_xml.cdata(o)}</OptionId>" for o in option_ids)
                    + "</OptionIds></SelectedItem></SelectedItems>")
        xml = wecom_xml.event(self.fake.corp_id, self.fake.agent_id, user, self.now(),
                              "template_card_event", EventKey=content["submit_button"]["key"],
                              TaskId=task_id, CardType="vote_interaction", ResponseCode=code)
        return xml.replace("</xml>", selected + "</xml>")

    async def vote(self, user: str, task_id: str, option_ids: list[str]) -> Delivery:
        return await self.deliver(self.vote_xml(user, task_id, option_ids))

    # ---- the protocol --------------------------------------------------------------------
    def signed(self, plaintext: str, *, timestamp: int | None = None) -> tuple[str, bytes]:
        """(query string, body) of one delivery attempt, freshly encrypted and signed."""
        timestamp_text = str(timestamp if timestamp is not None else self.now())
        nonce = str(secrets.randbelow(10**10))
        encrypt = self._prp.encrypt(plaintext, self.fake.corp_id).decode()
        signature = _get_signature(self.token, timestamp_text, nonce, encrypt)
        query = urlencode({"msg_signature": signature, "timestamp": timestamp_text,
                           "nonce": nonce})
        return query, wecom_xml.envelope(self.fake.corp_id, self.fake.agent_id, encrypt)

    async def deliver(self, plaintext: str, *, lose_answers: int = 0, url: str | None = None,
                      retries: int = RETRIES) -> Delivery:
        """Deliver as WeCom does; `lose_answers` drops that many 200s as if they timed out."""
        statuses: list[int] = []
        for _ in range(1 + retries):
            try:
                status = await self._attempt(plaintext, url)
            except TimeoutError:
                statuses.append(0)
                continue
            except aiohttp.ClientError:   # cut off mid-request: the balancer answers 502
                if self.urls is None:
                    raise
                statuses.append(502)
                await asyncio.sleep(0.05)
                continue
            statuses.append(status)
            if status == 200 and lose_answers <= 0:
                break
            lose_answers -= status == 200
        return Delivery(statuses)

    async def _attempt(self, plaintext: str, url: str | None) -> int:
        """One delivery attempt. Behind the balancer (`urls`), a server refusing the connection
        is skipped within the attempt and left out for a few seconds, as nginx does."""
        tried: set[str] = set()
        while True:
            target = url or self._pick(avoid=tried)
            query, body = self.signed(plaintext)
            try:
                async with self._http().post(f"{target}?{query}", data=body,
                                             timeout=aiohttp.ClientTimeout(WECOM_TIMEOUT)) as resp:
                    await resp.read()
                    return resp.status
            except aiohttp.ClientConnectorError:
                if url is not None or self.urls is None:
                    raise
                tried.add(target)
                self._down[target] = time.monotonic() + DOWN_SECONDS
                if tried >= set(self.urls):
                    raise

    def _pick(self, avoid: set[str] | frozenset[str] = frozenset()) -> str:
        if not self.urls:
            return self.url
        now = time.monotonic()
        for _ in range(len(self.urls)):
            self._next_url = (self._next_url + 1) % len(self.urls)
            candidate = self.urls[self._next_url]
            if candidate not in avoid and self._down.get(candidate, 0) <= now:
                return candidate
        return next((u for u in self.urls if u not in avoid), self.urls[0])

    async def deliver_concurrently(self, plaintext: str, urls: list[str]) -> list[Delivery]:
        """The same message at the same moment to several servers (or twice to one)."""
        return list(await asyncio.gather(*(self.deliver(plaintext, url=u) for u in urls)))

    async def verify_url(self, echo: str = "1616140317555161061") -> tuple[int, str]:
        timestamp, nonce = str(self.now()), str(secrets.randbelow(10**10))
        echostr = self._prp.encrypt(echo, self.fake.corp_id).decode()
        signature = _get_signature(self.token, timestamp, nonce, echostr)
        query = urlencode({"msg_signature": signature, "timestamp": timestamp, "nonce": nonce,
                           "echostr": echostr})
        async with self._http().get(f"{self.url}?{query}") as response:
            return response.status, await response.text()
