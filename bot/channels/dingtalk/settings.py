"""The [dingtalk] config section (keys documented in config.example.toml and docs/dingtalk.md)."""

from __future__ import annotations

from dataclasses import dataclass

API_BASE = "https://api.dingtalk.com"
OAPI_BASE = "https://oapi.dingtalk.com"
MODES = ("stream", "http")


@dataclass(frozen=True)
class DingtalkSettings:
    enabled: bool = False
    #: the app's AppKey (Client ID) and AppSecret (Client Secret)
    client_id: str = ""
    client_secret: str = ""
    #: the robot's code (for an enterprise-internal app's robot it equals the AppKey)
    robot_code: str = ""
    #: the interactive card template (card builder); empty: markdown with 同意 N / 驳回 N
    card_template_id: str = ""
    api_base: str = API_BASE
    oapi_base: str = OAPI_BASE
    #: "stream": the bot connects out (no public URL); "http": DingTalk posts to /dingtalk/callback
    mode: str = "stream"
    #: a Stream socket silent this long is closed and opened again (DingTalk pings every ~30 s)
    watchdog_seconds: int = 120


def check(settings: DingtalkSettings) -> list[str]:
    """What an enabled [dingtalk] section lacks."""
    errors = [f"dingtalk.{key}: 启用钉钉时必填"
              for key in ("client_id", "client_secret") if not getattr(settings, key)]
    if settings.mode not in MODES:
        errors.append(f"dingtalk.mode: 应为 {' 或 '.join(MODES)}")
    for key in ("api_base", "oapi_base"):
        if not str(getattr(settings, key)).startswith(("http://", "https://")):
            errors.append(f"dingtalk.{key}: 应以 http:// 或 https:// 开头")
    if settings.watchdog_seconds < 1:
        errors.append("dingtalk.watchdog_seconds: 至少 1 秒")
    return errors
