"""One HTTP response of the loopback server, written byte by byte as a behaviour asks."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import struct
from dataclasses import replace
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from tests.support import shapes
from tests.support.script import Behaviour

if TYPE_CHECKING:
    from tests.support.server import LoopbackServer, RecordedRequest


class ClientGone(Exception):
    """The client closed the connection while a response was being written."""


class Exchange:
    """Writes one response, watching for the client going away."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        number: int,
        server: LoopbackServer,
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.number = number
        self.server = server
        self.watch: asyncio.Future[bytes] | None = None

    async def respond(self, request: RecordedRequest, behaviour: Behaviour) -> bool:
        """Send the response; True if the connection stays open for another request."""
        server = self.server
        if server.api_key is not None and request.header("authorization") != (
            f"Bearer {server.api_key}"
        ):
            given = (request.header("authorization") or "")[7:]
            masked = given[:3] + "*****" + given[-4:] if len(given) > 8 else "***"
            body = shapes.error_body(f"Incorrect API key provided: {masked}.", "invalid_api_key")
            return await self.fixed(401, body)
        if behaviour.body is not None:
            return await self.raw(behaviour)
        if behaviour.status >= 400:
            body = shapes.error_body(behaviour.error_message, str(behaviour.error_code))
            return await self.fixed(behaviour.status, body, behaviour.headers)
        if request.method == "GET" and request.path == "/models":
            return await self.fixed(200, shapes.models_body(server.models))
        if request.path == "/responses" and not server.responses:
            body = shapes.error_body(f"Unknown request URL: {request.method} /responses.", None)
            return await self.fixed(404, body)
        if request.method == "POST" and request.path in ("/chat/completions", "/responses"):
            if not isinstance(request.json, dict):
                return await self.fixed(400, shapes.error_body("Invalid JSON body.", None))
            return await self.answer(request, request.json, behaviour)
        body = shapes.error_body(f"Unknown request URL: {request.method} {request.path}.", None)
        return await self.fixed(404, body)

    async def answer(
        self, request: RecordedRequest, body: dict[str, Any], behaviour: Behaviour
    ) -> bool:
        """A generated Chat Completions or Responses reply, streamed or not."""
        server = self.server
        model = str(body.get("model") or "loopback-chat")
        number = server.next_id()
        stream = bool(body.get("stream"))
        if server.reasoning and behaviour == Behaviour():
            behaviour = replace(behaviour, reasoning=server.reasoning)
        if request.path == "/chat/completions":
            messages = body.get("messages") or []
            messages = messages if isinstance(messages, list) else []
            turns = shapes.user_turns(messages)
            text = behaviour.text if behaviour.text is not None else _echo(messages, turns)
            if behaviour.tool_calls and behaviour.text is None:
                text = ""
            limit = body.get(server.token_limit_param) if server.token_limit_param else None
            if isinstance(limit, int) and not isinstance(limit, bool) and limit > 0:
                if not behaviour.tool_calls:
                    text, behaviour = _cut(text, behaviour, limit)
            chat_id = f"chatcmpl-loopback{number:06d}"
            if not stream:
                make = _chat_tool_completion if behaviour.tool_calls else shapes.chat_completion
                return await self.fixed(
                    200, make(behaviour, chat_id=chat_id, model=model, text=text)
                )
            if behaviour.flood:
                return await self.flood("chat", chat_id, model, behaviour.flood)
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            chat_events = _chat_tool_events if behaviour.tool_calls else shapes.chat_events
            events = chat_events(
                behaviour, chat_id=chat_id, model=model, text=text, include_usage=include_usage
            )
            if behaviour.fault == "error_event":
                events[behaviour.fault_after :] = shapes.chat_error_event(behaviour, chat_id)
            return await self.stream(events, behaviour)
        previous = body.get("previous_response_id")
        earlier = server.turns_before(previous)
        if earlier is None:
            message = f"Previous response with id '{previous}' not found."
            error = shapes.error_body(
                message, "previous_response_not_found", "previous_response_id"
            )
            return await self.fixed(400, error)
        items = body.get("input")
        items = [{"role": "user", "content": items}] if isinstance(items, str) else items or []
        items = items if isinstance(items, list) else []
        known = server.calls_of(previous) if previous else None
        if known is not None:
            unknown = _unknown_output(items, known)
            if unknown is not None:
                message = f"No tool call found for function call output with call_id {unknown}."
                return await self.fixed(400, shapes.error_body(message, None, "input"))
        turns = earlier + shapes.user_turns(items)
        text = behaviour.text if behaviour.text is not None else _echo(items, turns)
        if behaviour.tool_calls and behaviour.text is None:
            text = ""
        response_id = f"resp_loopback{number:06d}"
        if body.get("store", True) is not False and server.stored_responses:
            calls = (
                tuple(call[0] for call in behaviour.tool_calls) if behaviour.tool_calls else None
            )
            server.store(response_id, turns, calls)
        if behaviour.tool_calls:
            if not stream:
                obj = _tool_response_object(
                    behaviour, response_id=response_id, model=model, request=body, text=text
                )
                return await self.fixed(200, json.dumps(obj, indent=2).encode())
            events = _responses_tool_events(
                behaviour, response_id=response_id, model=model, request=body, text=text
            )
            if behaviour.fault == "error_event":
                events[behaviour.fault_after :] = shapes.responses_error_events(
                    behaviour, response_id
                )
            return await self.stream(events, behaviour)
        if not stream:
            status = "incomplete" if behaviour.incomplete else "completed"
            obj = shapes.response_object(
                behaviour,
                response_id=response_id,
                model=model,
                request=body,
                text=text,
                status=status,
            )
            return await self.fixed(200, json.dumps(obj, indent=2).encode())
        if behaviour.flood:
            return await self.flood("responses", response_id, model, behaviour.flood)
        events = shapes.responses_events(
            behaviour, response_id=response_id, model=model, request=body, text=text
        )
        if behaviour.fault == "error_event":
            events[behaviour.fault_after :] = shapes.responses_error_events(behaviour, response_id)
        return await self.stream(events, behaviour)

    # ---- writing ------------------------------------------------------------------------

    def head(
        self, status: int, headers: tuple[tuple[str, str], ...], *, chunked: bool, length: int = 0
    ) -> None:
        """Status line and headers; the body is chunked or has a Content-Length."""
        reason = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Status"
        lines = [f"HTTP/1.1 {status} {reason}"]
        names = {name.lower() for name, _ in headers}
        lines += [f"{name}: {value}" for name, value in headers]
        if "content-type" not in names:
            lines.append("content-type: application/json")
        lines.append("transfer-encoding: chunked" if chunked else f"content-length: {length}")
        if "x-request-id" not in names:
            lines.append("x-request-id: req_loopback")
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))

    async def fixed(
        self, status: int, body: bytes, headers: tuple[tuple[str, str], ...] = ()
    ) -> bool:
        """A whole body with a Content-Length."""
        self.head(status, headers, chunked=False, length=len(body))
        self.writer.write(body)
        await self.writer.drain()
        return True

    async def raw(self, behaviour: Behaviour) -> bool:
        """The behaviour's bytes as they are, optionally in small HTTP chunks."""
        body = behaviour.body or b""
        if not behaviour.chunk_size:
            return await self.fixed(behaviour.status, body, behaviour.headers)
        self.head(behaviour.status, behaviour.headers, chunked=True)
        for start in range(0, len(body), behaviour.chunk_size):
            self.chunk(body[start : start + behaviour.chunk_size])
            await self.writer.drain()
        self.writer.write(b"0\r\n\r\n")
        await self.writer.drain()
        return True

    def chunk(self, data: bytes) -> None:
        """One HTTP chunk."""
        self.writer.write(b"%x\r\n%s\r\n" % (len(data), data))

    async def stream(self, events: list[bytes], behaviour: Behaviour) -> bool:
        """SSE events, one HTTP chunk each, with the behaviour's pauses and faults."""
        sse_headers = (("content-type", "text/event-stream; charset=utf-8"), *behaviour.headers)
        self.head(behaviour.status, sse_headers, chunked=True)
        await self.writer.drain()
        self.watch = asyncio.ensure_future(self.reader.read(1))
        try:
            for index, event in enumerate(events):
                if behaviour.fault is not None and index == behaviour.fault_after:
                    if behaviour.fault == "reset":
                        self.reset()
                        return False
                    if behaviour.fault == "stall":
                        await self.pause(behaviour.stall_seconds, behaviour.keepalive_every)
                    elif behaviour.fault == "malformed_json":
                        self.chunk(b'data: {"choices": [{"delta": {"content": "oops"\n\n')
                    elif behaviour.fault == "invalid_utf8":
                        self.chunk(b'data: {"note": "bad \xff\xfe bytes"}\n\n')
                if index and behaviour.delay:
                    await self.pause(behaviour.delay, behaviour.keepalive_every)
                self.chunk(event)
                await self.writer.drain()
            self.writer.write(b"0\r\n\r\n")
            await self.writer.drain()
        except ConnectionError:
            self.server.note_disconnect(self.number)
            return False
        finally:
            # The next request is read from this reader: the watcher must be gone first.
            self.watch.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                await self.watch
        return True

    async def pause(self, seconds: float, keepalive_every: float) -> None:
        """Wait, sending keep-alive comments if asked; raise if the client leaves meanwhile."""
        assert self.watch is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while (left := deadline - loop.time()) > 0:
            step = min(left, keepalive_every) if keepalive_every else left
            await asyncio.wait({self.watch}, timeout=step)
            if self.watch.done():
                self.server.note_disconnect(self.number)
                raise ClientGone
            if keepalive_every:
                self.chunk(b": keep-alive\n\n")
                await self.writer.drain()

    async def flood(self, api: str, response_id: str, model: str, count: int) -> bool:
        """``count`` text events as fast as the socket takes them (for the benchmark)."""
        head, template, tail = shapes.flood_template(api, response_id, model)
        self.head(200, (("content-type", "text/event-stream; charset=utf-8"),), chunked=True)
        self.chunk(head)
        write, chunk_head = self.writer.write, b"%x\r\n" % len(template % 1000)
        for number in range(count):
            event = template % (1000 + number % 9000)
            write(chunk_head + event + b"\r\n")
            if number % 64 == 63:
                await self.writer.drain()
        self.chunk(tail)
        self.writer.write(b"0\r\n\r\n")
        await self.writer.drain()
        return True

    def reset(self) -> None:
        """Close with a TCP reset, as a crashed proxy would."""
        sock = self.writer.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.writer.transport.abort()


def _cut(text: str, behaviour: Behaviour, limit: int) -> tuple[str, Behaviour]:
    """The answer cut at ``limit`` tokens (a word each), as a server honouring a limit does."""
    words = text.split()
    tokens = behaviour.usage[1] if behaviour.usage else len(words)
    if tokens <= limit and len(words) <= limit:
        return text, behaviour
    prompt = behaviour.usage[0] if behaviour.usage else 0
    cut = replace(behaviour, finish_reason="length", usage=(prompt, limit, 0))
    return " ".join(words[:limit]), cut


# ---- tool calls -----------------------------------------------------------------------------


def _echo(items: list[Any], turns: int) -> str:
    """The default answer; after tool output (Chat ``role: tool`` messages, Responses
    ``function_call_output`` items ending the input) it echoes those outputs instead."""
    outputs: list[str] = []
    for item in reversed(items):
        if not isinstance(item, dict):
            break
        if item.get("type") == "function_call_output":
            outputs.append(_plain(item.get("output")))
        elif item.get("role") == "tool":
            outputs.append(_plain(item.get("content")))
        elif item.get("type") != "function_call":
            break
    if not outputs:
        return shapes.echo(items, turns)
    return f"[turn {turns}] tool results: {' | '.join(reversed(outputs))}"


def _plain(content: object) -> str:
    """A tool output's text: a string, or the ``text`` of a list of content parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(
            str(part.get("text", "")) for part in content if isinstance(part, dict)
        ).strip()
    return "" if content is None else json.dumps(content)


def _unknown_output(items: list[Any], known: tuple[str, ...]) -> str | None:
    """The first ``function_call_output`` call_id answering neither a call of the chained
    response nor a ``function_call`` item of this input; None if all are known.

    Only outputs chained to a response scripted with ``tool_calls`` are checked: a plain
    reply's calls are unknown to the server, so outputs chained to it are let through."""
    declared = set(known)
    declared.update(
        str(item.get("call_id"))
        for item in items
        if isinstance(item, dict) and item.get("type") == "function_call"
    )
    for item in items:
        if isinstance(item, dict) and item.get("type") == "function_call_output":
            call_id = str(item.get("call_id"))
            if call_id not in declared:
                return call_id
    return None


def _fragments(arguments: str) -> list[str]:
    """The arguments in at least two pieces (a few characters each), as models stream them."""
    if len(arguments) < 2:
        return [arguments, ""]
    size = max(1, min(8, len(arguments) // 2))
    return [arguments[start : start + size] for start in range(0, len(arguments), size)]


def _sse(payload: dict[str, Any], event: str | None = None) -> bytes:
    data = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {data}\n\n".encode()


def _payloads(events: list[bytes]) -> list[dict[str, Any]]:
    """The JSON payloads of SSE events (comments and ``[DONE]`` left out)."""
    found: list[dict[str, Any]] = []
    for event in events:
        for line in event.decode().splitlines():
            if line.startswith("data: {"):
                found.append(json.loads(line[6:]))
    return found


def _chat_tool_events(
    behaviour: Behaviour, *, chat_id: str, model: str, text: str, include_usage: bool
) -> list[bytes]:
    """A Chat Completions stream of tool calls, after any reasoning and text, as OpenAI sends
    it: the first chunk of a call has its index, id, type and name with ``arguments: ""``,
    later ones only index and an arguments fragment."""
    base = {
        "id": chat_id,
        "object": "chat.completion.chunk",
        "created": shapes.CREATED,
        "model": model,
        "system_fingerprint": "fp_loopback",
        **behaviour.extra,
    }

    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return _sse({**base, "choices": [choice], "usage": None})

    events: list[bytes] = []
    if text or behaviour.reasoning:
        prefix = replace(behaviour, tool_calls=(), no_done=True, usage=None)
        events = shapes.chat_events(
            prefix, chat_id=chat_id, model=model, text=text, include_usage=False
        )[:-1]  # without its finish chunk
    for index, (call_id, name, arguments) in enumerate(behaviour.tool_calls):
        head = {
            "index": index,
            "id": call_id,
            "type": "function",
            "function": {"name": name, "arguments": ""},
        }
        delta: dict[str, Any] = {"tool_calls": [head]}
        if not events:
            delta = {"role": "assistant", "content": None, "tool_calls": [head], "refusal": None}
        events.append(chunk(delta))
        for fragment in _fragments(arguments):
            piece = {"index": index, "function": {"arguments": fragment}}
            events.append(chunk({"tool_calls": [piece]}))
    events.append(chunk({}, behaviour.finish_reason))
    usage = shapes.chat_usage(behaviour)
    if include_usage and usage is not None:
        events.append(_sse({**base, "choices": [], "usage": usage}))
    if not behaviour.no_done:
        events.append(b"data: [DONE]\n\n")
    return events


def _chat_tool_completion(behaviour: Behaviour, *, chat_id: str, model: str, text: str) -> bytes:
    """A non-streamed ``chat.completion`` with ``message.tool_calls`` (content null if no text)."""
    body = json.loads(shapes.chat_completion(behaviour, chat_id=chat_id, model=model, text=text))
    message = body["choices"][0]["message"]
    message["content"] = text or None
    message["tool_calls"] = [
        {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}
        for call_id, name, arguments in behaviour.tool_calls
    ]
    return json.dumps(body, indent=2).encode()


def _call_items(behaviour: Behaviour, response_id: str) -> list[dict[str, Any]]:
    """The completed ``function_call`` output items (ids ``fc_...``) of a response."""
    stem = response_id.removeprefix("resp_")
    return [
        {
            "id": f"fc_{stem}_{number}",
            "type": "function_call",
            "status": "completed",
            "arguments": arguments,
            "call_id": call_id,
            "name": name,
        }
        for number, (call_id, name, arguments) in enumerate(behaviour.tool_calls, 1)
    ]


def _tool_response_object(
    behaviour: Behaviour,
    *,
    response_id: str,
    model: str,
    request: dict[str, Any],
    text: str,
) -> dict[str, Any]:
    """The final Response object: reasoning and text (if any), then the function calls."""
    status = "incomplete" if behaviour.incomplete else "completed"
    obj = shapes.response_object(
        behaviour, response_id=response_id, model=model, request=request, text=text, status=status
    )
    output = [item for item in obj["output"] if text or item.get("type") != "message"]
    obj["output"] = output + _call_items(behaviour, response_id)
    return obj


def _responses_tool_events(
    behaviour: Behaviour,
    *,
    response_id: str,
    model: str,
    request: dict[str, Any],
    text: str,
) -> list[bytes]:
    """A Responses stream of function calls, after any reasoning and text, as OpenAI sends it:
    per call ``output_item.added``, ``function_call_arguments.delta`` (two or more),
    ``function_call_arguments.done`` and ``output_item.done``; then ``response.completed``."""
    prefix = replace(behaviour, tool_calls=(), sequence_numbers=False, unknown_events=False)
    payloads = _payloads(
        shapes.responses_events(
            prefix, response_id=response_id, model=model, request=request, text=text
        )
    )[:-1]  # the terminal event follows the calls
    message_id = f"msg_{response_id}"
    if not text:
        payloads = [
            payload
            for payload in payloads
            if payload.get("item_id") != message_id
            and (payload.get("item") or {}).get("id") != message_id
        ]
    first = sum(1 for payload in payloads if payload["type"] == "response.output_item.added")
    for offset, done in enumerate(_call_items(behaviour, response_id)):
        index, item_id = first + offset, done["id"]
        added = {**done, "status": "in_progress", "arguments": ""}
        payloads.append(
            {"type": "response.output_item.added", "item": added, "output_index": index}
        )
        for fragment in _fragments(done["arguments"]):
            payloads.append(
                {
                    "type": "response.function_call_arguments.delta",
                    "delta": fragment,
                    "item_id": item_id,
                    "obfuscation": "xx",
                    "output_index": index,
                }
            )
        payloads.append(
            {
                "type": "response.function_call_arguments.done",
                "arguments": done["arguments"],
                "item_id": item_id,
                "output_index": index,
            }
        )
        payloads.append({"type": "response.output_item.done", "item": done, "output_index": index})
    final = _tool_response_object(
        behaviour, response_id=response_id, model=model, request=request, text=text
    )
    payloads.append({"type": f"response.{final['status']}", "response": final})
    return shapes.framed_events(behaviour, payloads)
