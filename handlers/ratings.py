"""A service rating as people type it: 5, 5分, 五星, 很满意, 5分，修得很快 — a score from 1 to 5
and, after it, a comment that is kept."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

_DIGITS = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5}
_SCORE = re.compile(r"^(?:评分|打分|评价|给)?[:：]?\s*([1-5一二两三四五])\s*"
                    r"(分|星|颗星|个星)?(?:好评)?")
#: after a score with 分: 钟 (2分钟) makes it a duration, not a rating
_NOT_A_SCORE_AFTER_UNIT = ("钟", "半", "之")
#: words that rate without a number, most specific first (很不满意 before 不满意 before 满意)
_WORDS = (("非常不满意", 1), ("很不满意", 1), ("太差", 1), ("很差", 1), ("不满意", 2),
          ("差评", 1), ("一般般", 3), ("一般", 3), ("还行", 3), ("还可以", 4), ("比较满意", 4),
          ("非常满意", 5), ("很满意", 5), ("特别满意", 5), ("太棒了", 5), ("好评", 5), ("满意", 4),
          ("很好", 5), ("不错", 4))
_SEPARATORS = " ,，.。!！;；、:：~～"


@dataclass(frozen=True)
class Rating:
    score: int
    comment: str = ""
    #: a number or stars (5分, 五星), not just a word that may rate (很好)
    explicit: bool = False


def parse_rating(text: str) -> Rating | None:
    """The rating a message gives, or None when it gives none."""
    cleaned = unicodedata.normalize("NFKC", text).strip()
    if (match := _SCORE.match(cleaned)) and _ends_score(match, cleaned[match.end():]):
        score = _DIGITS.get(match.group(1)) or int(match.group(1))
        return Rating(score, cleaned[match.end():].strip(_SEPARATORS), explicit=True)
    for word, score in _WORDS:
        rest = cleaned[len(word):]
        if cleaned.startswith(word) and (not rest or rest[0] in _SEPARATORS):
            return Rating(score, rest.strip(_SEPARATORS))
    return None


def _ends_score(match: re.Match[str], rest: str) -> bool:
    """5, 5分, 5分修得很快, 5，很快 are scores; 12, 1.5, 5天后, 2分钟, 一般 are not."""
    if not rest:
        return True
    if rest[0] in _SEPARATORS:
        return not rest[1:2].isdigit()
    return bool(match.group(2)) and not rest.startswith(_NOT_A_SCORE_AFTER_UNIT)
