"""A real OpenAI-compatible HTTP/1.1 server on 127.0.0.1 for tests, benchmarks and manual runs.

Built on stdlib ``asyncio`` streams: it needs exact control of the bytes on the socket (a reset
after N events, a stall, invalid UTF-8, one event split over many HTTP chunks), which a web
framework would hide, and it adds no dependency. It runs its own event loop in a background
thread, so it never shares the client's loop, and starts in a few milliseconds.

Endpoints (with or without the ``/v1`` prefix): ``POST /chat/completions``, ``POST /responses``
(streamed or not; stored responses make ``previous_response_id`` chains work, unknown ids get
OpenAI's 400 ``previous_response_not_found``), ``GET /models``. Every request is recorded.

Standalone: ``python -m tests.support.server --port 8765`` and point a provider's base URL at
the printed address. Send ``x-loopback-script: <Behaviour JSON>`` to script one request.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import socket
import struct
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from tests.support import shapes
from tests.support.script import Behaviour

DEFAULT_MODELS = ("loopback-chat", "loopback-reasoner", "loopback-pro")


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the server received it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    json: Any

    def header(self, name: str) -> str | None:
        """A header's value by case-insensitive name."""
        return self.headers.get(name.lower())


class _ClientGone(Exception):
    """The client closed the connection while a response was being written."""


class LoopbackServer:
    """The server; use as a context manager or call ``start()`` and ``stop()``."""

    def __init__(
        self,
        *,
        api_key: str | None = None,
        models: tuple[str, ...] = DEFAULT_MODELS,
        port: int = 0,
    ) -> None:
        self.api_key = api_key
        self.models = models
        self.port = port
        self._script: deque[Behaviour] = deque()
        self._requests: list[RecordedRequest] = []
        self._disconnects: list[int] = []
        self._stored: dict[str, int] = {}
        self._ids = itertools.count(1)
        self._connections = 0
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._tasks: set[asyncio.Task[None]] = set()

    # ---- control from the test's thread -------------------------------------------------

    @property
    def base_url(self) -> str:
        """What a provider's ``base_url`` should be."""
        return f"http://127.0.0.1:{self.port}/v1"

    def enqueue(self, *behaviours: Behaviour) -> None:
        """Script the next requests, in order; unscripted requests get an echo reply."""
        self._script.extend(behaviours)

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request so far, oldest first."""
        with self._lock:
            return list(self._requests)

    @property
    def disconnects(self) -> list[int]:
        """Indexes (into ``requests``) of responses the client abandoned midway."""
        with self._lock:
            return list(self._disconnects)

    @property
    def connections(self) -> int:
        """TCP connections accepted so far (keep-alive reuses one)."""
        return self._connections

    def forget(self, response_id: str) -> None:
        """Drop a stored response, as OpenAI does after 30 days."""
        with self._lock:
            self._stored.pop(response_id, None)

    def start(self) -> LoopbackServer:
        """Start serving in a background thread; returns once the port is open."""
        self._thread = threading.Thread(target=self._run, name="loopback-server", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the loopback server did not start")
        return self

    def stop(self) -> None:
        """Stop serving, drop open connections and join the thread."""
        if self._loop is not None and self._stop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(10)

    def __enter__(self) -> LoopbackServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # ---- the server's own loop ----------------------------------------------------------

    def _run(self) -> None:
        asyncio.run(self.serve())

    async def serve(self, on_ready: Any = None) -> None:
        """Serve until ``stop()``; ``on_ready`` is called once the port is known."""
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        server = await asyncio.start_server(self._connection, "127.0.0.1", self.port)
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        if on_ready is not None:
            on_ready(self)
        try:
            await self._stop.wait()
        finally:
            server.close()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            await server.wait_closed()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._connections += 1
        try:
            while await self._one_request(reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError, _ClientGone):
            pass
        finally:
            self._tasks.discard(task)
            writer.close()

    async def _one_request(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        line = await reader.readline()
        if not line.strip():
            return False
        method, target, _ = line.decode("latin-1").split(" ", 2)
        headers: dict[str, str] = {}
        while True:
            header_line = await reader.readline()
            if header_line in (b"\r\n", b"\n", b""):
                break
            name, _, value = header_line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        try:
            payload = json.loads(body) if body else None
        except ValueError:
            payload = None
        path = target.split("?", 1)[0]
        path = path[3:] if path.startswith("/v1/") else path
        record = RecordedRequest(method, path, headers, body, payload)
        with self._lock:
            self._requests.append(record)
            number = len(self._requests) - 1
        behaviour = self._behaviour_for(headers)
        exchange = _Exchange(reader, writer, number, self)
        return await exchange.respond(record, behaviour)

    def _behaviour_for(self, headers: dict[str, str]) -> Behaviour:
        scripted = headers.get("x-loopback-script")
        if scripted:
            return Behaviour.from_json(scripted)
        try:
            return self._script.popleft()
        except IndexError:
            return Behaviour()

    def _next_id(self) -> int:
        return next(self._ids)

    def _note_disconnect(self, number: int) -> None:
        with self._lock:
            self._disconnects.append(number)

    def _turns(self, previous: str | None) -> int | None:
        with self._lock:
            return self._stored.get(previous) if previous else 0

    def _store(self, response_id: str, turns: int) -> None:
        with self._lock:
            self._stored[response_id] = turns


class _Exchange:
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
        if request.method == "POST" and request.path in ("/chat/completions", "/responses"):
            if not isinstance(request.json, dict):
                return await self.fixed(400, shapes.error_body("Invalid JSON body.", None))
            return await self.answer(request, request.json, behaviour)
        body = shapes.error_body(f"Unknown request URL: {request.method} {request.path}.", None)
        return await self.fixed(404, body)

    async def answer(
        self, request: RecordedRequest, body: dict[str, Any], behaviour: Behaviour
    ) -> bool:
        server = self.server
        model = str(body.get("model") or "loopback-chat")
        number = server._next_id()
        stream = bool(body.get("stream"))
        if request.path == "/chat/completions":
            messages = body.get("messages") or []
            turns = shapes.user_turns(messages)
            text = behaviour.text if behaviour.text is not None else shapes.echo(messages, turns)
            chat_id = f"chatcmpl-loopback{number:06d}"
            if not stream:
                return await self.fixed(
                    200, shapes.chat_completion(behaviour, chat_id=chat_id, model=model, text=text)
                )
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            events = shapes.chat_events(
                behaviour, chat_id=chat_id, model=model, text=text, include_usage=include_usage
            )
            if behaviour.flood:
                return await self.flood("chat", chat_id, model, behaviour.flood)
            if behaviour.fault == "error_event":
                events[behaviour.fault_after :] = shapes.chat_error_event(behaviour, chat_id)
            return await self.stream(events, behaviour)
        previous = body.get("previous_response_id")
        earlier = server._turns(previous)
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
        if body.get("store", True) is not False:
            server._store(response_id, turns)
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
        self.head(status, headers, chunked=False, length=len(body))
        self.writer.write(body)
        await self.writer.drain()
        return True

    async def raw(self, behaviour: Behaviour) -> bool:
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
        self.writer.write(b"%x\r\n%s\r\n" % (len(data), data))

    async def stream(self, events: list[bytes], behaviour: Behaviour) -> bool:
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
            self.server._note_disconnect(self.number)
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
                self.server._note_disconnect(self.number)
                raise _ClientGone
            if keepalive_every:
                self.chunk(b": keep-alive\n\n")
                await self.writer.drain()

    async def flood(self, api: str, response_id: str, model: str, count: int) -> bool:
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


@contextlib.contextmanager
def running(**options: Any) -> Iterator[LoopbackServer]:
    """A started server for a ``with`` block."""
    server = LoopbackServer(**options).start()
    try:
        yield server
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> None:
    """Run the server in the foreground until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m tests.support.server", description=__doc__)
    parser.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    parser.add_argument("--api-key", help="require this bearer key")
    parser.add_argument("--models", default=",".join(DEFAULT_MODELS))
    args = parser.parse_args(argv)
    server = LoopbackServer(
        api_key=args.api_key, models=tuple(filter(None, args.models.split(","))), port=args.port
    )

    def ready(started: LoopbackServer) -> None:
        print(f"serving {started.base_url}", flush=True)

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(server.serve(ready))


if __name__ == "__main__":
    main()
