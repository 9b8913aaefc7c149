"""Builds the running parts from settings, in dependency order (used by the app, the worker
and the CLI). The channels are those the registry (bot/channels) says are enabled."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from bot import channels as registry
from bot.channels import simulator
from bot.channels.base import Channel, ChannelContext, ChannelRuntime, UserLookup
from bot.clock import Clock
from bot.config import Settings
from bot.dead_letters import notify_admins
from bot.directory_watch import DirectoryWatch
from bot.dispatcher import Dispatcher
from bot.flowcharts import Flowcharts
from bot.people import People, file_accounts
from bot.scheduler import Jobs
from bot.sender import OutboxSender
from flows.actions import ActionRegistry
from flows.catalog import DEFAULT_CATALOG, Catalog
from flows.engine import EngineSettings, FlowEngine
from flows.search import GuideIndex
from flows.workdays import WorkCalendar, parse_days, parse_hours
from handlers.checks import actions as check_actions
from handlers.router import Handlers
from storage import identities
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
    #: the enabled channels' runtimes, by channel name, in the registry's order
    channels: dict[str, ChannelRuntime]
    directory: DatabaseDirectory
    flowcharts: Flowcharts

    async def close_channels(self) -> None:
        for runtime in self.channels.values():
            await runtime.close()


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
    "{label}已启用，但通讯录仍是虚构的演示数据（[directory] file = \"demo\"）："
    "审批会发给演示人员。"
    "请在 [directory] file 中设置学校的通讯录文件，或运行 campusbot directory sync 从{label}"
    "同步后设置 file = \"\"（同步与学校的通讯录文件也可以同时使用）。"
    "仅作试用时，可设置 [directory] allow_demo = true。")


def real_channels(settings: Settings) -> list[str]:
    """The labels of the enabled channels other than the simulator."""
    return [p.label for p in registry.enabled(settings) if p.name != simulator.NAME]


def demo_refused(settings: Settings) -> bool:
    """The demo directory beside a real channel, without an explicit trial setting."""
    return settings.directory.file == DEMO and bool(real_channels(settings)) and \
        not settings.directory.allow_demo


def demo_refusal(settings: Settings) -> str:
    return DEMO_BESIDE_REAL_CHANNEL.format(label="、".join(real_channels(settings)))


async def load_directory(settings: Settings) -> None:
    """Put the configured directory file in force over the synced directory (the demo one by
    default; none for `file = ""`). The demo directory is refused beside a real channel."""
    if demo_refused(settings):
        raise DirectoryFileError(demo_refusal(settings))
    file = read_directory_file(settings.directory.file) if settings.directory.file else None
    accounts = file_accounts(file) if file else []
    changed = await apply_directory_file(file)
    if changed:
        log.info("directory file applied: %d departments, %d users from %s",
                 len(file.departments) if file else 0, len(file.users) if file else 0,
                 settings.directory.file or "(none)")
    if changed or (accounts and not await identities.file_accounts_applied()):
        linked = await identities.apply_file_accounts(accounts)
        log.info("directory file: %d channel accounts linked", linked)


def build_channels(settings: Settings, clock: Clock,
                   flowcharts: Flowcharts, catalog: Catalog) -> dict[str, ChannelRuntime]:
    context = ChannelContext(settings=settings, clock=clock, flows=catalog.get,
                             flowcharts=flowcharts)
    return {plugin.name: plugin.build(context) for plugin in registry.enabled(settings)}


async def build_services(settings: Settings, clock: Clock) -> Services:
    directory = DatabaseDirectory()
    actions = action_registry()
    catalog = await Catalog.load(catalog_path(settings), actions, overrides_path(settings))
    engine = FlowEngine(catalog, directory, actions, EngineSettings(
        idle_timeout=timedelta(minutes=settings.dialog.idle_timeout_minutes),
        report_back_hour=settings.dialog.report_back_hour, admins=settings.admin.users,
        calendar=work_calendar(settings),
        urge_interval=timedelta(minutes=settings.approvals.urge_interval_minutes),
        report_back_grace_days=settings.approvals.report_back_grace_days))
    flowcharts = Flowcharts()
    runtimes = build_channels(settings, clock, flowcharts, catalog)
    outbound: dict[str, Channel] = {name: r.channel for name, r in runtimes.items()}
    user_lookups: dict[str, UserLookup] = {
        name: r.lookup_user for name, r in runtimes.items() if r.lookup_user is not None}
    sender = OutboxSender(outbound, clock, max_attempts=settings.outbox.max_attempts,
                          per_user_per_minute=settings.outbox.per_user_per_minute,
                          give_up_after=timedelta(hours=settings.outbox.give_up_after_hours))
    handlers = Handlers(engine, GuideIndex(catalog))
    handlers.warm_up()      # the first message is as fast as the next ones
    people = People(directory, list(runtimes), user_lookups)
    dispatcher = Dispatcher(handlers, people, clock, settings.zone, sender.wake,
                            run_turns=settings.server.run_turns,
                            turn_slots=settings.database.parallel_turns(),
                            turn_batch=settings.database.turn_batch())
    sender.on_dead = notify_admins(dispatcher, settings.admin.users)   # issue 9: dead letters
    sender.defer_while = dispatcher.intake.commit.busy
    jobs = Jobs(engine, dispatcher, clock,
                reminder_seconds=settings.approvals.reminder_check_seconds)
    jobs.directory_watch = DirectoryWatch(settings.directory.file, engine, dispatcher, directory)
    return Services(engine=engine, dispatcher=dispatcher, sender=sender, jobs=jobs,
                    channels=runtimes, directory=directory, flowcharts=flowcharts)
