"""The channel registry: every messaging platform campusbot can run on, in preference order.

    plugins()            every registered channel (bot/channels/base.py: ChannelPlugin)
    enabled(settings)    those whose config section says `enabled = true`
    plugin(name)         one by its channel name

The order matters where a person can be reached on several channels and never wrote on any:
cards and notices then go to the first enabled one they have an account on. The simulator comes
last, so a real channel is preferred when both are on.

To add a platform: a package under bot/channels/ with a plugin object, one line below, and a
section in config.example.toml. docs/channels.md describes what a plugin provides.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.channels.base import ChannelPlugin

_extra: list[ChannelPlugin] = []


def plugins() -> tuple[ChannelPlugin, ...]:
    # imported here, not at the top: the plugins import the config module, which reads the
    # sections from this registry
    from bot.channels.dingtalk.setup import PLUGIN as DINGTALK
    from bot.channels.simulator import PLUGIN as SIMULATOR
    from bot.channels.wecom.setup import PLUGIN as WECOM

    return (WECOM, DINGTALK, *_extra, SIMULATOR)


def plugin(name: str) -> ChannelPlugin | None:
    return next((p for p in plugins() if p.name == name), None)


def enabled(settings: Any) -> list[ChannelPlugin]:
    """The plugins whose section is enabled in `settings` (a bot.config.Settings)."""
    return [p for p in plugins() if settings.section(p.section).enabled]


def install(extra: ChannelPlugin) -> None:
    """Register a channel that is not built in (tests use an in-process chat channel)."""
    if all(p.name != extra.name for p in plugins()):
        _extra.append(extra)


def uninstall(name: str) -> None:
    _extra[:] = [p for p in _extra if p.name != name]
