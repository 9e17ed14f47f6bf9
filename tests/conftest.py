"""Shared fixtures: every test runs with its own config and data folders, never the user's."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.postgres import PostgresServer, PostgresUnavailable, start_server

ENGINES = ("sqlite", "postgresql")
"""The database engines the store and engine suites run on (see ``database_url``)."""

PROVIDER_KEY_VARS = (
    "OPENAI_API_KEY",
    "AIMLAPI_API_KEY",
    "GMI_API_KEY",
    "TUI_CHAT_API_KEY",
    "TUI_CHAT_PROVIDER",
    "TUI_CHAT_MODEL",
    "TUI_CHAT_API_MODE",
    "TUI_CHAT_THEME",
    "TUI_CHAT_DATABASE_URL",
    "TUI_CHAT_DEMO_SPEED",
)


@pytest.fixture(autouse=True, scope="session")
def ctrl_c_reaches_the_commands_tests_start() -> None:
    """Tests press Ctrl+C (SIGINT) in the commands they start. A test run started in the
    background by a shell ignores SIGINT, and every process it starts inherits that, so such a
    command would never hear it: give the run Python's own handler back."""
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(autouse=True, scope="session")
def textual_fixes_as_the_app_installs_them() -> None:
    """The Textual work-arounds the app installs as it starts (none with
    TUI_CHAT_NO_TEXTUAL_FIXES=1), so widgets tested without the app behave as they do in it."""
    from tui import textual_fixes

    textual_fixes.install("core")
    textual_fixes.install("markdown")


@pytest.fixture(autouse=True)
def isolated_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Point config and data at a temporary folder and hide any real API keys."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    monkeypatch.setenv("TUI_CHAT_CONFIG", str(tmp_path / "config.toml"))
    monkeypatch.setenv("TUI_CHAT_DB", str(tmp_path / "history.sqlite3"))
    for name in PROVIDER_KEY_VARS:
        monkeypatch.delenv(name, raising=False)
    yield tmp_path


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A real PostgreSQL server for this test process, started from the machine's server
    binaries and stopped at the end; the tests that need it are skipped, with the reason in the
    summary, where there are none."""
    try:
        server = start_server()
    except PostgresUnavailable as exc:
        pytest.skip(f"PostgreSQL tests need a server: {exc}")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(params=ENGINES)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A new, empty history database on each engine: an SQLite file under ``tmp_path``, and a
    database of its own on the test run's PostgreSQL server."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'data' / 'history.sqlite3'}"
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return server.create_database()
