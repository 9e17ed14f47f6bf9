"""SVG snapshots of the settings screen's MCP servers section, small and large."""

from __future__ import annotations

from collections.abc import Callable

from textual.app import App

from tests.snapshots.test_snapshots import steady
from tui.config.settings import McpServerSettings, Settings
from tui.providers.catalog import ModelCatalog
from tui.screens.settings import SettingsScreen
from tui.themes import load_themes

SnapCompare = Callable[..., bool]
HEADER_SECRET = "Bearer SNAPSHOT-HEADER-SECRET-5678"

SERVERS = Settings(
    mcp_servers={
        "files": McpServerSettings(
            "files",
            command="npx",
            args=("-y", "@modelcontextprotocol/server-filesystem", "/home/me/notes"),
            always_allow=("read_file", "list_directory"),
        ),
        "web": McpServerSettings(
            "web",
            url="https://mcp.example.com/mcp",
            headers={"Authorization": HEADER_SECRET},
            enabled=False,
        ),
        "time": McpServerSettings("time", command="uvx", args=("mcp-server-time",)),
    }
)


class McpSnapshotHost(App[None]):
    """The settings screen opened on its MCP section, with a pinned theme."""

    def __init__(self, settings: Settings) -> None:
        super().__init__()
        self.settings = settings
        self.animation_level = "none"

    def on_mount(self) -> None:
        themes, problems = load_themes(None)
        assert problems == []
        for theme in themes:
            self.register_theme(theme)
        self.theme = "dusk"
        providers = ModelCatalog(self.settings).providers()
        self.push_screen(SettingsScreen(self.settings, providers, tab="mcp"))


class TestMcpSection:
    def test_servers_at_80x24(self, snap_compare: SnapCompare) -> None:
        assert snap_compare(McpSnapshotHost(SERVERS), run_before=steady, terminal_size=(80, 24))

    def test_servers_at_120x40(self, snap_compare: SnapCompare) -> None:
        assert snap_compare(McpSnapshotHost(SERVERS), run_before=steady, terminal_size=(120, 40))

    def test_a_bad_name_in_the_add_form(self, snap_compare: SnapCompare) -> None:
        async def add_bad_name(pilot) -> None:  # type: ignore[no-untyped-def]
            await pilot.click("#new-mcp-name")
            await pilot.press(*"bad!name")
            await pilot.click("#new-mcp-where")
            await pilot.press(*"npx", "enter")
            await steady(pilot)

        assert snap_compare(
            McpSnapshotHost(SERVERS), run_before=add_bad_name, terminal_size=(120, 40)
        )


def test_no_snapshot_holds_a_header_value() -> None:
    from pathlib import Path

    folder = Path(__file__).parent / "__snapshots__" / "test_settings_mcp"
    for svg in folder.glob("*.svg"):
        assert HEADER_SECRET.split()[1] not in svg.read_text(encoding="utf-8"), svg.name
