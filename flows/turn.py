"""One turn: who acts, when, and what the turn will send once its changes are saved."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

from flows.messages import Message, Text
from storage.directory import PersonInfo
from storage.models import Application


@dataclass
class Outgoing:
    to: str
    message: Message
    dedupe_key: str | None = None


@dataclass
class Turn:
    """Collects replies and pushes; the dispatcher writes them to the outbox in the same
    transaction as the state change, so a message exists exactly when its cause was saved."""

    user: PersonInfo
    channel: str
    now: datetime
    timezone: ZoneInfo
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    outgoing: list[Outgoing] = field(default_factory=list)
    #: the conversation's active application, read with the conversation (storage/turns.py)
    #: so the turn need not ask for it again
    loaded_application: Application | None = None

    @property
    def today(self) -> date:
        return self.now.astimezone(self.timezone).date()

    @property
    def local_now(self) -> datetime:
        return self.now.astimezone(self.timezone)

    def reply(self, message: Message | str) -> None:
        self.push(self.user.id, message)

    def push(self, user_id: str, message: Message | str, *, dedupe_key: str | None = None) -> None:
        if isinstance(message, str):
            message = Text(message)
        self.outgoing.append(Outgoing(user_id, message, dedupe_key))

    def replies_text(self) -> str:
        """Everything said to the acting user, joined (handy in logs of tests)."""
        return "\n".join(o.message.text for o in self.outgoing
                         if o.to == self.user.id and isinstance(o.message, Text))
