"""Long texts (service guides) split to fit WeCom's 2048-byte limit on a text message.

Splits prefer a blank line, then a line end, then a sentence end, and never cut a character:
the limit is in UTF-8 bytes, and a Chinese character takes three.
"""

from __future__ import annotations

TEXT_MAX_BYTES = 2048
_BREAKS = ("\n\n", "\n", "。", "；", "，", " ")


def split_text(text: str, limit: int = TEXT_MAX_BYTES) -> list[str]:
    parts: list[str] = []
    rest = text.strip()
    while len(rest.encode("utf-8")) > limit:
        head = _prefix_within(rest, limit)
        cut = len(head)
        for mark in _BREAKS:
            at = head.rfind(mark)
            if at > len(head) // 2:  # a break too early would leave tiny parts
                cut = at + len(mark)
                break
        parts.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip("\n")
    if rest:
        parts.append(rest)
    return parts


def _prefix_within(text: str, limit: int) -> str:
    """The longest prefix of `text` whose UTF-8 form fits in `limit` bytes."""
    return text.encode("utf-8")[:limit].decode("utf-8", errors="ignore")
