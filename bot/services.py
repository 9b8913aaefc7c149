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
from bot.dead_letters import notify_admins
from bot.directory_watch import DirectoryWatch
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
from storage.directory import DatabaseDirectory
from storage.directory_file import DEMO, DirectoryFileError, read_directory_file
from storage.directory_store import apply_directory_file

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


def overrides_path(settings: Settings) -> Path | None:
    return Path(settings.flows.overrides) if settings.flows.overrides else None


DEMO_BESIDE_REAL_CHANNEL = (
    "企业微信已启用，但通讯录仍是虚构的演示数据（[directory] file = \"demo\"）："
    "审批会发给演示人员。"
    "请在 [directory] file 中设置学校的通讯录文件，或运行 campusbot directory sync 从企业微信"
    "同步后设置 file = \"\"（同步与学校的通讯录文件也可以同时使用）。"
    "仅作试用时，可设置 [directory] allow_demo = true。")


def demo_refused(settings: Settings) -> bool:
    """The demo directory beside a real channel, without an explicit trial setting."""
    return settings.directory.file == DEMO and settings.wecom.enabled and \
        not settings.directory.allow_demo


async def load_directory(settings: Settings) -> None:
    """Put the configured directory file in force over the synced directory (the demo one by
    default; none for `file = ""`). The demo directory is refused beside a real channel."""
    if demo_refused(settings):
        raise DirectoryFileError(DEMO_BESIDE_REAL_CHANNEL)
    file = read_directory_file(settings.directory.file) if settings.directory.file else None
    if await apply_directory_file(file):
        log.info("directory file applied: %d departments, %d users from %s",
                 len(file.departments) if file else 0, len(file.users) if file else 0,
                 settings.directory.file or "(none)")


async def build_services(settings: Settings, clock: Clock,
                         extra_channels: dict[str, Channel] | None = None) -> Services:
    directory = DatabaseDirectory()
    actions = action_registry()
    catalog = await Catalog.load(catalog_path(settings), actions, overrides_path(settings))
    engine = FlowEngine(catalog, directory, actions, EngineSettings(
        idle_timeout=timedelta(minutes=settings.dialog.idle_timeout_minutes),
        report_back_hour=settings.dialog.report_back_hour, admins=settings.admin.users,
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
                          per_user_per_minute=settings.outbox.per_user_per_minute,
                          give_up_after=timedelta(hours=settings.outbox.give_up_after_hours))
    primary = next((name for name in channels if name != "sim"), "sim")
    handlers = Handlers(engine, GuideIndex(catalog))
    handlers.warm_up()      # the first message is as fast as the next ones
    dispatcher = Dispatcher(handlers, directory, clock, settings.zone, lambda: primary,
                            sender.wake, user_lookups, run_turns=settings.server.run_turns,
                            turn_slots=settings.database.parallel_turns())
    sender.on_dead = notify_admins(dispatcher, settings.admin.users)   # issue 9: dead letters
    jobs = Jobs(engine, dispatcher, clock,
                reminder_seconds=settings.approvals.reminder_check_seconds)
    jobs.directory_watch = DirectoryWatch(settings.directory.file, engine, dispatcher, directory)
    return Services(engine=engine, dispatcher=dispatcher, sender=sender, jobs=jobs,
                    channels=channels, directory=directory, flowcharts=flowcharts)
