"""The offline demo model: an httpx transport that answers like an OpenAI-compatible server.

Mount it on the shared client with ``mounts=demo_mounts()``; the ``demo`` provider points at
``http://demo.invalid/v1`` (a reserved name that can never resolve), so the app, the tests and
the benchmarks run the real adapters over real bytes with no network and no key.

Endpoints: ``POST /v1/chat/completions`` and ``POST /v1/responses``, streamed (``"stream":
true``) or not; ``GET /v1/models`` and ``GET /v1/models/{id}``. Any other path gets OpenAI's 404
``Invalid URL`` body; a body that is not JSON gets its 400; unknown models, missing fields and
bad values get the 4xx bodies OpenAI sends.

Models:

- ``demo`` speaks both APIs. It reasons when a reasoning effort other than ``none`` is set
  (``reasoning_effort`` on Chat Completions, ``reasoning.effort`` on Responses): Chat streams the
  reasoning as ``delta.reasoning_content`` (as DeepSeek does); Responses adds a reasoning item
  whose summary is streamed when ``reasoning.summary`` is set (otherwise the item has an empty
  summary, as on OpenAI). Low effort gives one summary part, medium two, high three.
- ``demo-pro`` is Responses-only, like the ``-pro`` models: Chat Completions answers with OpenAI's
  404 "only supported in v1/responses" body. It always reasons, at effort ``high``.

What it says: a Markdown answer (heading, numbered list, a fenced code block in a language picked
from the prompt, paragraphs) that quotes the prompt, says which message of the conversation
this is and quotes the user's first one (from the Chat ``messages`` or from a Responses
``previous_response_id`` chain), and starts with "Following your instructions" when there are
instructions or a system/developer message. Attachments are counted. ``max_tokens``,
``max_completion_tokens`` and ``max_output_tokens`` cut the answer (reasoning counts too) with
``finish_reason: "length"`` / ``response.incomplete``. Usage counts the demo's tokens
(``text.tokenize``); input tokens are estimated from the size of the conversation.

Tools: function ``tools`` (either API's shape), ``tool_choice`` and ``parallel_tool_calls`` are
read, and tool history is validated as OpenAI does (a Chat ``role: "tool"`` message must answer a
``tool_call_id`` of the assistant message before it, and every call must be answered; a Responses
``function_call_output`` must answer a ``function_call`` of its input or of the
``previous_response_id`` chain, else the 400 "No tool call found for function call output with
call_id ..."). Unless ``tool_choice`` is ``none``, the demo calls tools when the latest user
message asks for them: it mentions "time", "clock", "date" or "now" and a tool whose name or
description contains "time" or "clock" is offered; or it says "use <name>" / "call <name>" of an
offered tool ("use the tool" means the first); with "each", "both" or "all" it calls every
offered tool at once (one only if ``parallel_tool_calls`` is false); ``required`` or a named
function forces a call. The reply is then only the calls (Chat content null, ``finish_reason:
"tool_calls"``; Responses ``function_call`` items), ids ``call_<24 hex>`` (and ``fc_...`` items),
arguments JSON with the schema's required properties only (``timezone`` "UTC", other strings a
word of the prompt, numbers 1), streamed in several deltas. Sent the results, it answers in text
quoting each output (about 200 characters, one line) and calls nothing more, unless the prompt
says "twice" or "again": then it calls once more and answers on the third round.

Chaining: responses get ids ``resp_demo_<hex>``; those created with ``store`` (the default) are
remembered in memory (the newest ``max_stored_responses``) so ``previous_response_id`` can chain
from them. An unknown id gets OpenAI's 400 ``previous_response_not_found``.

Benchmarks: the prompt ``/bench N`` streams about N tokens of mixed Markdown (paragraphs,
lists, fenced code), up to 200,000; ``/bench`` alone means 1,000.

Pacing: ``tokens_per_second`` (default 60) spaces the token-carrying events in time, sleeping in
batches of at least 10 ms so high rates stay accurate; ``None`` or ``0`` streams flat out, for
benchmarks. ``first_token_latency`` adds a pause before the first byte.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from tui.domain import ApiKind
from tui.providers.demo.errors import ApiError
from tui.providers.demo.request import (
    ParsedChat,
    ParsedResponses,
    StoredTurn,
    parse_chat,
    parse_responses,
)
from tui.providers.demo.text import (
    DemoConversation,
    LogEntry,
    argument_pieces,
    bench_text,
    bench_tokens,
    compose_answer,
    compose_reasoning,
    compose_tool_answer,
    plan_tools,
    tokenize,
)
from tui.providers.demo.wire import (
    DemoCall,
    DemoReply,
    Frame,
    ResponseMeta,
    chat_completion,
    chat_stream,
    error_body,
    pretty_json,
    response_object,
    responses_stream,
)
from tui.providers.presets import BUILTIN_MODELS, DEMO_BASE_URL

MIN_SLEEP = 0.01
"""Shortest pause worth taking; below it tokens are sent together so pacing stays accurate."""
FLAT_OUT_BATCH = 64
MODEL_CREATED = 1_767_225_600  # 2026-01-01, a fixed "created" for the model list


class _PacedBody(httpx.AsyncByteStream):
    """Streams frames, sleeping so token-carrying frames leave at the configured rate."""

    def __init__(self, frames: Iterable[Frame], tokens_per_second: float, latency: float) -> None:
        self._frames = frames
        self._rate = tokens_per_second
        self._latency = latency
        self._closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        if self._latency > 0:
            await asyncio.sleep(self._latency)
        loop = asyncio.get_running_loop()
        start = loop.time()
        tokens = 0
        pending: list[bytes] = []
        for frame in self._frames:
            if self._closed:
                return
            if frame.token and self._rate:
                delay = start + tokens / self._rate - loop.time()
                if delay >= MIN_SLEEP:
                    if pending:
                        yield b"".join(pending)
                        pending.clear()
                    await asyncio.sleep(delay)
                tokens += 1
            if frame.data:
                pending.append(frame.data)
            if not self._rate and len(pending) >= FLAT_OUT_BATCH:
                yield b"".join(pending)
                pending.clear()
                # Flat out still lets the event loop run (a UI must keep drawing).
                await asyncio.sleep(0)
        if pending:
            yield b"".join(pending)

    async def aclose(self) -> None:
        """The client left: stop at the next frame."""
        self._closed = True


@dataclass(frozen=True, slots=True)
class _Model:
    id: str
    chat: bool
    efforts: tuple[str, ...]
    always_reasons: bool


_MODELS = {
    model.id: _Model(
        id=model.id,
        chat=model.supports(ApiKind.CHAT),
        efforts=model.reasoning_efforts,
        # A model that cannot be asked not to reason (no "none" effort) always reasons.
        always_reasons="none" not in model.reasoning_efforts,
    )
    for model in BUILTIN_MODELS["demo"]
}


def _new_id(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex}"


def _hex(length: int) -> str:
    return (uuid.uuid4().hex + uuid.uuid4().hex)[:length]


def _plan(
    conversation: DemoConversation,
    *,
    reasoning: bool,
    effort: str | None,
    show_reasoning: bool,
    limit: int | None,
    input_tokens: int,
) -> DemoReply:
    tools = plan_tools(conversation)
    bench = bench_tokens(conversation.prompt)
    if tools.calls:
        answer = ""
    elif tools.results:
        answer = compose_tool_answer(conversation, tools.results)
    else:
        answer = bench_text(bench) if bench is not None else compose_answer(conversation)
    parts = (
        [tokenize(part) for part in compose_reasoning(conversation, effort)] if reasoning else []
    )
    text = tokenize(answer)
    truncated = False
    if limit is not None:
        truncated = sum(len(part) for part in parts) + len(text) > limit
        remaining = limit
        kept: list[list[str]] = []
        for part in parts:
            piece = part[:remaining]
            if piece:
                kept.append(piece)
            remaining -= len(piece)
        parts = kept
        text = text[:remaining]
    calls = [
        DemoCall(
            call_id=f"call_{_hex(24)}",
            item_id=f"fc_{_hex(48)}",
            name=name,
            pieces=tuple(argument_pieces(arguments)),
        )
        for name, arguments in tools.calls
    ]
    return DemoReply(
        reasoning=parts,
        text=text,
        input_tokens=input_tokens,
        truncated=truncated,
        show_reasoning=show_reasoning,
        calls=calls,
    )


class DemoTransport(httpx.AsyncBaseTransport):
    """An OpenAI-compatible server in a transport: see the module docstring."""

    def __init__(
        self,
        tokens_per_second: float | None = 60.0,
        *,
        first_token_latency: float = 0.0,
        max_stored_responses: int = 1000,
    ) -> None:
        if tokens_per_second is not None and tokens_per_second < 0:
            raise ValueError("tokens_per_second must be positive, or None/0 for flat out.")
        self.tokens_per_second = tokens_per_second or 0.0
        self.first_token_latency = max(0.0, first_token_latency)
        self.max_stored_responses = max(1, max_stored_responses)
        self._stored: OrderedDict[str, StoredTurn] = OrderedDict()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Answer one request as the server would; errors become OpenAI error bodies.

        The request is sent once its body is read: the transport reports that the way
        httpx's own does, through the ``trace`` extension.
        """
        body = await request.aread()
        trace = request.extensions.get("trace")
        if trace is not None:
            await trace("http11.send_request_body.complete", {"request": request})
        try:
            return await self._route(request.method, request.url.path.rstrip("/"), body)
        except ApiError as error:
            return httpx.Response(
                error.status,
                headers=self._headers("application/json; charset=utf-8"),
                content=error_body(
                    error.message, type_=error.type, param=error.param, code=error.code
                ),
            )

    async def _route(self, method: str, path: str, body: bytes) -> httpx.Response:
        if method == "POST" and path == "/v1/chat/completions":
            return await self._chat(parse_chat(body, _MODELS))
        if method == "POST" and path == "/v1/responses":
            return await self._responses(parse_responses(body, _MODELS, self._stored))
        if method == "GET" and path == "/v1/models":
            return self._json(200, {"object": "list", "data": [_model_entry(m) for m in _MODELS]})
        if method == "GET" and path.startswith("/v1/models/"):
            model_id = path.removeprefix("/v1/models/")
            if model_id in _MODELS:
                return self._json(200, _model_entry(model_id))
            raise ApiError.model_not_found(model_id, status=404)
        raise ApiError(404, f"Invalid URL ({method} {path or '/'})")

    def _headers(self, content_type: str) -> dict[str, str]:
        return {"content-type": content_type, "x-request-id": _new_id("req_")}

    def _json(self, status: int, value: Any) -> httpx.Response:
        return httpx.Response(
            status, headers=self._headers("application/json"), content=pretty_json(value)
        )

    def _streamed(self, frames: Iterable[Frame]) -> httpx.Response:
        paced = _PacedBody(frames, self.tokens_per_second, self.first_token_latency)
        headers = self._headers("text/event-stream; charset=utf-8")
        return httpx.Response(200, headers=headers, stream=paced)

    async def _whole(self, reply: DemoReply, content: bytes) -> httpx.Response:
        if self.tokens_per_second:
            # A non-streamed answer arrives when the whole of it would have been generated.
            duration = reply.output_tokens / self.tokens_per_second
            await asyncio.sleep(self.first_token_latency + duration)
        return httpx.Response(200, headers=self._headers("application/json"), content=content)

    async def _chat(self, parsed: ParsedChat) -> httpx.Response:
        model = _MODELS[parsed.model]
        reasoning = model.always_reasons or parsed.effort not in (None, "none")
        reply = _plan(
            parsed.conversation,
            reasoning=reasoning,
            effort=parsed.effort,
            show_reasoning=True,
            limit=parsed.limit,
            input_tokens=parsed.input_tokens,
        )
        completion_id = _new_id("chatcmpl-demo")
        created = int(time.time())
        if parsed.stream:
            frames = chat_stream(
                reply,
                completion_id=completion_id,
                model=parsed.model,
                created=created,
                include_usage=parsed.include_usage,
                obfuscate=parsed.obfuscate,
            )
            return self._streamed(frames)
        whole = chat_completion(
            reply, completion_id=completion_id, model=parsed.model, created=created
        )
        return await self._whole(reply, whole)

    async def _responses(self, parsed: ParsedResponses) -> httpx.Response:
        model = _MODELS[parsed.model]
        effort = parsed.effort or ("high" if model.always_reasons else None)
        reasoning = model.always_reasons or effort not in (None, "none")
        reply = _plan(
            parsed.conversation,
            reasoning=reasoning,
            effort=effort,
            show_reasoning=parsed.summary is not None,
            limit=parsed.limit,
            input_tokens=parsed.input_tokens,
        )
        meta = ResponseMeta(
            response_id=_new_id("resp_demo_"),
            model=parsed.model,
            created_at=int(time.time()),
            instructions=parsed.instructions,
            max_output_tokens=parsed.limit,
            previous_response_id=parsed.previous_response_id,
            effort=effort,
            summary=parsed.summary,
            store=parsed.store,
            temperature=parsed.temperature,
            top_p=1.0,
            reasoning_id=_new_id("rs_demo_"),
            message_id=_new_id("msg_demo_"),
            encrypted_reasoning=parsed.encrypted_reasoning,
            tools=parsed.tools,
            tool_choice=parsed.tool_choice,
            parallel_tool_calls=parsed.parallel_tool_calls,
        )
        if parsed.store:
            # Kept before streaming: like OpenAI, the response exists even if the client leaves.
            calls = tuple(
                LogEntry("call", call.call_id, call.name, call.arguments) for call in reply.calls
            )
            self._remember(meta.response_id, parsed.turn(len(reply.answer), calls))
        if parsed.stream:
            return self._streamed(responses_stream(meta, reply, obfuscate=parsed.obfuscate))
        return await self._whole(reply, pretty_json(response_object(meta, reply)))

    def _remember(self, response_id: str, turn: StoredTurn) -> None:
        self._stored[response_id] = turn
        while len(self._stored) > self.max_stored_responses:
            self._stored.popitem(last=False)


def _model_entry(model_id: str) -> dict[str, Any]:
    return {"id": model_id, "object": "model", "created": MODEL_CREATED, "owned_by": "tui-chat"}


def demo_mounts(
    transport: DemoTransport | None = None,
    *,
    tokens_per_second: float | None = 60.0,
    base_url: str = DEMO_BASE_URL,
) -> dict[str, httpx.AsyncBaseTransport]:
    """``mounts=`` for the shared ``httpx.AsyncClient``: the demo host goes to the transport."""
    demo = transport if transport is not None else DemoTransport(tokens_per_second)
    parts = urlsplit(base_url)
    return {f"{parts.scheme}://{parts.netloc}": demo}
