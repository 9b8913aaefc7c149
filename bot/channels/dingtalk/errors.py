"""DingTalk API failures and what campusbot does about each.

The new API (api.dingtalk.com) answers errors with an HTTP status and a JSON `{code, message}`;
the old one (oapi.dingtalk.com) with HTTP 200 and `{errcode, errmsg}`.

- 403 `Forbidden.AccessDenied.QpsLimitForApi` / `…QpsLimitForAppkeyAndApi`, old errcodes 90002
  and 90018/90019, and 5xx, timeouts and resets pass by themselves: retried with backoff;
- 401 and the old token errcodes (40014, 42001, 88 with an invalid token): refresh the token once;
- `ApiCountLimitForOrg` (90020, the organisation's monthly quota): retried, for hours — an admin
  fixes it, giving up would lose the message;
- 400 invalid parameters: never retried.
"""

from __future__ import annotations

import re

TOKEN_ERRCODES = frozenset({40001, 40014, 42001})
BUSY_ERRCODES = frozenset({-1, 15, 88, 90002, 90018, 90019, 90020})
QPS_CODES = ("QpsLimit", "ApiCountLimit", "Throttling")
TOKEN_CODES = ("InvalidAuthentication", "invalidAuthentication", "InvalidAccessToken")

_SECRETS = re.compile(r"(access_token|appSecret|clientSecret|ticket)=[^&\s'\"]*")


class DingtalkError(Exception):
    """Base of everything the client raises; `retryable` says whether a retry may succeed,
    `transient` whether the fault passes by itself (retried for hours, not a few times)."""

    retryable = True
    transient = True


class DingtalkApiError(DingtalkError):
    """DingTalk answered, and said no."""

    def __init__(self, path: str, *, status: int, code: str = "", message: str = "") -> None:
        super().__init__(f"DingTalk {path}: HTTP {status} {code} {message}".rstrip())
        self.path = path
        self.status = status
        self.code = code
        self.message = message
        # 88 with a sub-code names the real fault (a missing permission): not busy
        busy = status >= 500 or status == 429 or any(c in code for c in QPS_CODES) or (
            code.lstrip("-").isdigit() and int(code) in BUSY_ERRCODES
            and not (code == "88" and "subcode=" in message))
        self.qps_limited = any(c in code for c in QPS_CODES)
        self.token_rejected = status == 401 or any(c in code for c in TOKEN_CODES) or (
            code.isdigit() and int(code) in TOKEN_ERRCODES)
        self.retryable = busy or self.token_rejected or (status == 403 and self.qps_limited)
        self.transient = self.retryable


class DingtalkTransportError(DingtalkError):
    """No usable answer: timeout, connection failure, or a body that is not JSON."""


def redact(text: str) -> str:
    """Remove tokens, secrets and tickets from anything that may reach a log."""
    return _SECRETS.sub(r"\1=***", text)
