"""The local simulator: a web chat at /sim where a tester acts as any directory user.

JSON API (each answers {"replies": [...]} with what the bot sends that user):
    GET  /sim/api/users                         directory users: id, name, roles
    POST /sim/api/messages  {"user", "text"}    or {"user", "file": {"name": ...}}
    POST /sim/api/actions   {"user", "card", "action"}
    GET  /sim/api/inbox?user=ID                 messages pushed to the user since the last call
It lets anyone act as anyone, so it is for development and acceptance tests only.
"""

from __future__ import annotations

import uuid
from importlib import resources
from typing import Any

from aiohttp import web

from bot import keys
from flows.answers import Attachment
from flows.incoming import Incoming
from storage import outbox
from storage.directory import DatabaseDirectory

NAME = "sim"
MAX_TEXT = 2000


class SimulatorChannel:
    name = NAME
    pushes = False  # messages wait in the outbox until the page or API asks for them

    async def send(self, user_id: str, payload: dict[str, Any]) -> None:
        raise AssertionError("the simulator is pull-based")


def _bad(message: str) -> web.Response:
    return web.json_response({"error": message}, status=400)


def register(app: web.Application) -> None:
    app.router.add_get("/sim", page)
    app.router.add_get("/sim/", page)
    app.router.add_get("/sim/api/users", users)
    app.router.add_post("/sim/api/messages", messages)
    app.router.add_post("/sim/api/actions", actions)
    app.router.add_get("/sim/api/inbox", inbox)
    app.router.add_get("/sim/flowchart/{flow_id}", flowchart_image)


async def page(request: web.Request) -> web.Response:
    html = resources.files("bot.channels").joinpath("simulator.html").read_text("utf-8")
    return web.Response(text=html, content_type="text/html", charset="utf-8")


async def users(request: web.Request) -> web.Response:
    people = await DatabaseDirectory().people()
    return web.json_response({"users": [
        {"id": p.id, "name": p.name, "roles": list(p.roles), "title": p.title,
         "department": p.department} for p in people]})


async def _body(request: web.Request) -> dict[str, Any] | web.Response:
    try:
        body = await request.json()
    except ValueError:
        return _bad("请求体应为 JSON")
    if not isinstance(body, dict) or not isinstance(body.get("user"), str) or not body["user"]:
        return _bad("缺少 user（用户 id）")
    return body


async def messages(request: web.Request) -> web.Response:
    body = await _body(request)
    if isinstance(body, web.Response):
        return body
    file = body.get("file")
    text = body.get("text", "")
    if not isinstance(text, str) or len(text) > MAX_TEXT:
        return _bad(f"text 应为不超过 {MAX_TEXT} 字的文本")
    if file is not None and not (isinstance(file, dict) and isinstance(file.get("name"), str)):
        return _bad("file 应为 {\"name\": 文件名}")
    if not text.strip() and file is None:
        return _bad("text 不能为空")
    incoming = Incoming(
        channel=NAME, user_id=body["user"], kind="file" if file else "text", text=text,
        attachment=Attachment(name=file["name"], media_id=f"sim-{uuid.uuid4().hex[:8]}")
        if file else None,
        dedupe_key=str(body.get("id") or uuid.uuid4().hex))
    return await _run(request, incoming)


async def actions(request: web.Request) -> web.Response:
    body = await _body(request)
    if isinstance(body, web.Response):
        return body
    card, action = body.get("card"), body.get("action")
    if not isinstance(card, str) or not isinstance(action, str) or not card or not action:
        return _bad("缺少 card 或 action")
    incoming = Incoming(channel=NAME, user_id=body["user"], kind="tap", card_key=card,
                        action=action, dedupe_key=str(body.get("id") or uuid.uuid4().hex))
    return await _run(request, incoming)


async def _run(request: web.Request, incoming: Incoming) -> web.Response:
    result = await request.app[keys.DISPATCHER].receive(incoming)
    if result is None or not result.processed:
        return web.json_response({"replies": [], "duplicate": True})
    taken = await outbox.take_for_user(NAME, incoming.user_id, request.app[keys.CLOCK].now(),
                                       turn_id=result.turn_id)
    return web.json_response({"replies": [m.payload for m in taken]})


async def inbox(request: web.Request) -> web.Response:
    user = request.query.get("user", "")
    if not user:
        return _bad("缺少 user 参数")
    taken = await outbox.take_for_user(NAME, user, request.app[keys.CLOCK].now())
    return web.json_response({"replies": [m.payload for m in taken]})


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
