"""The fake WeCom is also used by tests of the worker parts outside the channel's folder."""

from tests.bot.channels.wecom.conftest import fake_wecom  # noqa: F401
