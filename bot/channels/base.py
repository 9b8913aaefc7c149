"""What the outbox sender needs from a channel adapter."""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any, Protocol

# --- issue 9: the outbox row being delivered, for channels whose platform de-duplicates
# repeated requests (WeCom's duplicate check keys on it); None outside the sender.
DELIVERING: ContextVar[int | None] = ContextVar("delivering_outbox_id", default=None)


class DeliveryError(Exception):
    """Sending failed. `retryable` errors are tried again later with backoff; `transient` ones
    (the platform busy, a timeout, the network) pass by themselves and are retried for hours,
    the others a few times (`[outbox] max_attempts`)."""

    def __init__(self, message: str, *, retryable: bool = True, transient: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.transient = transient and retryable


class Channel(Protocol):
    name: str
    #: True when the outbox sender pushes messages out; False for pull-based channels
    #: (the simulator hands messages over when its page or API asks for them).
    pushes: bool

    async def send(self, user_id: str, payload: dict[str, Any]) -> None: ...
