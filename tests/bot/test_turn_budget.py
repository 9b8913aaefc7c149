"""What a turn asks the database: a plain dialog turn — an answer to the question being asked —
stays within its statement budget (issue 9: at most 6), counted, not timed."""

from __future__ import annotations

from aiohttp.test_utils import TestClient

from bot import keys
from bot.dispatcher import Dispatcher
from flows.incoming import Incoming
from storage.db import is_postgres
from storage.models import Application, OutboxMessage
from tests.query_count import Counted, count_queries

#: statements of a plain dialog turn: one read (conversation locked, the waiting event, the
#: active application), then the audit row, the application, the conversation, the outbox
#: rows and the event marked done
DIALOG_TURN_BUDGET = 6
#: round trips (to SQLite's thread, or PostgreSQL's server) of a plain dialog turn: its held
#: writes go with the COMMIT (storage/sqlite_transaction.py), or as one statement
#: (storage/postgres_writes.py)
SQLITE_DIALOG_TURN_TRIPS = 4
POSTGRES_DIALOG_TURN_TRIPS = 5
TEACHER = "zhang_t"


async def turn(dispatcher: Dispatcher, text: str, key: str) -> Counted:
    accepted = await dispatcher.accept(Incoming(channel="sim", user_id=TEACHER, kind="text",
                                                text=text, dedupe_key=key))
    assert accepted is not None
    with count_queries() as counted:
        result = await dispatcher.process(accepted)
    assert result.processed
    return counted


async def test_a_dialog_answer_stays_within_the_statement_budget(client: TestClient) -> None:
    dispatcher = client.app[keys.DISPATCHER]
    # the directory's once-a-second generation check is shared by every turn of that second;
    # left out here so the count does not depend on how fast the test runs
    dispatcher.people.directory.check_every = 3600  # type: ignore[attr-defined]
    await turn(dispatcher, "我要请假", "b1")
    answers = [("事假", "leave_type", "事假"), ("下周一", "start_date", "2026-11-30"),
               ("2", "days", 2)]
    for n, (text, key, value) in enumerate(answers):
        counted = await turn(dispatcher, text, f"b{n + 2}")
        assert counted.statements <= DIALOG_TURN_BUDGET, "\n".join(counted.sql)
        # BEGIN, the read, the application, then the held writes: with the COMMIT on
        # SQLite, as one statement before it on PostgreSQL
        trips = POSTGRES_DIALOG_TURN_TRIPS if is_postgres() else SQLITE_DIALOG_TURN_TRIPS
        assert counted.round_trips <= trips, "\n".join(counted.sql)
        application = await Application.get(applicant_id=TEACHER)
        assert application.form[key] == value   # the answer was taken and saved
        assert "请填写" in (await OutboxMessage.all().order_by("-id").first()).payload["text"]


async def test_a_turn_with_nothing_behind_it_does_not_look_again(client: TestClient) -> None:
    """The turn's one read also says whether another event of the user waits; when none did,
    the turn ends without a second transaction."""
    dispatcher = client.app[keys.DISPATCHER]
    dispatcher.people.directory.check_every = 3600  # type: ignore[attr-defined]
    await turn(dispatcher, "帮助", "h1")
    counted = await turn(dispatcher, "帮助", "h2")
    assert counted.transaction == 2, "\n".join(counted.sql)   # one BEGIN, one COMMIT
