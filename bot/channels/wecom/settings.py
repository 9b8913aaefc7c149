"""The [wecom] config section (keys documented in config.example.toml and docs/wecom.md)."""

from __future__ import annotations

from dataclasses import dataclass

WECOM_API = "https://qyapi.weixin.qq.com"
AES_KEY_LENGTH = 43


@dataclass(frozen=True)
class WecomSettings:
    enabled: bool = False
    corp_id: str = ""
    agent_id: int = 0
    secret: str = ""
    token: str = ""
    encoding_aes_key: str = ""
    api_base: str = WECOM_API


def check(settings: WecomSettings) -> list[str]:
    """What an enabled [wecom] section lacks."""
    errors = [f"wecom.{key}: 启用企业微信时必填"
              for key in ("corp_id", "secret", "token", "encoding_aes_key")
              if not getattr(settings, key)]
    if settings.agent_id <= 0:
        errors.append("wecom.agent_id: 启用企业微信时必填（应用的 AgentId）")
    key = settings.encoding_aes_key
    if key and len(key) != AES_KEY_LENGTH:
        errors.append("wecom.encoding_aes_key: 应为 43 个字符"
                      "（企业微信后台“接收消息”中的 EncodingAESKey）")
    return errors
