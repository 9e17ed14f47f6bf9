"""A tiny example MCP server over stdio: ``python -m tui.mcp_clock``.

It has one tool, ``current_time(timezone="UTC")``, so a new user can see the tool loop work
without any key: add it to the settings as

    [mcp_servers.clock]
    command = "python"
    args = ["-m", "tui.mcp_clock"]
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mcp.server.fastmcp import FastMCP


def current_time(timezone: str = "UTC") -> str:
    """The current time in an IANA time zone (like "Europe/Paris"), as ISO 8601 with the
    zone's name."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone: {timezone!r} (use an IANA name like 'Europe/Paris')"
        ) from None
    return f"{datetime.now(zone).isoformat(timespec='seconds')} ({timezone})"


def build() -> FastMCP:
    from mcp.server.fastmcp import FastMCP

    server = FastMCP("clock")
    server.tool()(current_time)
    return server


def main() -> None:
    build().run("stdio")


if __name__ == "__main__":
    main()
