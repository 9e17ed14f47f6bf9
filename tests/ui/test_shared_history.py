"""The app on a history shared through a PostgreSQL server, as two machines would use it."""

from __future__ import annotations

from pathlib import Path

from tests.support.postgres import PostgresServer
from tests.ui.conftest import wait_for
from tests.ui.hosts import screen_lines
from tui.app import TuiApp
from tui.screens.conversations import ConversationsScreen
from tui.services.container import Services, open_services
from tui.widgets.conversation_list import ConversationList

SIZE = (100, 30)


def app_on(url: str, home: Path) -> TuiApp:
    """The app as started with ``database_url`` in its settings file (no ``--db``)."""
    home.mkdir(parents=True, exist_ok=True)
    config = home / "config.toml"
    config.write_text(f'database_url = "{url}"\n')

    async def factory() -> Services:
        return await open_services(
            config=str(config), env={}, demo_tokens_per_second=0, improve_titles=False
        )

    return TuiApp(factory, home=True)


def titles(app: TuiApp) -> list[str]:
    if not isinstance(app.screen, ConversationsScreen):
        return []
    return [c.title for c in app.screen.query_one(ConversationList).rows.values()]


async def test_a_chat_on_one_machine_shows_in_the_others_list_and_search(
    postgres_server: PostgresServer, tmp_path: Path
) -> None:
    url = postgres_server.create_database()
    laptop = await open_services(
        config=str(tmp_path / "laptop" / "config.toml"),
        env={"TUI_CHAT_DATABASE_URL": url},
        demo_tokens_per_second=0,
        improve_titles=False,
    )
    desktop = app_on(url, tmp_path / "desktop")
    try:
        async for _event in laptop.chat.send(None, "first words from the laptop"):
            pass
        async with desktop.run_test(size=SIZE) as pilot:
            await wait_for(lambda: titles(desktop) == ["first words from the laptop"])
            # Written on the laptop while the desktop's list is open: shown without a restart.
            async for _event in laptop.chat.send(None, "a question about zebras"):
                pass
            await wait_for(lambda: len(titles(desktop)) == 2, timeout=10)
            assert titles(desktop)[0] == "a question about zebras"
            # The server's search finds it, by the start of a word.
            await pilot.press("slash")
            await pilot.press(*"zebr")
            await wait_for(lambda: titles(desktop) == ["a question about zebras"])
            await wait_for(lambda: "1 match for “zebr”" in "\n".join(screen_lines(desktop)))
    finally:
        await laptop.close()
    # Nothing went to a local file: the laptop's settings named no --db.
    assert not (tmp_path / "history.sqlite3").exists()
