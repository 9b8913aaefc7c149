"""What the outbox sender needs from a channel adapter."""

from __future__ import annotations

from typing import Any, Protocol


class DeliveryError(Exception):
    """Sending failed. `retryable` errors are tried again later with backoff."""

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


class Channel(Protocol):
    name: str
    #: True when the outbox sender pushes messages out; False for pull-based channels
    #: (the simulator hands messages over when its page or API asks for them).
    pushes: bool

    async def send(self, user_id: str, payload: dict[str, Any]) -> None: ...
