"""SVG snapshots of the model picker (badges, keyless providers dimmed) and the chat settings
panel, at 120x40 and 80x24, on the real app with a temporary database."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import OptionList

from tests.snapshots.test_conversation import (
    SnapCompare,
    build_app,
    finished,
    frozen_time,
    ready,
    send,
)
from tests.snapshots.test_snapshots import steady
from tests.ui.conftest import wait_for
from tui.screens.chat_settings import ChatSettingsScreen
from tui.screens.model_picker import ModelPicker

__all__ = ["frozen_time"]  # the autouse fixture pins the clocks here too

SIZES = [(120, 40), (80, 24)]


async def open_picker(pilot: Pilot[None]) -> ModelPicker:
    await ready(pilot)
    await pilot.press("ctrl+t")
    await wait_for(lambda: isinstance(pilot.app.screen, ModelPicker))
    screen = pilot.app.screen
    assert isinstance(screen, ModelPicker)
    await wait_for(lambda: screen.query_one(OptionList).option_count > 0)
    return screen


class TestModelPicker:
    @pytest.mark.parametrize("size", SIZES, ids=lambda size: f"{size[0]}x{size[1]}")
    def test_every_provider_with_badges(
        self, snap_compare: SnapCompare, tmp_path: Path, size: tuple[int, int]
    ) -> None:
        """No keys: the cloud providers' models are dimmed with "needs a key"."""

        async def run_before(pilot: Pilot[None]) -> None:
            await open_picker(pilot)
            await steady(pilot)

        assert snap_compare(build_app(tmp_path), run_before=run_before, terminal_size=size)

    def test_filtered(self, snap_compare: SnapCompare, tmp_path: Path) -> None:
        """Typing filters across providers; the best match is highlighted, its detail below."""

        async def run_before(pilot: Pilot[None]) -> None:
            screen = await open_picker(pilot)
            await pilot.press(*"5.2 pro")
            await wait_for(lambda: screen.highlighted is not None)
            await steady(pilot)

        assert snap_compare(build_app(tmp_path), run_before=run_before, terminal_size=(120, 40))


class TestChatSettings:
    @pytest.mark.parametrize("size", SIZES, ids=lambda size: f"{size[0]}x{size[1]}")
    def test_the_panel(
        self, snap_compare: SnapCompare, tmp_path: Path, size: tuple[int, int]
    ) -> None:
        """The open conversation's settings, its model's effort levels named."""

        async def run_before(pilot: Pilot[None]) -> None:
            await ready(pilot)
            await send(pilot, "hello")
            await finished(pilot, 2)
            await pilot.press("ctrl+g")
            await wait_for(lambda: isinstance(pilot.app.screen, ChatSettingsScreen))
            await steady(pilot)

        assert snap_compare(build_app(tmp_path), run_before=run_before, terminal_size=size)
