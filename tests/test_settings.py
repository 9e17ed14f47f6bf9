"""Settings: the TOML file, environment overrides, bad files, secrets and file mode."""

from __future__ import annotations

import stat
from pathlib import Path

from tui.config.paths import config_file, database_file
from tui.config.settings import (
    ProviderSettings,
    Secret,
    Settings,
    load_settings,
)
from tui.domain import ApiMode
from tui.services.settings_edit import save_settings_file


def test_missing_file_gives_defaults(tmp_path: Path) -> None:
    settings, problems = load_settings(tmp_path / "nope.toml", env={})
    assert problems == []
    assert settings.defaults.provider is None
    assert settings.defaults.api_mode is ApiMode.AUTO


def test_file_values_and_env_priority(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        '[defaults]\nprovider = "gmi"\nmodel = "openai/gpt-5.2"\napi_mode = "chat"\n'
        'temperature = 0.5\n[providers.gmi]\napi_key_env = "MY_GMI"\n'
        '[providers.box]\nbase_url = "http://127.0.0.1:9/v1/"\nmax_tokens_param = "max_tokens"\n'
        'supports_responses = false\nmodels = ["m1"]\n'
    )
    settings, problems = load_settings(path, env={"TUI_CHAT_MODEL": "openai/gpt-5.2-chat"})
    assert problems == []
    assert settings.defaults.provider == "gmi"
    assert settings.defaults.model == "openai/gpt-5.2-chat"  # env beats the file
    assert settings.defaults.api_mode is ApiMode.CHAT
    assert settings.defaults.temperature == 0.5
    box = settings.providers["box"]
    assert box.base_url == "http://127.0.0.1:9/v1"
    assert box.max_tokens_param == "max_tokens"
    assert box.supports_responses is False
    assert box.models == ("m1",)
    assert settings.providers["gmi"].api_key_env == "MY_GMI"


def test_broken_toml_is_reported_not_fatal(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("[defaults\nmodel = ")
    settings, problems = load_settings(path, env={})
    assert len(problems) == 1
    assert str(path) in problems[0] and "not valid TOML" in problems[0]
    assert settings.defaults == Settings().defaults


def test_bad_values_are_dropped_with_a_problem_each(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        '[defaults]\napi_mode = "fast"\ntemperature = 9\nmax_output_tokens = -3\n'
        'model = "ok"\n[providers.x]\nbase_url = "ftp://nope"\n'
    )
    settings, problems = load_settings(path, env={})
    assert settings.defaults.model == "ok"
    assert settings.defaults.api_mode is ApiMode.AUTO
    assert settings.defaults.temperature is None
    assert settings.defaults.max_output_tokens is None
    assert settings.providers["x"].base_url is None
    joined = "\n".join(problems)
    for word in ("api_mode", "temperature", "max_output_tokens", "base_url"):
        assert word in joined


def test_save_round_trip_is_private(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "config.toml"
    settings = Settings(
        providers={"openai": ProviderSettings(name="openai", api_key=Secret("sk-test-123456789"))}
    )
    save_settings_file(settings, path, previous=Settings())
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    loaded, problems = load_settings(path, env={})
    assert problems == []
    key = loaded.providers["openai"].api_key
    assert key is not None and key.get() == "sk-test-123456789"


def test_secret_never_prints_itself() -> None:
    secret = Secret("sk-abcdefghijklmnop")
    assert "abcdef" not in repr(secret) and "abcdef" not in str(secret)
    assert "abcdef" not in repr(ProviderSettings(name="x", api_key=secret))
    assert secret.masked() == "sk-…mnop"


def test_paths_follow_overrides(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("TUI_CHAT_CONFIG", str(tmp_path / "c.toml"))
    monkeypatch.setenv("TUI_CHAT_DB", str(tmp_path / "d.db"))
    assert config_file() == tmp_path / "c.toml"
    assert database_file() == tmp_path / "d.db"
    assert config_file(tmp_path / "x.toml") == tmp_path / "x.toml"
    monkeypatch.delenv("TUI_CHAT_DB")
    assert database_file().name == "history.sqlite3"


def test_a_bad_base_url_is_not_repeated_back(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[providers.x]\nbase_url = "sk-live-abcdefghijklmnopqrstuvwxyz"\n')
    settings, problems = load_settings(path, env={})
    assert settings.providers["x"].base_url is None
    assert problems and "base_url" in problems[0]
    assert "abcdefghijkl" not in "\n".join(problems)
