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
            turns = shapes.user_turns(messages)
            text = behaviour.text if behaviour.text is not None else shapes.echo(messages, turns)
            limit = body.get(server.token_limit_param) if server.token_limit_param else None
            if isinstance(limit, int) and not isinstance(limit, bool) and limit > 0:
                text, behaviour = _cut(text, behaviour, limit)
            chat_id = f"chatcmpl-loopback{number:06d}"
            if not stream:
                return await self.fixed(
                    200, shapes.chat_completion(behaviour, chat_id=chat_id, model=model, text=text)
                )
            if behaviour.flood:
                return await self.flood("chat", chat_id, model, behaviour.flood)
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            events = shapes.chat_events(
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
        turns = earlier + shapes.user_turns(items)
        text = behaviour.text if behaviour.text is not None else shapes.echo(items, turns)
        response_id = f"resp_loopback{number:06d}"
        if body.get("store", True) is not False and server.stored_responses:
            server.store(response_id, turns)
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
