"""A fake DingTalk over real sockets (HTTP and a websocket on 127.0.0.1), faithful to what
campusbot relies on (facts in docs/dingtalk.md).

    POST /v1.0/oauth2/accessToken              {appKey, appSecret} → {accessToken, expireIn}
    POST /v1.0/gateway/connections/open        credentials + subscriptions → {endpoint, ticket};
                                               a ticket opens one socket, once
    GET  /connect?ticket=…                     the Stream websocket: frames pushed by the test,
                                               acks collected per messageId
    POST /v1.0/robot/oToMessages/batchSend     ≤ 20 userIds, msgParam a JSON string; users
                                               set to be flow-controlled are listed in
                                               flowControlledStaffIdList and not delivered
    POST /v1.0/card/instances/createAndDeliver cardParamMap values all strings, openSpaceId
                                               dtv1.card//IM_ROBOT.<userId>, callbackType
    PUT  /v1.0/card/instances                  cardParamMap merged by key
    POST /topapi/v2/department/listsub|get, /topapi/v2/user/list|get   (old host, access_token)

Every new-API call checks `x-acs-dingtalk-access-token` (401 otherwise). `lose_answers`
makes a card delivery take effect and answer 502; `hang` makes batchSend wait before it does
anything (a timeout that never took effect). `qps_error_rate` answers that share of API
calls with 403 `Forbidden.AccessDenied.QpsLimitForApi` before they take effect.

Stream controls: push a robot message or a card tap to one connection or several (the same
messageId to each: a redelivery), `disconnect` (a SYSTEM disconnect frame, the socket
closed a moment later), `stall` (the server stops reading and sending), `ping`.
"""

from __future__ import annotations

import asyncio
import json
import random
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from bot.clock import Clock

TOKEN_LIFETIME = 7200
ROBOT_TOPIC = "/v1.0/im/bot/messages/get"
CARD_TOPIC = "/v1.0/card/instances/callback"
QPS_CODE = "Forbidden.AccessDenied.QpsLimitForApi"


@dataclass
class Delivered:
    user: str
    msg_key: str
    param: dict[str, Any]

    @property
    def text(self) -> str:
        if self.msg_key == "sampleText":
            return str(self.param.get("content", ""))
        return str(self.param.get("text", ""))


@dataclass
class FakeCard:
    out_track_id: str
    user: str
    template_id: str
    data: dict[str, str]
    callback_type: str
    updates: int = 0

    @property
    def decided(self) -> bool:
        return self.data.get("decided") == "true"


@dataclass
class Connection:
    number: int
    ws: web.WebSocketResponse
    subscriptions: list[dict[str, str]]
    acks: dict[str, dict[str, Any]] = field(default_factory=dict)
    stalled: bool = False
    closed: asyncio.Event = field(default_factory=asyncio.Event)
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def ack_of(self, message_id: str, seconds: float = 5.0) -> dict[str, Any] | None:
        deadline = time.monotonic() + seconds
        while message_id not in self.acks:
            left = deadline - time.monotonic()
            if left <= 0 or self.closed.is_set():
                return None
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), left)
            except TimeoutError:
                return None
        return self.acks[message_id]


class FakeDingtalk:
    def __init__(self, clock: Clock, *, client_id: str, client_secret: str,
                 robot_code: str, template_id: str = "") -> None:
        self.clock = clock
        self.client_id = client_id
        self.client_secret = client_secret
        self.robot_code = robot_code
        self.template_id = template_id
        self.url = ""
        self.tokens: dict[str, float] = {}
        self.tickets: set[str] = set()
        self.connections: list[Connection] = []
        self.delivered: list[Delivered] = []
        self.cards: dict[str, FakeCard] = {}
        self.calls: list[tuple[str, int]] = []
        self.flow_controlled: dict[str, int] = {}
        self.qps_error_rate = 0.0
        #: path → how many of its next calls take effect and then answer 502 (a lost answer)
        self.lose_answers: dict[str, int] = {}
        #: path → how many of its next calls hang `hang_seconds` before anything happens
        self.hang: dict[str, int] = {}
        self.hang_seconds = 2.0
        self.qps_errors = 0
        self._random = random.Random(7)
        self.departments: dict[int, dict[str, Any]] = {
            1: {"dept_id": 1, "name": "学校", "parent_id": 0, "dept_manager_userid_list": []}}
        self.users: dict[str, dict[str, Any]] = {}
        self._connected = asyncio.Event()
        self.app = web.Application()
        self.app.router.add_post("/v1.0/oauth2/accessToken", self._token)
        self.app.router.add_post("/v1.0/gateway/connections/open", self._open)
        self.app.router.add_get("/connect", self._connect)
        self.app.router.add_post("/v1.0/robot/oToMessages/batchSend", self._batch_send)
        self.app.router.add_post("/v1.0/card/instances/createAndDeliver", self._deliver)
        self.app.router.add_put("/v1.0/card/instances", self._update)
        self.app.router.add_post("/v1.0/card/instances", self._create)
        self.app.router.add_post("/topapi/v2/department/listsub", self._listsub)
        self.app.router.add_post("/topapi/v2/department/get", self._department)
        self.app.router.add_post("/topapi/v2/user/list", self._user_list)
        self.app.router.add_post("/topapi/v2/user/get", self._user_get)

    # ---- contacts ---------------------------------------------------------------------
    def add_department(self, dept_id: int, name: str, *, parent: int = 1,
                       managers: list[str] | None = None) -> None:
        self.departments[dept_id] = {"dept_id": dept_id, "name": name, "parent_id": parent,
                                     "dept_manager_userid_list": list(managers or [])}

    def add_user(self, userid: str, name: str, departments: list[int], *, mobile: str = "",
                 job_number: str = "", title: str = "", active: bool = True) -> None:
        self.users[userid] = {"userid": userid, "name": name, "dept_id_list": departments,
                              "mobile": mobile, "job_number": job_number, "title": title,
                              "active": active}

    # ---- what users received ----------------------------------------------------------
    def to(self, user: str) -> list[Delivered]:
        return [d for d in self.delivered if d.user == user]

    def texts(self, user: str) -> list[str]:
        return [d.text for d in self.to(user)]

    def cards_to(self, user: str) -> list[FakeCard]:
        return [c for c in self.cards.values() if c.user == user]

    def count(self, path: str) -> int:
        return sum(1 for p, _ in self.calls if p == path)

    # ---- Stream: the test's hands -----------------------------------------------------
    async def wait_connections(self, count: int, seconds: float = 10.0) -> list[Connection]:
        deadline = time.monotonic() + seconds
        while len(self.live()) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(self.live())} of {count} Stream connections")
            await asyncio.sleep(0.01)
        return self.live()

    def live(self) -> list[Connection]:
        return [c for c in self.connections if not c.closed.is_set() and not c.stalled]

    async def push(self, topic: str, data: dict[str, Any], *, to: list[Connection] | None = None,
                   message_id: str | None = None, frame_type: str = "CALLBACK") -> str:
        """One frame to one connection (the newest live one) or to each of `to`."""
        message_id = message_id or secrets.token_hex(8)
        targets = to if to is not None else self.live()[-1:]
        if not targets:
            raise AssertionError("no live Stream connection")
        frame = {"specVersion": "1.0", "type": frame_type,
                 "headers": {"topic": topic, "messageId": message_id,
                             "contentType": "application/json",
                             "time": str(int(time.time() * 1000)), "appId": self.client_id},
                 "data": json.dumps(data, ensure_ascii=False)}
        for connection in targets:
            frame["headers"]["connectionId"] = str(connection.number)
            await connection.ws.send_str(json.dumps(frame, ensure_ascii=False))
        return message_id

    def robot_message(self, user: str, text: str, *, msg_id: str | None = None) -> dict[str, Any]:
        now = int(time.time() * 1000)
        return {"msgId": msg_id or "msg" + secrets.token_hex(8), "msgtype": "text",
                "text": {"content": f" {text}"}, "conversationType": "1",
                "conversationId": "cid" + user, "senderId": "$:LWCP_v1:$" + user,
                "senderStaffId": user, "senderNick": user, "senderCorpId": "dingcorp",
                "chatbotUserId": "$:bot", "robotCode": self.robot_code, "createAt": now,
                "isAdmin": False, "senderPlatform": "iOS",
                "sessionWebhook": f"{self.url}/robot/sendBySession?session=x",
                "sessionWebhookExpiredTime": now + 5_400_000}

    async def say(self, user: str, text: str, *, to: list[Connection] | None = None,
                  msg_id: str | None = None, message_id: str | None = None) -> str:
        return await self.push(ROBOT_TOPIC, self.robot_message(user, text, msg_id=msg_id),
                               to=to, message_id=message_id)

    def card_callback(self, out_track_id: str, user: str, action: str) -> dict[str, Any]:
        return {"type": "actionCallback", "outTrackId": out_track_id, "userId": user,
                "userIdType": 1, "corpId": "dingcorp", "spaceType": "IM_ROBOT",
                "spaceId": user, "extension": "{}", "content": json.dumps(
                    {"cardPrivateData": {"actionIds": [action], "params": {"action": action}}})}

    async def tap(self, out_track_id: str, user: str, action: str, *,
                  to: list[Connection] | None = None, message_id: str | None = None) -> str:
        return await self.push(CARD_TOPIC, self.card_callback(out_track_id, user, action),
                               to=to, message_id=message_id)

    async def ping(self, connection: Connection) -> dict[str, Any] | None:
        message_id = await self.push("ping", {"opaque": "op-" + secrets.token_hex(4)},
                                     to=[connection], frame_type="SYSTEM")
        return await connection.ack_of(message_id)

    async def disconnect(self, connection: Connection, *, after: float = 0.3) -> None:
        """DingTalk's `disconnect`: the frame, then the socket closed `after` s later."""
        await self.push("disconnect", {"reason": "server upgrade"}, to=[connection],
                        frame_type="SYSTEM")
        await asyncio.sleep(after)
        await connection.ws.close()

    def stall(self, connection: Connection) -> None:
        """The server stops reading and sending on this socket (a dead TCP path)."""
        connection.stalled = True

    # ---- HTTP ---------------------------------------------------------------------------
    def _qps_fault(self) -> bool:
        if self.qps_error_rate and self._random.random() < self.qps_error_rate:
            self.qps_errors += 1
            return True
        return False

    def _check_token(self, request: web.Request, token: str | None = None) -> web.Response | None:
        token = token if token is not None else request.headers.get(
            "x-acs-dingtalk-access-token", "")
        expires = self.tokens.get(token)
        if expires is None or expires < time.monotonic():
            return web.json_response({"code": "InvalidAuthentication",
                                      "message": "token invalid"}, status=401)
        return None

    def _error(self, path: str, status: int, code: str, message: str = "") -> web.Response:
        self.calls.append((path, status))
        return web.json_response({"code": code, "message": message, "requestid": "r"},
                                 status=status)

    async def _token(self, request: web.Request) -> web.Response:
        body = await request.json()
        if body.get("appKey") != self.client_id or body.get("appSecret") != self.client_secret:
            return self._error(request.path, 400, "invalidClientIdOrSecret")
        token = "at" + secrets.token_hex(12)
        self.tokens[token] = time.monotonic() + TOKEN_LIFETIME
        self.calls.append((request.path, 200))
        return web.json_response({"accessToken": token, "expireIn": TOKEN_LIFETIME})

    async def _open(self, request: web.Request) -> web.Response:
        body = await request.json()
        if body.get("clientId") != self.client_id or \
                body.get("clientSecret") != self.client_secret:
            return self._error(request.path, 401, "InvalidAuthentication")
        ticket = secrets.token_urlsafe(16)
        self.tickets.add(ticket)
        self._subscriptions = body.get("subscriptions") or []
        self.calls.append((request.path, 200))
        return web.json_response({"endpoint": self.url.replace("http", "ws", 1) + "/connect",
                                  "ticket": ticket})

    async def _connect(self, request: web.Request) -> web.StreamResponse:
        ticket = request.query.get("ticket", "")
        if ticket not in self.tickets:
            return web.Response(status=401, text="ticket invalid or used")
        self.tickets.discard(ticket)
        ws = web.WebSocketResponse(autoping=False)
        await ws.prepare(request)
        connection = Connection(len(self.connections) + 1, ws, list(self._subscriptions))
        self.connections.append(connection)
        try:
            async for message in ws:
                if connection.stalled:
                    await asyncio.Event().wait()   # never reads, answers or closes again
                if message.type == WSMsgType.PING:
                    await ws.pong(message.data)
                elif message.type == WSMsgType.TEXT:
                    ack = json.loads(message.data)
                    connection.acks[str(ack.get("headers", {}).get("messageId"))] = ack
                    connection._arrived.set()
        finally:
            connection.closed.set()
            connection._arrived.set()
        return ws

    async def _stall(self, path: str) -> None:
        if self.hang.get(path, 0) > 0:
            self.hang[path] -= 1
            await asyncio.sleep(self.hang_seconds)

    async def _batch_send(self, request: web.Request) -> web.Response:
        await self._stall(request.path)
        refused = self._check_token(request)
        if refused is not None:
            return refused
        if self._qps_fault():
            return self._error(request.path, 403, QPS_CODE, "qps limit")
        body = await request.json()
        users = body.get("userIds") or []
        if body.get("robotCode") != self.robot_code:
            return self._error(request.path, 400, "invalidParameter.robotCode.auth")
        if not users or len(users) > 20:
            return self._error(request.path, 400, "invalidParameter.userIds.overMax")
        try:
            param = json.loads(body.get("msgParam"))
        except (TypeError, ValueError):
            return self._error(request.path, 400, "invalidParameter.msgParam.invalid")
        limited = []
        for user in users:
            if self.flow_controlled.get(user, 0) > 0:
                self.flow_controlled[user] -= 1
                limited.append(user)
                continue
            self.delivered.append(Delivered(user, str(body.get("msgKey")), param))
        self.calls.append((request.path, 200))
        return web.json_response({"processQueryKey": secrets.token_hex(6),
                                  "invalidStaffIdList": [], "filteredStaffIdList": [],
                                  "flowControlledStaffIdList": limited})

    async def _deliver(self, request: web.Request) -> web.Response:
        refused = self._check_token(request)
        if refused is not None:
            return refused
        if self._qps_fault():
            return self._error(request.path, 403, QPS_CODE, "qps limit")
        body = await request.json()
        params = (body.get("cardData") or {}).get("cardParamMap") or {}
        space = str(body.get("openSpaceId", ""))
        out_track_id = str(body.get("outTrackId", ""))
        if body.get("cardTemplateId") != self.template_id or not out_track_id or \
                not space.startswith("dtv1.card//IM_ROBOT.") or \
                not all(isinstance(v, str) for v in params.values()):
            return self._error(request.path, 400, "invalidParameter")
        if out_track_id in self.cards:   # the docs name no code for this: our choice
            return self._error(request.path, 400, "param.outTrackIdAlreadyExists",
                               "outTrackId already exists")
        user = space.removeprefix("dtv1.card//IM_ROBOT.")
        self.cards[out_track_id] = FakeCard(out_track_id, user, body["cardTemplateId"],
                                            dict(params), str(body.get("callbackType", "")))
        self.calls.append((request.path, 200))
        if self.lose_answers.get(request.path, 0) > 0:
            self.lose_answers[request.path] -= 1
            return web.Response(status=502, text="<html>Bad Gateway</html>")
        return web.json_response({"success": True, "result": {
            "outTrackId": out_track_id,
            "deliverResults": [{"spaceType": "IM_ROBOT", "spaceId": user, "success": True}]}})

    async def _create(self, request: web.Request) -> web.Response:
        """An instance created and not delivered (what `campusbot dingtalk check` does)."""
        refused = self._check_token(request)
        if refused is not None:
            return refused
        body = await request.json()
        if body.get("cardTemplateId") != self.template_id:
            return self._error(request.path, 400, "invalidParameter.cardTemplateId",
                               "template not found")
        self.calls.append((request.path, 200))
        return web.json_response({"success": True, "result": body.get("outTrackId")})

    async def _update(self, request: web.Request) -> web.Response:
        refused = self._check_token(request)
        if refused is not None:
            return refused
        if self._qps_fault():
            return self._error(request.path, 403, QPS_CODE, "qps limit")
        body = await request.json()
        card = self.cards.get(str(body.get("outTrackId")))
        if card is None:
            return self._error(request.path, 400, "invalidParameter.outTrackId")
        params = (body.get("cardData") or {}).get("cardParamMap") or {}
        if (body.get("cardUpdateOptions") or {}).get("updateCardDataByKey"):
            card.data.update(params)
        else:
            card.data = dict(params)
        card.updates += 1
        self.calls.append((request.path, 200))
        return web.json_response({"success": True, "result": True})

    # ---- contacts (old host) ----------------------------------------------------------
    async def _old(self, request: web.Request) -> tuple[dict[str, Any] | None, web.Response | None]:
        token = request.query.get("access_token", "")
        if token not in self.tokens:
            return None, web.json_response({"errcode": 40014, "errmsg": "invalid token"})
        if self._qps_fault():
            return None, web.json_response({"errcode": 90018, "errmsg": "qps"})
        self.calls.append((request.path, 200))
        return await request.json(), None

    async def _listsub(self, request: web.Request) -> web.Response:
        body, refused = await self._old(request)
        if refused is not None:
            return refused
        parent = int(body["dept_id"])
        return web.json_response({"errcode": 0, "result": [
            {"dept_id": d["dept_id"], "name": d["name"], "parent_id": d["parent_id"]}
            for d in self.departments.values() if d["parent_id"] == parent]})

    async def _department(self, request: web.Request) -> web.Response:
        body, refused = await self._old(request)
        if refused is not None:
            return refused
        department = self.departments.get(int(body["dept_id"]))
        if department is None:
            return web.json_response({"errcode": 60003, "errmsg": "部门不存在"})
        return web.json_response({"errcode": 0, "result": department})

    async def _user_list(self, request: web.Request) -> web.Response:
        body, refused = await self._old(request)
        if refused is not None:
            return refused
        dept, cursor, size = int(body["dept_id"]), int(body.get("cursor", 0)), int(body["size"])
        members = [u for u in self.users.values() if dept in u["dept_id_list"]]
        page = members[cursor:cursor + size]
        more = cursor + size < len(members)
        result: dict[str, Any] = {"has_more": more, "list": page}
        if more:
            result["next_cursor"] = cursor + size
        return web.json_response({"errcode": 0, "result": result})

    async def _user_get(self, request: web.Request) -> web.Response:
        body, refused = await self._old(request)
        if refused is not None:
            return refused
        user = self.users.get(str(body["userid"]))
        if user is None:
            return web.json_response({"errcode": 60121, "errmsg": "找不到该用户"})
        return web.json_response({"errcode": 0, "result": user})
