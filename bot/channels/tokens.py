"""A platform's access token, cached in the database so every replica uses the same one
(WeCom's gettoken, DingTalk's oauth2/accessToken).

    fresh in memory  → use it
    fresh in the DB  → use it (another replica fetched it)
    otherwise        → take a short lease row, fetch from the platform, store; a replica that
                       finds the lease taken waits briefly for the new token instead of
                       fetching too (the platforms rate-limit their token endpoints)

A token is refreshed `refresh_ahead` before it expires, and `invalidate` drops a token
the platform rejected so the next `get` fetches a new one.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from tortoise.exceptions import IntegrityError

from bot.clock import Clock
from storage.models import ApiToken

log = logging.getLogger("campusbot.tokens")

EXPIRED = datetime(2000, 1, 1, tzinfo=UTC)
FETCH_RETRY_PAUSES = (0.1, 0.3)
Fetch = Callable[[], Awaitable[tuple[str, int]]]
#: is this failure of the fetch one that passes by itself (busy, unreachable)?
Busy = Callable[[Exception], bool]


def _never(_: Exception) -> bool:
    return False


class TokenStore:
    def __init__(self, key: str, fetch: Fetch, clock: Clock, *, busy: Busy = _never,
                 label: str = "access",
                 refresh_ahead: timedelta = timedelta(minutes=5),
                 lease: timedelta = timedelta(seconds=15),
                 wait_step: float = 0.05, wait_steps: int = 40) -> None:
        self.key = key
        self._lease_key = f"{key}:refreshing"
        self._owner = uuid.uuid4().hex
        self._fetch = fetch
        self._busy = busy
        self.label = label
        self.clock = clock
        self.refresh_ahead = refresh_ahead
        self.lease = lease
        self._wait_step = wait_step
        self._wait_steps = wait_steps
        self._token: str | None = None
        self._expires_at = EXPIRED
        self._lock = asyncio.Lock()

    def _fresh(self, expires_at: datetime) -> bool:
        return self.clock.now() + self.refresh_ahead < expires_at

    async def get(self) -> str:
        if self._token and self._fresh(self._expires_at):
            return self._token
        async with self._lock:  # one refresh at a time in this process
            if self._token and self._fresh(self._expires_at):
                return self._token
            if await self._load():
                return self._token  # type: ignore[return-value]
            if not await self._take_lease():
                for _ in range(self._wait_steps):
                    await asyncio.sleep(self._wait_step)
                    if await self._load():
                        return self._token  # type: ignore[return-value]
                log.warning("token refresh lease held too long by another replica; fetching")
            try:
                return await self._refresh()
            finally:
                await self._release_lease()

    async def invalidate(self, token: str) -> None:
        """The platform rejected `token`: forget it here and in the database (unless already
        replaced)."""
        if self._token == token:
            self._token, self._expires_at = None, EXPIRED
        await ApiToken.filter(key=self.key, token=token).update(expires_at=EXPIRED)

    async def _load(self) -> bool:
        row = await ApiToken.get_or_none(key=self.key)
        if row is None or not self._fresh(row.expires_at):
            return False
        self._token, self._expires_at = row.token, row.expires_at
        return True

    async def _refresh(self) -> str:
        token, expires_in = await self._fetch_with_retries()
        now = self.clock.now()
        expires_at = now + timedelta(seconds=expires_in)
        await ApiToken.update_or_create(key=self.key, defaults={
            "token": token, "expires_at": expires_at, "updated_at": now})
        self._token, self._expires_at = token, expires_at
        log.info("%s token refreshed, valid for %d s", self.label, expires_in)
        return token

    async def _fetch_with_retries(self) -> tuple[str, int]:
        """Every call needs a token: a busy or unreachable gettoken is tried again at once,
        twice, rather than failing the call that waits for it (and compounding its retries)."""
        for pause in (*FETCH_RETRY_PAUSES, None):
            try:
                return await self._fetch()
            except Exception as exc:
                if pause is None or not self._busy(exc):
                    raise
                log.info("%s token fetch failed (%s), trying again in %.1f s", self.label, exc,
                         pause)
                await asyncio.sleep(pause)
        raise AssertionError("unreachable")

    async def _take_lease(self) -> bool:
        now = self.clock.now()
        until = now + self.lease
        taken = await ApiToken.filter(key=self._lease_key, expires_at__lt=now).update(
            token=self._owner, expires_at=until, updated_at=now)
        if taken:
            return True
        try:
            await ApiToken.create(key=self._lease_key, token=self._owner, expires_at=until,
                                  updated_at=now)
        except IntegrityError:
            return False
        return True

    async def _release_lease(self) -> None:
        await ApiToken.filter(key=self._lease_key, token=self._owner).update(expires_at=EXPIRED)
