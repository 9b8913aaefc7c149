"""Find the process a user means from their own words (first cut: names and aliases)."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date
from typing import Any

from flows.answers import AnswerError, parse_answer
from flows.catalog import Catalog
from flows.definition import FlowDefinition
from flows.validation import ANYONE

APPLY_WORDS = ("我要", "我想", "想要", "申请", "办理", "帮我", "预约", "借用", "报修", "登记")


@dataclass(frozen=True)
class Match:
    definition: FlowDefinition
    score: float


class GuideIndex:
    """Searches the catalog's current definitions (rebuilt when the catalog is reloaded)."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    def search(self, text: str, roles: Collection[str] = ()) -> list[Match]:
        query = text.strip()
        matches = []
        for definition in self.catalog.all():
            terms = (definition.name, *definition.aliases, *definition.keywords)
            best = max((len(t) for t in terms if t and t in query), default=0)
            if definition.name in query:
                best += 10
            if best:
                fits = ANYONE in definition.audience or bool(set(definition.audience) & set(roles))
                matches.append(Match(definition, best + (2 if fits else 0)))
        return sorted(matches, key=lambda m: -m.score)

    @staticmethod
    def is_apply_intent(text: str) -> bool:
        return any(word in text for word in APPLY_WORDS)

    @staticmethod
    def prefill(definition: FlowDefinition, text: str, today: date) -> dict[str, Any]:
        """Answers the sentence already gives: a choice named in it, a number of days."""
        values: dict[str, Any] = {}
        for item in definition.fields:
            if item.type == "choice" and not item.multiple:
                named = [o for o in item.options if o in text]
                if len(named) == 1:
                    values[item.key] = named[0]
            elif item.type == "number" and item.unit:
                found = re.search(rf"([\d.]+|[一二两三四五六七八九十半]+)\s*{item.unit}", text)
                if found:
                    with contextlib.suppress(AnswerError):
                        values[item.key] = parse_answer(item, found.group(0), today)
        return values
