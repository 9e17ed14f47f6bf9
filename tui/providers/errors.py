"""Provider failures as typed errors with a message a person can act on.

Every error carries ``action``: what the app (or the command line) suggests doing next. Messages
never contain an API key: build them from the provider's error text and our own words only.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Any

from tui.providers.wire_values import MAX_RETRY_AFTER as MAX_RETRY_AFTER
from tui.providers.wire_values import clip_detail, text_value
from tui.providers.wire_values import parse_retry_after as parse_retry_after
from tui.providers.wire_values import redact as redact


class Action(StrEnum):
    """What the user can do about an error."""

    NONE = "none"
    OPEN_SETTINGS = "open_settings"
    """Set or fix the API key / base URL."""
    PICK_MODEL = "pick_model"
    USE_RESPONSES = "use_responses"
    """The model is served only by the Responses API."""
    USE_CHAT = "use_chat"
    """The provider or model has no Responses API."""
    RETRY_LATER = "retry_later"
    RETRY = "retry"
    SHORTEN = "shorten"
    """Start a new conversation or shorten the input."""


class ProviderError(Exception):
    """Base of every provider failure."""

    action: Action = Action.RETRY
    default_message = "The provider returned an error."

    def __init__(
        self,
        message: str | None = None,
        *,
        status: int | None = None,
        code: str | None = None,
        provider: str | None = None,
        request_id: str | None = None,
        detail: str | None = None,
    ) -> None:
        self.message = message or self.default_message
        self.status = status
        self.code = code
        self.provider = provider
        self.request_id = request_id
        self.detail = detail
        """The provider's own error text, when it adds to ``message``."""
        super().__init__(self.message)

    @property
    def hint(self) -> str:
        """One sentence on what to do next."""
        return ""

    def __str__(self) -> str:
        hint = self.hint
        return f"{self.message} {hint}".strip() if hint else self.message


class AuthenticationError(ProviderError):
    action = Action.OPEN_SETTINGS
    default_message = "The provider rejected the API key."

    def __init__(self, message: str | None = None, *, key_env: str | None = None, **kw: object):
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.key_env = key_env

    @property
    def hint(self) -> str:
        where = f" or the {self.key_env} environment variable" if self.key_env else ""
        return f"Set the key in Settings (Ctrl+S){where}."


class MissingKeyError(AuthenticationError):
    default_message = "No API key is set for this provider."

    @property
    def hint(self) -> str:
        if self.detail:  # e.g. a key that is set but only ever sent to its own provider
            return f"{self.detail} Or set a key in Settings (Ctrl+S)."
        return super().hint


class PermissionDeniedError(ProviderError):
    action = Action.OPEN_SETTINGS
    default_message = "The API key is not allowed to use this model or endpoint."


class ModelNotFoundError(ProviderError):
    action = Action.PICK_MODEL
    default_message = "The provider does not know this model."

    @property
    def hint(self) -> str:
        return "Pick another model (Settings, Ctrl+S, or -m on the command line)."


class EndpointNotSupportedError(ProviderError):
    """The model exists but not on this API (e.g. a ``-pro`` model on Chat Completions)."""

    action = Action.USE_RESPONSES
    default_message = "This model is only served by the Responses API."

    def __init__(self, message: str | None = None, *, use: str = "responses", **kw: object):
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.use = use
        self.action = Action.USE_RESPONSES if use == "responses" else Action.USE_CHAT

    @property
    def hint(self) -> str:
        name = "Responses" if self.use == "responses" else "Chat Completions"
        return f"Switch this conversation to the {name} API."


class NoResponsesApiError(EndpointNotSupportedError):
    """The server has no ``/responses`` at all (404 or 405 there): llama.cpp, older servers.

    Under ``api = auto`` the engine answers over Chat Completions instead and remembers it;
    this error reaches the user only when the Responses API was asked for explicitly.
    """

    default_message = "This server has no Responses API"

    def __init__(self, message: str | None = None, **kw: object) -> None:
        super().__init__(message, use="chat", **kw)
        if message is None:
            where = f" ({self.status} on /responses)" if self.status else ""
            self.message = f"{self.default_message}{where}."
            self.args = (self.message,)

    @property
    def hint(self) -> str:
        return "Choose Chat Completions or auto as the API (on the command line: --api chat)."


class PreviousResponseNotFoundError(ProviderError):
    """The server no longer has the response we chained from; the engine resends the path."""

    action = Action.NONE
    default_message = "The provider no longer has the previous response."


class RateLimitError(ProviderError):
    action = Action.RETRY_LATER
    default_message = "The provider is rate limiting requests."

    def __init__(
        self, message: str | None = None, *, retry_after: float | None = None, **kw: object
    ):
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.retry_after = retry_after

    @property
    def hint(self) -> str:
        if self.retry_after is not None:
            return f"Try again in {max(1, round(self.retry_after))} s."
        return "Wait a moment and try again."


class QuotaExceededError(ProviderError):
    action = Action.OPEN_SETTINGS
    default_message = "The account has run out of credit or quota."

    @property
    def hint(self) -> str:
        return "Check the plan and billing with the provider, or use another provider."


class ContextTooLongError(ProviderError):
    action = Action.SHORTEN
    default_message = "The conversation is too long for this model's context window."

    @property
    def hint(self) -> str:
        return "Start a new conversation, branch from an earlier message, or pick a larger model."


class BadRequestError(ProviderError):
    action = Action.NONE
    default_message = "The provider rejected the request."


class ContentFilterError(ProviderError):
    action = Action.NONE
    default_message = "The provider's content filter stopped the answer."


class ServerError(ProviderError):
    action = Action.RETRY
    default_message = "The provider had an internal error."

    @property
    def hint(self) -> str:
        return "Try again; if it persists, the provider may be having an outage."


class NetworkError(ProviderError):
    action = Action.RETRY
    default_message = "Could not reach the provider."

    @property
    def hint(self) -> str:
        return "Check the connection and the provider's base URL, then try again."


class StreamTimeoutError(NetworkError):
    default_message = "The provider stopped sending data."


class _LimitError(StreamTimeoutError):
    """A time limit of the provider's settings ran out; ``table`` names that settings table."""

    def __init__(self, message: str | None = None, *, table: str | None = None, **kw: object):
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.table = table

    def _where(self) -> str:
        return f" in [providers.{self.table}]" if self.table else " in the provider's settings"


class FirstTokenTimeoutError(_LimitError):
    """Nothing of the reply arrived within the provider's ``first_token_timeout``."""

    default_message = "The provider did not start the reply in time."

    @property
    def hint(self) -> str:
        return (
            f"Raise first_token_timeout{self._where()} (--first-token-timeout on the command "
            "line), then retry (Ctrl+R)."
        )


class IdleTimeoutError(_LimitError):
    """The reply had started, then nothing arrived for the provider's ``idle_timeout``."""

    @property
    def hint(self) -> str:
        return (
            f"Retry (Ctrl+R), or raise idle_timeout{self._where()} (--idle-timeout on the "
            "command line)."
        )


class MalformedResponseError(ProviderError):
    """The server sent something that is not the protocol (bad JSON, bad UTF-8, wrong shape)."""

    action = Action.RETRY
    default_message = "The provider sent a response this app could not read."


class EndpointNotFoundError(ProviderError):
    """The server has no such path: usually a base URL missing ``/v1`` or pointing elsewhere."""

    action = Action.OPEN_SETTINGS
    default_message = "The provider has no such API endpoint."

    @property
    def hint(self) -> str:
        return "Check the provider's base URL in Settings (it usually ends in /v1)."


class ConfigurationError(ProviderError):
    """The settings name something that does not exist or cannot work (provider, base URL)."""

    action = Action.OPEN_SETTINGS
    default_message = "The provider settings are not usable."


# --------------------------------------------------------------------------------------------
# Mapping what a server said to the hierarchy above
# --------------------------------------------------------------------------------------------

_TITLE_PATTERN = re.compile(r"(?is)<title[^>]*>(.*?)</title>")
_CONTEXT_PHRASES = ("context length", "context_length", "context window", "maximum context")
_QUOTA_PHRASES = ("exceeded your current quota", "insufficient_quota", "insufficient balance")
_FILTER_CODES = {"content_filter", "content_policy_violation", "content_filtered"}


def error_from_payload(
    payload: Mapping[str, Any],
    *,
    status: int | None = None,
    headers: Mapping[str, str] | None = None,
    provider: str | None = None,
    api: str | None = None,
    key_env: str | None = None,
    model: str | None = None,
    secrets: Iterable[str | None] = (),
) -> ProviderError:
    """A typed error from an error object in any of the shapes servers use.

    Accepts ``{"error": {...}}`` bodies, the nested and flat Responses ``error`` events, a
    ``response.error`` object, OpenRouter's integer codes and ``{"detail": ...}`` bodies.
    """
    inner: Any = payload.get("error")
    if isinstance(inner, Mapping):
        err: Mapping[str, Any] = inner
        message = text_value(err.get("message")) or text_value(payload.get("message"))
    else:
        err = payload
        message = (
            text_value(inner)
            or text_value(payload.get("message"))
            or text_value(payload.get("detail"))
        )
    raw_code = err.get("code")
    if status is None:
        top = payload.get("status")
        if isinstance(raw_code, int) and 400 <= raw_code <= 599:
            status = raw_code
        elif isinstance(top, int) and 400 <= top <= 599:
            status = top
    metadata = err.get("metadata")
    if isinstance(metadata, Mapping) and text_value(metadata.get("raw")):
        message = f"{message or ''} ({metadata['raw']})".strip()
    return _classify(
        status=status,
        code=text_value(raw_code),
        kind=text_value(err.get("type")),
        param=text_value(err.get("param")),
        message=message,
        headers=headers,
        provider=provider,
        api=api,
        key_env=key_env,
        model=model,
        secrets=tuple(secrets),
    )


def error_from_response(
    status: int,
    headers: Mapping[str, str] | None,
    body: bytes,
    *,
    provider: str | None = None,
    api: str | None = None,
    key_env: str | None = None,
    model: str | None = None,
    secrets: Iterable[str | None] = (),
) -> ProviderError:
    """A typed error from an HTTP error response; the body is read as JSON whatever its type."""
    try:
        payload = json.loads(body) if body.strip() else None
    except ValueError:
        payload = None
    if not isinstance(payload, Mapping):
        # Not JSON (a proxy's page, plain text): the text, or a web page's title, is the message.
        text = body.decode("utf-8", "replace").strip()
        if text.startswith("<"):
            title = _TITLE_PATTERN.search(text)
            text = title.group(1) if title else ""
        payload = {"error": {"message": text}}
    return error_from_payload(
        payload,
        status=status,
        headers=headers,
        provider=provider,
        api=api,
        key_env=key_env,
        model=model,
        secrets=secrets,
    )


def _classify(
    *,
    status: int | None,
    code: str | None,
    kind: str | None,
    param: str | None,
    message: str | None,
    headers: Mapping[str, str] | None,
    provider: str | None,
    api: str | None,
    key_env: str | None,
    model: str | None,
    secrets: tuple[str | None, ...],
) -> ProviderError:
    detail = clip_detail(message, secrets)
    lowered = (detail or "").lower()
    tag = (code or "").lower()
    kind_tag = (kind or "").lower()
    common: dict[str, Any] = {
        "status": status,
        "code": code,
        "provider": provider,
        "request_id": headers.get("x-request-id") if headers else None,
        "detail": detail,
    }
    if (
        tag == "previous_response_not_found"
        or param == "previous_response_id"
        or "previous_response_id" in lowered
        or "previous response with id" in lowered
    ):
        return PreviousResponseNotFoundError(**common)
    if "only supported in v1/responses" in lowered:
        return EndpointNotSupportedError(use="responses", **common)
    if "only supported in v1/chat/completions" in lowered:
        return EndpointNotSupportedError(
            "This model is only served by the Chat Completions API.", use="chat", **common
        )
    if tag == "context_length_exceeded" or any(p in lowered for p in _CONTEXT_PHRASES):
        return ContextTooLongError(**common)
    if (
        status == 402
        or "insufficient_quota" in (tag, kind_tag)
        or any(p in lowered for p in _QUOTA_PHRASES)
    ):
        return QuotaExceededError(**common)
    if (
        tag == "model_not_found"
        or (status == 404 and param == "model")
        or (status in (400, 404) and "model" in lowered and "does not exist" in lowered)
    ):
        named = f"The provider does not know the model {model!r}." if model else None
        return ModelNotFoundError(named, **common)
    if status == 401 or tag in ("invalid_api_key", "unauthorized"):
        return AuthenticationError(key_env=key_env, **common)
    if status == 403:
        return PermissionDeniedError(**common)
    if status == 429 or tag in ("rate_limit_exceeded", "rate_limited"):
        return RateLimitError(retry_after=parse_retry_after(headers), **common)
    if tag in _FILTER_CODES:
        return ContentFilterError(**common)
    if status in (404, 405) and api == "responses":
        return NoResponsesApiError(**common)
    if status == 404:
        return EndpointNotFoundError(**common)
    if status is not None and 300 <= status < 400:
        location = headers.get("location") if headers else None
        if location:
            common["detail"] = clip_detail(f"Redirected to {location}", secrets)
        return EndpointNotFoundError("The provider redirected the request elsewhere.", **common)
    if status == 413:
        return ContextTooLongError("The request is too large for the provider.", **common)
    if status in (408, 409):
        return ServerError("The provider could not handle the request in time.", **common)
    if (
        (status is not None and status >= 500)
        or tag == "server_error"
        or kind_tag == "server_error"
    ):
        return ServerError(**common)
    if status is not None and 400 <= status < 500:
        said = f"The provider rejected the request: {detail}" if detail else None
        return BadRequestError(said, **common)
    said = f"The provider reported an error: {detail}" if detail else None
    return ProviderError(said, **common)
