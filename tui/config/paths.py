"""Where the settings file and the database live (platformdirs), with overrides for tests."""

from __future__ import annotations

import os
from pathlib import Path

APP_NAME = "tui-chat"


def config_file(override: str | os.PathLike[str] | None = None) -> Path:
    """The settings file: ``--config``, else ``TUI_CHAT_CONFIG``, else the platform config dir."""
    if override:
        return Path(override).expanduser()
    env = os.environ.get("TUI_CHAT_CONFIG")
    if env:
        return Path(env).expanduser()
    from platformdirs import user_config_path

    return user_config_path(APP_NAME, appauthor=False) / "config.toml"


def database_file(override: str | os.PathLike[str] | None = None) -> Path:
    """The SQLite file: ``--db``, else ``TUI_CHAT_DB``, else the platform data dir."""
    if override:
        return Path(override).expanduser()
    env = os.environ.get("TUI_CHAT_DB")
    if env:
        return Path(env).expanduser()
    from platformdirs import user_data_path

    return user_data_path(APP_NAME, appauthor=False) / "history.sqlite3"


def history_location(
    db: str | os.PathLike[str] | None, database_url: str | None
) -> tuple[str | None, Path | None]:
    """Where the history is, as ``(url, file)`` with one of the two set: ``--db``'s file if
    given, else ``database_url`` (a server; the setting or ``TUI_CHAT_DATABASE_URL``), else
    ``TUI_CHAT_DB`` or the data folder's file."""
    if db or not database_url:
        return None, database_file(db)
    return database_url, None


def user_themes_dir(config_path: Path) -> Path:
    """User theme files sit in a ``themes`` folder beside the settings file."""
    return config_path.parent / "themes"
