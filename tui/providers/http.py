"""The one shared HTTP client, and what its transport failures mean to a user."""

from __future__ import annotations

import httpx

from tui import __version__
from tui.providers.errors import NetworkError, ProviderError, StreamTimeoutError

CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 600.0
"""Slow reasoning models can think for minutes before a non-streamed answer arrives."""
WRITE_TIMEOUT = 60.0
POOL_TIMEOUT = 30.0

DEFAULT_TIMEOUT = httpx.Timeout(
    connect=CONNECT_TIMEOUT, read=READ_TIMEOUT, write=WRITE_TIMEOUT, pool=POOL_TIMEOUT
)
DEFAULT_LIMITS = httpx.Limits(
    max_connections=32, max_keepalive_connections=8, keepalive_expiry=60.0
)
USER_AGENT = f"tui-chat/{__version__}"


def make_client(
    *,
    mounts: dict[str, httpx.AsyncBaseTransport] | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> httpx.AsyncClient:
    """Build the app's single ``httpx.AsyncClient`` (HTTP/1.1, keep-alive, long reads).

    Args:
        mounts: extra transports by URL pattern, e.g. the offline demo model's host.
        transport: replaces the network transport entirely (tests).
    """
    return httpx.AsyncClient(
        timeout=DEFAULT_TIMEOUT,
        limits=DEFAULT_LIMITS,
        headers={"User-Agent": USER_AGENT},
        mounts=mounts,
        transport=transport,
        follow_redirects=False,
    )


def stream_timeout(client: httpx.AsyncClient, stall_timeout: float) -> httpx.Timeout:
    """The client's timeouts with the read timeout set to ``stall_timeout``.

    httpx's read timeout fires when no byte (data or keep-alive comment) has arrived for that
    long. The provider keeps its own two limits (``first_token_timeout``, ``idle_timeout``) and
    sets this one above both, as a backstop.
    """
    base = client.timeout
    return httpx.Timeout(connect=base.connect, read=stall_timeout, write=base.write, pool=base.pool)


def format_limit(seconds: float) -> str:
    """A time limit as a message says it: ``0.5 s``, ``60 s``, ``90 s``, ``10m``, ``2m 30s``."""
    if seconds < 120:
        return f"{seconds:g} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes}m {rest:02d}s" if rest else f"{minutes}m"


def error_from_transport(
    exc: Exception,
    *,
    provider: str | None = None,
    url: httpx.URL | str | None = None,
    stall_timeout: float | None = None,
) -> ProviderError:
    """A typed error for an httpx failure; the message names the host, never the headers."""
    host = _host(url)
    where = f" {host}" if host else " the provider"
    if isinstance(exc, httpx.ReadTimeout):
        waited = f" for {stall_timeout:g} s" if stall_timeout else ""
        return StreamTimeoutError(f"The provider stopped sending data{waited}.", provider=provider)
    if isinstance(exc, httpx.ConnectTimeout):
        return NetworkError(f"Timed out connecting to{where}.", provider=provider)
    if isinstance(exc, httpx.PoolTimeout):
        return NetworkError(
            "Too many requests are already open to the provider.", provider=provider
        )
    if isinstance(exc, httpx.ConnectError):
        return NetworkError(f"Could not connect to{where}.", provider=provider, detail=_reason(exc))
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
        return NetworkError(
            "The provider's base URL is not a valid http:// or https:// address.",
            provider=provider,
        )
    if isinstance(exc, httpx.TimeoutException):
        return NetworkError(f"Timed out talking to{where}.", provider=provider)
    return NetworkError(
        f"The connection to{where} was lost.", provider=provider, detail=_reason(exc)
    )


def _host(url: httpx.URL | str | None) -> str | None:
    if url is None:
        return None
    try:
        parsed = httpx.URL(str(url))
    except httpx.InvalidURL:
        return None
    if not parsed.host:
        return None
    return f"{parsed.host}:{parsed.port}" if parsed.port else parsed.host


def _reason(exc: Exception) -> str | None:
    # httpx messages carry the OS reason ("Connection refused"), never request headers.
    text = str(exc).strip()
    return text[:200] or None
