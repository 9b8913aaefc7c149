"""The HTTP surface every deployment has: health check and polite answers to strangers."""

from __future__ import annotations

from aiohttp.test_utils import TestClient

from tests.conftest import Sim


async def test_healthz_answers_when_the_database_does(client: TestClient) -> None:
    response = await client.get("/healthz")
    assert response.status == 200
    assert (await response.json())["status"] == "ok"


async def test_a_user_not_in_the_directory_is_told_whom_to_contact(sim: Sim) -> None:
    reply = await sim.text("nobody_42", "我要请假")
    assert "通讯录中还没有您的信息" in reply
    assert "信息与公共实验管理中心" in reply


async def test_simulator_lists_directory_users(client: TestClient) -> None:
    response = await client.get("/sim/api/users")
    users = {u["id"]: u for u in (await response.json())["users"]}
    assert users["zhang_t"]["name"] == "张老师"
    assert "teacher" in users["zhang_t"]["roles"]


async def test_simulator_rejects_malformed_requests_with_a_clear_message(
        client: TestClient) -> None:
    response = await client.post("/sim/api/messages", data=b"not json")
    assert response.status == 400
    assert "JSON" in (await response.json())["error"]
    response = await client.post("/sim/api/messages", json={"user": "zhang_t"})
    assert response.status == 400
    response = await client.post("/sim/api/actions", json={"user": "zhang_t", "card": ""})
    assert response.status == 400


async def test_simulator_page_is_served(client: TestClient) -> None:
    response = await client.get("/sim")
    assert response.status == 200
    assert "campusbot 模拟器" in await response.text()
