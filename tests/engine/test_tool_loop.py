"""The tool loop end to end: the loopback model calls tools, a real MCP server (stdio) runs
them, the user approves, and the results go back on each API; the tree stores it all."""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.engine.conftest import Turn, collect, write_config
from tests.support import recordings
from tests.support.fixtures import TEST_KEY
from tests.support.mcp_servers import FIXED_CLOCK, serve_http
from tests.support.script import raw, reply, tool_calls
from tests.support.server import LoopbackServer
from tui.domain import ApiMode, MessageStatus, Role, ToolStatus, WebSearch
from tui.services.container import Services, open_services
from tui.services.export import export_json, import_json, render_markdown
from tui.services.tools import DENIED_OUTPUT, NO_APPROVER_OUTPUT, ApprovalRequest, Decision
from tui.services.turns import ToolCallChanged, ToolCallsAsked, ToolNotice, TurnOptions

ROOT = Path(__file__).resolve().parents[2]


def mcp_table(name: str = "test", *, extra: str = "") -> str:
    return (
        f"\n[mcp_servers.{name}]\ncommand = {json.dumps(sys.executable)}\n"
        f'args = ["-m", "tests.support.mcp_servers"]\ncwd = {json.dumps(str(ROOT))}\n{extra}'
    )


async def open_with_tools(tmp_path: Path, loopback: LoopbackServer, extra: str = "") -> Services:
    config = write_config(tmp_path / "config.toml", loopback.base_url, extra=extra + mcp_table())
    return await open_services(
        config=str(config),
        db=str(tmp_path / "history.sqlite3"),
        env={"LOOP_KEY": TEST_KEY},
        improve_titles=False,
    )


@pytest.fixture
async def tooled(tmp_path: Path, loopback: LoopbackServer) -> AsyncIterator[Services]:
    services = await open_with_tools(tmp_path, loopback)
    yield services
    await services.close()


class Approvals:
    """A scripted user: answers each approval in turn (the last answer repeats)."""

    def __init__(self, *answers: Decision) -> None:
        self.answers = list(answers) or [Decision.ALLOW]
        self.asked: list[ApprovalRequest] = []

    async def __call__(self, request: ApprovalRequest) -> Decision:
        self.asked.append(request)
        index = min(len(self.asked), len(self.answers)) - 1
        return self.answers[index]


async def ask(
    services: Services,
    text: str,
    conversation_id: int | None = None,
    approve: Any = None,
    **options: Any,
) -> Turn:
    """One turn, on Chat Completions unless ``api_mode`` says otherwise."""
    options.setdefault("api_mode", ApiMode.CHAT)
    return await collect(
        services.chat.send(conversation_id, text, options=TurnOptions(approve=approve, **options))
    )


def tool_names(body: dict[str, Any]) -> list[str]:
    names = []
    for tool in body.get("tools", []):
        names.append(tool["function"]["name"] if "function" in tool else tool.get("name"))
    return names


# ---------------------------------------------------------------- Chat Completions


async def test_chat_one_call_runs_and_the_result_goes_back_as_a_tool_message(
    tooled: Services, loopback: LoopbackServer
) -> None:
    loopback.enqueue(tool_calls(("echo", {"text": "hello tools"})), reply("It said hello."))
    approvals = Approvals(Decision.ALLOW)
    turn = await ask(tooled, "say hello with a tool", approve=approvals)

    first, second = (r.json for r in loopback.requests)
    assert {"echo", "add", "clock"} <= set(tool_names(first))
    echo = next(t for t in first["tools"] if t["function"]["name"] == "echo")
    assert echo["type"] == "function" and echo["function"]["parameters"]["required"] == ["text"]
    assistant, tool = second["messages"][-2:]
    assert assistant["role"] == "assistant" and assistant["tool_calls"][0]["id"] == "call_1"
    assert assistant["tool_calls"][0]["function"] == {
        "name": "echo",
        "arguments": '{"text": "hello tools"}',
    }
    assert tool == {"role": "tool", "tool_call_id": "call_1", "content": "hello tools"}

    assert [a.record.name for a in approvals.asked] == ["echo"]
    asked = next(e for e in turn.events if isinstance(e, ToolCallsAsked))
    assert asked.calls[0].status is ToolStatus.WAITING
    statuses = [e.call.status for e in turn.events if isinstance(e, ToolCallChanged)]
    assert statuses == [ToolStatus.RUNNING, ToolStatus.DONE]

    stored = await tooled.store.repository.get_message(turn.reply.id)
    assert stored is not None and stored.status is MessageStatus.COMPLETE
    assert stored.content == "It said hello."
    (record,) = stored.tool_calls
    assert (record.server, record.tool, record.status) == ("test", "echo", ToolStatus.DONE)
    assert record.output == "hello tools" and record.duration_ms is not None
    assert record.round == 1 and record.offset == 0


async def test_parallel_calls_are_asked_in_order_and_all_results_go_back(
    tooled: Services, loopback: LoopbackServer
) -> None:
    loopback.enqueue(
        tool_calls(("echo", {"text": "one"}), ("add", {"a": 2, "b": 3}), ("clock", {})),
        reply("Done."),
    )
    approvals = Approvals(Decision.ALLOW)
    turn = await ask(tooled, "use all three", approve=approvals)
    assert [(a.record.name, a.position, a.count) for a in approvals.asked] == [
        ("echo", 1, 3),
        ("add", 2, 3),
        ("clock", 3, 3),
    ]
    tools = [m for m in loopback.requests[1].json["messages"] if m["role"] == "tool"]
    assert [(m["tool_call_id"], m["content"]) for m in tools] == [
        ("call_1", "one"),
        ("call_2", "5"),
        ("call_3", FIXED_CLOCK),
    ]
    assert [r.status for r in turn.reply.tool_calls] == [ToolStatus.DONE] * 3


async def test_two_rounds_then_an_answer_and_the_next_turn_resends_them_all(
    tooled: Services, loopback: LoopbackServer
) -> None:
    loopback.enqueue(
        tool_calls(("clock", {}), text="Let me look. "),
        tool_calls(("c2", "echo", {"text": "again"})),
        reply("Both done."),
    )
    turn = await ask(tooled, "twice", approve=Approvals(Decision.ALLOW))
    reply_message = turn.reply
    assert reply_message.content == "Let me look. Both done."
    assert [(r.name, r.round, r.offset) for r in reply_message.tool_calls] == [
        ("clock", 1, len("Let me look. ")),
        ("echo", 2, len("Let me look. ")),
    ]
    third = loopback.requests[2].json["messages"]
    assert [m["role"] for m in third[-4:]] == ["assistant", "tool", "assistant", "tool"]
    assert third[-4]["content"] == "Let me look. " and third[-2]["content"] is None

    loopback.enqueue(reply("Fine."))
    await ask(tooled, "thanks", reply_message.conversation_id)
    history = loopback.requests[3].json["messages"]
    roles = [m["role"] for m in history]
    assert roles == ["user", "assistant", "tool", "assistant", "tool", "assistant", "user"]
    assert history[5] == {"role": "assistant", "content": "Both done."}


async def test_a_denied_call_tells_the_model_the_user_declined(
    tooled: Services, loopback: LoopbackServer
) -> None:
    loopback.enqueue(tool_calls(("echo", {"text": "secret"})), reply("Understood."))
    turn = await ask(tooled, "try it", approve=Approvals(Decision.DENY))
    tool = loopback.requests[1].json["messages"][-1]
    assert tool == {"role": "tool", "tool_call_id": "call_1", "content": DENIED_OUTPUT}
    (record,) = turn.reply.tool_calls
    assert record.status is ToolStatus.DENIED and record.duration_ms is None


async def test_without_anyone_to_approve_calls_are_denied(
    tooled: Services, loopback: LoopbackServer
) -> None:
    loopback.enqueue(tool_calls(("echo", {"text": "x"})), reply("ok"))
    turn = await ask(tooled, "go")
    assert loopback.requests[1].json["messages"][-1]["content"] == NO_APPROVER_OUTPUT
    assert turn.reply.tool_calls[0].status is ToolStatus.DENIED


async def test_always_allow_is_remembered_in_the_settings_file(
    tmp_path: Path, loopback: LoopbackServer
) -> None:
    services = await open_with_tools(tmp_path, loopback)
    try:
        loopback.enqueue(tool_calls(("echo", {"text": "1"})), reply("one"))
        approvals = Approvals(Decision.ALWAYS)
        first = await ask(services, "first", approve=approvals)
        loopback.enqueue(tool_calls(("echo", {"text": "2"})), reply("two"))
        await ask(services, "second", first.reply.conversation_id, approve=approvals)
        assert len(approvals.asked) == 1  # the second call ran without asking
        assert loopback.requests[3].json["messages"][-1]["content"] == "2"
    finally:
        await services.close()  # waits for the settings save
    text = (tmp_path / "config.toml").read_text()
    assert 'always_allow = ["echo"]' in text
    assert "[providers.loop]" in text  # the rest of the file as it was


async def test_bad_arguments_and_unknown_tools_fail_without_asking(
    tooled: Services, loopback: LoopbackServer
) -> None:
    loopback.enqueue(
        tool_calls(
            ("echo", '{"text": "unclosed'),
            ("no_such_tool", {}),
            ("echo", "[1, 2]"),
            ("echo", "[" * 100_000),  # deeper than the JSON reader goes
        ),
        reply("Sorry."),
    )
    approvals = Approvals(Decision.ALLOW)
    turn = await ask(tooled, "break things", approve=approvals)
    assert approvals.asked == []
    bad, unknown, not_object, deep = turn.reply.tool_calls
    assert deep.status is ToolStatus.FAILED and "could not be read" in (deep.error or "")
    assert bad.status is ToolStatus.FAILED and "not valid JSON" in (bad.error or "")
    assert unknown.status is ToolStatus.FAILED and "unknown tool" in (unknown.error or "")
    assert not_object.status is ToolStatus.FAILED and "JSON object" in (not_object.error or "")
    outputs = [m["content"] for m in loopback.requests[1].json["messages"] if m["role"] == "tool"]
    assert "not valid JSON" in outputs[0] and "There is no tool named" in outputs[1]
    assert turn.reply.content == "Sorry." and turn.reply.status is MessageStatus.COMPLETE


async def test_the_round_limit_stops_the_reply_and_says_so(
    tmp_path: Path, loopback: LoopbackServer
) -> None:
    services = await open_with_tools(tmp_path, loopback, extra="\n[tools]\nmax_rounds = 2\n")
    try:
        loopback.enqueue(
            tool_calls(("clock", {})), tool_calls(("clock", {})), tool_calls(("clock", {}))
        )
        turn = await ask(services, "loop forever", approve=Approvals(Decision.ALLOW))
        assert len(loopback.requests) == 3  # the third round's call is not run nor sent
        notices = [e.text for e in turn.events if isinstance(e, ToolNotice)]
        assert notices and "Stopped after 2 rounds" in notices[0]
        statuses = [r.status for r in turn.reply.tool_calls]
        assert statuses == [ToolStatus.DONE, ToolStatus.DONE, ToolStatus.NOT_RUN]
        assert turn.reply.status is MessageStatus.COMPLETE

        loopback.enqueue(reply("ok"))  # the next turn answers the unrun call, then asks
        await ask(services, "stop now", turn.reply.conversation_id)
        history = loopback.requests[3].json["messages"]
        assert "limit of 2 rounds" in history[-2]["content"]
    finally:
        await services.close()


async def test_tools_off_for_the_turn_or_the_conversation_sends_none(
    tooled: Services, loopback: LoopbackServer
) -> None:
    await ask(tooled, "no tools please", tools=False)
    assert "tools" not in loopback.requests[-1].json
    turn = await ask(tooled, "with tools")
    assert "echo" in tool_names(loopback.requests[-1].json)
    conversation = turn.user.conversation_id
    settings = tooled.chat.settings_for(await tooled.history.get(conversation))
    from dataclasses import replace

    await tooled.chat.save_settings(conversation, replace(settings, tools_off=("test",)))
    await ask(tooled, "and now", conversation)
    assert "tools" not in loopback.requests[-1].json
    await tooled.chat.save_settings(conversation, replace(settings, tools=False))
    await ask(tooled, "still none", conversation)
    assert "tools" not in loopback.requests[-1].json


async def test_a_large_result_is_cut_and_the_model_told(
    tooled: Services, loopback: LoopbackServer
) -> None:
    loopback.enqueue(tool_calls(("big", {"size": 250_000})), reply("Long."))
    turn = await ask(tooled, "big one", approve=Approvals(Decision.ALLOW))
    sent = loopback.requests[1].json["messages"][-1]["content"]
    assert 100_000 <= len(sent) < 100_400 and "truncated" in sent
    assert turn.reply.tool_calls[0].status is ToolStatus.DONE


async def test_stopping_while_a_tool_runs_keeps_the_text_and_marks_the_call(
    tooled: Services, loopback: LoopbackServer
) -> None:
    loopback.enqueue(tool_calls(("slow", {"seconds": 30}), text="Waiting on it."))
    events = tooled.chat.send(
        None,
        "slow one",
        options=TurnOptions(approve=Approvals(Decision.ALLOW), api_mode=ApiMode.CHAT),
    )
    conversation_id = None
    async for event in events:
        if isinstance(event, ToolCallsAsked):
            conversation_id = (
                await tooled.store.repository.get_message(event.message_id)
            ).conversation_id  # type: ignore[union-attr]
        if isinstance(event, ToolCallChanged) and event.call.status is ToolStatus.RUNNING:
            break
    await events.aclose()  # the user pressed Esc
    assert conversation_id is not None
    path = await tooled.store.repository.active_path(conversation_id)
    stored = path[-1]
    assert stored.role is Role.ASSISTANT and stored.status is MessageStatus.CANCELLED
    assert stored.content == "Waiting on it."
    assert stored.tool_calls[0].status is ToolStatus.CANCELLED
    assert stored.response_id is None
    assert len(loopback.requests) == 1


# ---------------------------------------------------------------- Responses


async def test_responses_sends_only_the_outputs_chained_with_previous_response_id(
    tooled: Services, loopback: LoopbackServer
) -> None:
    loopback.enqueue(tool_calls(("echo", {"text": "chained"})), reply("Chained."))
    turn = await ask(
        tooled, "over responses", approve=Approvals(Decision.ALLOW), api_mode=ApiMode.RESPONSES
    )
    first, second = (r.json for r in loopback.requests)
    assert loopback.requests[0].path.endswith("/responses")
    echo = next(t for t in first["tools"] if t.get("name") == "echo")
    assert echo["type"] == "function" and "function" not in echo
    assert second["previous_response_id"]
    assert second["input"] == [
        {"type": "function_call_output", "call_id": "call_1", "output": "chained"}
    ]
    assert turn.reply.response_id and turn.reply.response_id != second["previous_response_id"]

    loopback.enqueue(reply("Next."))  # the next turn chains from the last round's response
    await ask(tooled, "more", turn.reply.conversation_id, api_mode=ApiMode.RESPONSES)
    third = loopback.requests[2].json
    assert third["previous_response_id"] == turn.reply.response_id
    assert [item.get("role") for item in third["input"]] == ["user"]


async def test_a_forgotten_response_mid_loop_resends_the_whole_path(
    tooled: Services, loopback: LoopbackServer
) -> None:
    loopback.enqueue(tool_calls(("echo", {"text": "kept"})))

    async def forget_then_allow(request: ApprovalRequest) -> Decision:
        # The server loses the response the next request chains from (as after 30 days).
        for stored in loopback.stored_ids():
            loopback.forget(stored)
        return Decision.ALLOW

    turn = await ask(tooled, "forgetful", approve=forget_then_allow, api_mode=ApiMode.RESPONSES)
    assert len(loopback.requests) == 3
    resent = loopback.requests[2].json
    assert "previous_response_id" not in resent or resent["previous_response_id"] is None
    kinds = [item.get("type", "message") for item in resent["input"]]
    assert kinds == ["message", "function_call", "function_call_output"]
    assert resent["input"][2]["output"] == "kept"
    assert turn.reply.content == "[turn 1] tool results: kept"  # the loopback's echo
    assert turn.reply.status is MessageStatus.COMPLETE


async def test_switching_api_converts_stored_tool_rounds(
    tooled: Services, loopback: LoopbackServer
) -> None:
    loopback.enqueue(tool_calls(("echo", {"text": "switch"})), reply("On Responses."))
    turn = await ask(tooled, "start on responses", approve=Approvals(), api_mode=ApiMode.RESPONSES)
    loopback.enqueue(reply("On Chat."))
    await ask(tooled, "now chat", turn.reply.conversation_id, api_mode=ApiMode.CHAT)
    messages = loopback.requests[-1].json["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "tool", "assistant", "user"]
    assert messages[1]["tool_calls"][0]["function"]["name"] == "echo"
    assert messages[2]["content"] == "switch"


# ---------------------------------------------------------------- export, import, search


async def test_tool_calls_are_exported_imported_and_searchable(
    tooled: Services, loopback: LoopbackServer
) -> None:
    loopback.enqueue(tool_calls(("echo", {"text": "zebracorn"}), text="Checking. "), reply("Ok."))
    turn = await ask(tooled, "find it", approve=Approvals())
    conversation_id = turn.reply.conversation_id
    hits = await tooled.history.search("zebracorn")
    assert [hit.conversation.id for hit in hits] == [conversation_id]
    assert "zebracorn" in hits[0].snippet

    exported = await export_json(tooled.store.repository, conversation_id)
    data = json.loads(exported)
    (record,) = next(m for m in data["messages"] if m["role"] == "assistant")["tool_calls"]
    assert record["name"] == "echo" and record["output"] == "zebracorn"
    conversation = await tooled.history.get(conversation_id)
    assert conversation is not None
    markdown = render_markdown(
        conversation, await tooled.store.repository.active_path(conversation_id)
    )
    assert markdown.index("Checking.") < markdown.index("Tool: echo (test)") < markdown.index("Ok.")

    copy = await import_json(tooled.store.repository, exported)
    path = await tooled.store.repository.active_path(copy.id)
    assert path[-1].tool_calls == turn.reply.tool_calls
    assert len(await tooled.history.search("zebracorn")) == 2


async def test_offering_tools_starts_the_server_once_and_close_stops_it(
    tmp_path: Path, loopback: LoopbackServer
) -> None:
    services = await open_with_tools(tmp_path, loopback)
    assert [s.describe() for s in services.mcp.states()] == ["not started"]
    await ask(services, "one")
    await ask(services, "two")
    (state,) = services.mcp.states()
    assert state.status == "ready" and state.tools >= 5
    await services.close()
    assert [s.status for s in services.mcp.states()] != ["ready"]


# ---------------------------------------------------------------- faults of the servers


async def test_a_server_that_cannot_start_is_said_once_and_the_others_serve(
    tmp_path: Path, loopback: LoopbackServer
) -> None:
    broken = '\n[mcp_servers.broken]\ncommand = "no-such-mcp-server-here"\n'
    services = await open_with_tools(tmp_path, loopback, extra=broken)
    try:
        first = await ask(services, "hello")
        notices = [e.text for e in first.events if isinstance(e, ToolNotice)]
        assert len(notices) == 1
        assert notices[0].startswith("MCP server broken failed: command not found")
        assert "echo" in tool_names(loopback.requests[0].json)
        second = await ask(services, "again", first.reply.conversation_id)
        assert not [e for e in second.events if isinstance(e, ToolNotice)]
    finally:
        await services.close()


async def test_a_hanging_tool_fails_at_the_time_limit_and_the_reply_goes_on(
    tmp_path: Path, loopback: LoopbackServer
) -> None:
    services = await open_with_tools(tmp_path, loopback, extra="\n[tools]\ntimeout = 1\n")
    try:
        loopback.enqueue(tool_calls(("slow", {"seconds": 30})), reply("It hung."))
        turn = await ask(services, "hang", approve=Approvals())
        (record,) = turn.reply.tool_calls
        assert record.status is ToolStatus.FAILED and "timed out after 1 s" in (record.error or "")
        assert "timed out" in loopback.requests[1].json["messages"][-1]["content"]
        assert turn.reply.content == "It hung."
    finally:
        await services.close()


async def test_a_server_that_crashes_in_a_call_fails_it_and_the_reply_goes_on(
    tooled: Services, loopback: LoopbackServer
) -> None:
    loopback.enqueue(tool_calls(("crash", {})), reply("It crashed."))
    turn = await ask(tooled, "crash it", approve=Approvals())
    (record,) = turn.reply.tool_calls
    assert record.status is ToolStatus.FAILED and record.error
    assert turn.reply.content == "It crashed." and turn.reply.status is MessageStatus.COMPLETE
    # Restarted once, it crashed again: the next turn says so and offers none of its tools.
    again = await ask(tooled, "and now", turn.reply.conversation_id)
    notices = [e.text for e in again.events if isinstance(e, ToolNotice)]
    assert notices and notices[0].startswith("MCP server test failed:")
    assert "tools" not in loopback.requests[-1].json
    # The user restarts it (Settings → MCP servers): its tools are back.
    state = await tooled.mcp.restart("test")
    assert state.status == "ready"
    await ask(tooled, "once more", turn.reply.conversation_id)
    assert "echo" in tool_names(loopback.requests[-1].json)


async def test_hostile_tool_output_is_stored_as_received(
    tooled: Services, loopback: LoopbackServer
) -> None:
    hostile = "\x1b]0;pwned\x07\x1b[2J\u202eevil"
    loopback.enqueue(tool_calls(("echo", {"text": hostile})), reply("ok"))
    turn = await ask(tooled, "hostile", approve=Approvals())
    assert turn.reply.tool_calls[0].output == hostile  # shown inert, stored as received


# ---------------------------------------------------------------- web search, HTTP servers


async def test_a_recorded_web_search_stores_its_sources_and_exports_them(
    tooled: Services, loopback: LoopbackServer
) -> None:
    recording = recordings.load("12_")  # real OpenAI traffic: a search, then a cited answer
    loopback.enqueue(raw(recording.status, recording.body, recording.headers))
    turn = await ask(tooled, "bitcoin price", api_mode=ApiMode.RESPONSES, web_search=True)
    searches = [e for e in turn.events if isinstance(e, WebSearch)]
    assert searches[-1].done and searches[-1].query == "January 1, 2026 Bitcoin price"
    stored = await tooled.store.repository.get_message(turn.reply.id)
    assert stored is not None and stored.citations
    assert stored.citations[0].url.startswith("https://www.statmuse.com/")
    assert len({c.url for c in stored.citations}) == len(stored.citations)
    conversation = await tooled.history.get(stored.conversation_id)
    assert conversation is not None
    markdown = render_markdown(conversation, [stored])
    assert f"1. [{stored.citations[0].title}](<{stored.citations[0].url}>)" in markdown
    data = json.loads(await export_json(tooled.store.repository, stored.conversation_id))
    exported = next(m for m in data["messages"] if m["role"] == "assistant")["citations"]
    assert exported[0]["url"] == stored.citations[0].url


async def test_a_streamable_http_server_serves_the_loop(
    tmp_path: Path, loopback: LoopbackServer
) -> None:
    with serve_http(token="loop-token") as mcp_server:
        extra = (
            f'\n[mcp_servers.remote]\nurl = "{mcp_server.url}"\n'
            'headers = { Authorization = "Bearer loop-token" }\n'
        )
        config = write_config(tmp_path / "config.toml", loopback.base_url, extra=extra)
        services = await open_services(
            config=str(config),
            db=str(tmp_path / "history.sqlite3"),
            env={"LOOP_KEY": TEST_KEY},
            improve_titles=False,
        )
        try:
            loopback.enqueue(tool_calls(("add", {"a": 40, "b": 2})), reply("42 it is."))
            turn = await ask(services, "add them", approve=Approvals())
            (record,) = turn.reply.tool_calls
            assert (record.server, record.status, record.output) == (
                "remote",
                ToolStatus.DONE,
                "42",
            )
            assert loopback.requests[1].json["messages"][-1]["content"] == "42"
        finally:
            await services.close()


def test_the_markdown_export_keeps_hostile_names_and_sources_as_text() -> None:
    from tui.domain import Citation, Conversation, Message, ToolCallRecord
    from tui.store.convert import now_utc

    now = now_utc()
    record = ToolCallRecord(
        "c1",
        "<img src=x onerror=alert(1)>",
        "{}",
        server="s",
        status=ToolStatus.FAILED,
        error="</details><script>",
        output="out",
    )
    message = Message(
        2,
        1,
        None,
        Role.ASSISTANT,
        "Answer.",
        MessageStatus.COMPLETE,
        now,
        tool_calls=(record,),
        citations=(
            Citation("javascript:alert(1)", "click me"),
            Citation("https://ok.example/a", "[x]"),
        ),
    )
    markdown = render_markdown(Conversation(1, "t", now, now), [message])
    assert "<img" not in markdown and "<script>" not in markdown
    assert "&lt;img src=x onerror=alert(1)&gt;" in markdown
    assert "1. click me (javascript:alert(1))" in markdown  # not a link
    assert "2. [\\[x\\]](<https://ok.example/a>)" in markdown
