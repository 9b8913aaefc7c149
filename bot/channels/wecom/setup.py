"""Builds the WeCom parts the services need: API client, channel and directory lookup."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bot.channels.wecom.channel import Pictures, WecomChannel
from bot.channels.wecom.client import WecomClient
from bot.channels.wecom.directory_sync import DirectorySync
from bot.clock import Clock
from bot.config import Settings
from bot.flowcharts import Flowcharts
from flows.definition import FlowDefinition


@dataclass(frozen=True)
class Wecom:
    client: WecomClient
    channel: WecomChannel
    directory: DirectorySync


def flowchart_pictures(flows: Callable[[str], FlowDefinition | None],
                       flowcharts: Flowcharts) -> Pictures:
    async def picture(flow_id: str) -> tuple[bytes, str] | None:
        definition = flows(flow_id)
        if definition is None:
            return None
        png = await flowcharts.image(definition, "png")
        return (png, f"{flow_id}.png") if png else None
    return picture


def build_wecom(settings: Settings, clock: Clock, flows: Callable[[str], FlowDefinition | None],
                flowcharts: Flowcharts) -> Wecom:
    client = WecomClient(settings.wecom, clock)
    channel = WecomChannel(client, clock, flowchart_pictures(flows, flowcharts),
                           per_minute=settings.outbox.per_user_per_minute)
    return Wecom(client=client, channel=channel, directory=DirectorySync(client))
