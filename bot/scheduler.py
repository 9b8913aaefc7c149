"""Periodic jobs: idle dialogs, due reminders, replay of unprocessed events, housekeeping.

The database is the source of truth for every job: rows are claimed atomically, so several
server processes can run the same jobs without sending anything twice.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.clock import Clock
from bot.dispatcher import Dispatcher
from bot.intake import Accepted
from flows.engine import FlowEngine
from flows.turn import Turn
from storage import applications as store
from storage import inbound
from storage.directory import DatabaseDirectory

log = logging.getLogger("campusbot.scheduler")

REPLAY_AFTER = timedelta(seconds=30)
MAX_REPLAYS = 5


class Jobs:
    def __init__(self, engine: FlowEngine, dispatcher: Dispatcher, clock: Clock) -> None:
        self.engine = engine
        self.dispatcher = dispatcher
        self.clock = clock
        #: True in a `campusbot worker`: its turn runner takes every waiting event however old
        #: (also those a killed worker left), so replaying is only for turns that failed. Else
        #: a backlog older than REPLAY_AFTER would be run here too, one by one.
        self.runner_takes_waiting = False

    async def expire_idle_dialogs(self) -> int:
        expired = 0
        for application in await store.expired_dialogs(self.clock.now()):
            async def expire(turn: Turn, application_id: int = application.id) -> None:
                nonlocal expired
                current = await store.get_application(application_id)
                if current is not None and await self.engine.expire(turn, current):
                    expired += 1
            await self.dispatcher.run_system_turn(expire)
        return expired

    async def send_due_reminders(self) -> int:
        sent = 0
        for reminder in await store.due_reminders(self.clock.now()):
            async def remind(turn: Turn, reminder_id: int = reminder.id) -> None:
                nonlocal sent
                if not await store.claim_reminder(reminder_id):
                    return  # another process took it
                row = await store.reminder_with_application(reminder_id)
                text = self.reminder_text(row.kind, row.application)
                if text:
                    turn.push(row.user_id, text, dedupe_key=f"reminder:{reminder_id}")
                    sent += 1
            await self.dispatcher.run_system_turn(remind)
        return sent

    def reminder_text(self, kind: str, application: store.Application) -> str:
        definition = self.engine.catalog.get(application.flow_id)
        name = definition.name if definition else application.flow_id
        if kind == "report_back":
            return (f"您的《{name}》（#{application.id}）假期已到期。返岗后请回复“销假”完成销假；"
                    "如需续假，请重新提交请假申请。")
        return ""

    async def replay_unprocessed(self) -> int:
        """Events stored but never processed (a process died mid-turn) are run again."""
        replayed = 0
        for event in await inbound.unprocessed(self.clock.now() - REPLAY_AFTER,
                                               failed_only=self.runner_takes_waiting):
            attempts = await inbound.bump_attempts(event.id)
            if attempts > MAX_REPLAYS:
                log.error("inbound event %s given up after %d attempts", event.id, attempts)
                await inbound.mark_failed(event.id, self.clock.now(), attempts)
                continue
            log.warning("replaying unprocessed inbound event %s (attempt %d)", event.id, attempts)
            try:
                await self.dispatcher.process(Accepted.of(event))
            except Exception:  # keep replaying the others; this one is retried next round
                log.exception("replay of inbound event %s failed", event.id)
                continue
            replayed += 1
        return replayed

    async def reload_flows(self) -> bool:
        """Pick up edited, added or removed flow files without a restart (every replica)."""
        catalog = self.engine.catalog
        if not catalog.changed_on_disk():
            return False
        snapshot = await DatabaseDirectory().snapshot()
        await catalog.reload(self.engine.actions, snapshot, list(snapshot.people_by_id.values()))
        return True

    async def purge(self) -> None:
        removed = await inbound.purge_processed(self.clock.now() - inbound.RETENTION)
        if removed:
            log.info("purged %d processed inbound events", removed)


def build_scheduler(jobs: Jobs, timezone: ZoneInfo) -> AsyncIOScheduler:
    scheduler = AsyncIOScheduler(
        timezone=timezone,
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 60},
    )
    scheduler.add_job(jobs.expire_idle_dialogs, "interval", seconds=30, id="expire_dialogs")
    scheduler.add_job(jobs.send_due_reminders, "interval", seconds=30, id="reminders")
    scheduler.add_job(jobs.replay_unprocessed, "interval", seconds=15, id="replay_inbound")
    scheduler.add_job(jobs.reload_flows, "interval", seconds=30, id="reload_flows")
    scheduler.add_job(jobs.purge, "interval", hours=6, id="purge")
    return scheduler
