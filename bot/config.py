"""Settings: a TOML file, overridable key by key from the environment, validated at start.

    campusbot serve --config PATH      # else ./config.toml if present, else built-in defaults
    CAMPUSBOT_WECOM__SECRET=...         # overrides [wecom] secret

The built-in defaults equal config.example.toml: SQLite, the demo directory, the simulator on.
The sections below are campusbot's own; each channel of the registry (bot/channels) adds its
section ([simulator], [wecom], ...) with its own dataclass and checks, read the same way.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

ENV_PREFIX = "CAMPUSBOT_"


@dataclass(frozen=True)
class ServerSettings:
    host: str = "127.0.0.1"
    port: int = 8080
    timezone: str = "Asia/Shanghai"
    #: false: this server only verifies, stores and acknowledges callbacks, and
    #: `campusbot worker` processes run the turns, the outbox and the periodic jobs
    run_turns: bool = True


@dataclass(frozen=True)
class DatabaseSettings:
    url: str = "sqlite://data/campusbot.sqlite3"

    def parallel_turns(self) -> int:
        """SQLite has one connection: parallel turns would only queue for it. PostgreSQL has a
        pool, and a few turns in parallel overlap their round trips."""
        return 4 if self.url.startswith(("postgres", "asyncpg")) else 1

    def turn_batch(self) -> int:
        """Turns of different users run in one transaction at most (bot/intake.py): one commit
        — on SQLite one disk flush, on PostgreSQL a round trip and a flush — for all of them.
        SQLite: 2.5x the replies a second in one A/B run; PostgreSQL: 1.3x, once its pool
        (storage/db.py) no longer left the callbacks' inserts waiting (docs/benchmarks.md)."""
        return 10


@dataclass(frozen=True)
class DirectorySettings:
    file: str = "demo"
    #: the demo directory beside a real channel (a trial only): refused unless true
    allow_demo: bool = False


@dataclass(frozen=True)
class FlowsSettings:
    path: str = ""
    #: the school's contacts and time limits over the flow files (flows/overrides.py)
    overrides: str = ""


@dataclass(frozen=True)
class DialogSettings:
    idle_timeout_minutes: int = 30
    report_back_hour: int = 17


@dataclass(frozen=True)
class ApprovalSettings:
    #: office hours of a working day: deadlines end at its close, reminders come within it
    work_hours: str = "08:30-17:30"
    #: no reminders in these hours ("" for none)
    quiet_hours: str = "22:00-08:00"
    #: school vacations (寒暑假), not counted as working days: "2027-01-18~2027-02-26, ..."
    vacations: str = ""
    #: for a year the holiday package does not know yet: extra holidays and 调休 working days
    extra_holidays: str = ""
    extra_workdays: str = ""
    urge_interval_minutes: int = 60
    report_back_grace_days: int = 3
    reminder_check_seconds: int = 30


@dataclass(frozen=True)
class OutboxSettings:
    #: attempts for an error not known to pass by itself (an unexpected platform answer);
    #: transient faults (platform busy, timeouts, network) retry until `give_up_after_hours`
    max_attempts: int = 8
    per_user_per_minute: int = 30
    give_up_after_hours: int = 24


@dataclass(frozen=True)
class LogSettings:
    level: str = "INFO"
    #: "text", or "json": one JSON object per line, for a log collector
    format: str = "text"


@dataclass(frozen=True)
class AdminSettings:
    #: user ids of the IT office's administrators, told when a message cannot be delivered
    #: and when the directory cannot give a stage its approver
    users: tuple[str, ...] = ()


@dataclass(frozen=True)
class Settings:
    server: ServerSettings = field(default_factory=ServerSettings)
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    directory: DirectorySettings = field(default_factory=DirectorySettings)
    flows: FlowsSettings = field(default_factory=FlowsSettings)
    dialog: DialogSettings = field(default_factory=DialogSettings)
    approvals: ApprovalSettings = field(default_factory=ApprovalSettings)
    outbox: OutboxSettings = field(default_factory=OutboxSettings)
    log: LogSettings = field(default_factory=LogSettings)
    admin: AdminSettings = field(default_factory=AdminSettings)
    #: the channels' sections, by section name ([simulator], [wecom], ...)
    channels: dict[str, Any] = field(default_factory=lambda: {
        plugin.section: plugin.settings_type() for plugin in _plugins()}, hash=False)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.server.timezone)

    def section(self, name: str) -> Any:
        """A channel's section by name (`settings.section("wecom").secret`)."""
        return self.channels[name]

    def __getattr__(self, name: str) -> Any:
        # `settings.wecom`, `settings.simulator`: a channel's section reads like the others
        channels = self.__dict__.get("channels") or {}
        if name in channels:
            return channels[name]
        raise AttributeError(name)


def _plugins() -> tuple[Any, ...]:
    from bot.channels import plugins

    return plugins()


class ConfigError(ValueError):
    """Invalid configuration; the message names every bad key."""


def _check_port(value: int) -> str | None:
    return None if 1 <= value <= 65535 else "应为 1–65535 的整数"


def _check_url(value: str) -> str | None:
    schemes = ("sqlite://", "postgres://", "postgresql://", "asyncpg://", "mysql://")
    return None if value.startswith(schemes) else "应为数据库 URL，如 sqlite://data/campusbot.sqlite3"


def _check_zone(value: str) -> str | None:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        return "未知的时区，例如 Asia/Shanghai"
    return None


def _check_positive(value: int) -> str | None:
    return None if value > 0 else "应为正整数"


def _check_hour(value: int) -> str | None:
    return None if 0 <= value <= 23 else "应为 0–23 的整点"


def _check_calendar(kind: str, value: str) -> str | None:
    from flows.workdays import CalendarError, parse_days, parse_hours

    try:
        parse_hours(value, "") if kind == "hours" else parse_days(value, "")
    except CalendarError as exc:
        return str(exc).lstrip(": ")
    return None


def _check_level(value: str) -> str | None:
    return None if value.upper() in ("DEBUG", "INFO", "WARNING", "ERROR") else (
        "应为 DEBUG、INFO、WARNING 或 ERROR")


_CHECKS: dict[tuple[str, str], Callable[[Any], str | None]] = {
    ("server", "port"): _check_port,
    ("server", "timezone"): _check_zone,
    ("database", "url"): _check_url,
    ("dialog", "idle_timeout_minutes"): _check_positive,
    ("dialog", "report_back_hour"): _check_hour,
    ("approvals", "work_hours"): lambda v: _check_calendar("hours", v),
    ("approvals", "quiet_hours"): lambda v: _check_calendar("hours", v),
    ("approvals", "vacations"): lambda v: _check_calendar("days", v),
    ("approvals", "extra_holidays"): lambda v: _check_calendar("days", v),
    ("approvals", "extra_workdays"): lambda v: _check_calendar("days", v),
    ("approvals", "urge_interval_minutes"): _check_positive,
    ("approvals", "report_back_grace_days"): _check_positive,
    ("approvals", "reminder_check_seconds"): _check_positive,
    ("outbox", "max_attempts"): _check_positive,
    ("outbox", "per_user_per_minute"): _check_positive,
    ("outbox", "give_up_after_hours"): _check_positive,
    ("log", "level"): _check_level,
    ("log", "format"): lambda v: None if v in ("text", "json") else "应为 text 或 json",
}


def _coerce(value: Any, wanted: type, from_env: bool) -> Any:
    if wanted is tuple:  # a list of texts; from the environment, comma-separated
        if from_env and isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
            return tuple(value)
        raise ValueError("应为文本列表，例如 [\"zhang_t\", \"it_admin\"]")
    if wanted is bool:
        if isinstance(value, bool):
            return value
        if from_env and str(value).lower() in ("1", "true", "yes", "on"):
            return True
        if from_env and str(value).lower() in ("0", "false", "no", "off", ""):
            return False
        raise ValueError("应为 true 或 false")
    if wanted is int:
        if isinstance(value, bool):
            raise ValueError("应为整数")
        if isinstance(value, int):
            return value
        if from_env and str(value).strip().lstrip("-").isdigit():
            return int(value)
        raise ValueError("应为整数")
    if not isinstance(value, str):
        raise ValueError("应为文本")
    return value


def _env_overrides(environ: Mapping[str, str]) -> dict[tuple[str, str], str]:
    overrides = {}
    for name, value in environ.items():
        if name.startswith(ENV_PREFIX) and "__" in name:
            section, _, key = name[len(ENV_PREFIX):].lower().partition("__")
            overrides[(section, key)] = value
    return overrides


def build_settings(document: Mapping[str, Any], environ: Mapping[str, str],
                   source: str = "内置默认配置") -> Settings:
    """Merge file values and environment overrides; raise ConfigError naming every bad key."""
    errors: list[str] = []
    sections: dict[str, Any] = {}
    known: dict[str, Callable[[], Any]] = {
        f.name: f.default_factory for f in fields(Settings)  # type: ignore[misc]
        if f.name != "channels"}
    plugins = {plugin.section: plugin for plugin in _plugins()}
    known.update({section: plugin.settings_type for section, plugin in plugins.items()})
    for section in document:
        if section not in known:
            errors.append(f"[{section}]: 未知的配置段（可用：{', '.join(known)}）")
    overrides = _env_overrides(environ)
    for section, _ in overrides:
        if section not in known:
            errors.append(f"{ENV_PREFIX}{section.upper()}__…: 未知的配置段 {section!r}")
    for section, factory in known.items():
        defaults = factory()
        table = document.get(section, {})
        if not isinstance(table, dict):
            errors.append(f"[{section}]: 应为一个表")
            table = {}
        values: dict[str, Any] = {}
        names = {f.name: f.type for f in fields(defaults)}
        for key in table:
            if key not in names:
                errors.append(f"{section}.{key}: 未知的配置项（可用：{', '.join(names)}）")
        for (env_section, env_key) in overrides:
            if env_section == section and env_key not in names:
                errors.append(f"{ENV_PREFIX}{section.upper()}__{env_key.upper()}: 未知的配置项")
        for key, type_name in names.items():
            type_name = getattr(type_name, "__name__", type_name)  # a class, or its name
            wanted = {"bool": bool, "int": int, "tuple[str, ...]": tuple}.get(str(type_name), str)
            raw, from_env = table.get(key, getattr(defaults, key)), False
            if (section, key) in overrides:
                raw, from_env = overrides[(section, key)], True
            try:
                value = _coerce(raw, wanted, from_env)
            except ValueError as exc:
                errors.append(f"{section}.{key}: {exc}")
                continue
            check = _CHECKS.get((section, key))
            problem = check(value) if check else None
            if problem:
                errors.append(f"{section}.{key}: {problem}")
            values[key] = value
        sections[section] = values
    built: dict[str, Any] = {}
    for section, factory in known.items():
        try:
            built[section] = type(factory())(**sections[section])
        except TypeError:  # a key of this section failed above and is missing
            continue
        plugin = plugins.get(section)
        if plugin is not None and built[section].enabled:
            errors.extend(plugin.check(built[section]))
    if errors:
        raise ConfigError(f"配置有误（{source}）：\n  " + "\n  ".join(errors))
    channels = {section: built.pop(section) for section in plugins}
    return Settings(**built, channels=channels)


def load_settings(path: str | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Read `path`, else ./config.toml if it exists, else the built-in defaults."""
    environ = os.environ if environ is None else environ
    chosen = Path(path) if path else (Path("config.toml") if Path("config.toml").exists() else None)
    if chosen is None:
        return build_settings({}, environ)
    try:
        document = tomllib.loads(chosen.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"无法读取配置文件 {chosen}：{exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"配置文件 {chosen} 语法错误：{exc}") from exc
    return build_settings(document, environ, str(chosen))
