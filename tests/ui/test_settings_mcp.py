"""The MCP servers section of the settings screen, on its own and in the real app with real
MCP servers (the test server over stdio): live states, starting, disabling, adding, removing."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from textual.app import App
from textual.widgets import Input, OptionList

from tests.ui.conftest import AppFactory, wait_for
from tests.ui.hosts import screen_lines
from tests.ui.test_conversation_screen import idle
from tui.app import TuiApp
from tui.config.settings import McpServerSettings, Settings, load_settings
from tui.providers.catalog import ModelCatalog
from tui.screens.conversation import ConversationScreen
from tui.screens.settings import SettingsScreen
from tui.screens.settings_mcp import McpSection, parse_new_server

SIZE = (110, 40)
REPO = Path(__file__).resolve().parents[2]
TOOL_COUNT = 10
"""The tools of ``tests.support.mcp_servers``."""
MISSING = "/nonexistent/bin/mcp-server-nowhere"


def server_table(name: str, *, comment: str = "") -> str:
    """``[mcp_servers.NAME]`` running the test server over stdio."""
    return (
        f"[mcp_servers.{name}]{comment}\n"
        f"command = {json.dumps(sys.executable)}\n"
        'args = ["-m", "tests.support.mcp_servers"]\n'
        f"cwd = {json.dumps(str(REPO))}\n"
    )


USER_FILE = f"""\
# My servers -- edited by hand.

{server_table("tools", comment="  # the test one")}\
always_allow = ["echo"]  # echo is harmless

[mcp_servers.broken]
command = "{MISSING}"  # this one does not exist
"""


class McpHost(App[None]):
    """Opens the settings screen on its MCP section (no hub: states come from the settings)."""

    def __init__(self, settings: Settings) -> None:
        super().__init__()
        self.settings = settings
        self.results: list[Settings | None] = []
        self.animation_level = "none"

    def on_mount(self) -> None:
        providers = ModelCatalog(self.settings).providers()
        self.push_screen(SettingsScreen(self.settings, providers, tab="mcp"), self.results.append)


def config_path(tmp_path: Path) -> Path:
    return tmp_path / "config.toml"  # where ``app_factory`` writes ``config``


def section(app: App[Any]) -> McpSection:
    return app.screen.query_one(McpSection)


async def open_mcp_settings(pilot, app: TuiApp) -> McpSection:  # type: ignore[no-untyped-def]
    """Ctrl+S, then the MCP servers tab, with the focus on the list."""
    await idle(app)
    await pilot.press("ctrl+s")
    await wait_for(lambda: isinstance(app.screen, SettingsScreen))
    await pilot.click("#--content-tab-tab-mcp")
    found = section(app)
    await wait_for(lambda: found.region.width > 0)
    found.query_one("#mcp-list", OptionList).focus()
    await pilot.pause()
    return found


def highlight(found: McpSection, name: str) -> None:
    options = found.query_one("#mcp-list", OptionList)
    options.highlighted = options.get_option_index(name)


def shown(app: App[Any]) -> str:
    """What the terminal shows, row by row."""
    return "\n".join(screen_lines(app))


# ------------------------------------------------------------------------------ on its own


async def test_the_list_shows_each_server_how_it_is_reached_and_its_state() -> None:
    settings = Settings(
        mcp_servers={
            "files": McpServerSettings(
                "files", command="npx", args=("-y", "server-fs", "/srv"), always_allow=("read",)
            ),
            "web": McpServerSettings(
                "web",
                url="https://mcp.example.com/mcp",
                headers={"Authorization": "Bearer SECRET-TOKEN-123"},
                enabled=False,
            ),
        }
    )
    app = McpHost(settings)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        found = section(app)
        text = shown(app)
        assert "files" in text and "web" in text
        assert "stdio: npx -y server-fs /srv" in text
        assert "State: not started" in text
        assert "Always allowed: read" in text
        assert "disabled" in text  # web, in the list
        highlight(found, "web")
        await pilot.pause()
        text = shown(app)
        assert "HTTP: https://mcp.example.com/mcp (headers: Authorization)" in text
        assert "SECRET-TOKEN" not in text
        assert "State: disabled" in text
        assert "Always allowed: none" in text
        assert "Enable" in text


async def test_the_section_fits_small_and_large_terminals() -> None:
    settings = Settings(mcp_servers={"files": McpServerSettings("files", command="npx")})
    for size in ((80, 24), (120, 40)):
        app = McpHost(settings)
        async with app.run_test(size=size) as pilot:
            await pilot.pause()
            text = shown(app)
            for part in ("files", "State: not started", "Disable", "Remove", "Add a server"):
                assert part in text, (size, part)
            assert "Save" in text and "Cancel" in text


async def test_a_server_is_added_removed_and_cleared_on_save() -> None:
    settings = Settings(
        mcp_servers={"files": McpServerSettings("files", command="npx", always_allow=("read",))}
    )
    app = McpHost(settings)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        found = section(app)
        found.query_one("#mcp-list", OptionList).focus()
        await pilot.press("c")
        await pilot.pause()
        assert "Always allowed: none" in shown(app)
        found.query_one("#new-mcp-name", Input).value = "time"
        where = found.query_one("#new-mcp-where", Input)
        where.value = "uvx mcp-server-time --local-timezone 'Europe/Paris'"
        where.focus()
        await pilot.press("enter")
        await pilot.pause()
        assert "new: press Save to add it" in shown(app)
        found.query_one("#new-mcp-name", Input).value = "web"
        found.query_one("#new-mcp-where", Input).value = "https://mcp.example.com/mcp"
        await pilot.click("#add-mcp-button")
        await pilot.pause()
        highlight(found, "time")
        found.query_one("#mcp-list", OptionList).focus()
        await pilot.press("delete")
        await pilot.pause()
        assert "Removed time" in shown(app)
        await pilot.press("ctrl+s")
        await pilot.pause()
    [saved] = app.results
    assert saved is not None
    assert list(saved.mcp_servers) == ["files", "web"]
    assert saved.mcp_servers["files"].always_allow == ()
    assert saved.mcp_servers["web"].url == "https://mcp.example.com/mcp"


def test_the_add_form_is_checked_as_the_settings_file_is() -> None:
    server = parse_new_server(" time ", "uvx mcp-server-time --tz 'Europe/Paris'", [])
    assert server.command == "uvx"
    assert server.args == ("mcp-server-time", "--tz", "Europe/Paris")
    assert parse_new_server("web", "http://127.0.0.1:1/mcp", []).url == "http://127.0.0.1:1/mcp"
    cases = [
        ("", "npx x", "Give the new server a name"),
        ("has space", "npx x", "letters, digits, - and _"),
        ("x" * 33, "npx x", "at most 32"),
        ("files", "npx x", "There is already a server called files."),
        ("ok", "", "Give a command to run"),
        ("ok", "npx 'unclosed", "cannot be read"),
        ("ok", "ftp://example.com/mcp", "must start with http:// or https://"),
    ]
    for name, where, message in cases:
        with pytest.raises(ValueError, match=message):
            parse_new_server(name, where, ["files"])


# ----------------------------------------------------------------------- in the real app


async def test_a_real_server_starts_from_the_section(
    app_factory: AppFactory, tmp_path: Path
) -> None:
    app = app_factory(config=USER_FILE)
    async with app.run_test(size=SIZE) as pilot:
        found = await open_mcp_settings(pilot, app)
        assert found.hub is not None
        assert "State: not started" in shown(app)
        await pilot.press("s")
        await wait_for(lambda: f"State: {TOOL_COUNT} tools" in shown(app), timeout=30)
        text = shown(app)
        assert "Tools: echo, add, clock" in text
        entry = found.query_one("#mcp-list", OptionList).get_option("tools")
        assert f"{TOOL_COUNT} tools" in str(entry.prompt)
        services = app.handle.current
        assert services is not None
        [tools] = [state for state in services.mcp.states() if state.name == "tools"]
        assert tools.status == "ready" and tools.tools == TOOL_COUNT


async def test_a_server_whose_command_does_not_exist_shows_why(
    app_factory: AppFactory, tmp_path: Path
) -> None:
    app = app_factory(config=USER_FILE)
    async with app.run_test(size=SIZE) as pilot:
        found = await open_mcp_settings(pilot, app)
        highlight(found, "broken")
        await pilot.pause()
        await pilot.press("s")
        await wait_for(lambda: "State: failed: command not found" in shown(app), timeout=30)
        assert MISSING in shown(app)
        assert "It did not start." in shown(app)
        # Started again on request (the hub alone would not try a failed server again).
        await pilot.press("s")
        await wait_for(lambda: not found._starting)
        assert "State: failed: command not found" in shown(app)


async def test_disable_writes_enabled_false_and_keeps_the_comments(
    app_factory: AppFactory, tmp_path: Path
) -> None:
    app = app_factory(config=USER_FILE)
    path = config_path(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await open_mcp_settings(pilot, app)
        await pilot.press("e")
        await pilot.pause()
        assert "disabled when you press Save" in shown(app)
        await pilot.press("ctrl+s")
        await wait_for(lambda: isinstance(app.screen, ConversationScreen))
        await wait_for(lambda: "enabled = false" in path.read_text())
        services = app.handle.current
        assert services is not None
        assert [s.status for s in services.mcp.states() if s.name == "tools"] == ["off"]
    text = path.read_text()
    assert text.startswith("# My servers -- edited by hand.\n")
    assert "[mcp_servers.tools]  # the test one\n" in text
    assert 'always_allow = ["echo"]  # echo is harmless\n' in text
    assert f'command = "{MISSING}"  # this one does not exist\n' in text
    settings, problems = load_settings(path)
    assert problems == []
    assert settings.mcp_servers["tools"].enabled is False
    assert settings.mcp_servers["broken"].enabled is True


async def test_add_writes_a_new_table(app_factory: AppFactory, tmp_path: Path) -> None:
    app = app_factory(config=USER_FILE)
    path = config_path(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        found = await open_mcp_settings(pilot, app)
        await pilot.click("#new-mcp-name")
        await pilot.press(*"time")
        found.query_one("#new-mcp-where", Input).value = "uvx mcp-server-time --tz UTC"
        await pilot.click("#add-mcp-button")
        await pilot.pause()
        await pilot.press("ctrl+s")
        await wait_for(lambda: isinstance(app.screen, ConversationScreen))
        await wait_for(lambda: "[mcp_servers.time]" in path.read_text())
    text = path.read_text()
    assert text.startswith(USER_FILE)  # everything before is kept as it was
    assert 'command = "uvx"' in text
    assert 'args = ["mcp-server-time", "--tz", "UTC"]' in text
    settings, problems = load_settings(path)
    assert problems == []
    assert settings.mcp_servers["time"].command == "uvx"


async def test_a_bad_name_is_refused_and_nothing_is_written(
    app_factory: AppFactory, tmp_path: Path
) -> None:
    app = app_factory(config=USER_FILE)
    path = config_path(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        found = await open_mcp_settings(pilot, app)
        name = found.query_one("#new-mcp-name", Input)
        name.value = "my server!"
        where = found.query_one("#new-mcp-where", Input)
        where.value = "npx some-server"
        await pilot.click("#add-mcp-button")
        await pilot.pause()
        assert "A server's name is letters, digits, - and _" in shown(app)
        name.value = "tools"
        await pilot.pause()  # the edit clears the error first
        await pilot.click("#add-mcp-button")
        await pilot.pause()
        assert "There is already a server called tools." in shown(app)
        assert list(found.servers) == ["tools", "broken"]
        # A half-filled new server is not silently dropped on Save.
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, SettingsScreen)
        assert "Press Add to add the new MCP server" in shown(app)
        await pilot.press("escape")
        await wait_for(lambda: isinstance(app.screen, ConversationScreen))
    assert path.read_text() == USER_FILE
