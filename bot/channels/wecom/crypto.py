"""WeCom's callback crypto (加解密方案, doc 90968), strict about every byte it accepts.

    signature  = sha1_hex(sorted([token, timestamp, nonce, encrypt]) joined)
    key        = base64(EncodingAESKey + "="), 32 bytes; IV = key[:16]; AES-256-CBC
    plaintext  = 16 random bytes ‖ uint32 big-endian len(msg) ‖ msg ‖ receive id,
                 PKCS#7-padded to a multiple of 32 bytes (not 16)

wechatpy's WeChatCrypto implements the same scheme, but it parses the XML envelope before it
checks the signature, compares signatures in non-constant time and accepts any padding byte;
the tests use it as an independent oracle against the official vectors instead.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import struct

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

BLOCK = 32
RANDOM_PREFIX = 16


class CryptoError(ValueError):
    """The ciphertext is not a valid WeCom envelope (bad base64, length, padding or layout)."""


class SignatureError(CryptoError):
    """The signature does not match: the request did not come from WeCom."""


class ReceiveIdError(CryptoError):
    """The message was encrypted for another corp (receive id ≠ our CorpID)."""


def signature(token: str, timestamp: str, nonce: str, encrypt: str) -> str:
    return hashlib.sha1("".join(sorted((token, timestamp, nonce, encrypt))).encode()).hexdigest()


class WecomCrypto:
    def __init__(self, token: str, encoding_aes_key: str, receive_id: str) -> None:
        try:
            key = base64.b64decode(encoding_aes_key + "=", validate=True)
        except binascii.Error as exc:
            raise ValueError("EncodingAESKey is not base64") from exc
        if len(key) != 32:
            raise ValueError("EncodingAESKey must decode to 32 bytes (43 characters)")
        self.token = token
        self.receive_id = receive_id.encode()
        self._cipher = Cipher(algorithms.AES(key), modes.CBC(key[:16]))

    def sign(self, timestamp: str, nonce: str, encrypt: str) -> str:
        return signature(self.token, timestamp, nonce, encrypt)

    def verify(self, msg_signature: str, timestamp: str, nonce: str, encrypt: str) -> None:
        expected = self.sign(timestamp, nonce, encrypt)
        if not hmac.compare_digest(expected.encode(), msg_signature.lower().encode("ascii",
                                                                                  "replace")):
            raise SignatureError("signature mismatch")

    def decrypt(self, encrypt: str) -> str:
        """The message inside `encrypt`; raises CryptoError or ReceiveIdError."""
        try:
            data = base64.b64decode(encrypt, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise CryptoError("not base64") from exc
        if not data or len(data) % 16:
            raise CryptoError("ciphertext length is not a multiple of the AES block")
        decryptor = self._cipher.decryptor()
        plain = decryptor.update(data) + decryptor.finalize()
        pad = plain[-1]
        if not 1 <= pad <= BLOCK or plain[-pad:] != bytes([pad]) * pad:
            raise CryptoError("bad padding")
        body = plain[RANDOM_PREFIX:-pad]
        if len(body) < 4:
            raise CryptoError("too short")
        (length,) = struct.unpack(">I", body[:4])
        if length > len(body) - 4:
            raise CryptoError("length field exceeds the plaintext")
        message, receive_id = body[4:4 + length], body[4 + length:]
        if not hmac.compare_digest(receive_id, self.receive_id):
            raise ReceiveIdError("receive id mismatch")
        try:
            return message.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise CryptoError("message is not UTF-8") from exc

    def encrypt(self, message: str, *, random_prefix: bytes | None = None) -> str:
        """Encrypt for WeCom's envelope (passive replies, and the fake WeCom of the tests)."""
        raw = message.encode("utf-8")
        prefix = random_prefix if random_prefix is not None else os.urandom(RANDOM_PREFIX)
        body = prefix + struct.pack(">I", len(raw)) + raw + self.receive_id
        pad = BLOCK - len(body) % BLOCK
        encryptor = self._cipher.encryptor()
        data = encryptor.update(body + bytes([pad]) * pad) + encryptor.finalize()
        return base64.b64encode(data).decode("ascii")
