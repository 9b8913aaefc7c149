"""The simulator cannot be used against real users: beside WeCom it is refused unless a trial
allows it, it answers only the server's own machine (never through a proxy), and what a tester
types there never makes the simulator a person's channel, so real users' cards still go to WeCom.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot import keys
from bot.app import create_app
from bot.cli import main
from bot.clock import FixedClock
from bot.config import ConfigError, Settings, build_settings
from storage.conversations import last_channel_of
from tests.bot.channels.wecom.conftest import wecom_section
from tests.conftest import Sim, wipe_database
from tests.fakes.wecom import FakeWecom

LEAVE = ("我要请假", "病假", "明天", "2", "发烧就医，需在家休息", "无", "否", "13800000000",
         "确认")


def test_the_simulator_beside_wecom_is_refused_with_the_way_out_named() -> None:
    with pytest.raises(ConfigError) as error:
        create_app(build_settings({"wecom": wecom_section("http://127.0.0.1:1")}, {}))
    message = str(error.value)
    assert "simulator.enabled" in message and "企业微信" in message
    assert "allow_beside_real_channels" in message and "enabled = false" in message


def test_a_trial_may_allow_it_and_production_turns_it_off() -> None:
    trial = build_settings({"wecom": wecom_section("http://127.0.0.1:1"),
                            "simulator": {"allow_beside_real_channels": True}}, {})
    assert {r.resource.canonical for r in create_app(trial).router.routes()} >= {
        "/sim", "/wecom/callback"}
    production = build_settings({"wecom": wecom_section("http://127.0.0.1:1")},
                                {"CAMPUSBOT_SIMULATOR__ENABLED": "false"})
    assert "/sim" not in {r.resource.canonical for r in create_app(production).router.routes()}


def test_serve_refuses_to_start(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[wecom]\nenabled = true\ncorp_id = "ww1"\nagent_id = 1000002\n'
                      'secret = "s"\ntoken = "t"\n'
                      'encoding_aes_key = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"\n',
                      encoding="utf-8")
    assert main(["serve", "--config", str(config)]) == 2
    assert "模拟器可以冒充任何用户" in capsys.readouterr().err


async def test_a_request_through_a_proxy_is_refused(client: TestClient) -> None:
    for header in ("X-Forwarded-For", "X-Real-IP", "Forwarded"):
        for path in ("/sim", "/sim/api/users"):
            response = await client.get(path, headers={header: "203.0.113.7"})
            assert response.status == 403, (header, path)
            assert "本机" in await response.text()
        response = await client.post("/sim/api/messages", headers={header: "203.0.113.7"},
                                     json={"user": "zhang_t", "text": "我要请假"})
        assert response.status == 403
    assert (await client.get("/sim/api/users")).status == 200      # from this machine: served


def outward_address() -> str | None:
    """This machine's address on its network (not loopback), if it has one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("10.255.255.255", 9))     # no packet is sent for a UDP connect
            address = str(probe.getsockname()[0])
        except OSError:
            return None
    return None if address.startswith("127.") else address


async def test_a_client_from_another_address_is_refused_even_on_all_interfaces(
        settings: Settings, clock: FixedClock, database_url: str) -> None:
    address = outward_address()
    if address is None:
        pytest.skip("this machine has no network address besides loopback")
    await wipe_database(database_url)
    server = TestServer(create_app(settings, clock=clock, background=False), host="0.0.0.0")
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as session:
            async with session.get(f"http://{address}:{server.port}/sim/api/users") as outside:
                assert outside.status == 403
            async with session.get(f"http://{address}:{server.port}/healthz") as health:
                assert health.status == 200          # the rest of the server is reachable
            async with session.get(f"http://127.0.0.1:{server.port}/sim/api/users") as local:
                assert local.status == 200
    finally:
        await server.close()


@pytest.fixture
async def trial(settings_factory: Callable[..., Settings], fake_wecom: FakeWecom,
                clock: FixedClock, database_url: str) -> AsyncIterator[tuple[Sim, web.Application]]:
    """WeCom and the simulator on together, as a trial allows."""
    await wipe_database(database_url)
    settings = settings_factory(
        wecom=wecom_section(fake_wecom.url),  # type: ignore[attr-defined]
        simulator={"allow_beside_real_channels": True}, directory={"allow_demo": True})
    app = create_app(settings, clock=clock, background=False)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        yield Sim(client, clock), app


async def test_a_tester_acting_as_someone_never_diverts_their_cards(
        trial: tuple[Sim, web.Application], fake_wecom: FakeWecom) -> None:
    sim, app = trial
    assert await sim.text("li_dean", "帮助")          # a tester acts as the head …
    for text in LEAVE:                                # … and as a teacher, who applies
        await sim.say("zhang_t", text)
    assert await last_channel_of("li_dean") is None
    assert await last_channel_of("zhang_t") is None
    assert not [m for m in await sim.inbox("li_dean") if m["type"] == "card"]
    await app[keys.SENDER].deliver_due()              # the head's card goes to WeCom
    assert [c.card["main_title"]["title"] for c in fake_wecom.cards_to("li_dean")] == [
        "张老师的教职工请销假审批"]
