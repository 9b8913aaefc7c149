"""WeCom's callback crypto, proven against the official documentation's worked example
(doc 90968, copied into tests/data/wecom_vectors.json) and cross-checked with wechatpy."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from wechatpy.enterprise.crypto import WeChatCrypto  # type: ignore[import-untyped]

from bot.channels.wecom.crypto import (
    CryptoError,
    ReceiveIdError,
    SignatureError,
    WecomCrypto,
    signature,
)

VECTORS = json.loads((Path(__file__).parents[3] / "data" / "wecom_vectors.json").read_text(
    encoding="utf-8"))
KEYS = VECTORS["keysets"]["official_doc_90968"]


def vector(vector_id: str) -> dict[str, Any]:
    return next(v for v in VECTORS["vectors"] if v["id"] == vector_id)


def official() -> WecomCrypto:
    return WecomCrypto(KEYS["token"], KEYS["encoding_aes_key"], KEYS["receiveid"])


def encrypt_of(post_body: str) -> str:
    match = re.search(r"<Encrypt><!\[CDATA\[(.*?)\]\]></Encrypt>", post_body)
    assert match
    return match.group(1)


def test_url_verification_vector_verifies_and_decrypts_to_the_echo() -> None:
    v = vector("doc_verify_url")
    crypto = official()
    crypto.verify(v["msg_signature"], v["timestamp"], v["nonce"], v["echostr"])
    assert crypto.decrypt(v["echostr"]) == v["expected_plaintext"] == "1616140317555161061"


def test_message_vector_verifies_and_decrypts_to_the_documented_xml() -> None:
    v = vector("doc_decrypt_xml")
    encrypt = encrypt_of(v["post_body"])
    crypto = official()
    assert signature(KEYS["token"], v["timestamp"], v["nonce"], encrypt) == v["msg_signature"]
    crypto.verify(v["msg_signature"], v["timestamp"], v["nonce"], encrypt)
    assert crypto.decrypt(encrypt) == v["expected_plaintext"]


def test_wrong_signature_and_wrong_corp_are_refused() -> None:
    v = vector("doc_decrypt_xml")
    encrypt = encrypt_of(v["post_body"])
    with pytest.raises(SignatureError):
        official().verify("0" * 40, v["timestamp"], v["nonce"], encrypt)
    with pytest.raises(SignatureError):
        official().verify(v["msg_signature"], str(int(v["timestamp"]) + 1), v["nonce"], encrypt)
    other_corp = WecomCrypto(KEYS["token"], KEYS["encoding_aes_key"], "wwsomeoneelse")
    with pytest.raises(ReceiveIdError):
        other_corp.decrypt(encrypt)


def test_round_trip_with_chinese_and_every_padding_length() -> None:
    crypto = official()
    for length in range(0, 70):
        text = "请假" * length + "x" * (length % 3)
        assert crypto.decrypt(crypto.encrypt(text)) == text


def test_agrees_with_wechatpy_in_both_directions() -> None:
    ours = official()
    theirs = WeChatCrypto(KEYS["token"], KEYS["encoding_aes_key"], KEYS["receiveid"])
    message = "<xml><Content><![CDATA[你好，我要请假]]></Content></xml>"
    # wechatpy → us
    envelope = theirs.encrypt_message(message, "123456", "1700000000")
    encrypt = encrypt_of(envelope)
    sig = re.search(r"<MsgSignature><!\[CDATA\[(.*?)\]\]>", envelope)
    assert sig
    ours.verify(sig.group(1), "1700000000", "123456", encrypt)
    assert ours.decrypt(encrypt) == message
    # us → wechatpy
    encrypt = ours.encrypt(message)
    body = {"Encrypt": encrypt}
    assert theirs.decrypt_message(body, ours.sign("1700000000", "42", encrypt), "1700000000",
                                  "42") == message


@pytest.mark.parametrize("mangle", [
    lambda e: e[:-4],                                        # not a whole number of blocks
    lambda e: "!!" + e[2:],                                  # not base64
    lambda e: "",                                            # empty
    lambda e: base64.b64encode(b"\x00" * 32).decode(),       # padding byte 0
    lambda e: e[:-24] + "A" * 22 + "==",                     # last block garbled
])
def test_malformed_ciphertexts_raise_crypto_errors(mangle: Any) -> None:
    crypto = official()
    encrypt = mangle(crypto.encrypt("<xml/>"))
    with pytest.raises(CryptoError):
        crypto.decrypt(encrypt)


def test_length_field_beyond_the_plaintext_is_refused() -> None:
    """A correctly padded body whose length field claims more bytes than there are."""
    crypto = official()
    key = base64.b64decode(KEYS["encoding_aes_key"] + "=")
    body = b"r" * 16 + (10_000).to_bytes(4, "big") + b"x" + KEYS["receiveid"].encode()
    pad = 32 - len(body) % 32
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    data = encryptor.update(body + bytes([pad]) * pad) + encryptor.finalize()
    forged = base64.b64encode(data).decode()
    with pytest.raises(CryptoError):
        crypto.decrypt(forged)


def test_a_bad_encoding_aes_key_is_refused_at_start() -> None:
    with pytest.raises(ValueError, match="EncodingAESKey"):
        WecomCrypto("t", "short", "corp")
    with pytest.raises(ValueError, match="43"):
        WecomCrypto("t", "abcd", "corp")
