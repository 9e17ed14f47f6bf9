"""A real OpenAI-compatible HTTP/1.1 server on 127.0.0.1 for tests, benchmarks and manual runs.

Built on stdlib ``asyncio`` streams: it needs exact control of the bytes on the socket (a reset
after N events, a stall, invalid UTF-8, one event split over many HTTP chunks), which a web
framework would hide, and it adds no dependency. It runs its own event loop in a background
thread, so it never shares the client's loop, and starts in a few milliseconds.

Endpoints (with or without the ``/v1`` prefix): ``POST /chat/completions``, ``POST /responses``
(streamed or not; stored responses make ``previous_response_id`` chains work, unknown ids get
OpenAI's 400 ``previous_response_not_found``, and a chained ``function_call_output`` whose
call_id a chained tool-calling response never made gets OpenAI's 400 ``No tool call found``),
``GET /models``. ``script.tool_calls()`` makes an answer call functions on either API.
Every request is recorded. Constructor flags make it act like servers that lack a feature
(see ``LoopbackServer``).

``silent()`` scripts a server that takes the request and then sends nothing at all, not even
the status line, until the client leaves (a model that thinks for ever behind a proxy).

Standalone: ``python -m tests.support.server --port 8765`` and point a provider's base URL at
the printed address. Send ``x-loopback-script: <Behaviour JSON>`` to script one request.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from tests.support.exchange import ClientGone, Exchange
from tests.support.script import Behaviour

DEFAULT_MODELS = ("loopback-chat", "loopback-reasoner", "loopback-pro")
SILENT = "silent"
"""The fault of ``silent()``: no byte of a response, not even its status line."""


def silent(seconds: float = 30.0) -> Behaviour:
    """Take the request, then say nothing for ``seconds`` (or until the client leaves) and
    close the connection without a response."""
    return Behaviour(fault=SILENT, stall_seconds=seconds)


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


class LoopbackServer:
    """The server; use as a context manager or call ``start()`` and ``stop()``."""

    def __init__(
        self,
        *,
        api_key: str | None = None,
        models: tuple[str, ...] = DEFAULT_MODELS,
        port: int = 0,
        responses: bool = True,
        stored_responses: bool = True,
        token_limit_param: str | None = None,
        reasoning: str = "",
    ) -> None:
        """``responses=False`` answers 404 on ``/responses`` (llama.cpp before it had one);
        ``stored_responses=False`` keeps no response, so every ``previous_response_id`` is
        unknown (Ollama); ``token_limit_param`` is the one Chat Completions token-limit field
        the server honours (cutting the answer to that many words, ``finish_reason: length``),
        None ignoring both as the default; ``reasoning`` is thinking text sent with every
        unscripted answer (``reasoning_content`` on Chat, a summary on Responses)."""
        self.api_key = api_key
        self.models = models
        self.port = port
        self.responses = responses
        self.stored_responses = stored_responses
        self.token_limit_param = token_limit_param
        self.reasoning = reasoning
        self._script: deque[Behaviour] = deque()
        self._requests: list[RecordedRequest] = []
        self._disconnects: list[int] = []
        self._stored: dict[str, tuple[int, tuple[str, ...] | None]] = {}
        """Stored response id -> (user turns in its chain, call ids of its function calls, or
        None for a response scripted without calls)."""
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

    def stored_ids(self) -> list[str]:
        """The ids of the responses the server keeps, oldest first."""
        with self._lock:
            return list(self._stored)

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
        except (ConnectionError, asyncio.IncompleteReadError, ClientGone):
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
        if behaviour.fault == SILENT:
            return await self._say_nothing(reader, number, behaviour.stall_seconds)
        exchange = Exchange(reader, writer, number, self)
        return await exchange.respond(record, behaviour)

    async def _say_nothing(self, reader: asyncio.StreamReader, number: int, seconds: float) -> bool:
        """Send no response for ``seconds``; note it if the client leaves first."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await reader.read(1)  # b"" when the client closes; nothing else comes
                self.note_disconnect(number)
        return False  # the connection closes without a response

    def _behaviour_for(self, headers: dict[str, str]) -> Behaviour:
        scripted = headers.get("x-loopback-script")
        if scripted:
            return Behaviour.from_json(scripted)
        try:
            return self._script.popleft()
        except IndexError:
            return Behaviour()

    def next_id(self) -> int:
        """A new number for response ids."""
        return next(self._ids)

    def note_disconnect(self, number: int) -> None:
        """Record that the client left during response ``number``."""
        with self._lock:
            self._disconnects.append(number)

    def turns_before(self, previous: str | None) -> int | None:
        """User turns in the chain ending at ``previous``; None if it is not stored."""
        if not previous:
            return 0
        with self._lock:
            stored = self._stored.get(previous)
        return None if stored is None else stored[0]

    def calls_of(self, response_id: str) -> tuple[str, ...] | None:
        """The call ids of a stored response's function calls; None if it was scripted without
        any (or is not stored): outputs chained to it are then not checked."""
        with self._lock:
            stored = self._stored.get(response_id)
        return None if stored is None else stored[1]

    def store(self, response_id: str, turns: int, call_ids: tuple[str, ...] | None = None) -> None:
        """Keep a response (and the ids of the calls it made) so it can be chained from."""
        with self._lock:
            self._stored[response_id] = (turns, call_ids)


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
