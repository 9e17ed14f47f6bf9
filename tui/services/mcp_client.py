"""MCP servers as tool providers: started lazily, kept up for the session, called with limits.

:class:`McpHub` runs every configured server (stdio child process or streamable HTTP) with the
official MCP SDK. Each server's SDK context managers are entered and exited in one runner task
of their own (anyio cancel scopes require it); calls are made on the session from the caller's
task. A server's failure never raises: it shows as a ``failed`` :class:`ServerState` with the
reason in one line, and a call returns an error :class:`ToolOutcome`.

The SDK (``mcp``) is imported lazily so that importing this module stays cheap.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import os
import tempfile
import time
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field, replace
from typing import IO, TYPE_CHECKING, Any

from tui.config.settings import McpServerSettings
from tui.safe_text import inert

if TYPE_CHECKING:
    from mcp import ClientSession
    from mcp.types import CallToolResult

log = logging.getLogger(__name__)

_MAX_ERROR = 300
_MAX_TOOL_PAGES = 100
_STOP_GRACE = 8.0
"""How long a stopping server may take (the SDK gives a stdio child 2 s after closing its
stdin, then SIGTERM, 2 s more, then SIGKILL) before its runner task is cancelled."""
_STDERR_TAIL = 4096


@dataclass(frozen=True, slots=True)
class ServerState:
    name: str
    status: str
    """"off" (disabled in settings) | "stopped" (not started yet) | "starting" | "ready" |
    "failed"."""
    tools: int = 0
    error: str | None = None
    """One line, inert, never containing header or env values."""

    def describe(self) -> str:
        if self.status == "off":
            return "disabled"
        if self.status == "stopped":
            return "not started"
        if self.status == "starting":
            return "starting…"
        if self.status == "ready":
            return "1 tool" if self.tools == 1 else f"{self.tools} tools"
        if self.status == "failed":
            return f"failed: {self.error or 'unknown error'}"
        return self.status


@dataclass(frozen=True, slots=True)
class McpTool:
    server: str
    name: str
    """The tool's own name on its server."""
    description: str
    parameters: dict[str, Any]
    """Its inputSchema."""


@dataclass(frozen=True, slots=True)
class ToolOutcome:
    output: str
    """Text for the model (not made inert: show it through :func:`inert`)."""
    error: str | None
    """None on success, else one clear line."""
    duration_ms: int
    truncated: bool = False


class _ServerGone(Exception):
    """The connection a call was using ended (the process died, the server went away)."""


@dataclass(eq=False)
class _Conn:
    """One run of a server: one runner task, one SDK session."""

    stop: asyncio.Event = field(default_factory=asyncio.Event)
    """Set to ask the runner to close the session and end."""
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    """Set on a stop request or when the connection is lost."""
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    """Set once the start ended, well or not."""
    gone: asyncio.Event = field(default_factory=asyncio.Event)
    """Set when the session is no longer usable."""
    session: ClientSession | None = None
    tools: list[McpTool] = field(default_factory=list)
    task: asyncio.Task[None] | None = None
    stderr: IO[str] | None = None
    lost: bool = False
    garbage: int = 0
    last_garbage: str = ""

    @property
    def alive(self) -> bool:
        return self.session is not None and not self.gone.is_set()

    def stderr_tail(self, lines: int = 5) -> list[str]:
        """The last non-empty lines the server wrote to stderr."""
        if self.stderr is None or self.stderr.closed:
            return []
        try:
            fd = self.stderr.fileno()
            size = os.fstat(fd).st_size
            start = max(0, size - _STDERR_TAIL)
            data = os.pread(fd, size - start, start)  # pread: the child shares the offset
        except OSError:
            return []
        text = data.decode("utf-8", "replace")
        return [line.strip() for line in text.splitlines() if line.strip()][-lines:]


@dataclass(eq=False)
class _Server:
    settings: McpServerSettings
    state: ServerState
    conn: _Conn | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    restartable: bool = False
    """It crashed after being ready: the next call (or tools()) may start it once more."""


class McpHub:
    """The configured MCP servers, started when first needed and kept up for the session."""

    def __init__(
        self,
        servers: Iterable[McpServerSettings],
        *,
        call_timeout: float = 60.0,
        start_timeout: float = 30.0,
        max_output: int = 100_000,
        on_change: Callable[[ServerState], None] | None = None,
    ) -> None:
        self.call_timeout = call_timeout
        self.start_timeout = start_timeout
        self.max_output = max_output
        self._on_change = on_change
        self._servers: dict[str, _Server] = {}
        self._stopping: set[asyncio.Task[None]] = set()
        self._runners: set[asyncio.Task[None]] = set()
        self.configure(servers)

    # -- configuration and state -------------------------------------------------------------

    def configure(self, servers: Iterable[McpServerSettings]) -> None:
        """New settings: servers removed or changed are stopped (in the background), new ones
        are "stopped" until needed; unchanged ones keep running (or keep their state)."""
        old = self._servers
        new: dict[str, _Server] = {}
        for settings in servers:
            kept = old.get(settings.name)
            if (
                kept is not None
                and _same_server(kept.settings, settings)
                and settings.name not in new
            ):
                kept.settings = settings  # e.g. another always-allowed tool: no restart
                new[settings.name] = kept
            else:
                new[settings.name] = _Server(settings, self._initial_state(settings))
        for name, server in old.items():
            if new.get(name) is not server:
                self._stop_in_background(server)
        self._servers = new

    async def restart(self, name: str) -> ServerState:
        """Start ``name`` afresh, as the user asked (after a failure, or to reload its tools);
        returns its state once it is ready or has failed. Unknown or disabled: left as is."""
        server = self._servers.get(name)
        if server is None or not server.settings.enabled:
            return server.state if server is not None else ServerState(name, "off")
        fresh = _Server(server.settings, self._initial_state(server.settings))
        self._servers = {
            key: fresh if key == name else value for key, value in self._servers.items()
        }
        self._stop_in_background(server)
        self._set_state(fresh, fresh.state)
        await self.tools([name])
        return fresh.state

    @staticmethod
    def _initial_state(settings: McpServerSettings) -> ServerState:
        return ServerState(settings.name, "stopped" if settings.enabled else "off")

    def states(self) -> list[ServerState]:
        """Every configured server in order, disabled ones "off"."""
        return [server.state for server in self._servers.values()]

    def _set_state(self, server: _Server, state: ServerState) -> None:
        server.state = state
        if self._servers.get(server.settings.name) is not server:
            return  # removed or replaced: nobody shows it any more
        if self._on_change is not None:
            try:
                self._on_change(state)
            except Exception:
                log.exception("on_change failed for MCP server %s", server.settings.name)

    def _fail(self, server: _Server, reason: str) -> None:
        error = self._one_line(server, reason)
        self._set_state(server, ServerState(server.settings.name, "failed", error=error))

    @staticmethod
    def _one_line(server: _Server, text: str) -> str:
        """``text`` as one inert line with no secret of the server's settings in it."""
        for secret in (*server.settings.headers.values(), *server.settings.env.values()):
            if secret and len(secret) >= 3:
                text = text.replace(secret, "***")
        line = " ".join(text.split())
        if len(line) > _MAX_ERROR:
            line = line[: _MAX_ERROR - 1] + "…"
        return inert(line)

    # -- tools -------------------------------------------------------------------------------

    async def tools(self, names: Collection[str] | None = None) -> list[McpTool]:
        """The tools of the ready servers among ``names`` (None: all enabled), starting those
        not running yet, concurrently. Never raises for a server's failure."""
        wanted = [
            server
            for name, server in self._servers.items()
            if server.settings.enabled and (names is None or name in names)
        ]
        conns = await asyncio.gather(*(self._ensure(server) for server in wanted))
        found: list[McpTool] = []
        for conn in conns:
            if conn is not None:
                found.extend(conn.tools)
        return found

    async def _ensure(self, server: _Server) -> _Conn | None:
        """The server's live connection, starting it if it is not running (and may start)."""
        async with server.lock:
            conn = server.conn
            if conn is not None and not conn.gone.is_set():
                await conn.ready.wait()
                return conn if conn.alive else None
            if server.state.status == "failed" and not server.restartable:
                return None
            if self._servers.get(server.settings.name) is not server:
                return None  # removed meanwhile
            server.restartable = False
            conn = _Conn()
            server.conn = conn
            self._set_state(server, ServerState(server.settings.name, "starting"))
            conn.task = asyncio.create_task(
                self._run(server, conn), name=f"mcp-server-{server.settings.name}"
            )
            self._runners.add(conn.task)
            conn.task.add_done_callback(self._runners.discard)
            await conn.ready.wait()
            return conn if conn.alive else None

    # -- the runner --------------------------------------------------------------------------

    async def _run(self, server: _Server, conn: _Conn) -> None:
        """Opens the transport and the session, initializes, lists the tools, then waits for a
        stop request or the connection's end; all SDK contexts live in this one task."""
        settings = server.settings
        try:
            async with contextlib.AsyncExitStack() as stack:
                session = await self._open(server, conn, stack)
                try:
                    import anyio

                    with anyio.fail_after(self.start_timeout):
                        await session.initialize()
                        tools = await self._list_tools(settings.name, session)
                except TimeoutError:
                    self._fail(server, self._start_timeout_reason(conn))
                    conn.gone.set()
                    conn.ready.set()  # the caller goes on while the transport closes
                    return
                except Exception as exc:
                    self._fail(server, self._start_failure(server, conn, exc))
                    conn.gone.set()
                    conn.ready.set()
                    return
                conn.tools = tools
                conn.session = session
                self._set_state(server, ServerState(settings.name, "ready", tools=len(tools)))
                log.info("MCP server %s ready with %d tools", settings.name, len(tools))
                conn.ready.set()
                await conn.wake.wait()
                if not conn.stop.is_set():
                    server.restartable = True
                    self._fail(server, self._exit_reason(conn))
                    log.warning("MCP server %s stopped: %s", settings.name, server.state.error)
                conn.gone.set()
        except asyncio.CancelledError:
            if not conn.ready.is_set() and not conn.stop.is_set():
                self._fail(server, "the start was cancelled")
            raise
        except Exception as exc:
            reason = self._start_failure(server, conn, exc)
            if conn.ready.is_set() and conn.session is not None:
                if not conn.stop.is_set() and server.state.status != "failed":
                    server.restartable = True
                    self._fail(server, f"the server stopped: {reason}")
            elif server.state.status != "failed" and not conn.stop.is_set():
                self._fail(server, reason)
            if server.state.error is not None:
                log.warning("MCP server %s: %s", settings.name, server.state.error)
        finally:
            conn.gone.set()
            conn.ready.set()
            if conn.stderr is not None:
                conn.stderr.close()
            if conn.stop.is_set() and self._servers.get(settings.name) is server:
                if server.state.status in ("ready", "starting"):
                    self._set_state(server, self._initial_state(settings))

    async def _open(
        self, server: _Server, conn: _Conn, stack: contextlib.AsyncExitStack
    ) -> ClientSession:
        """Enters the transport and the session on ``stack``; the session reads through a
        relay that drops non-JSON-RPC lines and notices when the connection ends."""
        import anyio
        from mcp import ClientSession

        settings = server.settings
        read: Any
        write: Any
        if settings.transport == "stdio":
            from mcp import StdioServerParameters
            from mcp.client.stdio import stdio_client

            assert settings.command is not None
            conn.stderr = tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace")
            params = StdioServerParameters(
                command=settings.command,
                args=list(settings.args),
                env=dict(settings.env) if settings.env else None,  # added to the SDK's safe set
                cwd=settings.cwd,
            )
            _quiet_sdk_parse_errors()
            read, write = await stack.enter_async_context(stdio_client(params, conn.stderr))
        else:
            import httpx
            from mcp.client.streamable_http import streamable_http_client

            if not settings.url:
                raise ValueError("no command and no url in its settings")
            # The SDK's recommended timeouts (a response stream may stay open); redirects are
            # followed by the SDK itself, within the endpoint's origin only.
            client = httpx.AsyncClient(
                headers=dict(settings.headers), timeout=httpx.Timeout(30.0, read=300.0)
            )
            await stack.enter_async_context(client)
            read, write, _ = await stack.enter_async_context(
                streamable_http_client(settings.url, http_client=client)
            )
        relay_send, relay_receive = anyio.create_memory_object_stream[Any](0)
        group = await stack.enter_async_context(anyio.create_task_group())
        stack.callback(group.cancel_scope.cancel)  # the relay ends with the session
        group.start_soon(self._relay, conn, read, relay_send)
        return await stack.enter_async_context(ClientSession(relay_receive, write))

    async def _relay(self, conn: _Conn, read: Any, send: Any) -> None:
        import anyio

        try:
            async with send:
                async for item in read:
                    if isinstance(item, Exception):
                        conn.garbage += 1
                        if conn.garbage == 1:
                            conn.last_garbage = _garbage_text(item)
                            log.info("An MCP server sent a line that is not JSON-RPC; ignored")
                        continue
                    await send.send(item)
        except (anyio.ClosedResourceError, anyio.BrokenResourceError, anyio.EndOfStream):
            pass
        finally:
            if not conn.stop.is_set():
                conn.lost = True
            conn.wake.set()

    @staticmethod
    async def _list_tools(server: str, session: ClientSession) -> list[McpTool]:
        from mcp.types import PaginatedRequestParams

        tools: list[McpTool] = []
        cursor: str | None = None
        for _page in range(_MAX_TOOL_PAGES):
            if cursor is None:
                result = await session.list_tools()
            else:
                result = await session.list_tools(params=PaginatedRequestParams(cursor=cursor))
            for tool in result.tools:
                schema = tool.inputSchema or {"type": "object", "properties": {}}
                tools.append(McpTool(server, tool.name, tool.description or "", dict(schema)))
            cursor = result.nextCursor
            if not cursor:
                break
        return tools

    # -- reasons -----------------------------------------------------------------------------

    def _start_timeout_reason(self, conn: _Conn) -> str:
        reason = f"no MCP handshake within {self.start_timeout:g} s"
        if conn.garbage:
            reason += f"; it printed {conn.garbage} line(s) that are not JSON-RPC"
            if conn.last_garbage:
                reason += f", like {conn.last_garbage!r}"
        else:
            tail = conn.stderr_tail(1)
            if tail:
                reason += f"; it said: {tail[-1]}"
        return reason

    def _exit_reason(self, conn: _Conn) -> str:
        tail = conn.stderr_tail(1)
        return "the server stopped" + (f": {tail[-1]}" if tail else "")

    def _start_failure(self, server: _Server, conn: _Conn, exc: BaseException) -> str:
        """Why the start failed, in words, from the SDK's (possibly grouped) exception."""
        from mcp import McpError

        cause = _root_cause(exc)
        tail = conn.stderr_tail(1)
        cwd = server.settings.cwd
        if isinstance(cause, FileNotFoundError) and cwd is not None and cause.filename == cwd:
            return f"working directory not found: {cwd}"
        if isinstance(cause, FileNotFoundError) and cause.filename is not None:
            return f"command not found: {cause.filename}"
        if isinstance(cause, PermissionError):
            return f"cannot run {cause.filename}: permission denied"
        if isinstance(cause, NotADirectoryError | FileNotFoundError):
            return f"cannot start: {cause.strerror or cause}"
        http = _http_reason(cause)
        if http is not None:
            return http
        if isinstance(cause, McpError):
            if conn.lost:
                return "the server exited" + (f": {tail[-1]}" if tail else " during the handshake")
            return f"the server answered: {cause.error.message}"
        if conn.lost:
            return "the server exited" + (f": {tail[-1]}" if tail else "")
        reason = f"{type(cause).__name__}: {cause}" if str(cause) else type(cause).__name__
        return reason + (f" (it said: {tail[-1]})" if tail else "")

    # -- calls -------------------------------------------------------------------------------

    async def call(
        self,
        server: str,
        tool: str,
        arguments: dict[str, Any],
        *,
        timeout: float | None = None,
    ) -> ToolOutcome:
        """Calls ``tool`` on ``server`` within a time limit. A server that died (before or
        during the call) is restarted once and the call retried once. Cancellation propagates
        as :class:`asyncio.CancelledError` and leaves the hub usable."""
        started = time.monotonic()

        def outcome(output: str, error: str | None, truncated: bool = False) -> ToolOutcome:
            return ToolOutcome(output, error, int((time.monotonic() - started) * 1000), truncated)

        entry = self._servers.get(server)
        if entry is None:
            return outcome("", inert(f"unknown MCP server: {' '.join(server.split())[:100]}"))
        if not entry.settings.enabled:
            return outcome("", f"the MCP server {inert(server)} is disabled")
        limit = self.call_timeout if timeout is None else timeout
        restarted = entry.state.status == "failed" and entry.restartable
        while True:
            conn = await self._ensure(entry)
            if conn is None:
                why = entry.state.error or "it is not running"
                return outcome("", f"the MCP server {inert(server)} is not available: {why}")
            if not any(t.name == tool for t in conn.tools):
                name = inert(" ".join(tool.split())[:100])
                return outcome("", f"the MCP server {inert(server)} has no tool named {name}")
            try:
                result = await self._call_on(conn, tool, arguments, limit)
            except TimeoutError:
                return outcome("", f"timed out after {limit:g} s")
            except _ServerGone:
                await self._wait_gone(conn)
                if restarted:
                    entry.restartable = False
                    if entry.state.status != "failed":
                        self._fail(entry, self._exit_reason(conn))
                    why = entry.state.error or "the server stopped"
                    return outcome("", f"{why} (again, after a restart)")
                restarted = True
                log.warning("MCP server %s stopped during a call; restarting it once", server)
                entry.restartable = True
                continue
            except Exception as exc:
                return outcome("", self._one_line(entry, self._call_failure(exc)))
            return self._outcome(result, outcome)

    async def _wait_gone(self, conn: _Conn) -> None:
        """Lets the runner of a lost connection finish (it marks the server failed)."""
        conn.wake.set()
        if conn.task is not None:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(conn.task), _STOP_GRACE)

    async def _call_on(
        self, conn: _Conn, tool: str, arguments: dict[str, Any], limit: float
    ) -> CallToolResult:
        """The call in a task of its own, raced against the connection's end and the time
        limit; cancelling the caller cancels it."""
        from mcp import McpError
        from mcp.types import CONNECTION_CLOSED

        session = conn.session
        if session is None or conn.gone.is_set():
            raise _ServerGone
        request = asyncio.ensure_future(session.call_tool(tool, arguments))
        gone = asyncio.ensure_future(conn.gone.wait())
        try:
            done, _ = await asyncio.wait(
                {request, gone}, timeout=limit, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            gone.cancel()
            if not request.done():
                request.cancel()
                with contextlib.suppress(BaseException):
                    await request
        if request in done:
            try:
                return request.result()
            except McpError as exc:
                if exc.error.code == CONNECTION_CLOSED or conn.gone.is_set():
                    raise _ServerGone from exc
                raise
            except Exception as exc:
                if conn.gone.is_set() or _is_closed(exc):
                    raise _ServerGone from exc
                raise
        if gone in done:
            raise _ServerGone
        raise TimeoutError

    @staticmethod
    def _call_failure(exc: BaseException) -> str:
        from mcp import McpError

        cause = _root_cause(exc)
        if isinstance(cause, McpError):
            return f"the server answered with an error: {cause.error.message}"
        http = _http_reason(cause)
        if http is not None:
            return http
        return f"the call failed: {type(cause).__name__}: {cause}"

    def _outcome(
        self, result: CallToolResult, outcome: Callable[[str, str | None, bool], ToolOutcome]
    ) -> ToolOutcome:
        output = describe_content(result)
        truncated = False
        if len(output) > self.max_output:
            total = len(output)
            output = (
                output[: self.max_output] + f"\n[truncated: the tool returned {total} characters, "
                f"only the first {self.max_output} are shown]"
            )
            truncated = True
        error = "the tool reported an error" if result.isError else None
        return outcome(output, error, truncated)

    # -- stopping ----------------------------------------------------------------------------

    def _stop_in_background(self, server: _Server) -> None:
        conn = server.conn
        if conn is None or conn.task is None or conn.task.done():
            return
        task = asyncio.create_task(self._stop(server), name=f"mcp-stop-{server.settings.name}")
        self._stopping.add(task)
        task.add_done_callback(self._stopping.discard)

    async def _stop(self, server: _Server) -> None:
        conn = server.conn
        if conn is None or conn.task is None:
            return
        conn.stop.set()
        conn.wake.set()
        task = conn.task
        if task.done():
            return
        if not conn.ready.is_set():
            task.cancel()  # still in its handshake: nothing to close gracefully
        done, _ = await asyncio.wait({task}, timeout=_STOP_GRACE)
        if not done:
            log.warning("MCP server %s did not stop in time; cancelling", server.settings.name)
            task.cancel()
            await asyncio.wait({task}, timeout=_STOP_GRACE)

    async def close(self) -> None:
        """Stops every server; stdio child processes are gone afterwards."""
        servers = list(self._servers.values())
        await asyncio.gather(*(self._stop(server) for server in servers), return_exceptions=True)
        if self._stopping:
            await asyncio.gather(*list(self._stopping), return_exceptions=True)
        leftover = [task for task in self._runners if not task.done()]
        if leftover:  # runs of earlier starts still closing their transport
            await asyncio.wait(leftover, timeout=_STOP_GRACE)


def _same_server(a: McpServerSettings, b: McpServerSettings) -> bool:
    """The same server to run: only what starts and reaches it counts (not which of its
    tools run without asking)."""
    return replace(a, always_allow=()) == replace(b, always_allow=())


def describe_content(result: CallToolResult) -> str:
    """A tool result as text for the model: text contents joined with newlines, other content
    described in one line each, structured content as JSON when there is no text."""
    from mcp import types

    lines: list[str] = []
    has_text = False
    for item in result.content:
        if isinstance(item, types.TextContent):
            lines.append(item.text)
            has_text = True
        elif isinstance(item, types.ImageContent):
            lines.append(f"[{item.mimeType} image, {_decoded_size(item.data)} bytes]")
        elif isinstance(item, types.AudioContent):
            lines.append(f"[{item.mimeType} audio, {_decoded_size(item.data)} bytes]")
        elif isinstance(item, types.ResourceLink):
            lines.append(f"[resource link: {item.uri}" + (f" ({item.name})]" if item.name else "]"))
        elif isinstance(item, types.EmbeddedResource):
            resource = item.resource
            if isinstance(resource, types.TextResourceContents):
                lines.append(resource.text)
                has_text = True
            else:
                mime = resource.mimeType or "binary"
                lines.append(
                    f"[resource {resource.uri}: {mime}, {_decoded_size(resource.blob)} bytes]"
                )
        else:
            lines.append(f"[{getattr(item, 'type', 'unknown')} content]")
    if not has_text and result.structuredContent is not None:
        lines.insert(0, json.dumps(result.structuredContent, ensure_ascii=False))
    return "\n".join(lines)


def _decoded_size(data: str) -> int:
    try:
        return len(base64.b64decode(data, validate=False))
    except (ValueError, TypeError):
        return len(data) * 3 // 4


def _root_cause(exc: BaseException) -> BaseException:
    """The first non-cancellation leaf of a (nested) exception group."""
    while isinstance(exc, BaseExceptionGroup):
        leaves = [e for e in exc.exceptions if not isinstance(e, asyncio.CancelledError)]
        exc = (leaves or list(exc.exceptions))[0]
    return exc


def _http_reason(exc: BaseException) -> str | None:
    """An httpx error in words, naming the status and the host but never a header."""
    import httpx

    if isinstance(exc, httpx.HTTPStatusError):
        response = exc.response
        return f"the server answered HTTP {response.status_code} {response.reason_phrase}".strip()
    if isinstance(exc, httpx.TimeoutException):
        return f"the server did not answer in time ({type(exc).__name__})"
    if isinstance(exc, httpx.ConnectError):
        try:
            where = exc.request.url.netloc.decode("ascii", "replace")
        except RuntimeError:
            where = "the server"
        return f"cannot connect to {where}"
    if isinstance(exc, httpx.HTTPError):
        return f"HTTP error: {type(exc).__name__}"
    return None


def _is_closed(exc: BaseException) -> bool:
    import anyio

    closed = (anyio.ClosedResourceError, anyio.BrokenResourceError, anyio.EndOfStream)
    return isinstance(exc, closed)


def _garbage_text(exc: Exception) -> str:
    """The start of a line that was not JSON-RPC, from pydantic's validation error."""
    value = None
    errors = getattr(exc, "errors", None)
    if callable(errors):
        with contextlib.suppress(Exception):
            value = errors()[0].get("input")
    text = value if isinstance(value, str) else ""
    return text[:60]


class _DropParseErrors(logging.Filter):
    """Drops the SDK's traceback for each stdout line that is not JSON-RPC (the hub logs the
    first one itself, without the line: it is the server's output, not ours to log)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Failed to parse JSONRPC message")


_parse_filter = _DropParseErrors()


def _quiet_sdk_parse_errors() -> None:
    sdk_log = logging.getLogger("mcp.client.stdio")
    if _parse_filter not in sdk_log.filters:
        sdk_log.addFilter(_parse_filter)
