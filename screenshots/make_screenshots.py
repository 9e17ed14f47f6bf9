"""Make the README's screenshots: the real app on the offline demo model, saved as SVG.

Each shot starts the app as ``tui-chat`` does, on a fresh settings file and database in a
temporary folder (the user's own are never read), drives it with key presses and writes
``screenshots/<name>.svg``. Nothing leaves the machine.

Run from the repository root:  python screenshots/make_screenshots.py [--only NAME ...]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from textual.pilot import Pilot  # noqa: E402
from textual.widgets import Input, TextArea  # noqa: E402

from tui.app import TuiApp  # noqa: E402
from tui.screens.chat_settings import ChatSettingsScreen  # noqa: E402
from tui.screens.conversation import ConversationScreen  # noqa: E402
from tui.screens.conversations import ConversationsScreen  # noqa: E402
from tui.screens.model_picker import ModelPicker  # noqa: E402
from tui.screens.settings import SettingsScreen  # noqa: E402
from tui.screens.tool_approval import ToolApprovalScreen  # noqa: E402
from tui.services.container import Services, open_services  # noqa: E402
from tui.widgets.chat_log import ChatLog  # noqa: E402
from tui.widgets.conversation_list import ConversationList  # noqa: E402
from tui.widgets.message_view import MessageView  # noqa: E402
from tui.widgets.prompt_input import PromptInput  # noqa: E402
from tui.widgets.tool_block import ToolCallBlock  # noqa: E402

SIZE = (120, 40)
THEME = "textual-dark"
DEMO_SPEED = 150.0
"""The demo model's tokens per second: a plausible pace, so the figures shown look real."""
FAKE_KEY = "sk-proj-ScreenshotKeyNotReal0000000000x7Q2"
"""Saved in the throw-away settings file of the settings shot, to show how keys are masked."""
OUT = ROOT / "screenshots"

Shot = Callable[[Pilot[object]], Awaitable[None]]


async def wait_for(predicate: Callable[[], object], timeout: float = 30.0) -> None:
    """Let the app run until ``predicate()`` is true."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise TimeoutError("the app did not get there in time")
        await asyncio.sleep(0.02)


def conversation(pilot: Pilot[object]) -> ConversationScreen:
    screen = pilot.app.screen
    assert isinstance(screen, ConversationScreen)
    return screen


def views(pilot: Pilot[object]) -> list[MessageView]:
    return pilot.app.screen.query_one(ChatLog).views


async def ready(pilot: Pilot[object]) -> None:
    app = pilot.app
    assert isinstance(app, TuiApp)
    await wait_for(lambda: app.handle.current is not None)
    await app.workers.wait_for_complete()


async def ask(pilot: Pilot[object], text: str, messages: int) -> None:
    """Type ``text`` into the prompt, send it and wait until the reply is complete."""
    pilot.app.screen.query_one(PromptInput).focus()
    await pilot.press(*text)
    await pilot.press("enter")
    await wait_for(lambda: len(views(pilot)) == messages)
    await wait_for(lambda: not conversation(pilot).streaming)
    await pilot.app.workers.wait_for_complete()


async def show_top_of(pilot: Pilot[object], view: MessageView) -> None:
    """Scroll the conversation so ``view`` starts at the top of the screen."""
    log = pilot.app.screen.query_one(ChatLog)
    log.scroll_to_widget(view, top=True, animate=False)
    await pilot.pause()


async def steady(pilot: Pilot[object]) -> None:
    """Stop cursors blinking, so the shot does not catch one half-drawn."""
    await pilot.pause()
    for widget in pilot.app.screen.query(Input):
        widget.cursor_blink = False
    for area in pilot.app.screen.query(TextArea):
        area.cursor_blink = False
    await pilot.pause(0.3)


async def answer_with_code(pilot: Pilot[object]) -> None:
    await ready(pilot)
    await ask(pilot, "Count the most common words in a text with Python", 2)
    await show_top_of(pilot, views(pilot)[0])


async def reasoning(pilot: Pilot[object]) -> None:
    await ready(pilot)
    await ask(pilot, "Design a small SQL schema for a lending library", 2)
    answer = views(pilot)[1]
    collapsible = answer.reasoning_collapsible
    assert collapsible is not None
    await show_top_of(pilot, answer)  # the title must be on screen to be clicked
    await pilot.click(collapsible.query_one("CollapsibleTitle"))
    await wait_for(lambda: not collapsible.collapsed)
    await show_top_of(pilot, answer)


async def branches(pilot: Pilot[object]) -> None:
    """Ask, then press ↑ to edit the question and send it again: a second branch."""
    await ready(pilot)
    await ask(pilot, "Write a shell script that backs up my notes", 2)
    prompt = pilot.app.screen.query_one(PromptInput)
    await pilot.press("up")
    await wait_for(lambda: prompt.text != "")
    prompt.clear()
    await ask(pilot, "Write a TypeScript debounce helper", 2)
    question = views(pilot)[0]
    await wait_for(lambda: question.sibling == (2, 2))
    question.focus()
    await show_top_of(pilot, question)


async def settings(pilot: Pilot[object]) -> None:
    await ready(pilot)
    await pilot.press("ctrl+s")
    await wait_for(lambda: isinstance(pilot.app.screen, SettingsScreen))
    await pilot.pause()


async def picker(pilot: Pilot[object]) -> None:
    """One question answered, then Ctrl+T: every provider's models with their badges."""
    await ready(pilot)
    await ask(pilot, "Explain the TCP three-way handshake", 2)
    await pilot.press("ctrl+t")
    await wait_for(lambda: isinstance(pilot.app.screen, ModelPicker))
    await wait_for(lambda: pilot.app.screen.shown_query == "")  # type: ignore[attr-defined]


async def chat_settings(pilot: Pilot[object]) -> None:
    """Ctrl+G: this conversation's API, effort, verbosity, limits and system prompt."""
    await ready(pilot)
    await ask(pilot, "Explain the TCP three-way handshake", 2)
    await pilot.press("ctrl+g")
    await wait_for(lambda: isinstance(pilot.app.screen, ChatSettingsScreen))


async def tool_approval(pilot: Pilot[object]) -> None:
    """The demo model asks to run the example clock server's tool: the approval question."""
    await ready(pilot)
    pilot.app.screen.query_one(PromptInput).focus()
    await pilot.press(*"What time is it?")
    await pilot.press("enter")
    await wait_for(lambda: isinstance(pilot.app.screen, ToolApprovalScreen))
    await pilot.pause()


async def tools(pilot: Pilot[object]) -> None:
    """Allowed, the call ran: its folded line, opened with Enter, then the answer."""
    await tool_approval(pilot)
    await pilot.press("y")
    await wait_for(lambda: len(views(pilot)) == 2 and not conversation(pilot).streaming)
    await pilot.app.workers.wait_for_complete()
    block = pilot.app.screen.query_one(ToolCallBlock)
    block.focus()
    await pilot.press("enter")
    await wait_for(lambda: block.unfolded)
    await show_top_of(pilot, views(pilot)[0])


QUESTIONS = (
    "Plan a weekend in Lisbon on a budget",
    "Why does my Rust borrow checker complain about this loop?",
    "Explain the TCP three-way handshake",
    "Write a regex that matches ISO 8601 dates",
)


async def chats(pilot: Pilot[object]) -> None:
    """A few conversations, each in a new chat, then the list (Ctrl+O)."""
    await ready(pilot)
    for question in QUESTIONS:
        await pilot.press("ctrl+n")
        await ask(pilot, question, 2)
    await pilot.press("ctrl+o")
    await wait_for(lambda: isinstance(pilot.app.screen, ConversationsScreen))
    listing = pilot.app.screen.query_one(ConversationList)
    await wait_for(lambda: len(listing.rows) == len(QUESTIONS))
    await pilot.app.workers.wait_for_complete()


async def conversation_list(pilot: Pilot[object]) -> None:
    await chats(pilot)
    pilot.app.screen.query_one(ConversationList).focus()


async def search(pilot: Pilot[object]) -> None:
    await chats(pilot)
    await pilot.press(*"example")
    info = pilot.app.screen.query_one("#list-info")
    await wait_for(lambda: "match" in str(info.render()))
    await pilot.app.workers.wait_for_complete()


DEMO = '[defaults]\nprovider = "demo"\nmodel = "demo"\n'
CLOCK_SERVER = (
    f"\n[mcp_servers.clock]\ncommand = {json.dumps(sys.executable)}\n"
    'args = ["-m", "tui.mcp_clock"]\n'
)
"""The example MCP server, as ``tui-chat mcp add clock -- python -m tui.mcp_clock`` adds it."""
SHOTS: dict[str, tuple[str, Shot]] = {
    "conversations": (DEMO, conversation_list),
    "search": (DEMO, search),
    "conversation": (DEMO, answer_with_code),
    "reasoning": ('[defaults]\nprovider = "demo"\nmodel = "demo-pro"\n', reasoning),
    "branches": (DEMO, branches),
    "settings": (DEMO + f'\n[providers.openai]\napi_key = "{FAKE_KEY}"\n', settings),
    "picker": (DEMO + f'\n[providers.openai]\napi_key = "{FAKE_KEY}"\n', picker),
    "chat-settings": (DEMO, chat_settings),
    "tool-approval": (DEMO + CLOCK_SERVER, tool_approval),
    "tools": (DEMO + CLOCK_SERVER, tools),
}


async def take(name: str, config: str, shot: Shot, folder: Path) -> Path:
    """Run the app on ``config`` in ``folder``, play ``shot`` and save the screen as SVG."""
    config_path = folder / "config.toml"
    config_path.write_text(config, encoding="utf-8")

    async def factory() -> Services:
        return await open_services(
            config=str(config_path),
            db=str(folder / "history.sqlite3"),
            env={},
            demo_tokens_per_second=DEMO_SPEED,
            improve_titles=False,
        )

    app = TuiApp(factory, theme=THEME)
    target = OUT / f"{name}.svg"

    async def auto_pilot(pilot: Pilot[object]) -> None:
        await shot(pilot)
        await steady(pilot)
        svg = app.export_screenshot(title="tui-chat")
        if FAKE_KEY[8:-4] in svg:
            raise RuntimeError(f"{name}: the key is shown unmasked")
        target.write_text(svg, encoding="utf-8")
        app.exit()

    await app.run_async(headless=True, size=SIZE, auto_pilot=auto_pilot)
    if not target.is_file():
        raise RuntimeError(f"{name}: no screenshot was written")
    return target


async def main(names: list[str]) -> None:
    for name in names:
        config, shot = SHOTS[name]
        with tempfile.TemporaryDirectory(prefix="tui-chat-shot-") as folder:
            path = await take(name, config, shot, Path(folder))
        print(f"wrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=sorted(SHOTS), help="make only these")
    args = parser.parse_args()
    asyncio.run(main(args.only or list(SHOTS)))
