"""Keeps the directory file in force and reacts to every directory change, without a restart.

Every 30 seconds (and once at start), in every process that runs the periodic jobs:
1. the directory file changed on disk → it is applied over the synced directory (a broken
   edit is logged with file and entry, and the previous file stays in force);
2. the directory changed (this file, a `campusbot directory sync`, a new member looked up on
   first contact — any process) → `directory check` runs and logs one summary line, and
   applications that found nobody for a stage are assigned again.
"""

from __future__ import annotations

import logging

from bot.dispatcher import Dispatcher
from bot.people import file_accounts
from flows.directory_check import DirectoryReport, check_directory
from flows.engine import FlowEngine
from flows.session import stage_state
from flows.turn import Turn
from storage import applications as store
from storage import assignments, identities
from storage.directory import DatabaseDirectory
from storage.directory_file import DirectoryFileError, file_stamp, read_directory_file
from storage.directory_store import apply_directory_file

log = logging.getLogger("campusbot.directory")


class DirectoryWatch:
    def __init__(self, file: str, engine: FlowEngine, dispatcher: Dispatcher,
                 directory: DatabaseDirectory) -> None:
        self.file = file
        self.engine = engine
        self.dispatcher = dispatcher
        self.directory = directory
        self._stamp = file_stamp(file)
        self._seen_generation: int | None = None
        self.last_report: DirectoryReport | None = None

    async def poll(self) -> None:
        await self.apply_file_if_changed()
        generation = await self.directory.generation()
        if generation == self._seen_generation:
            return
        await self.check()
        await self.retry_waiting()
        self._seen_generation = generation   # only once done: a failure is retried next round

    async def apply_file_if_changed(self) -> bool:
        stamp = file_stamp(self.file)
        if stamp == self._stamp:
            return False
        try:
            file = read_directory_file(self.file)
            accounts = file_accounts(file)
        except DirectoryFileError as exc:
            self._stamp = stamp   # said once; the next edit is read again
            log.error("directory file not applied, the previous one stays in force:\n%s", exc)
            return False
        changed = await apply_directory_file(file)
        self._stamp = stamp
        if not changed:
            return False
        await identities.apply_file_accounts(accounts)
        log.info("directory file %s changed and applied: %d departments, %d users", self.file,
                 len(file.departments), len(file.users))
        self.directory.invalidate()
        return True

    async def check(self) -> DirectoryReport:
        """Log one line; `campusbot directory check` shows the details."""
        report = await check_directory(self.engine.catalog.all(),
                                       await self.directory.snapshot())
        self.last_report = report
        if report.ok:
            log.info("%s", report.summary())
        else:
            log.warning("%s", report.summary())
        return report

    async def retry_waiting(self) -> int:
        """Stages that found nobody are assigned again; returns how many reached someone."""
        reached = 0
        for issue in await assignments.waiting():
            async def retry(turn: Turn, issue_id: int = issue.id,
                            application_id: int = issue.application_id,
                            stage_id: str = issue.stage_id) -> None:
                nonlocal reached
                application = await store.get_application(application_id)
                if application is None or application.state != stage_state(stage_id):
                    await assignments.close(issue_id, turn.now)   # withdrawn, or moved on
                elif (await store.open_tasks_of(application_id)
                      or await self.engine.reassign(turn, application)) and \
                        await assignments.mark_assigned(issue_id, turn.now):
                    reached += 1
                    log.info("application=%s stage=%s assigned after a directory change",
                             application_id, stage_id)
            await self.dispatcher.run_system_turn(retry)
        return reached
