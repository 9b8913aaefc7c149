"""How characters sound, for typos picked by sound.

On a phone people type pinyin and pick the first character offered: 请价 for 请假, 集团好 for
集团号, 录拨教室 for 录播教室, 採访 for 采访. Two strings *sound alike* when they are equally long
and each pair of characters is the same or shares a reading (tones ignored, every reading of a
character with several: 还 is hai and huan).

The readings come from pypinyin's character table only (no phrase data, nothing downloaded).
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

from pypinyin.pinyin_dict import pinyin_dict


@lru_cache(maxsize=16384)
def readings(char: str) -> frozenset[str]:
    """The toneless readings of one character (ü written u); empty for a non-Chinese one."""
    raw = pinyin_dict.get(ord(char)) if len(char) == 1 else None
    if not raw:
        return frozenset()
    return frozenset(_toneless(reading) for reading in raw.split(","))


def _toneless(reading: str) -> str:
    decomposed = unicodedata.normalize("NFKD", reading)
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def sounds_alike(first: str, second: str) -> bool:
    """Same length, and every pair of characters the same or sharing a reading."""
    if len(first) != len(second):
        return False
    return all(a == b or readings(a) & readings(b) for a, b in zip(first, second, strict=True))


def differing(first: str, second: str) -> int:
    """How many positions of two equally long strings hold different characters."""
    return sum(1 for a, b in zip(first, second, strict=True) if a != b)
