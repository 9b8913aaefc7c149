"""WeCom API errors (全局错误码, doc 90313) and what campusbot does about each."""

from __future__ import annotations

import re

#: the access token is invalid or expired: refresh once and retry (40001 has been seen for a
#: bad token too, although the docs define it as "invalid secret")
TOKEN_ERRORS = frozenset({40001, 40014, 42001})
#: retrying cannot help: the request or the recipient is wrong
PERMANENT_ERRORS = frozenset({
    40003,   # invalid UserID
    40008,   # invalid message type
    40033,   # illegal characters (\uXXXX escapes)
    40056,   # invalid agentid
    40058,   # invalid parameter
    41001,   # missing access token — a bug here, never fixed by retrying
    42014,   # invalid task_id
    42015,   # the card was sent by another app
    42016,   # task_id does not exist
    44001,   # empty media
    45002,   # content too long
    48002,   # API not permitted for this app
    60011,   # recipient outside the app's visible range
    81013,   # every recipient is invalid
    82001,   # no recipient
})
#: the platform is busy or limiting calls: it passes by itself, so retried for hours
BUSY_ERRORS = frozenset({
    -1,      # 系统繁忙
    6000,    # data version conflict (concurrent changes on WeCom's side)
    45009,   # API call frequency limit
    45033,   # API concurrency limit
    45047,   # message quota of the app exhausted for now
    60020,   # the server's IP is not (yet) a trusted IP — fixed by an admin, not by giving up
})
INVALID_RESPONSE_CODE = 60140
INVALID_MEDIA_ID = 40007
USER_NOT_FOUND = 60111

_SECRETS = re.compile(r"(access_token|corpsecret)=[^&\s'\"]*")


class WecomError(Exception):
    """Base of everything the client raises; `retryable` says whether a retry may succeed,
    `transient` whether the fault passes by itself (retried for hours, not a few times)."""

    retryable = True
    transient = True


class WecomApiError(WecomError):
    def __init__(self, errcode: int, errmsg: str, path: str) -> None:
        super().__init__(f"WeCom {path}: errcode {errcode} {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg
        self.path = path
        self.retryable = errcode not in PERMANENT_ERRORS
        self.transient = errcode in BUSY_ERRORS or errcode in TOKEN_ERRORS


class WecomTransportError(WecomError):
    """No usable answer: timeout, connection failure, HTTP error or a body that is not JSON."""


def redact(text: str) -> str:
    """Remove tokens and secrets from anything that may reach a log or the outbox."""
    return _SECRETS.sub(r"\1=***", text)
