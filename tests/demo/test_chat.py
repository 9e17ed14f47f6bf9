"""The demo model over Chat Completions: framing, content, memory, limits and errors."""

from __future__ import annotations

from typing import Any

import httpx

from tests.demo.sse import error_of, raw_stream, stream
from tui.providers.demo.text import tokenize

PATH = "/chat/completions"


def ask(*turns: str, **extra: Any) -> dict[str, Any]:
    """A request whose messages alternate user/assistant, ending with the user's turn."""
    messages = [
        {"role": "user" if index % 2 == 0 else "assistant", "content": text}
        for index, text in enumerate(turns)
    ]
    return {"model": "demo", "messages": messages, **extra}


def text_of(chunks: list[dict[str, Any]], field: str = "content") -> str:
    return "".join(
        chunk["choices"][0]["delta"].get(field) or "" for chunk in chunks if chunk["choices"]
    )


async def test_stream_is_data_lines_ending_with_done(client: httpx.AsyncClient) -> None:
    raw = await raw_stream(client, PATH, ask("Hello", stream=True))
    assert "event:" not in raw
    blocks = raw.split("\n\n")
    assert blocks[-1] == ""
    assert blocks[-2] == "data: [DONE]"
    assert all(block.startswith("data: {") for block in blocks[:-2])
    assert raw.count("data: [DONE]") == 1


async def test_stream_chunks_build_the_answer_and_report_usage(
    client: httpx.AsyncClient,
) -> None:
    events = await stream(
        client,
        PATH,
        ask("Explain Python lists", stream=True, stream_options={"include_usage": True}),
    )
    assert events[-1].data == "[DONE]"
    chunks = [event.json for event in events[:-1]]
    assert len({chunk["id"] for chunk in chunks}) == 1
    assert chunks[0]["id"].startswith("chatcmpl-")
    assert all(chunk["object"] == "chat.completion.chunk" for chunk in chunks)
    assert all(chunk["model"] == "demo" for chunk in chunks)
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": "", "refusal": None}
    finish, usage_chunk = chunks[-2], chunks[-1]
    assert finish["choices"] == [
        {"index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop"}
    ]
    assert usage_chunk["choices"] == []
    assert all(chunk["usage"] is None for chunk in chunks[:-1])
    text = text_of(chunks)
    assert text.startswith("## Explain Python lists\n")
    assert "```python\n" in text and text.count("```") == 2
    usage = usage_chunk["usage"]
    assert usage["completion_tokens"] == len(tokenize(text))
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert usage["completion_tokens_details"]["reasoning_tokens"] == 0


async def test_without_include_usage_there_is_no_usage_chunk(client: httpx.AsyncClient) -> None:
    events = await stream(client, PATH, ask("Hi", stream=True))
    chunks = [event.json for event in events[:-1]]
    assert all("usage" not in chunk for chunk in chunks)
    assert all(chunk["choices"] for chunk in chunks)


async def test_obfuscation_can_be_turned_off(client: httpx.AsyncClient) -> None:
    body = ask("Hi", stream=True, stream_options={"include_obfuscation": False})
    events = await stream(client, PATH, body)
    assert all("obfuscation" not in event.json for event in events[:-1])
    with_padding = await stream(client, PATH, ask("Hi", stream=True))
    assert all("obfuscation" in event.json for event in with_padding[:-1])


async def test_non_streamed_completion(client: httpx.AsyncClient) -> None:
    response = await client.post(PATH, json=ask("Write some Rust"))
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-request-id"].startswith("req_")
    body = response.json()
    assert body["object"] == "chat.completion"
    (choice,) = body["choices"]
    assert choice["finish_reason"] == "stop"
    assert choice["message"]["role"] == "assistant"
    assert "```rust\n" in choice["message"]["content"]
    assert "reasoning_content" not in choice["message"]
    assert body["usage"]["completion_tokens"] == len(tokenize(choice["message"]["content"]))


async def test_same_request_same_words_and_different_prompts_differ(
    client: httpx.AsyncClient,
) -> None:
    first = (await client.post(PATH, json=ask("Sort a list"))).json()
    again = (await client.post(PATH, json=ask("Sort a list"))).json()
    other = (await client.post(PATH, json=ask("Tune a database query"))).json()

    def content(body: dict[str, Any]) -> str:
        text = body["choices"][0]["message"]["content"]
        assert isinstance(text, str)
        return text

    assert content(first) == content(again)
    assert first["id"] != again["id"]
    assert content(first) != content(other)
    assert "```sql\n" in content(other)


async def test_reasoning_effort_streams_reasoning_content_first(
    client: httpx.AsyncClient,
) -> None:
    body = ask("Plan a trip", stream=True, reasoning_effort="high")
    body["stream_options"] = {"include_usage": True}
    chunks = [event.json for event in (await stream(client, PATH, body))[:-1]]
    first_delta = chunks[0]["choices"][0]["delta"]
    assert first_delta == {"role": "assistant", "content": None, "reasoning_content": ""}
    reasoning = text_of(chunks, "reasoning_content")
    assert reasoning.count("**") == 6  # three summary headings
    assert "“Plan a trip”" in reasoning
    deltas = [chunk["choices"][0]["delta"] for chunk in chunks if chunk["choices"]]
    reasoning_at = [i for i, delta in enumerate(deltas) if delta.get("reasoning_content")]
    content_at = [i for i, delta in enumerate(deltas) if delta.get("content")]
    assert reasoning_at and content_at
    assert max(reasoning_at) < min(content_at)
    usage = chunks[-1]["usage"]
    assert usage["completion_tokens_details"]["reasoning_tokens"] > 0
    assert usage["completion_tokens"] == usage["completion_tokens_details"]["reasoning_tokens"] + (
        len(tokenize(text_of(chunks)))
    )


async def test_effort_none_means_no_reasoning(client: httpx.AsyncClient) -> None:
    body = (await client.post(PATH, json=ask("Hi", reasoning_effort="none"))).json()
    assert "reasoning_content" not in body["choices"][0]["message"]
    low = (await client.post(PATH, json=ask("Hi", reasoning_effort="low"))).json()
    assert low["choices"][0]["message"]["reasoning_content"].startswith("**Reading the request**")


async def test_it_remembers_the_conversation_from_messages(client: httpx.AsyncClient) -> None:
    body = ask("My name is Ada.", "Nice to meet you.", "What else?", "More.", "And now?")
    text = (await client.post(PATH, json=body)).json()["choices"][0]["message"]["content"]
    assert "This is message 3 from you in this conversation" in text
    assert "your first one was “My name is Ada.”" in text
    first = (await client.post(PATH, json=ask("Hello"))).json()
    assert "This is the start of our conversation." in first["choices"][0]["message"]["content"]


async def test_system_and_developer_prompts_are_followed_visibly(
    client: httpx.AsyncClient,
) -> None:
    body = ask("Hi")
    body["messages"].insert(0, {"role": "developer", "content": "Answer like a pirate."})
    text = (await client.post(PATH, json=body)).json()["choices"][0]["message"]["content"]
    assert "> Following your instructions: “Answer like a pirate.”" in text
    plain = (await client.post(PATH, json=ask("Hi"))).json()["choices"][0]["message"]["content"]
    assert "Following your instructions" not in plain


async def test_attachments_are_acknowledged(client: httpx.AsyncClient) -> None:
    content = [
        {"type": "text", "text": "What is in these?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
        {
            "type": "file",
            "file": {"filename": "a.pdf", "file_data": "data:application/pdf;base64,"},
        },
    ]
    body = {"model": "demo", "messages": [{"role": "user", "content": content}]}
    text = (await client.post(PATH, json=body)).json()["choices"][0]["message"]["content"]
    assert "I received 2 attachments with it." in text
    assert "## What is in these" in text


async def test_token_limits_stop_with_finish_reason_length(client: httpx.AsyncClient) -> None:
    for field in ("max_completion_tokens", "max_tokens"):
        body = ask("Tell me everything", stream=True, stream_options={"include_usage": True})
        body[field] = 12
        chunks = [event.json for event in (await stream(client, PATH, body))[:-1]]
        assert chunks[-2]["choices"][0]["finish_reason"] == "length"
        assert chunks[-1]["usage"]["completion_tokens"] == 12
        assert len(tokenize(text_of(chunks))) == 12
    whole = (await client.post(PATH, json=ask("Tell me", max_completion_tokens=5))).json()
    assert whole["choices"][0]["finish_reason"] == "length"
    assert whole["usage"]["completion_tokens"] == 5


async def test_responses_only_model_gets_the_real_404(client: httpx.AsyncClient) -> None:
    response = await client.post(PATH, json={**ask("Hi"), "model": "demo-pro", "stream": True})
    assert response.status_code == 404
    assert error_of(response) == {
        "message": "This model is only supported in v1/responses and not in v1/chat/completions.",
        "type": "invalid_request_error",
        "param": "model",
        "code": None,
    }


async def test_unknown_model_is_404_model_not_found(client: httpx.AsyncClient) -> None:
    response = await client.post(PATH, json={**ask("Hi"), "model": "gpt-5.2"})
    assert response.status_code == 404
    error = error_of(response)
    assert error["code"] == "model_not_found" and error["param"] is None
    assert error["message"] == (
        "The model `gpt-5.2` does not exist or you do not have access to it."
    )


async def test_bad_requests_get_openai_400s(client: httpx.AsyncClient) -> None:
    cases: list[tuple[dict[str, Any], str | None, str | None]] = [
        ({"messages": [{"role": "user", "content": "x"}]}, "model", "missing_required_parameter"),
        ({"model": "demo"}, "messages", "missing_required_parameter"),
        ({"model": "demo", "messages": []}, "messages", "empty_array"),
        ({"model": "demo", "messages": "hi"}, "messages", "invalid_type"),
        ({**ask("x"), "max_tokens": 0}, "max_tokens", "integer_below_min_value"),
        ({**ask("x"), "max_completion_tokens": "9"}, "max_completion_tokens", "invalid_type"),
        ({**ask("x"), "reasoning_effort": "xhigh"}, "reasoning_effort", "unsupported_value"),
        ({**ask("x"), "stream": "yes"}, "stream", "invalid_type"),
        (
            {**ask("x"), "stream_options": {"include_usage": True}},
            "stream_options",
            "invalid_value",
        ),
        ({**ask("x"), "messages": [{"content": "no role"}]}, "messages[0].role", None),
    ]
    for body, param, code in cases:
        response = await client.post(PATH, json=body)
        assert response.status_code == 400, body
        error = error_of(response)
        assert error["type"] == "invalid_request_error"
        assert error["param"] == param, body
        if code is not None:
            assert error["code"] == code, body


async def test_a_title_request_gets_a_title_only() -> None:
    import httpx

    from tui.providers.demo import DemoTransport

    async with httpx.AsyncClient(
        transport=DemoTransport(None), base_url="http://demo.invalid"
    ) as c:
        response = await c.post(
            "/v1/chat/completions",
            json={
                "model": "demo",
                "messages": [
                    {"role": "system", "content": "Write a short title for this conversation."},
                    {
                        "role": "user",
                        "content": "User: how do lighthouses work at night\\n\\n"
                        "Assistant: ## Lighthouses ...",
                    },
                ],
            },
        )
    text = response.json()["choices"][0]["message"]["content"]
    assert text == "How do lighthouses work at night"
