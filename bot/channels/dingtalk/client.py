"""An asyncio client for DingTalk's server APIs (aiohttp; the official SDKs block the loop).

    api(method, path, body)   the new API (api_base, `/v1.0/…`), token in the
                              `x-acs-dingtalk-access-token` header, errors as HTTP status + code
    oapi(path, body)          the old API (oapi_base, `/topapi/…`), token as `access_token`,
                              errors as `errcode` in a 200 answer
    open_connection(topics)   Stream mode's registration (no token: the app's credentials)

The access token (`POST /v1.0/oauth2/accessToken`, valid 7200 s) is kept in the database and
shared by every process (bot/channels/tokens.py); the same token serves both hosts for an
enterprise-internal app. A rejected token is refreshed once. A call DingTalk refused for its
QPS limit (403 `…QpsLimit…`) did not take effect, so it is tried again here after a short
backoff with jitter, a few times; everything else is left to the caller (the outbox retries
with its own backoff). Logs and errors never contain the token or the secret.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from typing import Any

import aiohttp

from bot.channels.base import HTTP_CONNECTIONS
from bot.channels.dingtalk.errors import (
    DingtalkApiError,
    DingtalkError,
    DingtalkTransportError,
    redact,
)
from bot.channels.dingtalk.settings import DingtalkSettings
from bot.channels.tokens import TokenStore
from bot.clock import Clock

log = logging.getLogger("campusbot.dingtalk")

DEFAULT_TIMEOUT = 10.0
TOKEN_LIFETIME = 7200
#: pauses before trying a QPS-limited call again (× 0.5–1.5 jitter); then the caller retries
QPS_PAUSES = (0.05, 0.2, 0.5)
STREAM_UA = "campusbot-dingtalk-stream/1"


def dumps(body: Any) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _busy(exc: Exception) -> bool:
    return isinstance(exc, DingtalkTransportError) or (
        isinstance(exc, DingtalkApiError) and exc.transient and not exc.token_rejected)


class DingtalkClient:
    def __init__(self, settings: DingtalkSettings, clock: Clock, *,
                 timeout: float = DEFAULT_TIMEOUT) -> None:
        self.api_base = settings.api_base.rstrip("/")
        self.oapi_base = settings.oapi_base.rstrip("/")
        self.client_id = settings.client_id
        self.robot_code = settings.robot_code or settings.client_id
        self._secret = settings.client_secret
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self.tokens = TokenStore(f"dingtalk:{settings.client_id}", self._fetch_token, clock,
                                 busy=_busy, label="DingTalk")
        self._session: aiohttp.ClientSession | None = None
        #: calls refused for the QPS limit and tried again (for logs and tests)
        self.qps_retries = 0

    def http(self) -> aiohttp.ClientSession:
        # created on first use: a ClientSession belongs to the running event loop
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                headers={"User-Agent": "campusbot"},
                connector=aiohttp.TCPConnector(limit=HTTP_CONNECTIONS))
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    # ---- the new API --------------------------------------------------------------------
    async def api(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = dumps(body if body is not None else {})
        for attempt in (1, 2):
            token = await self.tokens.get()
            try:
                return await self._with_qps_retries(lambda t=token: self._request(
                    method, self.api_base + path, path, data=data,
                    headers={"x-acs-dingtalk-access-token": t}))
            except DingtalkApiError as exc:
                if exc.token_rejected and attempt == 1:
                    log.info("DingTalk %s: token rejected, refreshing once", path)
                    await self.tokens.invalidate(token)
                    continue
                raise
        raise AssertionError("unreachable")

    # ---- the old API --------------------------------------------------------------------
    async def oapi(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        data = dumps(body)
        for attempt in (1, 2):
            token = await self.tokens.get()

            async def call(t: str = token) -> dict[str, Any]:
                result = await self._request("POST", self.oapi_base + path, path, data=data,
                                             params={"access_token": t})
                if not isinstance(result, dict):
                    raise DingtalkTransportError(f"DingTalk {path}: answer is not an object")
                errcode = int(result.get("errcode") or 0)
                if errcode:
                    raise DingtalkApiError(path, status=200, code=str(errcode),
                                           message=str(result.get("errmsg", "")))
                return result
            try:
                return await self._with_qps_retries(call)
            except DingtalkApiError as exc:
                if exc.token_rejected and attempt == 1:
                    await self.tokens.invalidate(token)
                    continue
                raise
        raise AssertionError("unreachable")

    # ---- Stream mode registration -------------------------------------------------------
    async def open_connection(self, subscriptions: list[dict[str, str]]) -> tuple[str, str]:
        """A fresh (endpoint, ticket) for one websocket; the ticket serves one connection."""
        path = "/v1.0/gateway/connections/open"
        result = await self._request("POST", self.api_base + path, path, data=dumps({
            "clientId": self.client_id, "clientSecret": self._secret,
            "subscriptions": subscriptions, "ua": STREAM_UA}))
        endpoint = result.get("endpoint") if isinstance(result, dict) else None
        ticket = result.get("ticket") if isinstance(result, dict) else None
        if not isinstance(endpoint, str) or not isinstance(ticket, str) or not ticket:
            raise DingtalkTransportError(f"DingTalk {path}: no endpoint or ticket")
        return endpoint, ticket

    # ---- plumbing -----------------------------------------------------------------------
    async def fetch_token(self) -> tuple[str, int]:
        """A new token from DingTalk, not the cached one (`campusbot dingtalk check`)."""
        return await self._fetch_token()

    async def _fetch_token(self) -> tuple[str, int]:
        path = "/v1.0/oauth2/accessToken"
        result = await self._request("POST", self.api_base + path, path, data=dumps(
            {"appKey": self.client_id, "appSecret": self._secret}))
        token = result.get("accessToken") if isinstance(result, dict) else None
        if not isinstance(token, str) or not token:
            raise DingtalkTransportError(f"DingTalk {path}: no accessToken")
        return token, int(result.get("expireIn") or TOKEN_LIFETIME)

    async def _with_qps_retries(self, call: Any) -> Any:
        for pause in (*QPS_PAUSES, None):
            try:
                return await call()
            except DingtalkApiError as exc:
                if not exc.qps_limited or pause is None:
                    raise
                self.qps_retries += 1
                await asyncio.sleep(pause * random.uniform(0.5, 1.5))
        raise AssertionError("unreachable")

    async def _request(self, method: str, url: str, path: str, *, data: bytes,
                       headers: dict[str, str] | None = None,
                       params: dict[str, str] | None = None) -> Any:
        try:
            async with self.http().request(
                    method, url, data=data, params=params, timeout=self.timeout,
                    headers={"Content-Type": "application/json; charset=utf-8",
                             **(headers or {})}) as response:
                raw = await response.read()
                status = response.status
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise DingtalkTransportError(
                f"DingTalk {path}: {type(exc).__name__} {redact(str(exc))}".rstrip()) from None
        try:
            result = json.loads(raw) if raw else {}
        except ValueError:
            if status != 200:
                raise DingtalkApiError(path, status=status) from None
            raise DingtalkTransportError(f"DingTalk {path}: answer is not JSON") from None
        if status != 200:
            code = str(result.get("code", "")) if isinstance(result, dict) else ""
            message = str(result.get("message", "")) if isinstance(result, dict) else ""
            raise DingtalkApiError(path, status=status, code=code, message=message)
        return result


__all__ = ["DingtalkClient", "DingtalkError"]
