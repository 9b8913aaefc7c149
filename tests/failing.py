"""A storage call that fails first, as while the database restarts: the tests of what
survives an outage patch the real call with it."""

from __future__ import annotations

from typing import Any

import pytest


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
