"""The DingTalk channel plugin: its [dingtalk] section, and its parts for the registry — API
client, outbound channel, directory sync, and the inbound side: the Stream connection held for
the life of the server (`mode = "stream"`) or the HTTP callback route (`mode = "http"`)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from aiohttp import web

from bot import keys
from bot.channels.base import ChannelContext, ChannelRuntime, Progress, SyncResult
from bot.channels.dingtalk import NAME, callback
from bot.channels.dingtalk.channel import DingtalkChannel
from bot.channels.dingtalk.client import DingtalkClient
from bot.channels.dingtalk.directory_sync import DirectorySync
from bot.channels.dingtalk.receiver import Receiver
from bot.channels.dingtalk.settings import DingtalkSettings, check
from bot.channels.dingtalk.stream import StreamClient

DRAIN_SECONDS = 10.0


@dataclass
class Inbound:
    """The server's inbound side, reachable from the app (tests, health)."""

    receiver: Receiver
    stream: StreamClient | None = None


INBOUND = web.AppKey("dingtalk_inbound", Inbound)


class DingtalkPlugin:
    name = NAME
    label = "钉钉"
    section = "dingtalk"
    settings_type = DingtalkSettings

    def check(self, settings: DingtalkSettings) -> list[str]:
        return check(settings)

    def build(self, context: ChannelContext) -> ChannelRuntime:
        settings: DingtalkSettings = context.settings.section(self.section)
        client = DingtalkClient(settings, context.clock)
        # card buttons call back over the Stream connection only: HTTP mode uses text commands
        template = settings.card_template_id if settings.mode == "stream" else ""
        channel = DingtalkChannel(client, context.clock, template_id=template)

        directory = DirectorySync(client)

        async def sync(progress: Progress | None) -> SyncResult:
            return await directory.run(progress)

        return ChannelRuntime(channel=channel, lookup_user=directory.lookup_user, sync=sync,
                              close=client.close)

    def serve(self, app: web.Application) -> None:
        settings: DingtalkSettings = app[keys.SETTINGS].section(self.section)
        inbound = Inbound(Receiver())
        app[INBOUND] = inbound
        if settings.mode == "http":
            http = callback.HttpCallback(settings.client_secret, app[keys.CLOCK],
                                         inbound.receiver)
            app.router.add_post(callback.PATH, http.receive)
            app.cleanup_ctx.append(http.lifespan)
            return

        async def hold_connection(app: web.Application) -> AsyncIterator[None]:
            inbound.receiver.dispatcher = app[keys.DISPATCHER]
            channel = app[keys.CHANNELS][NAME].channel
            assert isinstance(channel, DingtalkChannel)
            inbound.stream = StreamClient(channel.client, inbound.receiver.on_frame,
                                          watchdog=float(settings.watchdog_seconds))
            task = asyncio.create_task(inbound.stream.run(), name="dingtalk-stream")
            yield
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await inbound.stream.drain()
            await app[keys.DISPATCHER].intake.drain(DRAIN_SECONDS)

        app.cleanup_ctx.append(hold_connection)


PLUGIN = DingtalkPlugin()
