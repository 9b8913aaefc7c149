"""The WeCom channel plugin: its [wecom] section, and its parts for the registry — API client,
outbound channel, directory sync and lookup on first contact, and the callback routes."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from bot.channels.base import ChannelContext, ChannelRuntime, Progress, SyncResult
from bot.channels.wecom import NAME, callback
from bot.channels.wecom.channel import Pictures, WecomChannel
from bot.channels.wecom.client import WecomClient
from bot.channels.wecom.directory_sync import DirectorySync
from bot.channels.wecom.settings import WecomSettings, check
from bot.flowcharts import Flowcharts
from flows.definition import FlowDefinition
from storage import identities
from storage.models import Person


def flowchart_pictures(flows: Callable[[str], FlowDefinition | None],
                       flowcharts: Flowcharts) -> Pictures:
    async def picture(flow_id: str) -> tuple[bytes, str] | None:
        definition = flows(flow_id)
        if definition is None:
            return None
        png = await flowcharts.image(definition, "png")
        return (png, f"{flow_id}.png") if png else None
    return picture


class WecomPlugin:
    name = NAME
    label = "企业微信"
    section = "wecom"
    settings_type = WecomSettings

    def check(self, settings: WecomSettings) -> list[str]:
        return check(settings)

    def build(self, context: ChannelContext) -> ChannelRuntime:
        settings = context.settings
        client = WecomClient(settings.section(self.section), context.clock)
        channel = WecomChannel(client, context.clock,
                               flowchart_pictures(context.flows, context.flowcharts),
                               per_minute=settings.outbox.per_user_per_minute)
        directory = DirectorySync(client)

        async def sync(progress: Progress | None) -> SyncResult:
            report = await directory.run(progress)
            # members are stored under their WeCom userid: link each account to that person
            synced = await Person.filter(source=NAME, active=True).values_list("id", flat=True)
            linked, merged = await identities.link_own_ids(NAME, [str(i) for i in synced])
            return SyncResult(departments=report.departments, people=report.people,
                              deactivated=report.deactivated + merged, linked=linked,
                              roles=report.roles)

        return ChannelRuntime(channel=channel, lookup_user=directory.lookup_user, sync=sync,
                              close=client.close)

    def serve(self, app: web.Application) -> None:
        callback.register(app)


PLUGIN = WecomPlugin()
