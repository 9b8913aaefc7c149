"""The composition root: create_app(settings) wires every part into one aiohttp application.

Channels come from the registry (bot/channels): each enabled one adds its inbound side here
(routes or connections) and its outbound side in the services."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from aiohttp import web

from bot import channels, keys, metrics
from bot.background import background_work, settle_memory
from bot.channels import simulator
from bot.clock import Clock, SystemClock
from bot.config import ConfigError, Settings
from bot.services import build_services, load_directory, real_channels
from storage.db import close_db, init_db, ping

log = logging.getLogger("campusbot")


async def healthz(request: web.Request) -> web.Response:
    if await ping():
        return web.json_response({"status": "ok"})
    return web.json_response({"status": "database unavailable"}, status=503)


def create_app(settings: Settings, *, clock: Clock | None = None,
               background: bool = True) -> web.Application:
    """Build the application; nothing connects until it starts.

    `background=False` leaves out the scheduler and the outbox loop (tests drive them by hand);
    so does `[server] run_turns = false`, where `campusbot worker` processes run them.
    ConfigError: the simulator is on beside a real channel without the trial setting.
    """
    refused = simulator.refusal(settings.simulator, real_channels(settings))
    if refused:
        raise ConfigError(refused)
    app = web.Application(client_max_size=64 * 1024)
    app[keys.SETTINGS] = settings
    app[keys.CLOCK] = clock or SystemClock()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics.metrics)
    app.cleanup_ctx.append(_database)
    app.cleanup_ctx.append(_services)
    if background:
        app.cleanup_ctx.append(_background)
    for plugin in channels.enabled(settings):
        plugin.serve(app)
    return app


async def _database(app: web.Application) -> AsyncIterator[None]:
    settings = app[keys.SETTINGS]
    await init_db(settings.database.url, setup=lambda: load_directory(settings))
    yield
    await close_db()


async def _services(app: web.Application) -> AsyncIterator[None]:
    settings = app[keys.SETTINGS]
    services = await build_services(settings, app[keys.CLOCK])
    app[keys.ENGINE] = services.engine
    app[keys.DISPATCHER] = services.dispatcher
    app[keys.SENDER] = services.sender
    app[keys.JOBS] = services.jobs
    app[keys.FLOWCHARTS] = services.flowcharts
    app[keys.CHANNELS] = services.channels
    if simulator.NAME in services.channels and len(services.channels) > 1:
        log.warning("the simulator is on beside a real channel (allowed for a trial): anyone on "
                    "this machine can act as any user at /sim. Set [simulator] enabled = false "
                    "in production.")
    yield
    await services.close_channels()


async def _background(app: web.Application) -> AsyncIterator[None]:
    settings = app[keys.SETTINGS]
    if not settings.server.run_turns:  # `campusbot worker` processes do this work
        settle_memory()
        yield
        return
    async with background_work(app[keys.SENDER], app[keys.JOBS], settings.zone):
        yield
