"""Channels as plugins: a channel campusbot does not name anywhere gets its config section,
its routes and its deliveries from the registry alone."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot import channels, keys
from bot.app import create_app
from bot.clock import FixedClock
from bot.config import ConfigError, Settings, build_settings
from tests.conftest import wipe_database
from tests.fakes.chat_channel import ChatPlugin, chat_installed


@pytest.fixture
def chat() -> Iterator[ChatPlugin]:
    with chat_installed() as plugin:
        yield plugin


def test_every_channel_section_is_read_from_the_environment(chat: ChatPlugin) -> None:
    for plugin in channels.plugins():
        environ, expected = {}, {}
        for spec in dataclasses.fields(plugin.settings_type):
            default = getattr(plugin.settings_type(), spec.name)
            if isinstance(default, bool):
                value, text = not default, str(not default).lower()
            elif isinstance(default, int):
                value, text = default + 7, str(default + 7)
            else:
                value = text = f"from-env-{spec.name}"
            environ[f"CAMPUSBOT_{plugin.section.upper()}__{spec.name.upper()}"] = text
            expected[spec.name] = value
        environ.update({"CAMPUSBOT_WECOM__ENCODING_AES_KEY": "k" * 43,
                        "CAMPUSBOT_CHAT__TOKEN": "t"})
        valid_dingtalk = {"mode": "http", "api_base": "http://127.0.0.1:9",
                          "oapi_base": "http://127.0.0.1:10"}
        environ.update({f"CAMPUSBOT_DINGTALK__{k.upper()}": v for k, v in valid_dingtalk.items()})
        expected.update({"encoding_aes_key": "k" * 43} if plugin.name == "wecom" else {})
        expected.update(valid_dingtalk if plugin.name == "dingtalk" else {})
        expected.update({"token": "t"} if plugin.name == "chat" else {})
        section = build_settings({}, environ).section(plugin.section)
        assert dataclasses.asdict(section) == expected, plugin.name


def test_a_channel_section_from_the_file_is_checked_like_the_others(chat: ChatPlugin) -> None:
    settings = build_settings({"chat": {"enabled": True, "token": "abc"}}, {})
    assert settings.section("chat").token == "abc" and settings.chat.enabled
    with pytest.raises(ConfigError) as error:
        build_settings({"chat": {"enabled": True, "colour": "red", "max_per_minute": "x"}},
                       {})
    message = str(error.value)
    for problem in ("chat.colour: 未知的配置项", "chat.max_per_minute: 应为整数"):
        assert problem in message
    with pytest.raises(ConfigError, match=r"chat\.token: 启用时必填"):
        build_settings({"chat": {"enabled": True}}, {})
    # the section exists only while the channel is registered
    channels.uninstall("chat")
    with pytest.raises(ConfigError, match=r"\[chat\]: 未知的配置段"):
        build_settings({"chat": {"enabled": True}}, {})


async def test_an_enabled_channel_is_served_and_delivered_to(
        chat: ChatPlugin, settings_factory: Callable[..., Settings], clock: FixedClock,
        database_url: str) -> None:
    await wipe_database(database_url)
    settings = settings_factory(chat={"enabled": True, "token": "t"},
                                simulator={"enabled": False}, directory={"allow_demo": True})
    app = create_app(settings, clock=clock, background=False)
    async with TestClient(TestServer(app)) as client:
        assert set(app[keys.CHANNELS]) == {"chat"}
        assert (await client.get("/sim")).status == 404       # only enabled channels serve
        response = await client.post("/chat/messages", json={"from": "zhang_t",
                                                             "text": "我的申请"})
        assert (await response.json())["processed"]
        await app[keys.SENDER].deliver_due()
        assert "您还没有提交过申请" in "".join(chat.texts("zhang_t"))
