"""A storage call that fails first, as while the database restarts: the tests of what
survives an outage patch the real call with it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from flows.incoming import Incoming


def fail_first(monkeypatch: pytest.MonkeyPatch, owner: object, name: str,
               errors: list[Exception]) -> None:
    """`owner.name` (a coroutine function) raises each of `errors` once, then works again."""
    real = getattr(owner, name)
    pending = list(errors)

    async def failing(*args: Any) -> Any:
        if pending:
            raise pending.pop()
        return await real(*args)
    monkeypatch.setattr(owner, name, failing)


def handler_failing(monkeypatch: pytest.MonkeyPatch, dispatcher: Any,
                    when: Callable[[Incoming], bool]) -> None:
    """The dispatcher's handlers raise (a bug) for every message `when` picks."""
    handle = dispatcher.handlers.handle

    async def failing(turn: Any, conversation: Any, incoming: Incoming) -> None:
        if when(incoming):
            raise RuntimeError("a bug in a handler")
        await handle(turn, conversation, incoming)
    monkeypatch.setattr(dispatcher.handlers, "handle", failing)
