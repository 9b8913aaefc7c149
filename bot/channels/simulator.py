"""The local simulator: a web chat at /sim where a tester acts as any directory user.

JSON API (each answers {"replies": [...]} with what the bot sends that user, or {"error": ...}
with a message in Chinese and status 400):
    GET  /sim/api/users                         directory users: id, name, roles
    POST /sim/api/messages  {"user", "text"}    or {"user", "file": {"name": ...}}; a tapped
                                                choice adds "card_key" (the Choices' key)
    POST /sim/api/actions   {"user", "card", "action"}
    GET  /sim/api/inbox?user=ID                 messages pushed to the user since the last call
Every POST may carry "id", a client-chosen key: a request sent again with the same id is
answered once (the page resends a failed message with its id).
A card whose task was decided before the page asked for it (by text, `同意 12`) comes decided:
without buttons, with the update's status — never live after its update.
It lets anyone act as anyone, so it is for development and acceptance tests only, and it keeps
out of real users' way:
- beside a real channel (WeCom) the configuration is refused unless
  `[simulator] allow_beside_real_channels = true` (a trial), see `refusal`;
- it answers only this machine: a request from another address, or one forwarded by a proxy
  (nginx in front of the server), gets 403 — whatever `[server] host` the server listens on;
- what a tester types never becomes a person's last channel (bot/people.py), so cards and
  results for real users never wait in the simulator's outbox.
The page (simulator.html, .css, .js) is a phone-sized chat built on this API.
"""

from __future__ import annotations

import ipaddress
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from importlib import resources
from typing import Any

from aiohttp import web

from bot import keys
from bot.channels import SIMULATOR
from bot.channels.base import ChannelContext, ChannelRuntime
from flows.answers import Attachment
from flows.incoming import Incoming
from storage import outbox
from storage.directory import DatabaseDirectory
from storage.models import OutboxMessage

NAME = SIMULATOR
MAX_TEXT = 2000
MAX_ID = 64  # user ids and request ids, as the database stores them
MAX_KEY = 128  # card keys and choice keys
#: the page's own files, served beside it
ASSETS = {"simulator.css": "text/css", "simulator.js": "text/javascript"}


@dataclass(frozen=True)
class SimulatorSettings:
    #: on by default for development; it lets anyone act as anyone: off in production
    enabled: bool = True
    #: beside a real channel (WeCom) the simulator is refused unless this is true (a trial)
    allow_beside_real_channels: bool = False


REFUSED_BESIDE = (
    "simulator.enabled: 模拟器可以冒充任何用户，不能与真实渠道（{labels}）同时开启。"
    "生产环境请设置 [simulator] enabled = false；仅在试用时，"
    "可设置 [simulator] allow_beside_real_channels = true（模拟器仍只允许本机访问）。")


def refusal(settings: SimulatorSettings, real_channels: list[str]) -> str | None:
    """Why the simulator may not run beside these enabled real channels (their labels)."""
    if not settings.enabled or not real_channels or settings.allow_beside_real_channels:
        return None
    return REFUSED_BESIDE.format(labels="、".join(real_channels))


class SimulatorChannel:
    name = NAME
    pushes = False  # messages wait in the outbox until the page or API asks for them

    async def send(self, user_id: str, payload: dict[str, Any]) -> None:
        raise AssertionError("the simulator is pull-based")


class SimulatorPlugin:
    """The simulator as a channel: its users are the directory's ids, and every payload is
    handed to the page as it is stored (the page renders each type itself)."""

    name = NAME
    label = "模拟器"
    section = "simulator"
    settings_type = SimulatorSettings

    def check(self, settings: SimulatorSettings) -> list[str]:
        return []

    def build(self, context: ChannelContext) -> ChannelRuntime:
        return ChannelRuntime(channel=SimulatorChannel())

    def serve(self, app: web.Application) -> None:
        register(app)


PLUGIN = SimulatorPlugin()


def _bad(message: str) -> web.Response:
    return web.json_response({"error": message}, status=400)


#: headers a reverse proxy adds: a request carrying one came from somewhere else
FORWARDED = ("Forwarded", "X-Forwarded-For", "X-Real-IP", "X-Forwarded-Host")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def is_local(request: web.Request) -> bool:
    """From this machine, not through a proxy."""
    if any(header in request.headers for header in FORWARDED):
        return False
    try:
        return ipaddress.ip_address(request.remote or "").is_loopback
    except ValueError:   # a Unix socket has no address: only local processes reach it
        return not request.remote


def local_only(handler: Handler) -> Handler:
    async def guarded(request: web.Request) -> web.StreamResponse:
        if not is_local(request):
            raise web.HTTPForbidden(text="模拟器只允许在服务器本机访问。")
        return await handler(request)
    return guarded


def _file(name: str, content_type: str) -> web.Response:
    text = resources.files("bot.channels").joinpath(name).read_text("utf-8")
    # always revalidated: a page left open picks up a restarted server's page files
    return web.Response(text=text, content_type=content_type, charset="utf-8",
                        headers={"Cache-Control": "no-cache"})


async def page(request: web.Request) -> web.Response:
    return _file("simulator.html", "text/html")


async def asset(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    if name not in ASSETS:
        raise web.HTTPNotFound(text="没有这个文件")
    return _file(name, ASSETS[name])


async def users(request: web.Request) -> web.Response:
    people = await DatabaseDirectory().people()
    return web.json_response({"users": [
        {"id": p.id, "name": p.name, "roles": list(p.roles), "title": p.title,
         "department": p.department} for p in people]})


def _key(value: object, limit: int) -> bool:
    """A non-empty id or key short enough to store."""
    return isinstance(value, str) and 0 < len(value) <= limit


async def _body(request: web.Request) -> dict[str, Any] | web.Response:
    try:
        body = await request.json()
    except ValueError:
        return _bad("请求格式不正确，请以 JSON 发送")
    if not isinstance(body, dict) or not body.get("user"):
        return _bad("请先选择以哪位用户的身份发送")
    if not _key(body["user"], MAX_ID):
        return _bad(f"用户编号无效（应为不超过 {MAX_ID} 个字符的文本）")
    request_id = body.get("id")
    if request_id is not None and not (_key(request_id, MAX_ID) or (
            isinstance(request_id, int) and not isinstance(request_id, bool))):
        return _bad(f"消息编号无效（应为不超过 {MAX_ID} 个字符的文本）")
    return body


def _dedupe_key(body: dict[str, Any]) -> str:
    return str(body.get("id") or uuid.uuid4().hex)


async def messages(request: web.Request) -> web.Response:
    body = await _body(request)
    if isinstance(body, web.Response):
        return body
    file = body.get("file")
    text = body.get("text", "")
    choice_key = body.get("card_key")
    if not isinstance(text, str):
        return _bad("消息内容应为文字")
    if len(text) > MAX_TEXT:
        return _bad(f"消息太长了，请不要超过 {MAX_TEXT} 字")
    if file is not None and not (isinstance(file, dict) and isinstance(file.get("name"), str)
                                 and file["name"].strip()):
        return _bad("请提供文件名")
    if choice_key is not None and not _key(choice_key, MAX_KEY):
        return _bad("选项信息无效，请重新点选或直接输入回答")
    if choice_key is not None and file is not None:
        return _bad("点选的回答不能附带文件")
    if not text.strip() and file is None:
        return _bad("请输入消息内容")
    incoming = Incoming(
        channel=NAME, user_id=body["user"], kind="file" if file else "text", text=text,
        card_key=choice_key or "",
        attachment=Attachment(name=file["name"], media_id=f"sim-{uuid.uuid4().hex[:8]}")
        if file else None,
        dedupe_key=_dedupe_key(body))
    return await _run(request, incoming)


async def actions(request: web.Request) -> web.Response:
    body = await _body(request)
    if isinstance(body, web.Response):
        return body
    card, action = body.get("card"), body.get("action")
    if not _key(card, MAX_KEY) or not _key(action, MAX_KEY):
        return _bad("没有收到点了哪张卡片的哪个按钮，请重新点一次")
    incoming = Incoming(channel=NAME, user_id=body["user"], kind="tap", card_key=card,
                        action=action, dedupe_key=_dedupe_key(body))
    return await _run(request, incoming)


async def _run(request: web.Request, incoming: Incoming) -> web.Response:
    result = await request.app[keys.DISPATCHER].receive(incoming)
    if result is None or not result.processed:
        return web.json_response({"replies": [], "duplicate": True})
    taken = await outbox.take_for_user(NAME, incoming.user_id, request.app[keys.CLOCK].now(),
                                       turn_id=result.turn_id)
    return web.json_response({"replies": await _settled(incoming.user_id, taken)})


async def inbox(request: web.Request) -> web.Response:
    user = request.query.get("user", "")
    if not _key(user, MAX_ID):
        return _bad("请先选择要查看哪位用户的消息")
    taken = await outbox.take_for_user(NAME, user, request.app[keys.CLOCK].now())
    return web.json_response({"replies": await _settled(user, taken)})


async def _settled(user: str, taken: list[OutboxMessage]) -> list[dict[str, Any]]:
    """The payloads to hand over; a card already decided by a later update (delivered or
    queued) goes out decided — no buttons, the update's status — so it cannot be tapped."""
    cards = [m for m in taken if m.payload.get("type") == "card"]
    if not cards:
        return [m.payload for m in taken]
    later = await OutboxMessage.filter(channel=NAME, user_id=user,
                                       id__gt=min(m.id for m in cards)).order_by("id")
    updates: dict[str, list[tuple[int, dict[str, Any]]]] = {}
    for message in later:
        if message.payload.get("type") == "card_update":
            updates.setdefault(message.payload.get("card_key", ""), []).append(
                (message.id, message.payload))
    payloads = []
    for message in taken:
        payload = message.payload
        decided = [u for i, u in updates.get(payload.get("card_key", ""), []) if i > message.id]
        if payload.get("type") == "card" and decided:
            update = decided[-1]
            payload = {**payload, "buttons": [], "status": update.get("status", ""),
                       "outcome": update.get("outcome", ""), "reason": update.get("reason", "")}
        payloads.append(payload)
    return payloads


async def flowchart_image(request: web.Request) -> web.StreamResponse:
    name = request.match_info["flow_id"]
    flow_id, _, extension = name.rpartition(".")
    if extension not in ("svg", "png"):
        raise web.HTTPNotFound(text="请使用 .svg 或 .png")
    definition = request.app[keys.ENGINE].catalog.get(flow_id)
    if definition is None:
        raise web.HTTPNotFound(text="没有这个流程")
    data = await request.app[keys.FLOWCHARTS].image(definition, extension)
    if data is None:
        raise web.HTTPServiceUnavailable(text="暂时无法生成流程图（服务器未安装 Graphviz）")
    return web.Response(body=data, content_type="image/svg+xml" if extension == "svg"
                        else "image/png")



def register(app: web.Application) -> None:
    routes: tuple[tuple[str, str, Handler], ...] = (
        ("GET", "/sim", page),
        ("GET", "/sim/", page),
        ("GET", "/sim/assets/{name}", asset),
        ("GET", "/sim/api/users", users),
        ("POST", "/sim/api/messages", messages),
        ("POST", "/sim/api/actions", actions),
        ("GET", "/sim/api/inbox", inbox),
        ("GET", "/sim/flowchart/{flow_id}", flowchart_image),
    )
    for method, path, handler in routes:
        app.router.add_route(method, path, local_only(handler))
