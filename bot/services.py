"""Builds the running parts from settings, in dependency order (used by the app and the CLI)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from bot.channels.base import Channel
from bot.channels.simulator import SimulatorChannel
from bot.channels.wecom.setup import build_wecom
from bot.clock import Clock
from bot.config import Settings
from bot.dispatcher import Dispatcher, UserLookup
from bot.flowcharts import Flowcharts
from bot.scheduler import Jobs
from bot.sender import OutboxSender
from flows.actions import ActionRegistry
from flows.catalog import DEFAULT_CATALOG, Catalog
from flows.engine import EngineSettings, FlowEngine
from flows.search import GuideIndex
from flows.workdays import WorkCalendar, parse_days, parse_hours
from handlers.checks import actions as check_actions
from handlers.router import Handlers
from storage.directory import DEMO, DatabaseDirectory, read_directory_file, save_directory

log = logging.getLogger("campusbot")


@dataclass
class Services:
    engine: FlowEngine
    dispatcher: Dispatcher
    sender: OutboxSender
    jobs: Jobs
    channels: dict[str, Channel]
    directory: DatabaseDirectory
    flowcharts: Flowcharts

    async def close_channels(self) -> None:
        for channel in self.channels.values():
            close = getattr(channel, "close", None)
            if close is not None:  # channels with an HTTP client (WeCom) release it here
                await close()


def action_registry() -> ActionRegistry:
    return ActionRegistry().merge(check_actions)


def work_calendar(settings: Settings) -> WorkCalendar:
    """Working days and hours as configured in [approvals] (validated when settings load)."""
    config = settings.approvals
    hours = parse_hours(config.work_hours, "approvals.work_hours")
    assert hours is not None
    return WorkCalendar(
        settings.zone, work_start=hours[0], work_end=hours[1],
        vacations=parse_days(config.vacations, "approvals.vacations"),
        extra_holidays=parse_days(config.extra_holidays, "approvals.extra_holidays"),
        extra_workdays=parse_days(config.extra_workdays, "approvals.extra_workdays"),
        quiet=parse_hours(config.quiet_hours, "approvals.quiet_hours"))


def catalog_path(settings: Settings) -> Path:
    return Path(settings.flows.path) if settings.flows.path else DEFAULT_CATALOG


async def load_directory(settings: Settings) -> None:
    """Load the configured directory file into the database (the demo one by default)."""
    if settings.directory.file:
        directory = read_directory_file(settings.directory.file)
        await save_directory(directory, "demo" if settings.directory.file == DEMO else "file")
        log.info("directory loaded: %d departments, %d users from %s",
                 len(directory.departments_by_id), len(directory.people_by_id),
                 settings.directory.file)


async def build_services(settings: Settings, clock: Clock,
                         extra_channels: dict[str, Channel] | None = None) -> Services:
    directory = DatabaseDirectory()
    actions = action_registry()
    snapshot = await directory.snapshot()
    catalog = await Catalog.load(catalog_path(settings), actions, snapshot,
                                 list(snapshot.people_by_id.values()))
    engine = FlowEngine(catalog, directory, actions, EngineSettings(
        idle_timeout=timedelta(minutes=settings.dialog.idle_timeout_minutes),
        report_back_hour=settings.dialog.report_back_hour,
        calendar=work_calendar(settings),
        urge_interval=timedelta(minutes=settings.approvals.urge_interval_minutes),
        report_back_grace_days=settings.approvals.report_back_grace_days))
    channels: dict[str, Channel] = {}
    if settings.simulator.enabled:
        channels["sim"] = SimulatorChannel()
    flowcharts = Flowcharts()
    user_lookups: dict[str, UserLookup] = {}
    if settings.wecom.enabled:
        wecom = build_wecom(settings, clock, catalog.get, flowcharts)
        channels[wecom.channel.name] = wecom.channel
        user_lookups[wecom.channel.name] = wecom.directory.lookup_user
    channels.update(extra_channels or {})
    sender = OutboxSender(channels, clock, max_attempts=settings.outbox.max_attempts,
                          per_user_per_minute=settings.outbox.per_user_per_minute)
    primary = next((name for name in channels if name != "sim"), "sim")
    dispatcher = Dispatcher(Handlers(engine, GuideIndex(catalog)), directory, clock,
                            settings.zone, lambda: primary, sender.wake, user_lookups,
                            run_turns=settings.server.run_turns,
                            turn_slots=settings.database.parallel_turns())
    return Services(engine=engine, dispatcher=dispatcher, sender=sender,
                    jobs=Jobs(engine, dispatcher, clock,
                              reminder_seconds=settings.approvals.reminder_check_seconds),
                    channels=channels, directory=directory, flowcharts=flowcharts)
