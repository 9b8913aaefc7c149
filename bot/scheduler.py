"""Periodic jobs: idle dialogs, due reminders, replay of waiting events, housekeeping.

The database is the source of truth for every job: rows are claimed atomically, so several
server processes can run the same jobs without sending anything twice.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.clock import Clock
from bot.directory_watch import DirectoryWatch
from bot.dispatcher import Dispatcher
from flows.engine import FlowEngine
from flows.reminders import SUPERSEDES, split_kind, task_kind
from flows.turn import Turn
from storage import applications as store
from storage import inbound
from storage.models import Reminder

log = logging.getLogger("campusbot.scheduler")

#: an event waiting this long was stored by a process that did not run it (killed). Running it
#: while its own process is about to is harmless (the turn takes the user's oldest waiting
#: event under the conversation lock, and a done event is never run again), so this is short.
REPLAY_AFTER = timedelta(seconds=10)


class Jobs:
    def __init__(self, engine: FlowEngine, dispatcher: Dispatcher, clock: Clock,
                 reminder_seconds: int = 30) -> None:
        self.engine = engine
        self.dispatcher = dispatcher
        self.clock = clock
        self.reminder_seconds = reminder_seconds
        #: True in a `campusbot worker`: its turn runner takes every waiting event however old
        #: (also those a killed process left, and failed ones when their retry is due), so
        #: there is nothing to replay here.
        self.runner_takes_waiting = False
        #: set by the services: applies the directory file and reacts to directory changes
        self.directory_watch: DirectoryWatch | None = None

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
        """Send what is due, outside quiet hours. Each reminder row is claimed atomically in the
        turn that writes its message, so two processes never send one twice; rows left by a
        stopped process are simply due now. After a pause (quiet hours, a restart) a reminder
        that a later one of the same task supersedes is skipped, and one person's reminders go
        out as one message — nothing bursts."""
        now = self.clock.now()
        if self.engine.settings.calendar.is_quiet(now):
            return 0
        due = await store.due_reminders(now, limit=500)
        by_user: dict[str, list[int]] = {}
        for reminder in due:
            by_user.setdefault(reminder.user_id, []).append(reminder.id)
        superseded = superseded_ids(due)
        sent = 0
        for ids in by_user.values():
            async def remind(turn: Turn, ids: list[int] = ids) -> None:
                nonlocal sent
                texts: dict[str, list[str]] = {}
                claimed = []
                for reminder_id in ids:
                    skip = reminder_id in superseded
                    if not await store.claim_reminder(reminder_id,
                                                      "skipped" if skip else "sent"):
                        continue  # another process took it
                    if skip:
                        continue
                    claimed.append(reminder_id)
                    row = await store.reminder_with_application(reminder_id)
                    for push in await self.engine.reminders.pushes(turn, row):
                        texts.setdefault(push.to, []).append(push.text)
                key = "reminder:" + ",".join(map(str, claimed))
                for user, lines in texts.items():
                    turn.push(user, "\n\n".join(lines), dedupe_key=f"{key}:{user}"[:255])
                    sent += 1
            await self.dispatcher.run_system_turn(remind)
        return sent

    async def replay_unprocessed(self) -> int:
        """Run the waiting events nobody else will: those a dead process stored but never ran
        (older than REPLAY_AFTER) and those whose failed turn is due again. Each user's events
        run oldest first, through the same turn as always (`Dispatcher.process_user`), so a
        replay never runs an earlier message after a later one. Returns the turns run."""
        if self.runner_takes_waiting:
            return 0  # the worker's turn runner takes every waiting event, failed ones when due
        replayed = 0
        now = self.clock.now()
        for head in await inbound.due_heads(now, now - REPLAY_AFTER):
            log.warning("running waiting inbound event %s of %s (attempt %d)", head.id,
                        head.user_id, head.attempts + 1)
            try:
                result = await self.dispatcher.process_user(head.user_id, head.channel)
            except Exception:  # keep going with the others; this one is retried next round
                log.exception("replay of inbound event %s failed", head.id)
                continue
            replayed += result.turns
        return replayed

    async def reload_flows(self) -> bool:
        """Pick up edited, added or removed flow files without a restart (every replica)."""
        catalog = self.engine.catalog
        if not catalog.changed_on_disk():
            return False
        await catalog.reload(self.engine.actions)
        return True

    async def watch_directory(self) -> None:
        if self.directory_watch is None:
            return
        try:
            await self.directory_watch.poll()
        except Exception:  # the database away, say: the next round (30 s) tries again
            log.exception("directory watch failed; tried again in 30 s")

    async def purge(self) -> None:
        removed = await inbound.purge_processed(self.clock.now() - inbound.RETENTION)
        if removed:
            log.info("purged %d processed inbound events", removed)


def superseded_ids(due: list[Reminder]) -> set[int]:
    """Due reminders made pointless by a later one of the same task also due (half time and
    the last day after the deadline passed): only the latest is sent."""
    kinds = {r.kind for r in due}
    found = set()
    for reminder in due:
        name, task_id = split_kind(reminder.kind)
        if task_id is not None and any(task_kind(later, task_id) in kinds
                                       for later in SUPERSEDES.get(name, ())):
            found.add(reminder.id)
    return found


def build_scheduler(jobs: Jobs, timezone: ZoneInfo) -> AsyncIOScheduler:
    scheduler = AsyncIOScheduler(
        timezone=timezone,
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 60},
    )
    scheduler.add_job(jobs.expire_idle_dialogs, "interval", seconds=30, id="expire_dialogs")
    scheduler.add_job(jobs.send_due_reminders, "interval", seconds=jobs.reminder_seconds,
                      id="reminders")
    scheduler.add_job(jobs.replay_unprocessed, "interval", seconds=5, id="replay_inbound")
    scheduler.add_job(jobs.reload_flows, "interval", seconds=30, id="reload_flows")
    scheduler.add_job(jobs.watch_directory, "interval", seconds=30, id="watch_directory")
    scheduler.add_job(jobs.purge, "interval", hours=6, id="purge")
    return scheduler
