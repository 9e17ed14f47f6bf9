"""Provider failures as typed errors with a message a person can act on.

Every error carries ``action``: what the app (or the command line) suggests doing next. Messages
never contain an API key: build them from the provider's error text and our own words only.
"""

from __future__ import annotations

from enum import StrEnum


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


class PermissionDeniedError(ProviderError):
    action = Action.OPEN_SETTINGS
    default_message = "The API key is not allowed to use this model or endpoint."


class ModelNotFoundError(ProviderError):
    action = Action.PICK_MODEL
    default_message = "The provider does not know this model."

    @property
    def hint(self) -> str:
        return "Pick another model (Ctrl+O)."


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


class MalformedResponseError(ProviderError):
    """The server sent something that is not the protocol (bad JSON, bad UTF-8, wrong shape)."""

    action = Action.RETRY
    default_message = "The provider sent a response this app could not read."
