"""The HTTP-mode robot callback's signature: headers `timestamp` (ms) and `sign`, where

    sign = Base64( HMAC-SHA256( key = AppSecret, message = timestamp + "\\n" + AppSecret ) )

standard Base64 with padding, compared as sent (not URL-encoded). A request whose timestamp is
more than an hour from now is refused, signed or not.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

WINDOW_MS = 3600 * 1000


class SignatureError(ValueError):
    def __init__(self, reason: str, status: int = 403) -> None:
        super().__init__(reason)
        self.status = status


def sign(timestamp: str, secret: str) -> str:
    digest = hmac.new(secret.encode("utf-8"), f"{timestamp}\n{secret}".encode(),
                      hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def verify(timestamp: str, signature: str, secret: str, now_ms: int) -> None:
    """Raise SignatureError (400 malformed, 403 stale or wrong) unless the headers are valid."""
    if not timestamp or not timestamp.isdigit() or len(timestamp) > 16:
        raise SignatureError("timestamp missing or not a number", 400)
    if not signature or len(signature) > 128:
        raise SignatureError("sign missing", 400)
    if abs(now_ms - int(timestamp)) > WINDOW_MS:
        raise SignatureError("stale timestamp")
    if not hmac.compare_digest(sign(timestamp, secret).encode(), signature.encode()):
        raise SignatureError("bad signature")
