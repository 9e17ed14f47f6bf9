"""SVG snapshots of whole screens, with a pinned theme and no cursor blink."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from textual.pilot import Pilot
from textual.widgets import Input, TextArea

from tests.ui.settings_host import SettingsHost
from tui.config.settings import ProviderSettings, Secret, Settings

SnapCompare = Callable[..., bool]
SAVED_KEY = "sk-live-SNAPSHOTSECRET0000a1b2"
ENV_KEY = "gmi-SNAPSHOTENVSECRET9999c3d4"


async def steady(pilot: Pilot[None]) -> None:
    """Wait for the screen and stop every cursor from blinking, on the screens under a modal
    too (their cursors show through it)."""
    await pilot.pause()
    for screen in pilot.app.screen_stack:
        for widget in screen.query(Input):
            widget.cursor_blink = False
        for area in screen.query(TextArea):
            area.cursor_blink = False
    await pilot.pause()


class TestSettingsScreen:
    def test_provider_with_a_masked_key(self, snap_compare: SnapCompare) -> None:
        settings = Settings(
            providers={
                "openai": ProviderSettings("openai", api_key=Secret(SAVED_KEY)),
                "mybox": ProviderSettings(
                    "mybox", base_url="http://10.0.0.5:8000/v1", max_tokens_param="max_tokens"
                ),
            }
        )
        app = SettingsHost(settings, env={"GMI_API_KEY": ENV_KEY}, focus_provider="openai")
        assert snap_compare(app, run_before=steady, terminal_size=(110, 36))

    def test_invalid_fields_are_marked(self, snap_compare: SnapCompare) -> None:
        async def type_bad_values(pilot: Pilot[None]) -> None:
            await pilot.click("#--content-tab-tab-defaults")
            await pilot.click("#default-temperature")
            await pilot.press(*"3.5")
            await pilot.press("ctrl+s")
            await steady(pilot)

        app = SettingsHost(Settings(), theme="paper")
        assert snap_compare(app, run_before=type_bad_values, terminal_size=(110, 36))


def test_stored_snapshots_hold_no_key() -> None:
    folder = Path(__file__).parent / "__snapshots__"
    svgs = list(folder.rglob("*.svg"))
    assert svgs
    for svg in svgs:
        text = svg.read_text(encoding="utf-8")
        for secret in (SAVED_KEY, ENV_KEY):
            assert secret[3:-4] not in text, svg.name
