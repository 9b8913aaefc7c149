"""Configuration: a TOML file, environment overrides, and one message naming every bad key."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import ConfigError, Settings, build_settings, load_settings

EXAMPLE = Path(__file__).parents[2] / "config.example.toml"


def test_built_in_defaults_equal_the_example_file() -> None:
    assert load_settings(str(EXAMPLE), environ={}) == Settings()


def test_defaults_are_the_embedded_ones() -> None:
    settings = Settings()
    assert (settings.server.host, settings.server.port) == ("127.0.0.1", 8080)
    assert settings.database.url.startswith("sqlite://")
    assert settings.directory.file == "demo" and settings.simulator.enabled


def test_environment_overrides_any_key() -> None:
    settings = build_settings({"server": {"port": 9000}},
                              {"CAMPUSBOT_SERVER__PORT": "9100", "CAMPUSBOT_WECOM__SECRET": "s",
                               "CAMPUSBOT_SIMULATOR__ENABLED": "false"})
    assert settings.server.port == 9100
    assert settings.wecom.secret == "s"
    assert settings.simulator.enabled is False


def test_every_bad_key_is_named_at_once() -> None:
    with pytest.raises(ConfigError) as error:
        build_settings({"server": {"port": 0, "colour": "red"}, "database": {"url": "mongo://x"},
                        "wecom": {"enabled": True}, "extra": {}},
                       {"CAMPUSBOT_DIALOG__IDLE_TIMEOUT_MINUTES": "soon"})
    message = str(error.value)
    for key in ("server.port", "server.colour", "database.url", "wecom.corp_id", "wecom.secret",
                "wecom.agent_id", "[extra]", "dialog.idle_timeout_minutes"):
        assert key in message, key


def test_config_toml_is_read_when_present(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "config.toml").write_text("[server]\nport = 8181\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert load_settings(environ={}).server.port == 8181


def test_a_broken_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[server\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"bad\.toml"):
        load_settings(str(path), environ={})
