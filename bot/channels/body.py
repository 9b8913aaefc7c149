"""Reading a callback's body with a size limit and a deadline: a client announcing or sending
more than the limit is refused (413) without the rest being read, and one still sending after
the deadline (a slow client holding a connection open) is refused (408)."""

from __future__ import annotations

import asyncio

from aiohttp import web

#: a platform sends a callback's few KB at once
BODY_SECONDS = 10.0


class Refused(Exception):
    """A callback refused with an HTTP `status` (its body here, or whatever else the channel's
    callback checks); `reason` is for the log."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


async def read_body(request: web.Request, limit: int, seconds: float = BODY_SECONDS) -> bytes:
    if request.content_length is not None and request.content_length > limit:
        raise Refused(413, "body too large")
    body = b""
    try:
        async with asyncio.timeout(seconds):
            while len(body) <= limit:   # read() returns what has arrived: loop to the end
                chunk = await request.content.read(limit + 1 - len(body))
                if not chunk:
                    break
                body += chunk
    except TimeoutError:
        raise Refused(408, "body not received in time") from None
    if len(body) > limit:
        raise Refused(413, "body too large")
    return body
