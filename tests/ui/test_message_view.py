"""MessageView: header, sibling navigator, reasoning, errors, and the requests it posts."""

from __future__ import annotations

from typing import TypeVar

import pytest
from textual.message import Message as TextualMessage
from textual.widgets import Collapsible, Footer

from tests.ui.hosts import BareHost, Host, footer_entries, make_message, screen_lines, settle
from tui.domain import Message, MessageStatus, Role
from tui.widgets.message_view import MessageHeader, MessageView

ANSWER = """Two ways:

```python
print("first")
```

and

```sh
echo second
```
"""


PostedT = TypeVar("PostedT", bound=TextualMessage)


def posted(seen: list[TextualMessage], kind: type[PostedT]) -> list[PostedT]:
    """Messages of one kind, each once (the hook sees a message at every hop as it bubbles)."""
    unique = {id(message): message for message in seen if isinstance(message, kind)}
    return list(unique.values())


async def test_navigator_is_hidden_without_siblings() -> None:
    view = MessageView(make_message(2, "Hello"))
    app = Host(view)
    async with app.run_test(size=(80, 12)) as pilot:
        await pilot.pause()
        header = app.query_one(MessageHeader)
        assert "demo-model" in str(header.render())
        assert "◀" not in str(header.render())
        assert "in 12 · out 34" in "\n".join(screen_lines(app))


async def test_navigator_shows_position_and_requests_siblings() -> None:
    seen: list[TextualMessage] = []
    view = MessageView(make_message(7, "Hello"), sibling=(2, 3))
    app = Host(view)
    async with app.run_test(size=(80, 12), message_hook=seen.append) as pilot:
        await pilot.pause()
        line = next(line for line in screen_lines(app) if "2/3" in line)
        assert "◀ 2/3 ▶" in line
        await pilot.click(MessageHeader, offset=(line.index("▶") - 1, 0))
        await pilot.click(MessageHeader, offset=(line.index("◀") - 1, 0))
        view.focus()
        await pilot.press("right")
        await pilot.pause()
        requests = posted(seen, MessageView.SiblingRequested)
        assert [(r.message_id, r.direction) for r in requests] == [(7, 1), (7, -1), (7, 1)]


async def test_navigator_does_not_go_past_the_last_sibling() -> None:
    seen: list[TextualMessage] = []
    view = MessageView(make_message(7, "Hello"), sibling=(3, 3))
    app = Host(view)
    async with app.run_test(size=(80, 12), message_hook=seen.append) as pilot:
        view.focus()
        await pilot.press("right", "left")
        await pilot.pause()
        requests = posted(seen, MessageView.SiblingRequested)
        assert [r.direction for r in requests] == [-1]


async def test_reasoning_is_open_while_it_streams_and_collapses_when_the_answer_starts() -> None:
    view = MessageView(make_message(3, "", status=MessageStatus.STREAMING))
    app = Host(view)
    async with app.run_test(size=(80, 20)) as pilot:
        await view.append_reasoning("Thinking about **streams**")
        await settle(pilot)
        collapsible = app.query_one(Collapsible)
        assert not collapsible.collapsed
        assert any("Thinking about streams" in line for line in screen_lines(app))
        await view.append_text("The answer.")
        await pilot.pause()
        assert collapsible.collapsed
        final = make_message(3, "", reasoning="Thinking about **streams**")
        await view.finish(final)
        await pilot.pause()
        assert view.text == "The answer."
        assert view.message.status is MessageStatus.COMPLETE
        assert view.message.content == "The answer."


async def test_stored_reasoning_starts_collapsed() -> None:
    view = MessageView(make_message(3, "Answer", reasoning="Because."))
    app = Host(view)
    async with app.run_test(size=(80, 20)) as pilot:
        await pilot.pause()
        assert app.query_one(Collapsible).collapsed


async def test_copy_posts_the_whole_message_or_the_chosen_code_block() -> None:
    seen: list[TextualMessage] = []
    view = MessageView(make_message(4, ANSWER))
    app = Host(view)
    async with app.run_test(size=(80, 30), message_hook=seen.append) as pilot:
        await pilot.pause()
        view.focus()
        await pilot.press("c", "y", "right_square_bracket", "y", "right_square_bracket", "y")
        await pilot.pause()
        copies = posted(seen, MessageView.CopyRequested)
        assert [(c.text, c.code_block) for c in copies] == [
            (ANSWER, None),
            ('print("first")', 0),
            ("echo second", 1),
            ('print("first")', 0),
        ]
        selected = [fence for fence in view.query(".-selected")]
        assert len(selected) == 1


async def test_clicking_a_code_block_selects_it_for_copying() -> None:
    seen: list[TextualMessage] = []
    view = MessageView(make_message(4, ANSWER))
    app = Host(view)
    async with app.run_test(size=(80, 30), message_hook=seen.append) as pilot:
        await pilot.pause()
        row = next(i for i, line in enumerate(screen_lines(app)) if "echo second" in line)
        await pilot.click(offset=(10, row))
        await pilot.press("y")
        await pilot.pause()
        copies = posted(seen, MessageView.CopyRequested)
        assert [(c.text, c.code_block) for c in copies] == [("echo second", 1)]


async def test_errors_show_their_text_and_what_to_do() -> None:
    failed = make_message(5, "Partial", status=MessageStatus.FAILED, error="Rate limited.")
    view = MessageView(failed)
    app = Host(view)
    async with app.run_test(size=(80, 20)) as pilot:
        await pilot.pause()
        await view.show_error("Rate limited.", "Retry in 20 s.")
        await pilot.pause()
        text = "\n".join(screen_lines(app))
        assert "Rate limited." in text
        assert "Retry in 20 s." in text
        assert "failed" in text


async def test_regenerate_and_edit_requests_follow_the_role() -> None:
    seen: list[TextualMessage] = []
    user = MessageView(make_message(1, "Question?", Role.USER), id="user")
    answer = MessageView(make_message(2, "Answer."), id="answer")
    app = Host(user, answer)
    async with app.run_test(size=(80, 20), message_hook=seen.append) as pilot:
        await pilot.pause()
        user.focus()
        await pilot.press("r", "e")
        answer.focus()
        await pilot.press("r", "e")
        await pilot.pause()
        edits = posted(seen, MessageView.EditRequested)
        regenerations = posted(seen, MessageView.RegenerateRequested)
        assert [(e.message_id, e.text) for e in edits] == [(1, "Question?")]
        assert [r.message_id for r in regenerations] == [2]


@pytest.mark.parametrize(
    ("message", "sibling", "keys"),
    [
        (make_message(2, "Hello."), (1, 1), ["c Copy", "r Retry"]),
        (make_message(2, ANSWER), (2, 3), ["c Copy", "[ ] y Code", "r Retry", "← → Branch"]),
        (make_message(1, "Question?", Role.USER), (1, 2), ["c Copy", "e Edit", "← → Branch"]),
        (make_message(2, "Hal", status=MessageStatus.STREAMING), (1, 1), ["c Copy"]),
    ],
    ids=["answer", "answer-with-code-and-branches", "question-with-branches", "streaming"],
)
async def test_the_footer_offers_only_the_keys_that_apply(
    message: Message, sibling: tuple[int, int], keys: list[str]
) -> None:
    """Code keys with a code block, Retry on a finished answer, Edit on a question of yours,
    branch keys with siblings; the keys of a group share one entry."""
    view = MessageView(message, sibling=sibling)
    app = BareHost(view, Footer())
    async with app.run_test(size=(80, 30)) as pilot:
        view.focus()
        await settle(pilot)
        assert footer_entries(app) == [*keys, "^p palette"]


async def test_the_footer_follows_a_message_that_changes() -> None:
    """A second branch brings the branch keys; the end of a reply brings Retry and code keys."""
    view = MessageView(make_message(2, "", status=MessageStatus.STREAMING))
    app = BareHost(view, Footer())
    async with app.run_test(size=(80, 30)) as pilot:
        view.focus()
        await settle(pilot)
        assert footer_entries(app) == ["c Copy", "^p palette"]
        view.set_sibling(2, 2)
        await settle(pilot)
        assert footer_entries(app) == ["c Copy", "← → Branch", "^p palette"]
        await view.append_text(ANSWER)
        await view.finish(make_message(2, ANSWER))
        await settle(pilot)
        assert footer_entries(app) == [
            "c Copy",
            "[ ] y Code",
            "r Retry",
            "← → Branch",
            "^p palette",
        ]
