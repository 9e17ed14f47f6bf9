"""The conversations screen driven with Pilot: what the list shows and what the store keeps."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import tui.screens.conversations as conversations_module
from tests.ui.conftest import AppFactory, wait_for
from tests.ui.hosts import clipped_footer_entries, footer_entries, screen_lines
from tui.app import TuiApp
from tui.screens.conversation import ConversationScreen
from tui.screens.conversations import ConversationsScreen
from tui.services.container import Services, open_services
from tui.store.db import open_store
from tui.widgets.chat_log import ChatLog
from tui.widgets.conversation_list import ConversationList

SIZE = (100, 30)


async def seed(tmp_path: Path, *prompts: str) -> None:
    """Chats on the demo model, stored as ``tui-chat`` would, before the app starts."""
    services = await open_services(
        config=str(tmp_path / "config.toml"),
        db=str(tmp_path / "history.sqlite3"),
        env={},
        demo_tokens_per_second=0,
        improve_titles=False,
    )
    try:
        for prompt in prompts:
            async for _event in services.chat.send(None, prompt):
                pass
    finally:
        await services.close()


def services_of(app: TuiApp) -> Services:
    services = app.handle.current
    assert services is not None
    return services


def home(app: TuiApp) -> ConversationsScreen:
    screen = app.screen
    assert isinstance(screen, ConversationsScreen)
    return screen


def titles(app: TuiApp) -> list[str]:
    return [
        conversation.title for conversation in app.screen.query_one(ConversationList).rows.values()
    ]


async def list_shows(app: TuiApp, count: int) -> None:
    await wait_for(
        lambda: isinstance(app.screen, ConversationsScreen) and len(titles(app)) == count
    )


def current_title(app: TuiApp) -> str | None:
    conversation = app.screen.query_one(ConversationList).current
    return conversation.title if conversation is not None else None


async def test_launch_shows_the_saved_conversations_and_enter_opens_the_newest(
    app_factory: AppFactory, tmp_path: Path
) -> None:
    await seed(tmp_path, "first about python", "second about rust", "third about go")
    app = app_factory(home=True)
    async with app.run_test(size=SIZE) as pilot:
        await list_shows(app, 3)
        assert titles(app) == ["third about go", "second about rust", "first about python"]
        lines = "\n".join(screen_lines(app))
        assert "Today" in lines and "Conversations · 3" in lines
        assert "demo · now · 2 messages" in lines
        assert current_title(app) == "third about go"
        await pilot.press("enter")
        await wait_for(lambda: isinstance(app.screen, ConversationScreen))
        chat = app.screen
        assert isinstance(chat, ConversationScreen)
        await wait_for(lambda: len(chat.query_one(ChatLog).views) == 2)
        assert chat.sub_title == "third about go"


async def test_an_empty_history_goes_straight_to_a_new_chat(app_factory: AppFactory) -> None:
    app = app_factory(home=True)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(lambda: app.handle.current is not None)
        await wait_for(lambda: isinstance(app.screen, ConversationScreen))
        await pilot.pause()
        assert isinstance(app.screen, ConversationScreen)
        assert app.screen.conversation_id is None


async def test_ctrl_o_searches_message_text_and_opens_the_match_marked(
    app_factory: AppFactory, tmp_path: Path
) -> None:
    await seed(tmp_path, "tell me about zebras", "something else")
    app = app_factory(home=True)
    async with app.run_test(size=SIZE) as pilot:
        await list_shows(app, 2)
        await pilot.press("enter")  # open "something else"
        await wait_for(lambda: isinstance(app.screen, ConversationScreen))
        assert isinstance(app.screen, ConversationScreen)
        opened = app.screen.conversation_id
        await pilot.press("ctrl+o")
        await list_shows(app, 2)
        screen = home(app)
        assert screen.search.has_focus and screen.search.value == ""
        assert screen.listing.current is not None and screen.listing.current.id == opened
        # "offline" appears only in the demo's replies, not in any title.
        await pilot.press(*"offline demo")
        await wait_for(lambda: "match" in str(screen.query_one("#list-info").render()))
        assert set(titles(app)) == {"tell me about zebras", "something else"}
        hit = screen.listing.current_hit
        assert hit is not None and hit.message_id is not None
        assert "[offline]" in hit.snippet.lower() or "[demo]" in hit.snippet.lower()
        assert any("offline" in line.lower() for line in screen_lines(app))
        wanted = hit.message_id
        await pilot.press("enter")
        await wait_for(lambda: isinstance(app.screen, ConversationScreen))
        log = app.screen.query_one(ChatLog)
        await wait_for(lambda: any(v.has_class("-found") for v in log.views))
        found = [view for view in log.views if view.has_class("-found")]
        assert [view.message.id for view in found] == [wanted]


async def test_the_found_mark_stays_when_the_message_is_folded_and_shown_again(
    app_factory: AppFactory, tmp_path: Path
) -> None:
    from tui.domain import Role

    store = await open_store(path=tmp_path / "history.sqlite3")
    try:
        repository = store.repository
        conversation = await repository.create_conversation(title="A long one")
        parent = None
        for index in range(80):
            words = "the okapi is shy" if index == 3 else f"line {index} about nothing"
            text = "\n\n".join([words] + [f"paragraph {k} of message {index}" for k in range(4)])
            message = await repository.add_message(
                conversation.id,
                role=Role.USER if index % 2 == 0 else Role.ASSISTANT,
                content=text,
                parent_id=parent,
            )
            parent = message.id
    finally:
        await store.close()
    app = app_factory(home=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await list_shows(app, 1)
        await pilot.press("ctrl+o")
        screen = home(app)
        await pilot.press(*"okapi")
        await wait_for(lambda: screen.listing.current_hit is not None)
        hit = screen.listing.current_hit
        assert hit is not None and hit.message_id is not None
        wanted = hit.message_id
        await pilot.press("enter")
        await wait_for(lambda: isinstance(app.screen, ConversationScreen))
        log = app.screen.query_one(ChatLog)
        await wait_for(
            lambda: (view := log.view_for(wanted)) is not None and view.has_class("-found")
        )
        log.scroll_end(animate=False)  # far away: the message is folded
        await wait_for(lambda: log.view_for(wanted) is None)
        log.scroll_home(animate=False)  # and back: mounted anew, still marked
        await wait_for(lambda: log.view_for(wanted) is not None)
        view = log.view_for(wanted)
        assert view is not None and view.has_class("-found")
        assert [v.message.id for v in log.views if v.has_class("-found")] == [wanted]


async def test_rename_pin_archive_and_restore(app_factory: AppFactory, tmp_path: Path) -> None:
    await seed(tmp_path, "alpha chat", "beta chat")
    app = app_factory(home=True)
    async with app.run_test(size=SIZE) as pilot:
        await list_shows(app, 2)
        repository = services_of(app).store.repository
        screen = home(app)
        screen.listing.focus()
        # Rename the highlighted (newest) one.
        await pilot.press("r")
        await wait_for(lambda: screen.query_one("#rename").display)
        field = screen.query_one("#rename")
        assert field.has_focus
        await pilot.press("ctrl+u", *"Renamed beta", "enter")
        await wait_for(lambda: "Renamed beta" in titles(app))
        stored = await repository.list_conversations()
        assert {c.title for c in stored} == {"Renamed beta", "alpha chat"}
        # Pin the older one: it goes on top, under a Pinned heading.
        await pilot.press("down")
        await wait_for(lambda: current_title(app) == "alpha chat")
        await pilot.press("p")
        await wait_for(lambda: titles(app)[0] == "alpha chat")
        assert "Pinned" in "\n".join(screen_lines(app))
        alpha = next(c for c in await repository.list_conversations() if c.title == "alpha chat")
        assert alpha.pinned
        # Archive it: gone from the list, in the archive view, restored from there.
        await wait_for(lambda: current_title(app) == "alpha chat")
        await pilot.press("a")
        await wait_for(lambda: titles(app) == ["Renamed beta"])
        assert (await repository.get_conversation(alpha.id)).archived  # type: ignore[union-attr]
        await pilot.press("v")
        await wait_for(lambda: titles(app) == ["alpha chat"])
        assert "Archive · 1" in "\n".join(screen_lines(app))
        await pilot.press("a")
        await wait_for(lambda: titles(app) == [])
        assert "The archive is empty" in "\n".join(screen_lines(app))
        assert not (await repository.get_conversation(alpha.id)).archived  # type: ignore[union-attr]
        await pilot.press("v")
        await wait_for(lambda: set(titles(app)) == {"alpha chat", "Renamed beta"})


async def test_delete_can_be_undone_then_is_carried_out(
    app_factory: AppFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(conversations_module, "UNDO_SECONDS", 0.5)
    await seed(tmp_path, "keep me", "delete me")
    app = app_factory(home=True)
    async with app.run_test(size=SIZE) as pilot:
        await list_shows(app, 2)
        repository = services_of(app).store.repository
        home(app).listing.focus()
        assert current_title(app) == "delete me"
        await pilot.press("d")
        await wait_for(lambda: titles(app) == ["keep me"])
        assert "u Undo" in footer_entries(app)
        await pilot.press("u")
        await wait_for(lambda: len(titles(app)) == 2)
        assert len(await repository.list_conversations()) == 2
        await wait_for(lambda: current_title(app) == "delete me")
        await pilot.press("d")
        await wait_for(lambda: titles(app) == ["keep me"])

        # The undo window ends, then the purge runs: wait for both, not for a fixed time.
        services = services_of(app)
        await wait_for(lambda: not services.history.hidden, timeout=10)
        await app.workers.wait_for_complete()
        assert [c.title for c in await repository.list_conversations()] == ["keep me"]


async def test_fork_and_export(app_factory: AppFactory, tmp_path: Path) -> None:
    await seed(tmp_path, "worth keeping")
    app = app_factory(home=True)
    async with app.run_test(size=SIZE) as pilot:
        await list_shows(app, 1)
        repository = services_of(app).store.repository
        home(app).listing.focus()
        await pilot.press("f")
        await wait_for(lambda: len(titles(app)) == 2)
        stored = await repository.list_conversations()
        fork = next(c for c in stored if c.title == "worth keeping (fork)")
        assert fork.message_count == 2
        await wait_for(lambda: current_title(app) == "worth keeping (fork)")
        await pilot.press("e")
        path_field = home(app).query_one("#list-path")
        await wait_for(lambda: path_field.display)
        assert path_field.value.endswith(".md")  # type: ignore[attr-defined]
        target = tmp_path / "out.json"
        path_field.value = str(target)  # type: ignore[attr-defined]
        await pilot.press("enter")
        await wait_for(target.exists)
        document = json.loads(target.read_text(encoding="utf-8"))
        assert document["conversation"]["title"] == "worth keeping (fork)"
        assert len(document["messages"]) == 2


async def test_changes_by_another_copy_show_without_moving_the_selection(
    app_factory: AppFactory, tmp_path: Path
) -> None:
    await seed(tmp_path, "one", "two", "three")
    app = app_factory(home=True)
    async with app.run_test(size=SIZE) as pilot:
        await list_shows(app, 3)
        home(app).listing.focus()
        await pilot.press("down")
        await wait_for(lambda: current_title(app) == "two")
        other = await open_store(path=tmp_path / "history.sqlite3")
        try:
            one = next(c for c in await other.repository.list_conversations() if c.title == "one")
            await other.repository.rename_conversation(one.id, "one, renamed elsewhere")
        finally:
            await other.close()
        await wait_for(lambda: "one, renamed elsewhere" in titles(app), timeout=10)
        assert current_title(app) == "two"


LIST_KEYS = [
    "esc Back",
    "⏎ Open",
    "^n New",
    "/ Search",
    "r Rename",
    "p Pin",
    "a Archive",
    "d Delete",
    "f Fork",
    "e Export",
    "i Import",
    "␣ Select",
    "v Archived",
]


@pytest.mark.parametrize("width", [80, 120, 200])
async def test_the_list_footer_shows_whole_keys_and_the_keys_panel_has_the_rest(
    app_factory: AppFactory, tmp_path: Path, width: int
) -> None:
    await seed(tmp_path, "one")
    app = app_factory(home=True)
    async with app.run_test(size=(width, 24)) as pilot:
        await list_shows(app, 1)
        home(app).listing.focus()
        await wait_for(lambda: "⏎ Open" in footer_entries(app))
        await pilot.pause()
        shown = footer_entries(app)
        assert clipped_footer_entries(app) == []
        listed = [entry for entry in LIST_KEYS if entry in shown]
        if width >= 200:
            assert listed == LIST_KEYS and "? Keys" not in shown
            return
        assert "? Keys" in shown and "⏎ Open" in listed and "esc Back" in listed
        assert len(listed) < len(LIST_KEYS)
        await pilot.press("question_mark")
        await wait_for(lambda: bool(app.screen.query("HelpPanel")))
        panel = app.screen.query_one("HelpPanel")
        await wait_for(lambda: "Archived" in "\n".join(screen_lines(app)))
        lines = "\n".join(screen_lines(app))
        for entry in LIST_KEYS:
            if entry not in listed:
                assert entry.split(" ", 1)[1] in lines, entry
        assert panel.is_attached
        await pilot.press("question_mark")  # and ? again closes it
        await wait_for(lambda: not app.screen.query("HelpPanel"))


async def test_opening_a_conversation_deleted_elsewhere_says_so_and_keeps_the_list(
    app_factory: AppFactory, tmp_path: Path
) -> None:
    await seed(tmp_path, "one", "two")
    app = app_factory(home=True)
    async with app.run_test(size=SIZE) as pilot:
        await list_shows(app, 2)
        assert current_title(app) == "two"
        gone = home(app).listing.current
        assert gone is not None
        other = await open_store(path=tmp_path / "history.sqlite3")
        try:
            await other.repository.delete_conversation(gone.id)
        finally:
            await other.close()
        home(app).listing.focus()
        await pilot.press("enter")
        await wait_for(
            lambda: any("no longer exists" in str(n.message) for n in app._notifications)
        )
        await app.workers.wait_for_complete()
        assert isinstance(app.screen, ConversationsScreen)  # still browsing, nothing half-shown
        await wait_for(lambda: titles(app) == ["one"], timeout=10)
        await pilot.press("enter")
        await wait_for(lambda: isinstance(app.screen, ConversationScreen))
        chat = app.screen
        assert isinstance(chat, ConversationScreen)
        await wait_for(lambda: chat.sub_title == "one" and len(chat.query_one(ChatLog).views) == 2)


CHATGPT_EXPORT = [
    {
        "title": "Old chat from ChatGPT",
        "create_time": 1_600_000_000.0,
        "update_time": 1_600_000_500.0,
        "current_node": "a1",
        "mapping": {
            "root": {"id": "root", "message": None, "parent": None, "children": ["u1"]},
            "u1": {
                "id": "u1",
                "parent": "root",
                "children": ["a1"],
                "message": {
                    "author": {"role": "user"},
                    "content": {"content_type": "text", "parts": ["How do owls sleep?"]},
                    "create_time": 1_600_000_000.0,
                    "metadata": {},
                },
            },
            "a1": {
                "id": "a1",
                "parent": "u1",
                "children": [],
                "message": {
                    "author": {"role": "assistant"},
                    "content": {"content_type": "text", "parts": ["Standing up, mostly."]},
                    "create_time": 1_600_000_500.0,
                    "metadata": {"model_slug": "gpt-4o"},
                },
            },
        },
    }
]


async def test_import_a_chatgpt_export_and_refuse_a_broken_file(
    app_factory: AppFactory, tmp_path: Path
) -> None:
    await seed(tmp_path, "a chat of today")
    good = tmp_path / "conversations.json"
    good.write_text(json.dumps(CHATGPT_EXPORT), encoding="utf-8")
    broken = tmp_path / "broken.json"
    broken.write_text('[{"title": "half', encoding="utf-8")
    app = app_factory(home=True)
    async with app.run_test(size=SIZE) as pilot:
        await list_shows(app, 1)
        repository = services_of(app).store.repository
        screen = home(app)
        screen.listing.focus()
        await pilot.press("i")
        field = screen.query_one("#list-path")
        await wait_for(lambda: field.display)
        field.value = str(broken)  # type: ignore[attr-defined]
        await pilot.press("enter")
        await wait_for(lambda: any("broken.json" in str(n.message) for n in app._notifications))
        assert len(await repository.list_conversations()) == 1
        await pilot.press("i")
        await wait_for(lambda: field.display)
        field.value = str(good)  # type: ignore[attr-defined]
        await pilot.press("enter")
        await list_shows(app, 2)
        # Kept its own dates: it sorts below today's chat, under "Older".
        assert titles(app) == ["a chat of today", "Old chat from ChatGPT"]
        assert "Older" in "\n".join(screen_lines(app))
        imported = next(
            c for c in await repository.list_conversations() if c.title == "Old chat from ChatGPT"
        )
        assert imported.updated_at.timestamp() == 1_600_000_500.0
        assert imported.message_count == 2
        path = await repository.active_path(imported.id)
        assert [m.content for m in path] == ["How do owls sleep?", "Standing up, mostly."]


async def test_the_palette_opens_a_conversation_by_a_fuzzy_title(
    app_factory: AppFactory, tmp_path: Path
) -> None:
    await seed(tmp_path, "kubernetes ingress setup", "sourdough hydration")
    app = app_factory(home=True)
    async with app.run_test(size=SIZE) as pilot:
        await list_shows(app, 2)
        await pilot.press("ctrl+p")
        await pilot.press(*"sourhyd")  # fuzzy: letters of the title in order
        await wait_for(lambda: "sourdough hydration" in "\n".join(screen_lines(app)))
        await pilot.press("enter")
        await wait_for(lambda: isinstance(app.screen, ConversationScreen))
        chat = app.screen
        assert isinstance(chat, ConversationScreen)
        await wait_for(lambda: chat.sub_title == "sourdough hydration")
        await wait_for(lambda: len(chat.query_one(ChatLog).views) == 2)
        assert chat.query_one(ChatLog).views[0].message.content == "sourdough hydration"
