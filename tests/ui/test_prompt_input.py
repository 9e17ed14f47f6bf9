"""PromptInput: Enter sends, Ctrl+J / Shift+Enter / Alt+Enter add a line, it grows to eight."""

from __future__ import annotations

from textual.message import Message

from tests.ui.hosts import BareHost
from tui.widgets.prompt_input import PromptInput


def submitted(seen: list[Message]) -> list[str]:
    unique = {id(m): m for m in seen if isinstance(m, PromptInput.Submitted)}
    return [message.text for message in unique.values()]


async def test_enter_sends_and_keeps_the_text_until_cleared() -> None:
    seen: list[Message] = []
    prompt = PromptInput()
    app = BareHost(prompt)
    async with app.run_test(size=(60, 20), message_hook=seen.append) as pilot:
        prompt.focus()
        await pilot.press(*"hello", "enter")
        await pilot.pause()
        assert submitted(seen) == ["hello"]
        assert prompt.text == "hello"
        prompt.clear()
        assert prompt.text == ""


async def test_blank_text_is_not_sent() -> None:
    seen: list[Message] = []
    prompt = PromptInput()
    app = BareHost(prompt)
    async with app.run_test(size=(60, 20), message_hook=seen.append) as pilot:
        prompt.focus()
        await pilot.press("space", "enter", "ctrl+j", "enter")
        await pilot.pause()
        assert submitted(seen) == []


async def test_newline_keys_add_lines_instead_of_sending() -> None:
    seen: list[Message] = []
    prompt = PromptInput()
    app = BareHost(prompt)
    async with app.run_test(size=(60, 20), message_hook=seen.append) as pilot:
        prompt.focus()
        await pilot.press("a", "ctrl+j", "b", "shift+enter", "c", "alt+enter", "d", "enter")
        await pilot.pause()
        assert prompt.text == "a\nb\nc\nd"
        assert submitted(seen) == ["a\nb\nc\nd"]


async def test_grows_with_its_text_up_to_eight_lines() -> None:
    prompt = PromptInput()
    app = BareHost(prompt)
    async with app.run_test(size=(60, 30)) as pilot:
        prompt.focus()
        await pilot.pause()
        heights = [prompt.outer_size.height]
        for _ in range(12):
            await pilot.press("x", "ctrl+j")
            heights.append(prompt.outer_size.height)
        # One line of text plus the border, then one more row per line, capped at eight lines.
        assert heights[0] == 3
        assert heights[1] == 4
        assert max(heights) == 10
        assert heights[-1] == 10
