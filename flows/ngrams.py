"""A second opinion on a question: character pairs, whatever the word boundaries.

The main search (flows/search.py) reads a question word by word. People on a phone run words
together and use ones no flow file lists (官网上, 网速很慢, 车开进学校); the characters still
share pairs with a flow's own sentences (官网, 网速, 开车, 进校). This index ranks the flows by
the question's character pairs with BM25 over each flow's words and sentences, its names, aliases
and keywords counted more. It never decides alone: the search uses it where it agrees with the
search's own best candidate (see `GuideIndex.find`).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from flows.definition import FlowDefinition

K1 = 1.2
B = 0.75
TERM_REPEAT = 3         # a name, alias or keyword counts as much as this many sentences

_SPLIT = re.compile(r"[^0-9a-z\u4e00-\u9fff]+")


def pairs(text: str) -> list[str]:
    """The character pairs of each run of letters and Chinese characters."""
    found: list[str] = []
    for run in _SPLIT.split(text.lower()):
        found += [run[i:i + 2] for i in range(len(run) - 1)]
    return found


def _texts(definition: FlowDefinition) -> Iterable[tuple[str, int]]:
    for term in (definition.name, *definition.aliases, *definition.keywords):
        yield term, TERM_REPEAT
    yield definition.summary, 1
    for step in definition.steps:
        yield step.title, 1
        yield step.notes, 1
        for material in step.materials:
            yield material, 1
    for item in definition.fields:
        yield item.label, 1
        yield item.hint, 1
        for option in item.options:
            yield option, 1
    if definition.platform is not None:
        for line in definition.platform.can_do:
            yield line, 1


@dataclass(frozen=True)
class PairRanking:
    """Flows (by position in the index's definitions) and their scores, best first."""

    scores: tuple[tuple[int, float], ...]

    def best(self) -> int | None:
        return self.scores[0][0] if self.scores else None

    def lead(self) -> float:
        """How far the best is ahead: its score over the runner-up's (inf when alone)."""
        if not self.scores:
            return 0.0
        if len(self.scores) == 1 or self.scores[1][1] <= 0:
            return math.inf
        return self.scores[0][1] / self.scores[1][1]


class PairIndex:
    def __init__(self, definitions: Sequence[FlowDefinition]) -> None:
        self.counts: list[Counter[str]] = []
        for definition in definitions:
            counts: Counter[str] = Counter()
            for text, repeat in _texts(definition):
                for pair in pairs(text):
                    counts[pair] += repeat
            self.counts.append(counts)
        self.lengths = [sum(c.values()) for c in self.counts]
        self.average = sum(self.lengths) / max(len(self.lengths), 1)
        having = Counter(pair for counts in self.counts for pair in counts)
        total = len(self.counts)
        self.idf = {pair: math.log(1 + (total - n + 0.5) / (n + 0.5)) for pair, n in having.items()}

    def rank(self, question_pairs: Iterable[str]) -> PairRanking:
        wanted = Counter(question_pairs)
        scores = []
        for flow, counts in enumerate(self.counts):
            score = 0.0
            norm = K1 * (1 - B + B * self.lengths[flow] / self.average)
            for pair, times in wanted.items():
                found = counts.get(pair, 0)
                if found:
                    score += times * self.idf[pair] * found * (K1 + 1) / (found + norm)
            if score > 0:
                scores.append((flow, score))
        return PairRanking(tuple(sorted(scores, key=lambda item: -item[1])))
