"""Tools for a turn: what is offered to the model, and one round of its calls, approved and run.

A round, in order:
1. every call the model made is matched to a server's tool by its wire name (``tool_names``);
   a name that matches none, or arguments that are not a JSON object, fail at once and the
   model is told why (nothing runs, nothing is asked);
2. the user approves each remaining call in turn (allow once, always allow this tool, deny), unless
   the tool is always allowed already; a denied call tells the model the user declined;
3. the approved calls run together, each within the time limit;
4. every call ends with an output for the model: the tool's result, or why there is none.

The policy (round limit, time limit, always-allowed tools) comes from the settings; "always
allow" is remembered through ``remember``, which the container points at the settings file.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Collection, Iterable
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any, Protocol

from tui.domain import ToolCall, ToolCallRecord, ToolSpec, ToolStatus
from tui.safe_text import inert
from tui.services.tool_names import ToolRef, wire_names

log = logging.getLogger(__name__)

DEFAULT_MAX_ROUNDS = 10
DEFAULT_TOOL_TIMEOUT = 60.0

DENIED_OUTPUT = "The user declined to run this tool call."
NO_APPROVER_OUTPUT = (
    "Tool calls are not allowed here (no one could approve them); answer without tools."
)
CANCELLED_OUTPUT = "The user stopped this tool call before it finished."
UNFINISHED_OUTPUT = "This tool call did not finish."


class Decision(StrEnum):
    """The user's answer to a tool call."""

    ALLOW = "allow"
    """Run it, this once."""
    ALWAYS = "always"
    """Run it, and every later call of this tool without asking."""
    DENY = "deny"


@dataclass(frozen=True, slots=True)
class ApprovalRequest:
    """A call waiting for the user: the record (name, arguments, server) and the tool's
    description. ``position`` and ``count`` place it among the round's calls."""

    record: ToolCallRecord
    description: str = ""
    position: int = 1
    count: int = 1


Approver = Callable[[ApprovalRequest], Awaitable[Decision]]
"""Asks the user about one call (a modal in the app, a y/N prompt in the CLI)."""


class ToolDefinition(Protocol):
    """A tool as a server lists it (``McpTool``)."""

    @property
    def server(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def description(self) -> str: ...
    @property
    def parameters(self) -> dict[str, Any]: ...


class CallOutcome(Protocol):
    """What running a tool gave (``ToolOutcome``)."""

    @property
    def output(self) -> str: ...
    @property
    def error(self) -> str | None: ...
    @property
    def duration_ms(self) -> int: ...


class ToolSource(Protocol):
    """Where tools come from and run: the MCP servers (``McpHub``)."""

    async def tools(self, names: Collection[str] | None = None) -> list[Any]:
        """The tools (``ToolDefinition``) of the servers in ``names`` (None: every enabled one),
        starting them when needed; a server that fails is left out, never raised."""
        ...

    async def call(
        self, server: str, tool: str, arguments: dict[str, Any], *, timeout: float | None = None
    ) -> Any:
        """Run one tool; returns a ``CallOutcome``; failures are in it, not raised."""
        ...


@dataclass(frozen=True, slots=True)
class ToolPolicy:
    """How tool calls are governed (``[tools]`` and each server's ``always_allow``)."""

    max_rounds: int = DEFAULT_MAX_ROUNDS
    """Rounds of tool calls one reply may make before it is stopped."""
    timeout: float = DEFAULT_TOOL_TIMEOUT
    """Seconds one call may run."""
    always_allow: frozenset[tuple[str, str]] = frozenset()
    """(server, tool) pairs that run without asking."""


@dataclass(frozen=True, slots=True)
class Offer:
    """The tools offered to one turn: their specs for the wire and where each name leads."""

    specs: tuple[ToolSpec, ...] = ()
    refs: dict[str, ToolRef] = field(default_factory=dict)
    descriptions: dict[str, str] = field(default_factory=dict)
    problems: tuple[str, ...] = ()
    """One line per server that could not be started (said once per failure)."""

    def __bool__(self) -> bool:
        return bool(self.specs)


NO_TOOLS = Offer()


def make_offer(tools: Iterable[ToolDefinition]) -> Offer:
    """Specs with names unique across servers, and the way back from each name."""
    listed = list(tools)
    by_pair = {(tool.server, tool.name): tool for tool in listed}
    refs = wire_names((tool.server, tool.name) for tool in listed)
    specs: list[ToolSpec] = []
    descriptions: dict[str, str] = {}
    for name, ref in refs.items():
        tool = by_pair[(ref.server, ref.tool)]
        parameters = tool.parameters if isinstance(tool.parameters, dict) else {}
        specs.append(ToolSpec(name, tool.description or "", parameters or {"type": "object"}))
        descriptions[name] = tool.description or ""
    return Offer(tuple(specs), refs, descriptions)


class ToolRunner:
    """Offers tools to turns and runs their calls under the policy."""

    def __init__(
        self,
        source: ToolSource,
        policy: ToolPolicy | None = None,
        *,
        remember: Callable[[str, str], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.source = source
        self.policy = policy or ToolPolicy()
        self.remember = remember
        """Called with (server, tool) when the user chooses "always allow"."""
        self.clock = clock
        self._allowed: set[tuple[str, str]] = set(self.policy.always_allow)
        self._said: set[tuple[str, str | None]] = set()

    def set_policy(self, policy: ToolPolicy) -> None:
        """New settings: the always-allowed set is theirs from now on (an "always allow" of
        this session is in them already: it was saved to the settings when chosen)."""
        self.policy = policy
        self._allowed = set(policy.always_allow)

    def allowed(self, server: str, tool: str) -> bool:
        return (server, tool) in self._allowed

    async def offer(self, without: Collection[str] = ()) -> Offer:
        """The tools of every enabled server but those in ``without``, ready to send."""
        names = None
        if without:
            names = [name for name in self.servers() if name not in without]
            if not names:
                return NO_TOOLS
        try:
            tools = await self.source.tools(names)
        except Exception:  # a tool server must never break a turn
            log.warning("could not list the tools", exc_info=True)
            return NO_TOOLS
        offer = make_offer(tool for tool in tools if tool.server not in without)
        return replace(offer, problems=tuple(self._new_failures(without)))

    def _new_failures(self, without: Collection[str]) -> list[str]:
        """Servers that failed since last said: one line each, with what to do."""
        states = getattr(self.source, "states", None)
        lines: list[str] = []
        for state in states() if states is not None else ():
            if state.status != "failed" or state.name in without:
                continue
            said = (state.name, state.error)
            if said in self._said:
                continue
            self._said.add(said)
            lines.append(
                inert(
                    f"MCP server {state.name} {state.describe()}; its tools are not offered "
                    "(Settings → MCP servers)."
                )
            )
        return lines

    def servers(self) -> list[str]:
        """The names of the enabled servers, as the source knows them."""
        states = getattr(self.source, "states", None)
        if states is None:
            return []
        return [state.name for state in states() if state.status != "off"]

    def records(
        self, calls: Iterable[ToolCall], offer: Offer, *, number: int, offset: int
    ) -> list[ToolCallRecord]:
        """A round's calls as records, each matched to its server's tool where it can be."""
        found: list[ToolCallRecord] = []
        for call in calls:
            ref = offer.refs.get(call.name)
            found.append(
                ToolCallRecord(
                    call_id=call.call_id,
                    name=call.name,
                    arguments=call.arguments,
                    server=ref.server if ref else None,
                    tool=ref.tool if ref else None,
                    round=number,
                    offset=offset,
                )
            )
        return found

    async def run_round(
        self,
        records: list[ToolCallRecord],
        offer: Offer,
        approve: Approver | None,
        changed: Callable[[ToolCallRecord], None],
    ) -> list[ToolCallRecord]:
        """Approve and run a round's calls; ``changed`` hears every change of a record.

        Returns the records, each finished. Cancelled (the user stopped the turn), the
        records still waiting or running are marked cancelled before the error goes on.
        """
        current = list(records)

        def update(index: int, record: ToolCallRecord) -> None:
            current[index] = record
            changed(record)

        try:
            runnable: list[tuple[int, dict[str, Any]]] = []
            for index, record in enumerate(current):
                arguments = self._check(index, record, update)
                if arguments is None:
                    continue
                request = ApprovalRequest(
                    record, offer.descriptions.get(record.name, ""), index + 1, len(current)
                )
                if await self._approved(request, approve, index, update):
                    runnable.append((index, arguments))
            await asyncio.gather(
                *(
                    self._run(index, current[index], arguments, update)
                    for index, arguments in runnable
                )
            )
        except asyncio.CancelledError:
            for index, record in enumerate(current):
                if not record.finished:
                    current[index] = replace(
                        record, status=ToolStatus.CANCELLED, output=CANCELLED_OUTPUT
                    )
            raise
        return current

    def not_run(self, records: list[ToolCallRecord], why: str) -> list[ToolCallRecord]:
        """Records of calls that will not run (the round limit), each saying why."""
        return [replace(record, status=ToolStatus.NOT_RUN, output=why) for record in records]

    # ------------------------------------------------------------------ one call

    def _check(
        self, index: int, record: ToolCallRecord, update: Callable[[int, ToolCallRecord], None]
    ) -> dict[str, Any] | None:
        """The call's arguments when it can run; otherwise the record fails, saying why."""
        if record.server is None or record.tool is None:
            error = f"unknown tool {inert(record.name)!r}"
            output = f"There is no tool named {record.name!r}; use one of the tools offered."
            update(index, replace(record, status=ToolStatus.FAILED, error=error, output=output))
            return None
        try:
            arguments = json.loads(record.arguments) if record.arguments.strip() else {}
        except json.JSONDecodeError as exc:
            error = f"the arguments are not valid JSON ({exc.msg} at character {exc.pos})"
            output = f"The call was not run: {error}. Call the tool again with a JSON object."
            update(index, replace(record, status=ToolStatus.FAILED, error=error, output=output))
            return None
        except (ValueError, RecursionError):  # nested too deep, a number too long, ...
            error = "the arguments could not be read (nested too deep or too large)"
            output = f"The call was not run: {error}. Call the tool again with a JSON object."
            update(index, replace(record, status=ToolStatus.FAILED, error=error, output=output))
            return None
        if not isinstance(arguments, dict):
            error = "the arguments are not a JSON object"
            output = f"The call was not run: {error}. Call the tool again with a JSON object."
            update(index, replace(record, status=ToolStatus.FAILED, error=error, output=output))
            return None
        return arguments

    async def _approved(
        self,
        request: ApprovalRequest,
        approve: Approver | None,
        index: int,
        update: Callable[[int, ToolCallRecord], None],
    ) -> bool:
        record = request.record
        assert record.server is not None and record.tool is not None
        if self.allowed(record.server, record.tool):
            return True
        if approve is None:
            update(index, replace(record, status=ToolStatus.DENIED, output=NO_APPROVER_OUTPUT))
            return False
        decision = await approve(request)
        if decision is Decision.DENY:
            update(index, replace(record, status=ToolStatus.DENIED, output=DENIED_OUTPUT))
            return False
        if decision is Decision.ALWAYS:
            self._allowed.add((record.server, record.tool))
            if self.remember is not None:
                try:
                    self.remember(record.server, record.tool)
                except Exception:  # the choice holds for this session even if not saved
                    log.warning("could not remember the always-allowed tool", exc_info=True)
        return True

    async def _run(
        self,
        index: int,
        record: ToolCallRecord,
        arguments: dict[str, Any],
        update: Callable[[int, ToolCallRecord], None],
    ) -> None:
        assert record.server is not None and record.tool is not None
        update(index, replace(record, status=ToolStatus.RUNNING))
        started = self.clock()
        try:
            outcome = await self.source.call(
                record.server, record.tool, arguments, timeout=self.policy.timeout
            )
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the hub reports failures in the outcome; this is a last guard
            log.warning("tool call %s failed", record.name, exc_info=True)
            took = int((self.clock() - started) * 1000)
            error = inert(f"the call failed: {exc}")
            update(
                index,
                replace(
                    record,
                    status=ToolStatus.FAILED,
                    error=error,
                    output=f"The tool failed: {exc}",
                    duration_ms=took,
                ),
            )
            return
        error = outcome.error
        output = outcome.output
        if error and not output:
            output = f"The tool failed: {error}"
        elif error:
            output = f"{output}\n(The tool failed: {error})"
        update(
            index,
            replace(
                record,
                status=ToolStatus.FAILED if error else ToolStatus.DONE,
                error=inert(error) if error else None,
                output=output,
                duration_ms=outcome.duration_ms,
            ),
        )


def round_limit_output(limit: int) -> str:
    return (
        f"Not run: this reply reached the limit of {limit} rounds of tool calls "
        "(tools.max_rounds in the settings)."
    )
