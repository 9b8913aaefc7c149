"""The simulator's JSON API: what a script or the simulator page sends, and what it gets back."""

from __future__ import annotations

import re
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from flows.incoming import Incoming
from storage.models import InboundEvent

#: field names and other internal words an error must not show a person
INTERNAL_WORDS = re.compile(r"\b(text|user|file|card|action|card_key|id|name|null|None)\b")


async def _error(client: TestClient, path: str, body: Any) -> str:
    response = await client.post(path, json=body)
    assert response.status == 400
    message = (await response.json())["error"]
    assert isinstance(message, str) and message
    return message


@pytest.mark.parametrize(("path", "body", "says"), [
    ("/sim/api/messages", {"user": "zhang_t"}, "请输入消息内容"),
    ("/sim/api/messages", {"user": "zhang_t", "text": "   "}, "请输入消息内容"),
    ("/sim/api/messages", {"user": "zhang_t", "text": 12}, "文字"),
    ("/sim/api/messages", {"user": "zhang_t", "text": "长" * 2001}, "不要超过 2000 字"),
    ("/sim/api/messages", {"user": "zhang_t", "file": {}}, "文件名"),
    ("/sim/api/messages", {"user": "zhang_t", "file": {"name": " "}}, "文件名"),
    ("/sim/api/messages", {"text": "我要请假"}, "选择"),
    ("/sim/api/messages", {"user": "", "text": "我要请假"}, "选择"),
    ("/sim/api/messages", {"user": "u" * 65, "text": "我要请假"}, "用户编号无效"),
    ("/sim/api/messages", {"user": "zhang_t", "text": "病假", "card_key": 7}, "选项"),
    ("/sim/api/messages", {"user": "zhang_t", "text": "病假", "card_key": "k" * 129}, "选项"),
    ("/sim/api/messages", {"user": "zhang_t", "text": "病假", "id": {"a": 1}}, "消息编号"),
    ("/sim/api/actions", {"user": "zhang_t", "card": ""}, "卡片"),
    ("/sim/api/actions", {"user": "zhang_t", "card": "c1"}, "按钮"),
    ("/sim/api/actions", {"user": "zhang_t", "card": "c1", "action": ["approve"]}, "按钮"),
], ids=["no-text", "blank-text", "text-not-string", "text-too-long", "file-without-name",
        "file-blank-name", "no-user", "empty-user", "user-too-long", "key-not-string",
        "key-too-long", "id-not-text", "no-card", "no-action", "action-not-string"])
async def test_bad_requests_are_answered_in_chinese_without_internal_names(
        client: TestClient, path: str, body: Any, says: str) -> None:
    message = await _error(client, path, body)
    assert says in message
    assert not INTERNAL_WORDS.search(message), message


async def test_a_body_that_is_not_json_is_answered_in_chinese(client: TestClient) -> None:
    response = await client.post("/sim/api/messages", data=b"not json")
    assert response.status == 400
    message = (await response.json())["error"]
    assert "请求格式不正确" in message


async def test_an_inbox_request_without_a_user_says_whom_to_choose(client: TestClient) -> None:
    response = await client.get("/sim/api/inbox")
    assert response.status == 400
    message = (await response.json())["error"]
    assert "请先选择" in message and not INTERNAL_WORDS.search(message)


async def test_a_tapped_choice_reaches_the_dialog_with_its_key(client: TestClient) -> None:
    response = await client.post("/sim/api/messages", json={
        "user": "zhang_t", "text": "病假", "card_key": "leave_type@42", "id": "tap-1"})
    assert response.status == 200
    event = await InboundEvent.get(channel="sim", dedupe_key="tap-1")
    incoming = Incoming.from_payload(event.payload)
    assert (incoming.kind, incoming.text, incoming.card_key) == ("text", "病假", "leave_type@42")


async def test_typed_text_carries_no_choice_key(client: TestClient) -> None:
    response = await client.post("/sim/api/messages",
                                 json={"user": "zhang_t", "text": "病假", "id": "typed-1"})
    assert response.status == 200
    event = await InboundEvent.get(channel="sim", dedupe_key="typed-1")
    assert Incoming.from_payload(event.payload).card_key == ""


async def test_a_message_sent_again_with_its_id_is_acted_on_once(client: TestClient) -> None:
    body = {"user": "zhang_t", "text": "我要请假", "id": "page-resend-1"}
    first = await (await client.post("/sim/api/messages", json=body)).json()
    again = await (await client.post("/sim/api/messages", json=body)).json()
    assert first["replies"]
    assert again == {"replies": [], "duplicate": True}
    assert await InboundEvent.filter(dedupe_key="page-resend-1").count() == 1


@pytest.mark.parametrize(("name", "kind"), [("simulator.js", "text/javascript"),
                                            ("simulator.css", "text/css")])
async def test_the_page_files_are_served_fresh(client: TestClient, name: str, kind: str) -> None:
    response = await client.get(f"/sim/assets/{name}")
    assert response.status == 200
    assert response.content_type == kind
    assert response.headers["Cache-Control"] == "no-cache"
    page = await (await client.get("/sim")).text()
    assert f"/sim/assets/{name}" in page


async def test_only_the_page_files_are_served(client: TestClient) -> None:
    for name in ("simulator.py", "__init__.py", "..%2Fapp.py"):
        assert (await client.get(f"/sim/assets/{name}")).status == 404
