"""Tool calls in the conversation screen: the approval modal, the call blocks in a reply, and
the same reply reopened from the store. The model is the loopback server scripted to call
tools; the tools are a real MCP server (``tests.support.mcp_servers``) over stdio."""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from textual.message import Message as TextualMessage
from textual.pilot import Pilot
from textual.widgets import Button, Static

from tests.support.fixtures import TEST_KEY
from tests.support.script import reply, tool_calls
from tests.support.server import LoopbackServer
from tests.ui.conftest import AppFactory, loopback_config, wait_for
from tests.ui.hosts import Host, footer_entries, make_message, settle
from tui.app import TuiApp
from tui.domain import Citation, MessageStatus, ToolCallRecord, ToolStatus
from tui.screens.conversation import ConversationScreen
from tui.screens.tool_approval import ToolApprovalScreen
from tui.services.tools import DENIED_OUTPUT
from tui.widgets.chat_log import ChatLog
from tui.widgets.message_view import MessageView
from tui.widgets.prompt_input import PromptInput
from tui.widgets.status_bar import StatusBar
from tui.widgets.streaming_markdown import StreamingMarkdown
from tui.widgets.tool_block import ToolCallBlock

SIZE = (100, 36)
LOOP_ENV = {"LOOP_KEY": TEST_KEY}
REPO = Path(__file__).resolve().parents[2]


def tools_config(server: LoopbackServer, extra: str = "") -> str:
    """The loopback model, and the test MCP server as ``[mcp_servers.test]``."""
    return (
        loopback_config(server)
        + "\n[mcp_servers.test]\n"
        + f"command = {json.dumps(sys.executable)}\n"
        + 'args = ["-m", "tests.support.mcp_servers"]\n'
        + f"cwd = {json.dumps(str(REPO))}\n"
        + extra
    )


def tools_app(app_factory: AppFactory, server: LoopbackServer, **options: Any) -> TuiApp:
    return app_factory(config=tools_config(server), env=LOOP_ENV, **options)


def screen_of(app: TuiApp) -> ConversationScreen:
    for screen in app.screen_stack:
        if isinstance(screen, ConversationScreen):
            return screen
    raise AssertionError("no conversation screen")


def views(app: TuiApp) -> list[MessageView]:
    return screen_of(app).query_one(ChatLog).views


def texts(view: MessageView) -> list[str]:
    """The text of each segment of a reply."""
    return [s.text for s in view.segments if isinstance(s, StreamingMarkdown)]


def blocks(app: TuiApp) -> list[ToolCallBlock]:
    return [block for view in views(app) for block in view.tool_blocks]


async def ready(app: TuiApp) -> None:
    await wait_for(lambda: app.handle.current is not None)
    await app.workers.wait_for_complete()


async def send(pilot: Pilot[None], text: str) -> None:
    prompt = pilot.app.screen.query_one(PromptInput)
    prompt.focus()
    prompt.insert(text)
    await pilot.press("enter")


async def asked(app: TuiApp) -> ToolApprovalScreen:
    """Wait for the approval modal and return it."""
    await wait_for(lambda: isinstance(app.screen, ToolApprovalScreen), timeout=20)
    screen = app.screen
    assert isinstance(screen, ToolApprovalScreen)
    await wait_for(lambda: screen.query("#approval-allow") and screen.focused is not None)
    return screen


async def turn_over(app: TuiApp) -> None:
    await wait_for(lambda: not screen_of(app).streaming, timeout=20)
    await app.workers.wait_for_complete()


def modal_text(screen: ToolApprovalScreen) -> str:
    return "\n".join(str(static.render()) for static in screen.query(Static))


def tool_outputs(body: dict[str, Any]) -> list[str]:
    """The ``role: tool`` contents of a Chat Completions request."""
    return [m["content"] for m in body["messages"] if m.get("role") == "tool"]


async def test_allow_once_runs_the_call_and_the_answer_follows(
    app_factory: AppFactory, server: LoopbackServer
) -> None:
    server.enqueue(
        tool_calls(("echo", {"text": "hi there"}), text="Let me check."),
        reply("The tool said hi there."),
    )
    app = tools_app(app_factory, server)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app)
        await send(pilot, "say hi with the tool")
        modal = await asked(app)
        text = modal_text(modal)
        assert "Run a tool?" in text and "call 1 of" not in text
        assert "echo" in text and "test" in text
        assert '"text": "hi there"' in text
        assert "Returns the text unchanged." in text
        assert modal.focused is modal.query_one("#approval-allow", Button)
        status = str(screen_of(app).query_one(StatusBar).render())
        assert "waiting for your answer: run echo?" in status
        await pilot.press("y")
        await turn_over(app)
        answer = views(app)[-1]
        [block] = answer.tool_blocks
        assert block.record.status is ToolStatus.DONE
        assert block.record.output == "hi there"
        summary = block.summary_text
        assert summary.startswith("⚙ echo  test  · done · ")
        assert '{"text": "hi there"}' in summary
        assert not block.unfolded
        first, last = answer.segments
        assert texts(answer) == ["Let me check.", "The tool said hi there."]
        assert answer.text == "Let me check.The tool said hi there." == answer.message.content
        order = list(answer.children)
        assert order.index(first) < order.index(block) < order.index(last)
        assert tool_outputs(server.requests[-1].json) == ["hi there"]
        # The footer follows the turn's end although the modal was in front meanwhile.
        await wait_for(lambda: "esc Stop" not in footer_entries(app))


async def test_deny_tells_the_model_the_user_declined(
    app_factory: AppFactory, server: LoopbackServer
) -> None:
    server.enqueue(tool_calls(("add", {"a": 2, "b": 3})), reply("Fine, no tools."))
    app = tools_app(app_factory, server)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app)
        await send(pilot, "add 2 and 3")
        await asked(app)
        await pilot.press("n")
        await turn_over(app)
        [block] = blocks(app)
        assert block.record.status is ToolStatus.DENIED
        assert "· denied" in block.summary_text
        outputs = tool_outputs(server.requests[-1].json)
        assert outputs == [DENIED_OUTPUT] and "declined" in outputs[0]
        assert texts(views(app)[-1])[-1] == "Fine, no tools."


async def test_escape_in_the_modal_denies_and_the_turn_goes_on(
    app_factory: AppFactory, server: LoopbackServer
) -> None:
    server.enqueue(tool_calls(("clock", {})), reply("No clock then."))
    app = tools_app(app_factory, server)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app)
        await send(pilot, "what time is it")
        await asked(app)
        await pilot.press("escape")
        await turn_over(app)
        [block] = blocks(app)
        assert block.record.status is ToolStatus.DENIED
        assert texts(views(app)[-1])[-1] == "No clock then."  # denied, not stopped


async def test_always_allow_runs_the_next_call_without_asking(
    app_factory: AppFactory, server: LoopbackServer, tmp_path: Path
) -> None:
    server.enqueue(
        tool_calls(("echo", {"text": "one"}), ("echo", {"text": "two"})),
        reply("Both echoed."),
        tool_calls(("echo", {"text": "three"})),
        reply("Echoed again."),
    )
    app = tools_app(app_factory, server)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app)
        await send(pilot, "echo twice")
        modal = await asked(app)
        assert "call 1 of 2" in modal_text(modal)
        await pilot.press("a")
        await turn_over(app)  # the second call of the round ran without a modal
        assert [b.record.status for b in blocks(app)] == [ToolStatus.DONE] * 2
        assert tool_outputs(server.requests[-1].json) == ["one", "two"]
        await send(pilot, "echo once more")
        await turn_over(app)
        assert not isinstance(app.screen, ToolApprovalScreen)
        assert [b.record.output for b in blocks(app)] == ["one", "two", "three"]
        assert 'always_allow = ["echo"]' in (tmp_path / "config.toml").read_text()


async def test_enter_on_a_block_unfolds_its_arguments_and_result(
    app_factory: AppFactory, server: LoopbackServer
) -> None:
    server.enqueue(tool_calls(("add", {"a": 20, "b": 22})), reply("It is 42."))
    app = tools_app(app_factory, server)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app)
        await send(pilot, "add")
        await asked(app)
        await pilot.press("enter")  # the focused button: Allow once
        await turn_over(app)
        [block] = blocks(app)
        details = block.query_one(".tool-details", Static)
        assert not details.display or details.region.height == 0
        block.focus()
        await pilot.press("enter")
        await wait_for(lambda: block.unfolded and details.region.height > 0)
        shown = str(details.render())
        assert '"a": 20,\n  "b": 22' in shown
        assert "result\n42" in shown
        await pilot.press("enter")
        await wait_for(lambda: not block.unfolded and details.region.height == 0)
        await pilot.click(block)
        await wait_for(lambda: block.unfolded)


async def test_a_reopened_conversation_shows_the_blocks_between_the_text(
    app_factory: AppFactory, server: LoopbackServer
) -> None:
    server.enqueue(
        tool_calls(("echo", {"text": "a"}), text="First I echo."),
        tool_calls(("add", {"a": 1, "b": 1}), text=" Then I add."),
        reply(" Done: a and 2."),
    )
    app = tools_app(app_factory, server)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app)
        await send(pilot, "two rounds")
        for _ in range(2):
            await asked(app)
            await pilot.press("y")
        await turn_over(app)
        live = views(app)[-1]
        assert texts(live) == [
            "First I echo.",
            " Then I add.",
            " Done: a and 2.",
        ]
        conversation_id = screen_of(app).conversation_id
    reopened = tools_app(app_factory, server)
    async with reopened.run_test(size=SIZE):
        await ready(reopened)
        await wait_for(lambda: len(views(reopened)) == 2)
        assert screen_of(reopened).conversation_id == conversation_id
        answer = views(reopened)[-1]
        assert texts(answer) == [
            "First I echo.",
            " Then I add.",
            " Done: a and 2.",
        ]
        order = [
            type(child).__name__
            for child in answer.children
            if child.display and type(child).__name__ in ("StreamingMarkdown", "ToolCallBlock")
        ]
        assert order == [
            "StreamingMarkdown",
            "ToolCallBlock",
            "StreamingMarkdown",
            "ToolCallBlock",
            "StreamingMarkdown",
        ]
        assert [(b.record.tool, b.record.status) for b in answer.tool_blocks] == [
            ("echo", ToolStatus.DONE),
            ("add", ToolStatus.DONE),
        ]
        assert answer.text == answer.message.content == "First I echo. Then I add. Done: a and 2."


async def test_hostile_tool_output_is_shown_inert(
    app_factory: AppFactory, server: LoopbackServer
) -> None:
    hostile = "\x1b]0;pwned\x07\x1b[2J\u202eevil"
    server.enqueue(tool_calls(("echo", {"text": hostile})), reply("ok"))
    app = tools_app(app_factory, server)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app)
        await send(pilot, "echo something nasty")
        modal = await asked(app)
        assert "\x1b" not in modal_text(modal)
        await pilot.press("y")
        await turn_over(app)
        [block] = blocks(app)
        assert block.record.output == hostile  # stored as received
        block.focus()
        await pilot.press("enter")
        await wait_for(lambda: block.unfolded)
        drawn = [str(static.render()) for static in block.query(Static)]
        for text in drawn:
            assert "\x1b" not in text and "\x07" not in text and "\u202e" not in text
        assert "␛]0;pwned␇␛[2J<U+202E>evil" in drawn[1]


async def test_markup_in_a_tool_name_is_shown_in_the_notice_never_run(
    app_factory: AppFactory, server: LoopbackServer
) -> None:
    name = "[@click=app.quit]clickme[/]"
    server.enqueue(tool_calls((name, {})), reply("ok"))
    app = tools_app(app_factory, server)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app)
        await send(pilot, "call a strange tool")
        await turn_over(app)
        await wait_for(lambda: any("clickme" in n.message for n in app._notifications))
        (notice,) = [n for n in app._notifications if "clickme" in n.message]
        # Drawn as the text it is: markup off, so the "link" is only words.
        assert not notice.markup and f"Tool {name} failed" in notice.message


async def test_escape_while_a_tool_runs_stops_the_turn(
    app_factory: AppFactory, server: LoopbackServer
) -> None:
    server.enqueue(tool_calls(("slow", {"seconds": 30})), reply("never sent"))
    config = tools_config(server, 'always_allow = ["slow"]\n')
    app = app_factory(config=config, env=LOOP_ENV)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app)
        await send(pilot, "take your time")
        await wait_for(
            lambda: any(b.record.status is ToolStatus.RUNNING for b in blocks(app)), timeout=20
        )
        assert "running…" in blocks(app)[0].summary_text
        assert not isinstance(app.screen, ToolApprovalScreen)
        await pilot.press("escape")
        await turn_over(app)
        [block] = blocks(app)
        assert block.record.status is ToolStatus.CANCELLED
        assert "· cancelled" in block.summary_text
        assert len(server.requests) == 1  # the answer after the tool was never asked for


async def test_a_huge_result_is_cut_when_unfolded(
    app_factory: AppFactory, server: LoopbackServer
) -> None:
    server.enqueue(tool_calls(("big", {"size": 200_000})), reply("That was big."))
    config = tools_config(server, 'always_allow = ["big"]\n')
    app = app_factory(config=config, env=LOOP_ENV)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app)
        await send(pilot, "something big")
        await turn_over(app)
        [block] = blocks(app)
        assert block.record.status is ToolStatus.DONE
        block.focus()
        await pilot.press("enter")
        await wait_for(lambda: block.unfolded)
        shown = str(block.query_one(".tool-details", Static).render())
        assert len(shown) < 5_000
        assert "more characters" in shown


# ---- the message view alone ------------------------------------------------------------------


def record(call_id: str, name: str, offset: int, round_: int = 1, **fields: Any) -> ToolCallRecord:
    return ToolCallRecord(
        call_id,
        name,
        json.dumps({"n": 1}),
        server="test",
        tool=name,
        round=round_,
        offset=offset,
        **fields,
    )


async def test_code_blocks_and_copying_span_every_segment() -> None:
    before = "First:\n\n```python\nprint(1)\n```\n"
    after = "Then:\n\n```sh\necho 2\n```\n"
    message = replace(
        make_message(2, before + after),
        tool_calls=(record("c1", "echo", len(before), status=ToolStatus.DONE, output="1"),),
    )
    seen: list[TextualMessage] = []
    view = MessageView(message)
    app = Host(view)
    async with app.run_test(size=(80, 30), message_hook=seen.append) as pilot:
        await settle(pilot)
        assert texts(view) == [before, after]
        assert view.code_blocks == ["print(1)", "echo 2"]
        assert view.text == message.content
        view.focus()
        await pilot.press("y", "right_square_bracket", "y")
        await pilot.pause()
        copies = {id(m): m for m in seen if isinstance(m, MessageView.CopyRequested)}
        assert [(c.text, c.code_block) for c in copies.values()] == [
            ("print(1)", 0),
            ("echo 2", 1),
        ]
        assert len(view.query(".-selected")) == 1


async def test_streamed_rounds_and_sources() -> None:
    view = MessageView(make_message(2, "", status=MessageStatus.STREAMING))
    app = Host(view)
    async with app.run_test(size=(80, 30)) as pilot:
        await settle(pilot)
        view.append_text("Looking it up.")
        first = record("c1", "search", len("Looking it up."))
        await view.add_tool_calls([first])
        await view.add_tool_calls([first])  # the same round again: no second block
        view.update_tool_call(replace(first, status=ToolStatus.RUNNING))
        assert "running…" in view.tool_blocks[0].summary_text
        await view.append_text(" Found it.")
        await view.add_citation(Citation("https://example.com/a", "Example \x1b[31mA"))
        await view.add_citation(Citation("https://example.com/a", "again"))
        await view.add_citation(Citation("https://example.com/b"))
        done = replace(first, status=ToolStatus.DONE, output="result", duration_ms=1500)
        final = replace(
            view.message,
            content="Looking it up. Found it.",
            status=MessageStatus.COMPLETE,
            tool_calls=(done,),
            citations=(Citation("https://example.com/c", "Third"),),
        )
        await view.finish(final)
        await settle(pilot)
        assert len(view.tool_blocks) == 1
        assert view.tool_blocks[0].summary_text.startswith("⚙ search  test  · done · 1.5 s")
        assert texts(view) == ["Looking it up.", " Found it."]
        assert view.text == "Looking it up. Found it."
        sources = str(view.query_one(".sources", Static).render())
        assert sources == (
            "Sources\n1. Example ␛[31mA  — https://example.com/a\n"
            "2. https://example.com/b\n3. Third  — https://example.com/c"
        )
        order = list(view.children)
        assert order.index(view.segments[-1]) < order.index(view.query_one(".sources"))


async def test_a_turn_stopped_while_asking_closes_the_modal(
    app_factory: AppFactory, server: LoopbackServer
) -> None:
    server.enqueue(tool_calls(("echo", {"text": "x"})), reply("never sent"))
    app = tools_app(app_factory, server)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app)
        await send(pilot, "echo x")
        await asked(app)
        screen_of(app).action_stop()  # e.g. the app closing the turn; Esc here means Deny
        await turn_over(app)
        await wait_for(lambda: isinstance(app.screen, ConversationScreen))
        [block] = blocks(app)
        assert block.record.status is ToolStatus.CANCELLED
        assert len(server.requests) == 1
