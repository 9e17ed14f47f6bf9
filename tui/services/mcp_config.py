"""MCP servers in the settings: importing the standard ``{"mcpServers": {...}}`` JSON file other
MCP clients use, and describing the configured servers (with their secrets masked)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from tui.config.settings import McpServerSettings, Settings, parse_mcp_server
from tui.safe_text import inert

HTTP_TYPES = ("http", "streamable-http", "streamable_http", "streamableHttp")


class McpImportError(ValueError):
    """The file cannot be read as an MCP servers file; the message says why, in one line."""


@dataclass(frozen=True)
class McpImport:
    """What an import found: servers to add, names already configured, and problems."""

    added: list[McpServerSettings] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    """Names already in the settings: the configured server is kept as it is."""
    problems: list[str] = field(default_factory=list)


def read_mcp_file(path: Path, settings: Settings) -> McpImport:
    """The servers of a ``{"mcpServers": {...}}`` file, checked as the settings check them."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise McpImportError(f"cannot read {path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or exc
        raise McpImportError(f"cannot read {path}: {reason}") from None
    except json.JSONDecodeError as exc:
        raise McpImportError(f"{path} is not JSON (line {exc.lineno}: {exc.msg})") from None
    servers = data.get("mcpServers") if isinstance(data, dict) else None
    if not isinstance(servers, dict):
        raise McpImportError(f'{path} has no "mcpServers" object (the standard MCP client file)')
    found = McpImport()
    for name, entry in servers.items():
        if not isinstance(entry, dict):
            found.problems.append(f"{inert(str(name))}: not an object; skipped.")
            continue
        section, problem = _section(entry)
        if problem is not None:
            found.problems.append(f"{inert(str(name))}: {problem}; skipped.")
            continue
        if name in settings.mcp_servers:
            found.kept.append(name)
            continue
        problems: list[str] = []
        server = parse_mcp_server(str(name), section, problems)
        found.problems.extend(inert(problem) for problem in problems)
        if server is not None:
            found.added.append(server)
    return found


def _section(entry: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """An ``mcpServers`` entry in the shape of ``[mcp_servers.NAME]``."""
    kind = entry.get("type")
    if kind == "sse":
        return {}, "the SSE transport is not supported (use streamable HTTP)"
    if kind is not None and kind != "stdio" and kind not in HTTP_TYPES:
        return {}, f"unknown type {inert(str(kind))!r}"
    keys = ("command", "args", "env", "cwd", "url", "headers")
    section = {key: entry[key] for key in keys if key in entry}
    if entry.get("disabled") is True:
        section["enabled"] = False
    return section, None


def with_servers(settings: Settings, servers: list[McpServerSettings]) -> Settings:
    """``settings`` with ``servers`` added (after the ones already there)."""
    merged = dict(settings.mcp_servers)
    merged.update((server.name, server) for server in servers)
    return replace(settings, mcp_servers=merged)


def describe(server: McpServerSettings) -> str:
    """One line for a server: how it is reached, with header and env values masked."""
    if server.command:
        where = " ".join([server.command, *server.args])
        extra = f" (env: {', '.join(sorted(server.env))})" if server.env else ""
        line = f"stdio: {where}{extra}"
    else:
        extra = f" (headers: {', '.join(sorted(server.headers))})" if server.headers else ""
        line = f"HTTP: {server.url}{extra}"
    state = "" if server.enabled else "  [disabled]"
    return inert(f"{server.name}  {line}{state}")
