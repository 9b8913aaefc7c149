"""Typed slots for the services the application holds (no module-level singletons)."""

from __future__ import annotations

from aiohttp import web

from bot.channels.base import ChannelRuntime
from bot.clock import Clock
from bot.config import Settings
from bot.dispatcher import Dispatcher
from bot.flowcharts import Flowcharts
from bot.scheduler import Jobs
from bot.sender import OutboxSender
from flows.engine import FlowEngine

SETTINGS = web.AppKey("settings", Settings)
CLOCK = web.AppKey("clock", Clock)
ENGINE = web.AppKey("engine", FlowEngine)
DISPATCHER = web.AppKey("dispatcher", Dispatcher)
SENDER = web.AppKey("sender", OutboxSender)
JOBS = web.AppKey("jobs", Jobs)
FLOWCHARTS = web.AppKey("flowcharts", Flowcharts)
#: the enabled channels' runtimes, by channel name
CHANNELS = web.AppKey("channels", dict[str, ChannelRuntime])
