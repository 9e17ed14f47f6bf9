"""ChatService end to end: the requests the server receives, and what the store keeps."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from tests.engine.conftest import send, user_texts
from tests.support.script import Behaviour, http_error, reply
from tests.support.server import LoopbackServer
from tui.domain import ApiKind, ApiMode, MessageStatus, Role, TextDelta
from tui.providers.errors import NetworkError
from tui.services.container import Services
from tui.services.turns import ReplyStarted, TitleChanged, TurnOptions

RESPONSES = ApiMode.RESPONSES
CHAT = ApiMode.CHAT


def bodies(server: LoopbackServer, path_end: str) -> list[dict]:  # type: ignore[type-arg]
    return [r.json for r in server.requests if r.path.endswith(path_end)]


async def test_responses_turn_two_chains_and_sends_only_the_new_input(
    services: Services, loopback: LoopbackServer
) -> None:
    first = await send(services, None, "Hello there", api_mode=RESPONSES, system_prompt="Be brief.")
    assert first.reply.status is MessageStatus.COMPLETE
    assert first.reply.response_id and first.reply.api is ApiKind.RESPONSES
    conversation_id = first.user.conversation_id
    second = await send(services, conversation_id, "And again")

    turn1, turn2 = bodies(loopback, "/responses")
    assert "previous_response_id" not in turn1
    assert turn2["previous_response_id"] == first.reply.response_id
    assert user_texts(turn2) == ["And again"]
    assert len(turn2["input"]) == 1
    assert turn1["instructions"] == turn2["instructions"] == "Be brief."
    assert turn1["store"] is True and turn2["store"] is True
    assert second.reply.previous_response_id == first.reply.response_id
    assert "[turn 2]" in second.reply.content  # the server saw a two-turn chain


async def test_a_forgotten_response_is_resent_once_and_the_chain_goes_on(
    services: Services, loopback: LoopbackServer
) -> None:
    first = await send(services, None, "one", api_mode=RESPONSES)
    cid = first.user.conversation_id
    loopback.forget(first.reply.response_id)
    second = await send(services, cid, "two")
    assert second.reply.status is MessageStatus.COMPLETE
    assert second.finished.error is None
    third = await send(services, cid, "three")

    requests = bodies(loopback, "/responses")
    assert len(requests) == 4  # turn 1, the refused chain, the full resend, turn 3
    refused, resent, chained = requests[1], requests[2], requests[3]
    assert refused["previous_response_id"] == first.reply.response_id
    assert "previous_response_id" not in resent
    assert user_texts(resent) == ["one", "two"]
    assert [item["role"] for item in resent["input"]] == ["user", "assistant", "user"]
    assert chained["previous_response_id"] == second.reply.response_id
    assert user_texts(chained) == ["three"]
    assert third.reply.status is MessageStatus.COMPLETE
    stored = await services.store.repository.active_path(cid)
    assert [m.role for m in stored] == [Role.USER, Role.ASSISTANT] * 3


async def test_regenerate_and_edit_chain_from_the_right_parent(
    services: Services, loopback: LoopbackServer
) -> None:
    first = await send(services, None, "q1", api_mode=RESPONSES)
    cid = first.user.conversation_id
    second = await send(services, cid, "q2")
    repo = services.store.repository

    again = await collect_regenerate(services, second.reply.id)
    assert again.reply.parent_id == second.user.id
    siblings = await repo.siblings(again.reply.id)
    assert [m.id for m in siblings] == [second.reply.id, again.reply.id]

    edited = await collect_edit(services, second.user.id, "q2, edited")
    assert edited.user.parent_id == first.reply.id
    assert edited.reply.parent_id == edited.user.id

    regen_body, edit_body = bodies(loopback, "/responses")[2:]
    assert regen_body["previous_response_id"] == first.reply.response_id
    assert user_texts(regen_body) == ["q2"]
    assert edit_body["previous_response_id"] == first.reply.response_id
    assert user_texts(edit_body) == ["q2, edited"]
    path = await repo.active_path(cid)
    assert [m.content for m in path if m.role is Role.USER] == ["q1", "q2, edited"]


async def collect_regenerate(services: Services, message_id: int):  # type: ignore[no-untyped-def]
    from tests.engine.conftest import collect

    return await collect(services.chat.regenerate(message_id))


async def collect_edit(services: Services, message_id: int, text: str):  # type: ignore[no-untyped-def]
    from tests.engine.conftest import collect

    return await collect(services.chat.edit(message_id, text))


async def test_chat_mode_sends_the_active_path_only_with_the_system_prompt_first(
    services: Services, loopback: LoopbackServer
) -> None:
    first = await send(services, None, "a", api_mode=CHAT, system_prompt="Sys")
    cid = first.user.conversation_id
    second = await send(services, cid, "b")
    await collect_edit(services, second.user.id, "b2")  # a branch beside "b"
    await send(services, cid, "c")

    last = bodies(loopback, "/chat/completions")[-1]
    roles = [m["role"] for m in last["messages"]]
    assert roles == ["system", "user", "assistant", "user", "assistant", "user"]
    assert last["messages"][0]["content"] == "Sys"
    assert user_texts(last) == ["a", "b2", "c"]  # not the abandoned "b"
    assert last["stream_options"] == {"include_usage": True}
    assert "previous_response_id" not in last


async def test_switching_api_mid_thread_keeps_the_history(
    services: Services, loopback: LoopbackServer
) -> None:
    first = await send(services, None, "first on chat", api_mode=CHAT)
    cid = first.user.conversation_id
    second = await send(services, cid, "now on responses", api_mode=RESPONSES)
    third = await send(services, cid, "back to chat", api_mode=CHAT)

    responses_body = bodies(loopback, "/responses")[0]
    assert "previous_response_id" not in responses_body  # the parent reply came over chat
    assert user_texts(responses_body) == ["first on chat", "now on responses"]
    chat_body = bodies(loopback, "/chat/completions")[-1]
    assert user_texts(chat_body) == ["first on chat", "now on responses", "back to chat"]
    assert second.reply.api is ApiKind.RESPONSES and third.reply.api is ApiKind.CHAT
    conversation = await services.store.repository.get_conversation(cid)
    assert conversation is not None and conversation.api_mode is CHAT


async def test_a_reset_mid_stream_keeps_the_partial_reply_and_the_next_send_works(
    services: Services, loopback: LoopbackServer
) -> None:
    loopback.enqueue(reply("partial answer that never ends", fault="reset", fault_after=4))
    broken = await send(services, None, "please answer", api_mode=CHAT)
    assert isinstance(broken.finished.error, NetworkError)
    assert broken.reply.status is MessageStatus.FAILED
    assert broken.reply.content  # what arrived is kept
    assert broken.reply.error == str(broken.finished.error)
    streamed = "".join(e.text for e in broken.events if isinstance(e, TextDelta))
    assert broken.reply.content == streamed
    repo = services.store.repository
    user = await repo.get_message(broken.user.id)
    assert user is not None and user.content == "please answer"

    after = await send(services, broken.user.conversation_id, "try again")
    assert after.reply.status is MessageStatus.COMPLETE
    assert after.reply.parent_id == after.user.id


async def test_cancelling_keeps_the_partial_reply_as_cancelled(
    services: Services, loopback: LoopbackServer
) -> None:
    loopback.enqueue(reply(" ".join(f"w{i}" for i in range(200)), delay=0.02))
    seen: list[str] = []
    started = asyncio.Event()

    async def consume() -> None:
        async for event in services.chat.send(None, "long one", options=TurnOptions(api_mode=CHAT)):
            if isinstance(event, TextDelta):
                seen.append(event.text)
                if len(seen) >= 5:
                    started.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(started.wait(), 10)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    conversations = await services.store.repository.list_conversations()
    path = await services.store.repository.active_path(conversations[0].id)
    reply_message = path[-1]
    assert reply_message.status is MessageStatus.CANCELLED
    assert reply_message.content.startswith("".join(seen[:5]))
    assert 0 < len(reply_message.content) < len(" ".join(f"w{i}" for i in range(200)))
    for _ in range(50):  # the server sees the connection close
        if loopback.disconnects:
            break
        await asyncio.sleep(0.02)
    assert loopback.disconnects


async def test_text_is_flushed_while_streaming_not_only_at_the_end(
    services: Services, loopback: LoopbackServer
) -> None:
    services.chat.flush_interval = 0.05
    loopback.enqueue(reply(" ".join(f"t{i}" for i in range(60)), delay=0.01))
    mid_stream: list[str] = []
    async for event in services.chat.send(None, "go", options=TurnOptions(api_mode=CHAT)):
        if isinstance(event, ReplyStarted):
            reply_id = event.message.id
        if isinstance(event, TextDelta) and event.text.strip() == "t40":
            stored = await services.store.repository.get_message(reply_id)
            assert stored is not None
            mid_stream.append(stored.content)
            assert stored.status is MessageStatus.STREAMING
    assert mid_stream and "t20" in mid_stream[0]


async def test_the_title_comes_from_the_first_message_at_once(services: Services) -> None:
    turn = await send(services, None, "## How do I *parse* TOML?\nDetails follow")
    titles = [e.title for e in turn.events if isinstance(e, TitleChanged)]
    assert titles == ["How do I parse TOML?"]
    conversation = await services.store.repository.get_conversation(turn.user.conversation_id)
    assert conversation is not None and conversation.title == "How do I parse TOML?"
    later = await send(services, turn.user.conversation_id, "Another question")
    assert not [e for e in later.events if isinstance(e, TitleChanged)]


async def test_a_model_written_title_lands_after_the_reply(
    services: Services, loopback: LoopbackServer
) -> None:
    services.chat.defaults = replace(services.chat.defaults, improve_titles=True)
    landed: list[tuple[int, str]] = []
    services.chat.on_title = lambda cid, title: landed.append((cid, title))
    loopback.enqueue(reply("Here is the answer."), reply('"Parsing TOML in Python"'))
    turn = await send(services, None, "how to parse toml", api_mode=CHAT)
    assert turn.reply.status is MessageStatus.COMPLETE
    await services.chat.wait_background(timeout=10)
    cid = turn.user.conversation_id
    assert landed == [(cid, "Parsing TOML in Python")]
    conversation = await services.store.repository.get_conversation(cid)
    assert conversation is not None and conversation.title == "Parsing TOML in Python"
    title_request = bodies(loopback, "/chat/completions")[-1]
    assert title_request["stream"] is False


async def test_a_failing_title_request_never_fails_the_turn(
    services: Services, loopback: LoopbackServer
) -> None:
    services.chat.defaults = replace(services.chat.defaults, improve_titles=True)
    loopback.enqueue(
        reply("fine"), http_error(500, "boom"), http_error(500, "boom"), http_error(500, "boom")
    )
    turn = await send(services, None, "a question worth a title", api_mode=CHAT)
    await services.chat.wait_background(timeout=20)
    assert turn.reply.status is MessageStatus.COMPLETE
    conversation = await services.store.repository.get_conversation(turn.user.conversation_id)
    assert conversation is not None and conversation.title == "a question worth a title"


async def test_provider_errors_are_stored_on_the_reply_with_their_hint(
    services: Services, loopback: LoopbackServer
) -> None:
    loopback.enqueue(http_error(404, "The model `nope` does not exist", code="model_not_found"))
    turn = await send(services, None, "hi", api_mode=CHAT, model="nope")
    assert turn.reply.status is MessageStatus.FAILED
    assert turn.reply.error is not None and "Pick another model" in turn.reply.error
    assert turn.reply.content == ""


async def test_usage_latency_and_model_are_recorded(
    services: Services, loopback: LoopbackServer
) -> None:
    loopback.enqueue(Behaviour(text="counted", usage=(11, 22, 3)))
    turn = await send(services, None, "count", api_mode=RESPONSES)
    stored = await services.store.repository.get_message(turn.reply.id)
    assert stored is not None
    assert (stored.input_tokens, stored.output_tokens, stored.reasoning_tokens) == (11, 22, 3)
    assert stored.latency_ms is not None and stored.duration_ms is not None
    assert stored.latency_ms <= stored.duration_ms
    assert stored.model and stored.provider == "loop"
    assert stored.finished_at is not None


async def test_sibling_positions_mark_every_branch_point_of_the_path(
    services: Services, loopback: LoopbackServer
) -> None:
    first = await send(services, None, "q1", api_mode=CHAT)
    cid = first.user.conversation_id
    second = await send(services, cid, "q2")
    await collect_regenerate(services, second.reply.id)
    third = await collect_regenerate(services, second.reply.id)
    repo = services.store.repository
    path = await repo.active_path(cid)
    positions = await repo.sibling_positions(cid, path)
    assert positions[first.user.id] == (1, 1)
    assert positions[second.user.id] == (1, 1)
    assert positions[third.reply.id] == (3, 3)
    switched = await repo.switch_to_branch(second.reply.id)
    assert (await repo.sibling_positions(cid, switched))[second.reply.id] == (1, 3)


async def test_stopping_at_text_ended_still_stores_the_whole_reply(
    services: Services, loopback: LoopbackServer
) -> None:
    from contextlib import aclosing

    from tui.services.turns import ReplyTextEnded

    loopback.enqueue(reply("the whole answer"))
    stream = services.chat.send(None, "q", options=TurnOptions(api_mode=CHAT))
    async with aclosing(stream):
        async for event in stream:
            if isinstance(event, ReplyTextEnded):
                message_id = event.message_id
                break
    stored = await services.store.repository.get_message(message_id)
    assert stored is not None
    assert stored.status is MessageStatus.COMPLETE
    assert stored.content == "the whole answer"
