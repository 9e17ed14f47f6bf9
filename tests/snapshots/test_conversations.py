"""SVG snapshots of the conversations screen: the list, search results, the archive, empty.

Times are pinned: conversations are stored at fixed moments and the list dates them against a
fixed "now", in a UTC local zone, so each snapshot is the same on every run.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from textual.pilot import Pilot

import tui.screens.conversations as conversations_module
import tui.store.messages as store_messages
import tui.store.repository as store_repository
from tests.snapshots.test_snapshots import steady
from tests.ui.conftest import wait_for
from tui.app import TuiApp
from tui.screens.conversations import ConversationsScreen
from tui.services.container import Services, open_services
from tui.widgets.conversation_list import ConversationList

SnapCompare = Callable[..., bool]
THEME = "textual-dark"
NOW = datetime(2025, 3, 14, 16, 0, tzinfo=UTC)
CHATS = (  # (prompt, age)
    ("Sourdough starter schedule", timedelta(days=40)),
    ("Why is my Rust borrow checker angry", timedelta(days=3)),
    ("Plan a weekend in Lisbon", timedelta(days=1, hours=2)),
    ("Explain the TCP handshake", timedelta(hours=5)),
    ("Regex for ISO dates", timedelta(minutes=12)),
)


class Clock:
    def __init__(self) -> None:
        self.value = NOW

    def __call__(self) -> datetime:
        return self.value


@pytest.fixture(autouse=True)
def pinned_time(monkeypatch: pytest.MonkeyPatch) -> Iterator[Clock]:
    clock = Clock()
    for module in (store_messages, store_repository):
        monkeypatch.setattr(module, "now_utc", clock)
    monkeypatch.setattr(conversations_module, "now", lambda: NOW)
    zone = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    yield clock
    if zone is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = zone
    time.tzset()


def factory_for(tmp_path: Path) -> Callable[[], object]:
    async def factory() -> Services:
        return await open_services(
            config=str(tmp_path / "config.toml"),
            db=str(tmp_path / "history.sqlite3"),
            env={},
            demo_tokens_per_second=0,
            improve_titles=False,
        )

    return factory


async def seed(tmp_path: Path, clock: Clock, *, pin: str | None, archive: str | None) -> None:
    services = await factory_for(tmp_path)()  # type: ignore[misc]
    try:
        for prompt, age in CHATS:
            clock.value = NOW - age
            async for _event in services.chat.send(None, prompt):
                pass
        for conversation in await services.store.repository.list_conversations():
            if conversation.title == pin:
                await services.store.repository.set_pinned(conversation.id, True)
            if conversation.title == archive:
                await services.store.repository.set_archived(conversation.id, True)
    finally:
        await services.close()


def build(tmp_path: Path) -> TuiApp:
    (tmp_path / "config.toml").write_text("")
    app = TuiApp(factory_for(tmp_path), home=True, theme=THEME)  # type: ignore[arg-type]
    app.animation_level = "none"
    return app


async def listed(pilot: Pilot[None], count: int) -> None:
    app = pilot.app
    await wait_for(
        lambda: (
            isinstance(app.screen, ConversationsScreen)
            and len(app.screen.query_one(ConversationList).rows) == count
        )
    )
    await pilot.app.workers.wait_for_complete()
    await steady(pilot)


SIZES = [(120, 40), (80, 24)]


class TestConversationsScreen:
    @pytest.mark.parametrize("size", SIZES, ids=["120x40", "80x24"])
    def test_the_list_grouped_by_age_with_a_pinned_one(
        self, snap_compare: SnapCompare, tmp_path: Path, pinned_time: Clock, size: tuple[int, int]
    ) -> None:
        import asyncio

        asyncio.run(seed(tmp_path, pinned_time, pin="Sourdough starter schedule", archive=None))

        async def run_before(pilot: Pilot[None]) -> None:
            await listed(pilot, 5)

        assert snap_compare(build(tmp_path), run_before=run_before, terminal_size=size)

    @pytest.mark.parametrize("size", SIZES, ids=["120x40", "80x24"])
    def test_search_results_with_highlighted_snippets(
        self, snap_compare: SnapCompare, tmp_path: Path, pinned_time: Clock, size: tuple[int, int]
    ) -> None:
        import asyncio

        asyncio.run(seed(tmp_path, pinned_time, pin=None, archive=None))

        async def run_before(pilot: Pilot[None]) -> None:
            await listed(pilot, 5)
            await pilot.press("ctrl+o", *"offline demo")
            screen = pilot.app.screen
            await wait_for(lambda: "matches" in str(screen.query_one("#list-info").render()))
            await pilot.app.workers.wait_for_complete()
            await steady(pilot)

        assert snap_compare(build(tmp_path), run_before=run_before, terminal_size=size)

    def test_the_archive_view(
        self, snap_compare: SnapCompare, tmp_path: Path, pinned_time: Clock
    ) -> None:
        import asyncio

        asyncio.run(seed(tmp_path, pinned_time, pin=None, archive="Plan a weekend in Lisbon"))

        async def run_before(pilot: Pilot[None]) -> None:
            await listed(pilot, 4)
            await pilot.press("v")
            await listed(pilot, 1)

        assert snap_compare(build(tmp_path), run_before=run_before, terminal_size=(120, 40))

    @pytest.mark.parametrize("size", SIZES, ids=["120x40", "80x24"])
    def test_the_empty_list(
        self, snap_compare: SnapCompare, tmp_path: Path, size: tuple[int, int]
    ) -> None:
        async def run_before(pilot: Pilot[None]) -> None:
            app = pilot.app
            assert isinstance(app, TuiApp)
            await wait_for(lambda: app.handle.current is not None)
            await wait_for(lambda: not isinstance(app.screen, ConversationsScreen))
            await pilot.press("ctrl+o")
            await wait_for(lambda: isinstance(app.screen, ConversationsScreen))
            await wait_for(lambda: app.screen.query_one("#list-empty").display)
            await app.workers.wait_for_complete()
            await steady(pilot)

        assert snap_compare(build(tmp_path), run_before=run_before, terminal_size=size)
