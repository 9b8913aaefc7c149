"""Fakes of WeCom shared by the bot's tests: `fake_wecom` on the tests' fixed clock (for a bot in
this process), `live_wecom` on the real clock (for real campusbot processes, which check
callbacks against the time they read)."""

from collections.abc import AsyncIterator

import pytest

from bot.clock import SystemClock
from tests.bot.channels.wecom.conftest import (  # noqa: F401
    bot,
    fake_wecom,
    serving_fake_wecom,
    wecom_settings,
)
from tests.fakes.wecom import FakeWecom


@pytest.fixture
async def live_wecom() -> AsyncIterator[FakeWecom]:
    async with serving_fake_wecom(SystemClock()) as fake:
        yield fake
