"""The conversation screen driven with Pilot: what the screen shows and what the store keeps."""

from __future__ import annotations

import gc
import weakref
from pathlib import Path

from tests.support.fixtures import TEST_KEY
from tests.support.script import http_error
from tests.support.server import LoopbackServer
from tests.support.textual_fixes import all_fixes
from tests.ui.conftest import AppFactory, loopback_config, wait_for
from tests.ui.hosts import footer_entries, screen_lines, settle
from tui.app import TuiApp
from tui.domain import ApiMode, MessageStatus, Role
from tui.screens.conversation import ConversationScreen
from tui.widgets.chat_log import ChatLog
from tui.widgets.message_view import MessageView
from tui.widgets.path_input import PathInput
from tui.widgets.prompt_input import PromptInput
from tui.widgets.status_bar import StatusBar

SIZE = (100, 36)
LOOP_ENV = {"LOOP_KEY": TEST_KEY}


def screen_of(app: TuiApp) -> ConversationScreen:
    screen = app.screen
    assert isinstance(screen, ConversationScreen)
    return screen


def views(app: TuiApp) -> list[MessageView]:
    return app.screen.query_one(ChatLog).views


async def type_and_send(pilot, text: str) -> None:  # type: ignore[no-untyped-def]
    prompt = pilot.app.screen.query_one(PromptInput)
    prompt.focus()
    await pilot.press(*text)
    await pilot.press("enter")


async def send_and_wait(pilot, text: str, shown: int = 2) -> None:  # type: ignore[no-untyped-def]
    """Send ``text`` and wait until the log shows ``shown`` messages and the turn is over."""
    await type_and_send(pilot, text)
    await wait_for(lambda: len(views(pilot.app)) == shown)
    await idle(pilot.app)


async def idle(app: TuiApp) -> None:
    screen = screen_of(app)
    await wait_for(lambda: app.handle.current is not None)
    await wait_for(lambda: not screen.streaming)
    await app.workers.wait_for_complete()


async def stored_path(app: TuiApp) -> list:  # type: ignore[type-arg]
    services = app.handle.current
    assert services is not None
    conversation = await services.store.repository.latest_conversation()
    assert conversation is not None
    return await services.store.repository.active_path(conversation.id)


async def test_send_streams_the_reply_and_stores_the_turn(app_factory: AppFactory) -> None:
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await idle(app)
        await send_and_wait(pilot, "hello there")
        user, answer = views(app)
        assert user.message.role is Role.USER and user.message.content == "hello there"
        assert "hello there" in answer.text and "```" in answer.text
        assert app.screen.query_one(PromptInput).text == ""
        path = await stored_path(app)
        assert [m.status for m in path] == [MessageStatus.COMPLETE] * 2
        assert path[1].content == answer.text
        status = str(app.screen.query_one(StatusBar).render())
        assert "demo" in status and "↓" in status
        assert screen_of(app).sub_title == "hello there"


async def test_escape_stops_the_reply_and_keeps_what_arrived(app_factory: AppFactory) -> None:
    app = app_factory(speed=40)
    async with app.run_test(size=SIZE) as pilot:
        await idle(app)
        await type_and_send(pilot, "/bench 2000")
        await wait_for(lambda: len(views(app)) == 2 and len(views(app)[1].text) > 40)
        await pilot.press("escape")
        await idle(app)
        path = await stored_path(app)
        assert path[-1].status is MessageStatus.CANCELLED
        assert 40 < len(path[-1].content) < 8000
        assert views(app)[-1].text == path[-1].content
        await send_and_wait(pilot, "next", 4)  # the screen is usable again


async def test_sending_while_scrolled_up_shows_the_new_turn(app_factory: AppFactory) -> None:
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await idle(app)
        await send_and_wait(pilot, "/bench 1500")
        log = app.screen.query_one(ChatLog)
        log.scroll_home(animate=False)
        await settle(pilot)
        assert not log.following and log.max_scroll_y > 0
        await send_and_wait(pilot, "and now?", 4)
        await wait_for(lambda: log.scroll_y == log.max_scroll_y)  # (the layouts take a while)
        assert log.following
        question = log.view_for(views(app)[2].message.id)
        assert question is not None and question.message.content == "and now?"
        assert any("and now?" in line for line in screen_lines(app))


async def test_regenerate_adds_a_sibling_and_shows_the_switcher(app_factory: AppFactory) -> None:
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await idle(app)
        await send_and_wait(pilot, "first")
        first_reply = views(app)[1].message.id
        await pilot.press("ctrl+r")
        await wait_for(lambda: len(views(app)) == 2 and views(app)[1].message.id != first_reply)
        await idle(app)
        assert views(app)[1].sibling == (2, 2)
        views(app)[1].focus()
        await pilot.press("left")
        await wait_for(lambda: views(app)[1].message.id == first_reply)
        await app.workers.wait_for_complete()
        assert views(app)[1].sibling == (1, 2)
        switched = views(app)[1]
        assert app.focused is switched  # ← again or → goes on from there
        assert switched.region.overlaps(app.screen.query_one(ChatLog).scrollable_content_region)
        path = await stored_path(app)
        assert path[-1].id == first_reply  # the switch is remembered


async def test_edit_resends_as_a_new_branch(app_factory: AppFactory) -> None:
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await idle(app)
        await send_and_wait(pilot, "one")
        prompt = app.screen.query_one(PromptInput)
        prompt.focus()
        await pilot.press("up")
        assert prompt.text == "one"
        await pilot.press("!")  # the cursor waits at the end of the old text
        assert prompt.text == "one!"
        prompt.load_text("")
        await type_and_send(pilot, "uno")
        await wait_for(lambda: len(views(app)) == 2 and views(app)[0].message.content == "uno")
        await idle(app)
        assert views(app)[0].sibling == (2, 2)
        assert "uno" in views(app)[1].text
        path = await stored_path(app)
        assert [m.content for m in path if m.role is Role.USER] == ["uno"]


async def test_copy_a_message_and_one_code_block(app_factory: AppFactory) -> None:
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await idle(app)
        await send_and_wait(pilot, "show code")
        answer = views(app)[1]
        await pilot.press("ctrl+y")
        await pilot.pause()
        assert app.clipboard == answer.text
        answer.focus()
        await pilot.press("right_square_bracket", "y")
        await pilot.pause()
        assert app.clipboard == answer.code_blocks[0]
        assert app.clipboard and app.clipboard in answer.text
        assert len(app.clipboard) < len(answer.text) and "```" not in app.clipboard


async def test_attach_an_image_to_the_next_message(
    app_factory: AppFactory, server: LoopbackServer, tmp_path: Path
) -> None:
    image = tmp_path / "pic.png"
    image.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x01" * 64)
    app = app_factory(config=loopback_config(server), env=LOOP_ENV)
    async with app.run_test(size=SIZE) as pilot:
        await idle(app)
        await pilot.press("ctrl+f")
        await pilot.press(*str(image))
        await pilot.press("enter")
        await wait_for(lambda: "pic.png" in str(app.screen.query_one("#attachments").render()))
        await pilot.press("ctrl+f", *str(image), "enter")  # a second one, taken back at once
        await wait_for(lambda: len(screen_of(app).attachments) == 2)
        await pilot.press("backspace")
        await wait_for(lambda: [a.name for a in screen_of(app).attachments] == ["pic.png"])
        await send_and_wait(pilot, "what is this")
        parts = server.requests[-1].json["messages"][-1]["content"]
        assert [p["type"] for p in parts] == ["text", "image_url"]
        assert parts[1]["image_url"]["url"].startswith("data:image/png;base64,")
        path = await stored_path(app)
        assert [a.name for a in path[0].attachments] == ["pic.png"]
        shown = str(views(app)[0].query_one(".attachments").render())
        assert "pic.png" in shown  # the sent message says what it carried
        assert not app.screen.query_one("#attachments").display


async def test_a_missing_file_is_refused_with_a_message(
    app_factory: AppFactory, tmp_path: Path
) -> None:
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await idle(app)
        await pilot.press("ctrl+f")
        await pilot.press(*str(tmp_path / "nope.png"), "enter")
        await wait_for(lambda: any("no such file" in n.message for n in app._notifications))
        assert screen_of(app).attachments == []


async def test_a_rate_limit_shows_the_wait_and_keeps_the_question(
    app_factory: AppFactory, server: LoopbackServer
) -> None:
    server.enqueue(
        http_error(
            429, "Rate limit reached", code="rate_limit_exceeded", headers=(("retry-after", "300"),)
        )
    )
    app = app_factory(config=loopback_config(server), env=LOOP_ENV)
    async with app.run_test(size=SIZE) as pilot:
        await idle(app)
        await send_and_wait(pilot, "are you there")
        answer = views(app)[1]
        assert answer.message.status is MessageStatus.FAILED
        assert "300 s" in (answer.message.error or "")
        assert views(app)[0].message.content == "are you there"
        assert len(server.requests) == 1  # a wait over 120 s is not retried


async def test_a_responses_only_model_switches_the_conversation(
    app_factory: AppFactory, server: LoopbackServer
) -> None:
    server.enqueue(
        http_error(
            404,
            "This model is only supported in v1/responses and not in v1/chat/completions.",
            param="model",
        )
    )
    app = app_factory(config=loopback_config(server, api="chat"), env=LOOP_ENV)
    async with app.run_test(size=SIZE) as pilot:
        await idle(app)
        await send_and_wait(pilot, "hi pro")
        services = app.handle.current
        assert services is not None
        conversation = await services.store.repository.latest_conversation()
        assert conversation is not None and conversation.api_mode is ApiMode.RESPONSES
        await pilot.press("ctrl+r")
        await wait_for(
            lambda: len(views(app)) == 2 and views(app)[1].message.status is MessageStatus.COMPLETE
        )
        await idle(app)
        assert server.requests[-1].path.endswith("/responses")


async def test_an_unusable_provider_keeps_the_prompt(app_factory: AppFactory) -> None:
    app = app_factory(config='[defaults]\nprovider = "nowhere"\n')
    async with app.run_test(size=SIZE) as pilot:
        await idle(app)
        await type_and_send(pilot, "keep me")
        await idle(app)
        assert app.screen.query_one(PromptInput).text == "keep me"
        assert views(app) == []
        assert any("nowhere" in n.message for n in app._notifications)


async def test_reasoning_shows_live_then_collapses(app_factory: AppFactory) -> None:
    config = '[defaults]\nprovider = "demo"\nmodel = "demo-pro"\n'
    app = app_factory(config=config)
    async with app.run_test(size=SIZE) as pilot:
        await idle(app)
        await send_and_wait(pilot, "think first")
        answer = views(app)[1]
        collapsible = answer.reasoning_collapsible
        assert collapsible is not None and collapsible.collapsed
        assert answer.message.reasoning or (await stored_path(app))[1].reasoning


async def test_the_thread_is_there_after_a_restart(app_factory: AppFactory, tmp_path: Path) -> None:
    db = tmp_path / "kept.sqlite3"
    app = app_factory(db=db)
    async with app.run_test(size=SIZE) as pilot:
        await idle(app)
        await send_and_wait(pilot, "remember me")
        before = [view.text for view in views(app)]
    again = app_factory(db=db)
    async with again.run_test(size=SIZE) as pilot:
        await idle(again)
        await wait_for(lambda: len(views(again)) == 2)
        assert [view.text for view in views(again)] == before
        assert screen_of(again).sub_title == "remember me"
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert views(again) == []


async def test_no_key_opens_on_the_demo_and_says_how_to_add_one(app_factory: AppFactory) -> None:
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await idle(app)
        await pilot.pause()
        empty = app.screen.query_one("#empty-state")
        shown = str(app.screen.query_one("#empty-text").render())
        assert empty.display and "offline demo" in shown and "OPENAI_API_KEY" in shown
        assert "Ctrl+S" in shown
        assert not any("demo" in n.message.lower() for n in app._notifications)  # no pop-up
        await send_and_wait(pilot, "hi")
        assert not empty.display


async def test_with_a_key_the_empty_chat_only_says_how_to_start(
    app_factory: AppFactory, server: LoopbackServer
) -> None:
    app = app_factory(config=loopback_config(server), env=LOOP_ENV)
    async with app.run_test(size=SIZE) as pilot:
        await idle(app)
        await pilot.pause()
        shown = str(app.screen.query_one("#empty-text").render())
        assert "Enter" in shown and "offline demo" not in shown


async def test_a_missing_key_opens_settings_on_that_provider(
    app_factory: AppFactory, server: LoopbackServer
) -> None:
    from tui.screens.settings import SettingsScreen

    app = app_factory(config=loopback_config(server), env={})  # LOOP_KEY is not set
    async with app.run_test(size=SIZE) as pilot:
        await idle(app)
        await type_and_send(pilot, "hello?")
        await wait_for(lambda: isinstance(app.screen, SettingsScreen))
        settings_screen = app.screen
        assert isinstance(settings_screen, SettingsScreen)
        from tui.screens.settings_providers import ProviderForm

        focused = app.focused
        assert focused is not None and focused.has_class("key-input")
        form = next(a for a in focused.ancestors if isinstance(a, ProviderForm))
        assert form.config.name == "loop"
        assert server.requests == []  # nothing was sent without a key
        await pilot.press("escape")
        await wait_for(lambda: isinstance(app.screen, ConversationScreen))
        user, answer = views(app)
        assert user.message.content == "hello?"
        assert answer.message.status is MessageStatus.FAILED
        assert "LOOP_KEY" in (answer.message.error or "")


async def test_stop_and_regenerate_show_only_when_they_apply(app_factory: AppFactory) -> None:
    app = app_factory(speed=40)
    async with app.run_test(size=SIZE) as pilot:
        await idle(app)
        screen = screen_of(app)
        assert screen.check_action("stop", ()) is False
        assert screen.check_action("regenerate", ()) is False
        await type_and_send(pilot, "/bench 500")
        await wait_for(lambda: screen.streaming)
        assert screen.check_action("stop", ()) is True
        assert screen.check_action("cancel", ()) is False
        await pilot.press("escape")
        await idle(app)
        assert screen.check_action("stop", ()) is False
        assert screen.check_action("regenerate", ()) is True


async def test_escape_says_stop_for_a_reply_and_cancel_for_an_edit(app_factory: AppFactory) -> None:
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await idle(app)
        await send_and_wait(pilot, "one")
        screen = screen_of(app)
        await pilot.press("up")  # edit the last message
        assert screen.editing is not None
        await settle(pilot)
        assert "esc Cancel" in footer_entries(app) and "esc Stop" not in footer_entries(app)
        await pilot.press("escape")
        assert screen.editing is None
        assert app.screen.query_one(PromptInput).text == ""
        await pilot.press("ctrl+f")
        await settle(pilot)
        assert "esc Cancel" in footer_entries(app)
        await pilot.press("escape")
        assert not app.screen.query_one(PathInput).display
        await settle(pilot)
        assert not any(entry.startswith("esc") for entry in footer_entries(app))


async def test_page_up_scrolls_the_conversation_while_typing(app_factory: AppFactory) -> None:
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await idle(app)
        await send_and_wait(pilot, "/bench 1500")
        log = app.screen.query_one(ChatLog)
        await pilot.pause()
        bottom = log.scroll_y
        assert bottom > 0
        await pilot.press("pageup")
        await pilot.pause()
        assert log.scroll_y < bottom
        assert isinstance(app.focused, PromptInput)


async def test_a_slow_server_never_holds_back_the_message_just_sent(
    app_factory: AppFactory, server: LoopbackServer
) -> None:
    from textual.widgets._footer import FooterKey

    from tests.support.script import Behaviour

    # The server takes the request and then says nothing: the reply never starts.
    server.enqueue(Behaviour(fault="stall", fault_after=0, stall_seconds=20))
    app = app_factory(config=loopback_config(server), env=LOOP_ENV)
    async with app.run_test(size=SIZE) as pilot:
        await idle(app)
        screen = screen_of(app)

        def footer_keys() -> list[str]:
            return [key.description for key in app.screen.query(FooterKey)]

        assert "Stop" not in footer_keys()
        await type_and_send(pilot, "still there?")
        await wait_for(lambda: len(server.requests) == 1)
        # Shown at once, though the reply has not started: the message, the reply's view
        # waiting for its first words, and how to stop.
        await wait_for(lambda: len(views(app)) == 2, timeout=1.0)
        sent, awaited = views(app)
        assert sent.message.content == "still there?"
        assert (awaited.message.role, awaited.message.content) == (Role.ASSISTANT, "")
        await wait_for(lambda: "Stop" in footer_keys(), timeout=1.0)
        assert screen.streaming
        assert app.screen.query_one(PromptInput).text == ""
        await pilot.press("escape")
        await idle(app)
        assert "Stop" not in footer_keys()
        # No reply was stored: its view goes, the message sent stays.
        assert [view.message.content for view in views(app)] == ["still there?"]
        path = await stored_path(app)
        assert [message.content for message in path][:1] == ["still there?"]


async def test_text_and_enter_arriving_in_one_read_are_sent(app_factory: AppFactory) -> None:
    """A terminal delivers fast typing (or a pasted line with its Enter) as one read: the
    Enter must see the text typed before it."""
    from textual import events

    app = app_factory()
    async with app.run_test(size=SIZE):
        await idle(app)
        app.screen.query_one(PromptInput).focus()
        for char in "quick":
            app.post_message(events.Key(char, char))
        app.post_message(events.Key("enter", "\r"))
        await wait_for(lambda: len(views(app)) == 2)
        await idle(app)
        assert views(app)[0].message.content == "quick"
        assert app.screen.query_one(PromptInput).text == ""


async def test_a_key_withheld_from_another_host_is_said_as_such(
    app_factory: AppFactory, server: LoopbackServer
) -> None:
    """OPENAI_API_KEY is set, but the openai provider points at another server: the key is not
    sent there, and the error says so instead of asking to set OPENAI_API_KEY."""
    config = (
        '[defaults]\nprovider = "openai"\nmodel = "gpt-5.2"\n'
        f'[providers.openai]\nbase_url = "{server.base_url}"\n'
    )
    app = app_factory(config=config, env={"OPENAI_API_KEY": TEST_KEY}, new_chat=True)
    async with app.run_test(size=SIZE) as pilot:
        await idle(app)
        await type_and_send(pilot, "hello")
        log = app.conversation_screen.query_one(ChatLog)  # the settings open over it
        await wait_for(lambda: len(log.views) == 2 and log.views[1].error_text != "")
        shown = log.views[1].error_text
        assert "OPENAI_API_KEY is only sent to its own provider" in shown
        assert "Set the key in Settings (Ctrl+S) or the OPENAI_API_KEY" not in shown
        assert TEST_KEY not in shown
        assert server.requests == []  # the key never went to the other host


async def test_a_conversation_left_for_a_new_chat_is_freed(app_factory: AppFactory) -> None:
    """With the app's Textual work-arounds (without them Textual frees it later), nothing the
    log kept holds the old conversation's widgets."""
    app = app_factory()
    with all_fixes(on=True):
        await _leave_for_a_new_chat(app)


async def _leave_for_a_new_chat(app: TuiApp) -> None:
    async with app.run_test(size=(60, 14)) as pilot:  # small: the reply overflows the log
        await idle(app)
        await send_and_wait(pilot, "hello there")
        log = app.screen.query_one(ChatLog)
        assert log.max_scroll_y > 0
        drawn = [
            weakref.ref(node) for view in views(app) for node in view.walk_children(with_self=True)
        ]
        await pilot.press("ctrl+n")
        await wait_for(lambda: views(app) == [] and "New chat" in "\n".join(screen_lines(app)))
        await settle(pilot)
        gc.collect()
        assert len(drawn) > 10
        assert [node for ref in drawn if (node := ref()) is not None] == []
