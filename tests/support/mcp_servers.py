"""A real MCP test server, written with the SDK's FastMCP.

Over stdio: ``python -m tests.support.mcp_servers [--garbage-first] [--only-garbage]``.
Over streamable HTTP: :func:`serve_http` runs the same tools with uvicorn on 127.0.0.1 in a
background thread and returns a handle with the URL (optionally requiring a bearer token).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported when used: --only-garbage must print at once, not in a second
    from mcp.server.fastmcp import FastMCP

FIXED_CLOCK = "2026-12-04T12:00:00+00:00"
GARBAGE = "this is not JSON-RPC, just a chatty server"
# The smallest valid PNG (1x1, transparent): 67 bytes.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000a49444154789c6360000000020001e221bc330000000049454e44ae426082"
)


def build_server(**settings: Any) -> FastMCP:
    from mcp.server.fastmcp import FastMCP, Image

    server = FastMCP("test-tools", log_level="WARNING", **settings)

    @server.tool()
    def echo(text: str) -> str:
        """Returns the text unchanged."""
        return text

    @server.tool()
    def add(a: int, b: int) -> int:
        """Adds two integers."""
        return a + b

    @server.tool()
    def clock() -> str:
        """A fixed time, so tests can assert it."""
        return FIXED_CLOCK

    @server.tool()
    async def slow(seconds: float) -> str:
        """Sleeps, then answers."""
        await asyncio.sleep(seconds)
        return f"slept {seconds}"

    @server.tool()
    def big(size: int) -> str:
        """Returns `size` characters."""
        return "x" * size

    @server.tool()
    def crash() -> str:
        """Exits the process abruptly."""
        sys.stderr.write("crashing on purpose\n")
        sys.stderr.flush()
        os._exit(3)

    @server.tool()
    def crash_once(marker_path: str) -> str:
        """Exits abruptly the first time (no marker file yet), answers afterwards."""
        marker = Path(marker_path)
        if not marker.is_absolute():  # only a test's own temporary file, never the cwd
            raise ValueError("marker_path must be an absolute path")
        if not marker.exists():
            marker.write_text("crashed")
            sys.stderr.write("crashing once\n")
            sys.stderr.flush()
            os._exit(4)
        return "survived"

    @server.tool()
    def fail() -> str:
        """Raises: the SDK reports isError."""
        raise ValueError("this tool always fails")

    @server.tool()
    def image() -> Any:  # an Image, made image content by FastMCP
        """A tiny PNG."""
        return Image(data=PNG, format="png")

    @server.tool()
    def pid() -> int:
        """The server's process id."""
        return os.getpid()

    return server


def _free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    return sock


@dataclass
class HttpServer:
    url: str
    _server: Any
    _thread: threading.Thread

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)

    def __enter__(self) -> HttpServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve_http(*, token: str | None = None) -> HttpServer:
    """The test server over streamable HTTP on a free port; requires ``Authorization: Bearer
    <token>`` when ``token`` is given. Returns once it accepts connections."""
    import uvicorn
    from starlette.types import ASGIApp, Receive, Scope, Send

    app: ASGIApp = build_server(host="127.0.0.1").streamable_http_app()

    if token is not None:
        inner = app

        async def checked(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "http":
                headers = dict(scope.get("headers") or [])
                if headers.get(b"authorization") != f"Bearer {token}".encode():
                    await send(
                        {
                            "type": "http.response.start",
                            "status": 401,
                            "headers": [(b"content-type", b"text/plain")],
                        }
                    )
                    await send({"type": "http.response.body", "body": b"unauthorized"})
                    return
            await inner(scope, receive, send)

        app = checked

    sock = _free_socket()
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:  # uvicorn says so once it accepts connections
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test MCP HTTP server did not start")
        thread.join(timeout=0.01)  # returns at once if the server thread died
    return HttpServer(url=f"http://127.0.0.1:{port}/mcp", _server=server, _thread=thread)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--garbage-first", action="store_true")
    parser.add_argument("--only-garbage", action="store_true")
    options = parser.parse_args()
    if options.garbage_first or options.only_garbage:
        sys.stdout.write(GARBAGE + "\n")
        sys.stdout.flush()
    if options.only_garbage:
        sys.stderr.write("only garbage here\n")
        sys.stderr.flush()
        for _line in sys.stdin:  # never answers; exits when the client closes stdin
            sys.stdout.write(GARBAGE + "\n")
            sys.stdout.flush()
        return
    build_server().run("stdio")


if __name__ == "__main__":
    main()
