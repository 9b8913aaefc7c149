"""Named actions that flow files may call (`check = "..."`, `checks = [...]`).

Handlers register them; the flow engine only sees this registry, so flow files can name an action
but never import code. A check returns None when all is well, or a Chinese message for the user.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from flows.definition import Field, FlowDefinition
from flows.turn import Turn


@dataclass(frozen=True)
class CheckContext:
    definition: FlowDefinition
    form: Mapping[str, Any]
    turn: Turn
    application_id: int | None
    field: Field | None = None
    value: Any = None


Check = Callable[[CheckContext], Awaitable[str | None]]


class ActionRegistry(Mapping[str, Check]):
    def __init__(self) -> None:
        self._checks: dict[str, Check] = {}

    def check(self, function: Check) -> Check:
        """Decorator: register `function` under its own name."""
        name = function.__name__
        if name in self._checks:
            raise ValueError(f"action {name!r} registered twice")
        self._checks[name] = function
        return function

    def merge(self, other: ActionRegistry) -> ActionRegistry:
        for name, function in other.items():
            if name in self._checks:
                raise ValueError(f"action {name!r} registered twice")
            self._checks[name] = function
        return self

    def __getitem__(self, name: str) -> Check:
        return self._checks[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._checks)

    def __len__(self) -> int:
        return len(self._checks)
