"""An asyncio client for the WeCom server API (aiohttp; wechatpy's client blocks the loop).

Every call: take the shared access token, send UTF-8 JSON with `ensure_ascii=False` (WeCom
rejects \\uXXXX escapes with 40033), and on a token error refresh once and retry once — never
in a loop. Failures raise WecomApiError (WeCom said no) or WecomTransportError (no answer).
Logs and errors never contain the token or the secret.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import aiohttp

from bot import metrics
from bot.channels.base import HTTP_CONNECTIONS
from bot.channels.tokens import TokenStore
from bot.channels.wecom.errors import (
    BUSY_ERRORS,
    TOKEN_ERRORS,
    WecomApiError,
    WecomTransportError,
    redact,
)
from bot.channels.wecom.settings import WecomSettings
from bot.clock import Clock

log = logging.getLogger("campusbot.wecom")

DEFAULT_TIMEOUT = 10.0


def _busy(exc: Exception) -> bool:
    """A gettoken failure worth trying again at once: no answer, or WeCom busy."""
    return isinstance(exc, WecomTransportError) or (
        isinstance(exc, WecomApiError) and exc.errcode in BUSY_ERRORS)


def dumps(body: dict[str, Any]) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class WecomClient:
    def __init__(self, settings: WecomSettings, clock: Clock, *,
                 timeout: float = DEFAULT_TIMEOUT) -> None:
        self.base = settings.api_base.rstrip("/") + "/cgi-bin/"
        self.corp_id = settings.corp_id
        self.agent_id = settings.agent_id
        self._secret = settings.secret
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self.tokens = TokenStore(f"wecom:{settings.corp_id}:{settings.agent_id}",
                                 self._fetch_token, clock, busy=_busy, label="WeCom")
        self._session: aiohttp.ClientSession | None = None

    def _http(self) -> aiohttp.ClientSession:
        # created on first use: a ClientSession belongs to the running event loop
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                headers={"User-Agent": "campusbot"}, raise_for_status=False,
                connector=aiohttp.TCPConnector(limit=HTTP_CONNECTIONS))
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def get(self, path: str, **params: str | int) -> dict[str, Any]:
        return await self._call("GET", path, params, lambda: {})

    async def post(self, path: str, body: dict[str, Any], **params: str | int) -> dict[str, Any]:
        data = dumps(body)
        return await self._call("POST", path, params, lambda: {
            "data": data, "headers": {"Content-Type": "application/json; charset=utf-8"}})

    async def upload(self, path: str, *, filename: str, content: bytes, content_type: str,
                     **params: str | int) -> dict[str, Any]:
        def form() -> dict[str, Any]:  # a FormData can be sent only once: one per attempt
            data = aiohttp.FormData()
            data.add_field("media", content, filename=filename, content_type=content_type)
            return {"data": data}
        return await self._call("POST", path, params, form)

    async def _call(self, method: str, path: str, params: dict[str, str | int],
                    body: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        for attempt in (1, 2):
            token = await self.tokens.get()
            result = await self._request(method, path, {**params, "access_token": token},
                                         body())
            errcode = int(result.get("errcode") or 0)
            if errcode == 0:
                return result
            if errcode in TOKEN_ERRORS and attempt == 1:
                log.info("WeCom %s: token rejected (errcode %d), refreshing once", path, errcode)
                await self.tokens.invalidate(token)
                continue
            raise WecomApiError(errcode, str(result.get("errmsg", "")), path)
        raise AssertionError("unreachable")

    async def _fetch_token(self) -> tuple[str, int]:
        result = await self._request("GET", "gettoken",
                                     {"corpid": self.corp_id, "corpsecret": self._secret}, {})
        errcode = int(result.get("errcode") or 0)
        token = result.get("access_token")
        if errcode or not isinstance(token, str) or not token:
            raise WecomApiError(errcode, str(result.get("errmsg", "")), "gettoken")
        return token, int(result.get("expires_in") or 7200)

    async def _request(self, method: str, path: str, params: dict[str, str | int],
                       extra: dict[str, Any]) -> dict[str, Any]:
        try:
            result = await self._answer(method, path, params, extra)
        except WecomTransportError:
            metrics.API_ERRORS.inc(channel="wecom", code="transport")
            raise
        errcode = result.get("errcode") or 0
        if errcode:
            metrics.API_ERRORS.inc(channel="wecom", code=str(errcode))
        return result

    async def _answer(self, method: str, path: str, params: dict[str, str | int],
                      extra: dict[str, Any]) -> dict[str, Any]:
        url = self.base + path
        try:
            async with self._http().request(
                    method, url, params={k: str(v) for k, v in params.items()},
                    timeout=self.timeout, **extra) as response:
                if response.status != 200:
                    raise WecomTransportError(f"WeCom {path}: HTTP {response.status}")
                raw = await response.read()
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise WecomTransportError(
                f"WeCom {path}: {type(exc).__name__} {redact(str(exc))}".rstrip()) from None
        try:
            result = json.loads(raw)
        except ValueError:
            raise WecomTransportError(f"WeCom {path}: answer is not JSON") from None
        if not isinstance(result, dict):
            raise WecomTransportError(f"WeCom {path}: answer is not a JSON object")
        return result
