"""``tui-chat doctor``: probe what a provider's server really supports, and remember it.

The probe sends a handful of tiny requests through the same provider class every turn uses
(no retries, so a missing feature shows at once): ``GET /models``; a streamed Chat Completions
request (does usage arrive with ``stream_options.include_usage``?); a streamed Responses request
(is there a ``/responses``?); a second Responses request chained with ``previous_response_id``
(does the server keep responses?); what reasoning text came back; and a 16-token limit sent as
``max_completion_tokens`` and then as ``max_tokens`` (which one does the server honour?).

What it finds is stored as the provider's facts (``responses``, ``stateful_responses``,
``max_tokens_param``, ``stream_usage``, ``probed_at``, ``base_url``) and applied to the catalog,
so routing and the model picker follow it from then on (``ModelCatalog.apply_facts``).
Detail texts may quote the server's error messages: untrusted, for the caller to print safely.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import aclosing
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from tui.domain import (
    ApiKind,
    ChatRequest,
    Failed,
    Finished,
    InputMessage,
    ModelInfo,
    ProviderConfig,
    ReasoningDelta,
    ResponseStarted,
    Role,
    TextDelta,
    Usage,
)
from tui.providers.capabilities import is_chat_model
from tui.providers.errors import (
    NetworkError,
    NoResponsesApiError,
    PreviousResponseNotFoundError,
    ProviderError,
    StreamTimeoutError,
)
from tui.providers.openai_compat import OpenAICompatibleProvider
from tui.services.provider_registry import ProviderRegistry
from tui.store.repository import ConversationRepository

__all__ = [
    "TOKEN_LIMIT",
    "Check",
    "DoctorError",
    "DoctorReport",
    "pick_probe_model",
    "run_doctor",
]

TOKEN_LIMIT = 16
"""The token limit sent to see whether the server honours it."""
PROBE_STALL_TIMEOUT = 120.0
SMALL_HINTS = ("nano", "mini", "tiny", "small", "lite", "flash", "0.5b", "1b", "3b", "7b", "8b")
"""Words in the ids of small (fast, cheap) models, the first found preferred."""
TOKEN_LIMIT_FIELDS = ("max_completion_tokens", "max_tokens")
"""Probed in this order; the first is preferred when a server honours both."""
COUNTING_PROMPT = "Count from 1 to 200 in words, separated by spaces. Nothing else."


class DoctorError(Exception):
    """The probe could not run at all (no key, server unreachable): one line saying why."""


@dataclass(frozen=True, slots=True)
class Check:
    """One row of the report."""

    name: str
    result: str
    detail: str = ""


@dataclass
class DoctorReport:
    provider: str
    base_url: str
    model: str | None
    checks: list[Check] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)
    """What was stored for the provider."""


@dataclass
class _Outcome:
    """Everything one probe request returned."""

    text: str = ""
    reasoning: str = ""
    response: ResponseStarted | None = None
    usage: Usage | None = None
    finished: Finished | None = None
    error: ProviderError | None = None

    @property
    def ok(self) -> bool:
        return self.finished is not None and self.error is None


def pick_probe_model(models: Sequence[ModelInfo]) -> str | None:
    """A small chat model from a provider's list: one whose id says small, else the first."""
    ids = sorted({m.id for m in models if m.id.strip() and is_chat_model(m.id)})
    for hint in SMALL_HINTS:
        for model_id in ids:
            if hint in model_id.lower():
                return model_id
    return ids[0] if ids else None


async def run_doctor(
    registry: ProviderRegistry, name: str, *, model: str | None = None
) -> DoctorReport:
    """Probe ``name``'s server; nothing is stored yet (``remember`` does that).

    Raises ``DoctorError`` when the probe cannot run: no key for a provider that needs one, or
    no answer from the server at all.
    """
    config = registry.config(name)
    key = registry.api_key(name)
    if config.requires_key and not key:
        hint = f" (set {config.api_key_env})" if config.api_key_env else ""
        raise DoctorError(f"no API key is set for {config.label or name}{hint}")
    probe = _Probe(registry, config, key)
    return await probe.run(model)


async def remember(
    registry: ProviderRegistry, report: DoctorReport, repository: ConversationRepository
) -> None:
    """Store the report's facts and apply them to the running catalog."""
    if not report.facts:
        return
    update = registry.learn(report.provider, report.facts)
    await repository.save_provider_facts(report.provider, update)


class _Probe:
    def __init__(self, registry: ProviderRegistry, config: ProviderConfig, key: str | None):
        self.registry = registry
        self.config = config
        self.key = key
        self.provider = self._provider(config)

    def _provider(self, config: ProviderConfig) -> OpenAICompatibleProvider:
        return OpenAICompatibleProvider(
            config,
            self.registry.client,
            api_key=self.key,
            max_retries=0,
            stall_timeout=PROBE_STALL_TIMEOUT,
        )

    async def run(self, wanted: str | None) -> DoctorReport:
        config = self.config
        report = DoctorReport(config.name, config.base_url, None)
        checks = report.checks
        facts: dict[str, Any] = {"base_url": config.base_url}
        live: list[ModelInfo] = []
        try:
            live = await self.provider.list_models()
        except NetworkError as exc:
            if not isinstance(exc, StreamTimeoutError):
                raise DoctorError(f"cannot reach {config.base_url}: {_line(exc.message)}") from None
            checks.append(Check("GET /models", "failed", _line(str(exc))))
        except ProviderError as exc:
            checks.append(Check("GET /models", "failed", _line(str(exc))))
        else:
            listed = sum(1 for m in live if is_chat_model(m.id))
            checks.append(Check("GET /models", "ok", f"{len(live)} models ({listed} for chat)"))
        model = wanted or pick_probe_model(live) or self.registry.catalog.default_model(config.name)
        report.model = model or None
        if not model:
            checks.append(Check("model", "none", "no model to probe with; pass -m MODEL"))
            report.facts = {**facts, "probed_at": _now()}
            return report
        facts["model"] = model
        info = self.registry.catalog.model_info(config.name, model)
        effort = _probe_effort(info)

        # Chat Completions, streamed, asking for usage in the stream.
        chat = await self._send(model, ApiKind.CHAT, "Say hello in five words.", effort=effort)
        if chat.ok:
            checks.append(Check("chat stream", "ok", f"{len(chat.text)} characters streamed"))
            seen = chat.usage is not None
            facts["stream_usage"] = seen
            checks.append(
                Check(
                    "usage in stream",
                    "yes" if seen else "no",
                    "with stream_options.include_usage"
                    if seen
                    else "no usage chunk although include_usage was asked for",
                )
            )
        else:
            checks.append(Check("chat stream", "failed", _error_text(chat.error)))

        # Responses, streamed and stored; then a turn chained from it.
        first = await self._send(model, ApiKind.RESPONSES, "Say hello.", effort=effort)
        if first.ok:
            facts["responses"] = True
            checks.append(Check("/responses", "ok", "streaming works"))
            checks.append(await self._chain(model, first, facts))
        elif isinstance(first.error, NoResponsesApiError):
            facts["responses"] = False
            status = first.error.status
            checks.append(
                Check("/responses", "missing", f"{status} on /responses" if status else "")
            )
            checks.append(Check("previous_response_id", "skipped", "no Responses API"))
        else:
            checks.append(Check("/responses", "failed", _error_text(first.error)))
            checks.append(Check("previous_response_id", "skipped", "Responses failed"))

        checks.append(_reasoning_check(info, effort, chat, first))

        # The token-limit parameter, each name on its own.
        verdicts: dict[str, str] = {}
        for param in TOKEN_LIMIT_FIELDS:
            verdict, detail = await self._token_limit(model, param)
            verdicts[param] = verdict
            checks.append(Check(f"token limit: {param}", verdict, detail))
        chosen = _chosen_param(verdicts, config.max_tokens_param)
        if chosen is not None:
            facts["max_tokens_param"] = chosen
        checks.append(
            Check(
                "token-limit parameter",
                chosen or "unknown",
                "used on Chat Completions from now on"
                if chosen
                else f"keeping {config.max_tokens_param}",
            )
        )
        facts["probed_at"] = _now()
        report.facts = facts
        return report

    async def _chain(self, model: str, first: _Outcome, facts: dict[str, Any]) -> Check:
        started = first.response
        if started is None or not started.response_id:
            facts["stateful_responses"] = False
            return Check("previous_response_id", "no", "no response id came back")
        if not started.chainable:
            facts["stateful_responses"] = False
            return Check("previous_response_id", "no", "the server did not store the response")
        second = await self._send(
            model, ApiKind.RESPONSES, "And once more.", previous=started.response_id
        )
        if second.ok:
            facts["stateful_responses"] = True
            return Check("previous_response_id", "yes", "a chained second request worked")
        if isinstance(second.error, PreviousResponseNotFoundError):
            facts["stateful_responses"] = False
            return Check("previous_response_id", "no", "stored responses are not kept (not found)")
        return Check("previous_response_id", "failed", _error_text(second.error))

    async def _token_limit(self, model: str, param: str) -> tuple[str, str]:
        provider = self._provider(replace(self.config, max_tokens_param=param))
        outcome = await self._send(
            model,
            ApiKind.CHAT,
            COUNTING_PROMPT,
            limit=TOKEN_LIMIT,
            stream=False,
            provider=provider,
        )
        if outcome.error is not None:
            return "rejected", _error_text(outcome.error)
        if outcome.finished is None:
            return "unclear", "no answer"
        tokens = outcome.usage.output_tokens if outcome.usage else None
        if outcome.finished.incomplete:
            said = f", {tokens} tokens" if tokens is not None else ""
            return "honoured", f"cut short at {TOKEN_LIMIT} (finish: length{said})"
        words = len(outcome.text.split())
        if (tokens is not None and tokens > TOKEN_LIMIT) or words > TOKEN_LIMIT:
            amount = f"{tokens} tokens" if tokens is not None else f"{words} words"
            return "ignored", f"{amount} came back for a limit of {TOKEN_LIMIT}"
        return "unclear", "the answer was short anyway"

    async def _send(
        self,
        model: str,
        api: ApiKind,
        text: str,
        *,
        effort: str | None = None,
        previous: str | None = None,
        limit: int | None = None,
        stream: bool = True,
        provider: OpenAICompatibleProvider | None = None,
    ) -> _Outcome:
        request = ChatRequest(
            model=model,
            messages=(InputMessage(Role.USER, text),),
            previous_response_id=previous,
            reasoning_effort=effort,
            reasoning_summary="auto" if effort and api is ApiKind.RESPONSES else None,
            max_output_tokens=limit,
            store=True,
            stream=stream,
        )
        outcome = _Outcome()
        texts: list[str] = []
        thoughts: list[str] = []
        events = (provider or self.provider).stream(request, api)
        async with aclosing(events):
            async for event in events:
                if isinstance(event, TextDelta):
                    texts.append(event.text)
                elif isinstance(event, ReasoningDelta):
                    thoughts.append(event.text)
                elif isinstance(event, ResponseStarted):
                    outcome.response = event
                elif isinstance(event, Usage):
                    outcome.usage = event
                elif isinstance(event, Finished):
                    outcome.finished = event
                elif isinstance(event, Failed):
                    outcome.error = event.error
        outcome.text, outcome.reasoning = "".join(texts), "".join(thoughts)
        return outcome


def _probe_effort(info: ModelInfo) -> str | None:
    """A low reasoning effort for a model known to reason, so reasoning text may come back."""
    efforts = [e for e in info.reasoning_efforts if e not in ("none", "minimal")]
    if not efforts:
        return None
    return "low" if "low" in efforts else efforts[0]


def _reasoning_check(info: ModelInfo, effort: str | None, chat: _Outcome, first: _Outcome) -> Check:
    seen = []
    if chat.reasoning:
        seen.append("reasoning text on Chat (reasoning_content / reasoning)")
    if first.reasoning:
        seen.append("a reasoning summary on Responses")
    if seen:
        return Check("reasoning", "seen", "; ".join(seen))
    asked = f"effort {effort} asked for" if effort else f"{info.id} is not known to reason"
    return Check("reasoning", "not seen", asked)


def _chosen_param(verdicts: dict[str, str], current: str) -> str | None:
    """The token-limit field to use: the one honoured, else the one not rejected."""
    honoured = [p for p in TOKEN_LIMIT_FIELDS if verdicts.get(p) == "honoured"]
    if len(honoured) == 1:
        return honoured[0]
    if len(honoured) > 1:
        return current if current in honoured else honoured[0]
    accepted = [p for p in TOKEN_LIMIT_FIELDS if verdicts.get(p) not in ("rejected", None)]
    if len(accepted) == 1 and any(v == "rejected" for v in verdicts.values()):
        return accepted[0]
    return None


def _error_text(error: ProviderError | None) -> str:
    return _line(str(error)) if error is not None else "no answer"


def _line(text: str) -> str:
    """One line, clipped: server text is put in a table cell."""
    flat = " ".join(text.split())
    return flat if len(flat) <= 160 else flat[:157] + "..."


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
