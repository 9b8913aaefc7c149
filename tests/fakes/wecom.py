"""A fake WeCom server API over real HTTP, faithful to what campusbot relies on.

It checks what WeCom checks, with WeCom's documented error codes:
  gettoken           40013 wrong corp id, 40001 wrong secret; tokens live 7200 s
  every call         41001 no token, 40014 unknown token, 42001 expired token
  message/send       40033 \\uXXXX escapes, 40058 bad JSON or a card outside WeCom's limits,
                     40056 wrong agentid, 81013 no valid recipient (partial: invaliduser),
                     45002 text over 2048 bytes, 40007 unknown media id, 42014 bad or reused
                     task_id; enable_duplicate_check drops a repeat of the same request JSON
  update_template_card  response codes are single use and expire after 72 h (60140)
  media/upload       multipart field `media`, PNG or JPG, more than 5 bytes
  contacts           department/simplelist, department/get, user/list, user/get (60111),
                     tag/list, tag/get; menu/create with WeCom's menu rules
Faults can be injected per path: an error code, an HTTP status, or a hang (optionally after
the request took effect, i.e. a lost answer). `chaos` adds faults at random on every call — a
share of calls failing busy (-1), with an HTTP error, timing out before or after taking effect,
tokens revoked every few seconds — and a delay before every answer (a slow API). Where the docs
name no code (a reused task_id, the answer to a duplicate-checked request), the choice is
marked below. `wait_for` lets a simulated user wait for their replies.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web

from bot.clock import Clock

TOKEN_LIFETIME = 7200
CODE_LIFETIME = timedelta(hours=72)
TASK_ID = re.compile(r"[A-Za-z0-9_\-@]{1,128}")


@dataclass
class Delivered:
    user: str
    msgtype: str
    body: dict[str, Any]
    msgid: str

    @property
    def text(self) -> str:
        return str(self.body.get("content", "")) if self.msgtype == "text" else ""


@dataclass
class FakeCard:
    task_id: str
    recipients: list[str]
    card: dict[str, Any]
    #: per recipient: what the greyed-out buttons say after an update
    replaced: dict[str, str] = field(default_factory=dict)


@dataclass
class IssuedCode:
    task_id: str
    issued_at: datetime
    used: bool = False


@dataclass
class Fault:
    errcode: int | None = None
    http_status: int | None = None
    hang: bool = False
    after_effect: bool = False
    #: only for a request whose body contains this text (e.g. one recipient, one part)
    match: str | None = None
    #: injected by `Chaos`: a hang lasts `Chaos.hang` seconds instead of until `release()`
    chaos: bool = False


@dataclass
class Chaos:
    """Random faults on every API call, for load and fault tests."""

    #: share of calls that fail
    rate: float = 0.0
    #: what a failed call is, chosen at random: "busy" (errcode -1), "http" (502), "timeout"
    #: (no answer, the request never took effect), "lost_answer" (took effect, no answer)
    kinds: tuple[str, ...] = ("busy", "http", "timeout", "lost_answer")
    #: how long a call that times out hangs (longer than the client waits)
    hang: float = 12.0
    #: seconds before every answer: a slow API
    latency: float = 0.0
    #: every this many seconds all access tokens are revoked (WeCom answers 42001)
    revoke_tokens_every: float | None = None
    seed: int | None = None


class ApiError(Exception):
    def __init__(self, errcode: int, errmsg: str) -> None:
        super().__init__(errmsg)
        self.errcode = errcode
        self.errmsg = errmsg


class FakeWecom:
    def __init__(self, clock: Clock, *, corp_id: str, agent_id: int, secret: str,
                 members: dict[str, dict[str, Any]] | None = None,
                 departments: list[dict[str, Any]] | None = None,
                 tags: list[dict[str, Any]] | None = None) -> None:
        self.clock = clock
        self.corp_id = corp_id
        self.agent_id = agent_id
        self.secret = secret
        self.members = members or {}
        self.departments = departments or []
        self.tags = tags or []
        self.tokens: dict[str, datetime] = {}
        self.delivered: list[Delivered] = []
        self.cards: dict[str, FakeCard] = {}
        self.codes: dict[str, IssuedCode] = {}
        self.media: dict[str, bytes] = {}
        self.menus: list[dict[str, Any]] = []
        self.calls: list[tuple[str, int]] = []
        self._duplicates: dict[bytes, tuple[datetime, int, dict[str, Any]]] = {}
        self._faults: dict[str, list[Fault]] = {}
        self._release = asyncio.Event()
        self._msgid = 0
        self.chaos = Chaos()
        self.chaos_counts: dict[str, int] = {}
        self._random = random.Random()
        self._revoked_at = time.monotonic()
        self._arrivals: dict[str, asyncio.Event] = {}
        self._by_user: dict[str, list[Delivered]] = {}
        self.app = web.Application()
        self.app.router.add_route("*", "/cgi-bin/{path:.+}", self._handle)

    # ---- the school's contacts (as an administrator sets them up in WeCom) ---------------
    def add_department(self, department_id: int, name: str, *, parent: int = 1,
                       leaders: Sequence[str] = ()) -> None:
        """A department with WeCom's numeric id; `leaders` are its 部门负责人."""
        self.departments.append({"id": department_id, "name": name, "parentid": parent,
                                 "order": len(self.departments),
                                 "department_leader": list(leaders)})

    def add_member(self, userid: str, name: str, departments: int | Sequence[int], *,
                   position: str = "", status: int = 1) -> None:
        ids = [departments] if isinstance(departments, int) else list(departments)
        self.members[userid] = {"userid": userid, "name": name, "department": ids,
                                "main_department": ids[0], "position": position,
                                "status": status}

    def add_tag(self, tagid: int, name: str, *, users: Sequence[str] = (),
                parties: Sequence[int] = ()) -> None:
        """A tag (标签) such as 教师, 学生, 辅导员, with members and whole departments."""
        self.tags.append({"tagid": tagid, "tagname": name, "users": list(users),
                          "parties": list(parties)})

    def tag_named(self, name: str) -> dict[str, Any]:
        return next(t for t in self.tags if t["tagname"] == name)

    # ---- test controls -------------------------------------------------------------------
    def fault(self, path: str, *, times: int = 1, **kind: Any) -> None:
        self._faults.setdefault(path, []).extend(Fault(**kind) for _ in range(times))

    def expire_tokens(self) -> None:
        """WeCom may invalidate tokens before their time: every token now answers 42001."""
        for token in self.tokens:
            self.tokens[token] = self.clock.now() - timedelta(seconds=1)

    def release(self) -> None:
        self._release.set()

    def set_chaos(self, chaos: Chaos) -> None:
        self.chaos = chaos
        self._random = random.Random(chaos.seed)
        self._revoked_at = time.monotonic()

    async def wait_for(self, user: str, count: int, seconds: float) -> bool:
        """Until `user` has received `count` messages (True) or `seconds` passed (False)."""
        deadline = time.monotonic() + seconds
        while len(self._by_user.get(user, ())) < count:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            arrived = self._arrivals.setdefault(user, asyncio.Event())
            try:
                await asyncio.wait_for(arrived.wait(), left)
            except TimeoutError:
                return len(self._by_user.get(user, ())) >= count
            arrived.clear()
        return True

    def issue_code(self, task_id: str) -> str:
        code = "rc" + secrets.token_urlsafe(24)
        self.codes[code] = IssuedCode(task_id, self.clock.now())
        return code

    def to(self, user: str) -> list[Delivered]:
        return list(self._by_user.get(user, ()))

    def texts(self, user: str) -> list[str]:
        return [d.text for d in self.to(user) if d.msgtype == "text"]

    def read(self, user: str) -> list[str]:
        """What the user reads, in order: each text message, and each card as its title and sub
        title (a question asked as a card reads like one asked as a text)."""
        read = []
        for delivered in self.to(user):
            if delivered.msgtype == "text":
                read.append(delivered.text)
            elif delivered.msgtype == "template_card":
                card = delivered.body
                read.append("\n".join(part for part in (
                    (card.get("main_title") or {}).get("title", ""),
                    card.get("sub_title_text", "")) if part))
        return read

    def cards_to(self, user: str) -> list[FakeCard]:
        return [c for c in self.cards.values() if user in c.recipients]

    def count(self, path: str) -> int:
        return sum(1 for p, _ in self.calls if p == path)

    # ---- HTTP ----------------------------------------------------------------------------
    async def _handle(self, request: web.Request) -> web.Response:
        path = request.match_info["path"]
        fault = await self._take_fault(path, request) or await self._chaos_fault()
        if fault and fault.hang and not fault.after_effect:
            await self._hang(fault)
        if fault and fault.http_status:
            return web.Response(status=fault.http_status, text="<html>Bad Gateway</html>")
        try:
            if fault and fault.errcode is not None:
                raise ApiError(fault.errcode, "injected")
            handler = getattr(self, "_" + path.replace("/", "_"), None)
            if handler is None:
                raise ApiError(40001 if path == "gettoken" else 48002, "unknown api")
            if path != "gettoken":
                self._check_token(request.query.get("access_token", ""))
            result: dict[str, Any] = await handler(request)
            answer = {"errcode": 0, "errmsg": "ok", **result}
        except ApiError as exc:
            answer = {"errcode": exc.errcode, "errmsg": exc.errmsg}
        self.calls.append((path, answer["errcode"]))
        if fault and fault.hang:  # the request took effect; its answer never arrives
            await self._hang(fault)
        return web.json_response(answer, dumps=lambda v: json.dumps(v, ensure_ascii=False))

    async def _hang(self, fault: Fault) -> None:
        if fault.chaos:
            await asyncio.sleep(self.chaos.hang)
        else:
            await self._release.wait()

    async def _chaos_fault(self) -> Fault | None:
        chaos = self.chaos
        if chaos.latency:
            await asyncio.sleep(chaos.latency)
        if chaos.revoke_tokens_every is not None and (
                time.monotonic() - self._revoked_at >= chaos.revoke_tokens_every):
            self._revoked_at = time.monotonic()
            self.expire_tokens()
            self._count("revoked_tokens")
        if not chaos.rate or self._random.random() >= chaos.rate:
            return None
        kind = self._random.choice(chaos.kinds)
        self._count(kind)
        return {"busy": Fault(errcode=-1, chaos=True),
                "http": Fault(http_status=502, chaos=True),
                "timeout": Fault(hang=True, chaos=True),
                "lost_answer": Fault(hang=True, after_effect=True, chaos=True)}[kind]

    def _count(self, kind: str) -> None:
        self.chaos_counts[kind] = self.chaos_counts.get(kind, 0) + 1

    async def _take_fault(self, path: str, request: web.Request) -> Fault | None:
        faults = self._faults.get(path, [])
        raw = (await request.read()).decode("utf-8", "replace") if faults else ""
        for index, fault in enumerate(faults):
            if fault.match is None or fault.match in raw:
                return faults.pop(index)
        return None

    def _check_token(self, token: str) -> None:
        if not token:
            raise ApiError(41001, "access_token missing")
        if token not in self.tokens:
            raise ApiError(40014, "invalid access_token")
        if self.tokens[token] <= self.clock.now():
            raise ApiError(42001, "access_token expired")

    async def _json(self, request: web.Request) -> dict[str, Any]:
        raw = await request.read()
        if b"\\u" in raw:
            raise ApiError(40033, "不合法的字符：不能包含\\uxxxx格式的字符")
        try:
            body = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise ApiError(40058, "invalid json") from None
        if not isinstance(body, dict):
            raise ApiError(40058, "invalid json")
        return body

    def _check_agent(self, value: Any) -> None:
        if str(value) != str(self.agent_id):
            raise ApiError(40056, "invalid agentid")

    # ---- token ---------------------------------------------------------------------------
    async def _gettoken(self, request: web.Request) -> dict[str, Any]:
        if request.query.get("corpid") != self.corp_id:
            raise ApiError(40013, "invalid corpid")
        if request.query.get("corpsecret") != self.secret:
            raise ApiError(40001, "invalid credential")
        token = secrets.token_urlsafe(48)
        self.tokens[token] = self.clock.now() + timedelta(seconds=TOKEN_LIFETIME)
        return {"access_token": token, "expires_in": TOKEN_LIFETIME}

    # ---- messages ------------------------------------------------------------------------
    async def _message_send(self, request: web.Request) -> dict[str, Any]:
        raw = await request.read()
        body = await self._json(request)
        self._check_agent(body.get("agentid"))
        now = self.clock.now()
        if body.get("enable_duplicate_check") == 1:
            seen = self._duplicates.get(raw)
            if seen and now - seen[0] < timedelta(seconds=seen[1]):
                # the docs only say the repeat is not received; assumed: the first msgid, no
                # new response code
                return {"msgid": seen[2]["msgid"], "invaliduser": ""}
        users = [u for u in str(body.get("touser", "")).split("|") if u]
        valid = [u for u in users if u in self.members]
        if not valid:
            raise ApiError(81013, "user & party & tag all invalid")
        msgtype = str(body.get("msgtype", ""))
        content = body.get(msgtype)
        if not isinstance(content, dict):
            raise ApiError(40008, "invalid message type")
        result: dict[str, Any] = {"invaliduser": "|".join(u for u in users if u not in valid)}
        if msgtype == "text":
            text = content.get("content")
            if not isinstance(text, str) or not text:
                raise ApiError(40058, "content empty")
            if len(text.encode("utf-8")) > 2048:
                raise ApiError(45002, "content size out of limit")
        elif msgtype == "image":
            if content.get("media_id") not in self.media:
                raise ApiError(40007, "invalid media_id")
        elif msgtype == "template_card":
            self._check_card(content)
            self.cards[content["task_id"]] = FakeCard(content["task_id"], valid, content)
            result["response_code"] = self.issue_code(content["task_id"])
        else:
            raise ApiError(40008, "invalid message type")
        self._msgid += 1
        result["msgid"] = f"msg{self._msgid}"
        for user in valid:
            delivered = Delivered(user, msgtype, content, result["msgid"])
            self.delivered.append(delivered)
            self._by_user.setdefault(user, []).append(delivered)
            if user in self._arrivals:
                self._arrivals[user].set()
        if body.get("enable_duplicate_check") == 1:
            interval = int(body.get("duplicate_check_interval") or 1800)
            if not 0 < interval <= 4 * 3600:
                raise ApiError(40058, "duplicate_check_interval out of range")
            self._duplicates[raw] = (now, interval, result)
        return result

    def _check_card(self, card: dict[str, Any]) -> None:
        def bad(why: str) -> ApiError:
            return ApiError(40058, f"template_card: {why}")
        if card.get("card_type") not in ("button_interaction", "vote_interaction"):
            raise bad("card_type")
        task_id = card.get("task_id")
        if not isinstance(task_id, str) or not TASK_ID.fullmatch(task_id):
            raise ApiError(42014, "invalid task_id")
        if task_id in self.cards:
            raise ApiError(42014, "task_id exists")  # assumed code: the docs name none
        title = (card.get("main_title") or {}).get("title")
        if not isinstance(title, str) or not title or len(title) > 36:
            raise bad("main_title.title")
        if len((card.get("main_title") or {}).get("desc", "")) > 44:
            raise bad("main_title.desc")
        if len((card.get("source") or {}).get("desc", "")) > 20:
            raise bad("source.desc")
        if len(card.get("sub_title_text", "")) > 160:
            raise bad("sub_title_text")
        facts = card.get("horizontal_content_list") or []
        if len(facts) > 6:
            raise bad("horizontal_content_list")
        for fact in facts:
            if not 0 < len(fact.get("keyname", "")) <= 5 or len(fact.get("value", "")) > 30:
                raise bad("horizontal_content_list item")
        if card["card_type"] == "vote_interaction":
            self._check_vote(card, bad)
            return
        buttons = card.get("button_list") or []
        if not 1 <= len(buttons) <= 6:
            raise bad("button_list")
        keys = [b.get("key", "") for b in buttons]
        if len(set(keys)) != len(keys):
            raise bad("button keys repeat")
        for button in buttons:
            if not 0 < len(button.get("text", "")) <= 10 or not 0 < len(
                    button.get("key", "").encode()) <= 1024 or button.get("style", 1) not in (
                    1, 2, 3, 4):
                raise bad("button")

    @staticmethod
    def _check_vote(card: dict[str, Any], bad: Any) -> None:
        """vote_interaction: a checkbox of 1–20 options (ids ≤ 128 bytes, unique; the docs
        recommend texts of ≤ 17 characters) and a submit button with a key."""
        checkbox = card.get("checkbox") or {}
        options = checkbox.get("option_list") or []
        if not checkbox.get("question_key") or not 1 <= len(options) <= 20:
            raise bad("checkbox")
        ids = [o.get("id", "") for o in options]
        if len(set(ids)) != len(ids) or any(not 0 < len(i.encode()) <= 128 for i in ids):
            raise bad("checkbox option ids")
        if any(not 0 < len(o.get("text", "")) <= 17 for o in options):
            raise bad("checkbox option text")
        submit = card.get("submit_button") or {}
        if not submit.get("key") or len(submit.get("text", "")) > 10:
            raise bad("submit_button")

    async def _message_update_template_card(self, request: web.Request) -> dict[str, Any]:
        body = await self._json(request)
        self._check_agent(body.get("agentid"))
        code = self.codes.get(str(body.get("response_code", "")))
        if code is None or code.used or self.clock.now() - code.issued_at > CODE_LIFETIME:
            raise ApiError(60140, "invalid response_code")
        card = self.cards.get(code.task_id)
        if card is None:
            raise ApiError(42016, "task_id not exist")
        button = body.get("button")
        if not isinstance(button, dict) or not button.get("replace_name"):
            raise ApiError(40058, "button.replace_name missing")
        code.used = True
        users = card.recipients if body.get("atall") else list(body.get("userids") or [])
        for user in users:
            if user in card.recipients:
                card.replaced[user] = str(button["replace_name"])
        return {"invaliduser": [u.lower() for u in users if u not in card.recipients]}

    async def _media_upload(self, request: web.Request) -> dict[str, Any]:
        if request.query.get("type") != "image":
            raise ApiError(40004, "invalid media type")
        form = await request.post()
        media = form.get("media")
        if not isinstance(media, web.FileField) or not media.filename:
            raise ApiError(44001, "empty media")
        data = media.file.read()
        if len(data) <= 5:
            raise ApiError(44001, "empty media")
        if not data.startswith((b"\x89PNG", b"\xff\xd8")):
            raise ApiError(40005, "invalid file type")
        media_id = "m" + secrets.token_urlsafe(16)
        self.media[media_id] = data
        return {"type": "image", "media_id": media_id,
                "created_at": str(int(self.clock.now().timestamp()))}

    async def _menu_create(self, request: web.Request) -> dict[str, Any]:
        self._check_agent(request.query.get("agentid"))
        self.menus.append(await self._json(request))
        return {}

    # ---- contacts ------------------------------------------------------------------------
    async def _department_simplelist(self, request: web.Request) -> dict[str, Any]:
        return {"department_id": [{"id": d["id"], "parentid": d.get("parentid", 0),
                                   "order": d.get("order", 0)} for d in self.departments]}

    async def _department_get(self, request: web.Request) -> dict[str, Any]:
        for department in self.departments:
            if str(department["id"]) == request.query.get("id"):
                return {"department": department}
        raise ApiError(60123, "invalid department id")

    async def _user_list(self, request: web.Request) -> dict[str, Any]:
        department = int(request.query.get("department_id", "0"))
        return {"userlist": [m for m in self.members.values()
                             if department in m.get("department", [])]}

    async def _user_get(self, request: web.Request) -> dict[str, Any]:
        member = self.members.get(request.query.get("userid", ""))
        if member is None:
            raise ApiError(60111, "userid not found")
        return dict(member)

    async def _tag_list(self, request: web.Request) -> dict[str, Any]:
        return {"taglist": [{"tagid": t["tagid"], "tagname": t["tagname"]} for t in self.tags]}

    async def _tag_get(self, request: web.Request) -> dict[str, Any]:
        for tag in self.tags:
            if str(tag["tagid"]) == request.query.get("tagid"):
                return {"tagname": tag["tagname"], "userlist": [
                    {"userid": u, "name": self.members.get(u, {}).get("name", u)}
                    for u in tag.get("users", [])], "partylist": tag.get("parties", [])}
        raise ApiError(40068, "invalid tagid")
