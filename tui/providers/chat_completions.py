"""OpenAI Chat Completions (and compatible servers): request bodies and stream parsing.

Handles what compatible servers do differently (``../shared/wire/PROTOCOL.md`` section b): usage on
any chunk or none, ``reasoning_content`` (DeepSeek) and ``reasoning`` (OpenRouter) thinking text,
an ``error`` object inside a 200 stream, a ``finish_reason`` repeated on a later chunk, and a
stream that ends without ``data: [DONE]``.
"""

from __future__ import annotations

from typing import Any

from tui.domain import (
    AttachmentKind,
    ChatRequest,
    Failed,
    Finished,
    InputMessage,
    ProviderConfig,
    ReasoningDelta,
    ResponseStarted,
    Role,
    StreamEvent,
    TextDelta,
    ToolCall,
    ToolCallDelta,
    Usage,
)
from tui.providers.errors import EndpointNotSupportedError, NetworkError
from tui.providers.payloads import (
    ErrorContext,
    chat_usage,
    citation_from,
    data_url,
    load_json,
    load_object,
    text_of,
)

PATH = "/chat/completions"
CUT_SHORT = frozenset({"length", "content_filter"})


def build_chat_body(request: ChatRequest, config: ProviderConfig) -> dict[str, Any]:
    """The JSON body of ``POST /chat/completions`` for ``request``."""
    messages: list[dict[str, Any]] = []
    if request.instructions:
        messages.append({"role": "system", "content": request.instructions})
    for message in request.messages:
        if message.tool_results:
            messages.extend(
                {"role": "tool", "tool_call_id": result.call_id, "content": result.output}
                for result in message.tool_results
            )
        elif message.tool_calls:
            messages.append(
                {
                    "role": "assistant",
                    "content": message.content or None,
                    "tool_calls": [
                        {
                            "id": call.call_id,
                            "type": "function",
                            "function": {"name": call.name, "arguments": call.arguments},
                        }
                        for call in message.tool_calls
                    ],
                }
            )
        elif message.role is Role.USER and message.attachments:
            messages.append({"role": "user", "content": _user_parts(message.content, message)})
        else:
            messages.append({"role": message.role.value, "content": message.content})
    body: dict[str, Any] = {"model": request.model, "messages": messages, "stream": request.stream}
    if request.stream:
        body["stream_options"] = {"include_usage": True}
    if request.max_output_tokens is not None:
        body[config.max_tokens_param] = request.max_output_tokens
    if request.reasoning_effort:
        body["reasoning_effort"] = request.reasoning_effort
    if request.temperature is not None:
        body["temperature"] = request.temperature
    if request.verbosity:
        body["verbosity"] = request.verbosity
    if request.tools:
        body["tools"] = [
            {
                "type": "function",
                "function": {
                    "name": tool.name,
                    "description": tool.description,
                    "parameters": dict(tool.parameters),
                },
            }
            for tool in request.tools
        ]
        if request.tool_choice:
            body["tool_choice"] = request.tool_choice
        if request.parallel_tool_calls is not None:
            body["parallel_tool_calls"] = request.parallel_tool_calls
    return body


def _user_parts(text: str, message: InputMessage) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    if text:
        parts.append({"type": "text", "text": text})
    for attachment in message.attachments:
        if attachment.kind is AttachmentKind.IMAGE:
            parts.append({"type": "image_url", "image_url": {"url": data_url(attachment)}})
        elif attachment.data is None:
            raise EndpointNotSupportedError(
                f"The file {attachment.name!r} is only a URL, and Chat Completions takes files "
                "by content only.",
                use="responses",
            )
        else:
            parts.append(
                {
                    "type": "file",
                    "file": {"filename": attachment.name, "file_data": data_url(attachment)},
                }
            )
    return parts


class ChatStreamParser:
    """Turns Chat Completions stream chunks into stream events, one ``data:`` at a time."""

    __slots__ = ("_context", "_started", "_finish_reason", "_usage", "_tools", "_done")

    def __init__(self, context: ErrorContext | None = None) -> None:
        self._context = context or ErrorContext(api="chat")
        self._started = False
        self._finish_reason: str | None = None
        self._usage: Any = None
        self._tools: dict[int, list[str]] = {}
        self._done = False

    def feed(self, event: str, data: str, out: list[StreamEvent]) -> bool:
        """Parse one event's data into ``out``; True once the stream is over."""
        if data[:1] != "{":
            stripped = data.strip()
            if stripped == "[DONE]":
                self._end(out)
                return True
            if not stripped:
                return False
        chunk = load_object(data)
        if not self._started:
            self._started = True
            model = text_of(chunk.get("model")) or None
            out.append(ResponseStarted(text_of(chunk.get("id")), model, chainable=False))
        error = chunk.get("error")
        if error:
            payload = chunk if isinstance(error, dict | str) else {"error": str(error)}
            out.append(Failed(self._context.from_payload(payload)))
            self._done = True
            return True
        choices = chunk.get("choices")
        if choices and type(choices) is list and type(choices[0]) is dict:
            choice = choices[0]
            delta = choice.get("delta")
            if delta and type(delta) is dict:
                reasoning = delta.get("reasoning_content") or delta.get("reasoning")
                if reasoning and type(reasoning) is str:
                    out.append(ReasoningDelta(reasoning))
                content = delta.get("content")
                if content and type(content) is str:
                    out.append(TextDelta(content))
                if "tool_calls" in delta or "refusal" in delta or "annotations" in delta:
                    self._rare_delta_fields(delta, out)
            reason = choice.get("finish_reason")
            if reason and self._finish_reason is None:
                self._finish_reason = str(reason)
        usage = chunk.get("usage")
        if usage:
            self._usage = usage
        elif "x_groq" in chunk:
            self._usage = (chunk["x_groq"] or {}).get("usage") or self._usage
        return False

    def _rare_delta_fields(self, delta: dict[str, Any], out: list[StreamEvent]) -> None:
        refusal = delta.get("refusal")
        if refusal and type(refusal) is str:
            out.append(TextDelta(refusal))
        for call in delta.get("tool_calls") or ():
            if not isinstance(call, dict):
                continue
            index = call.get("index", len(self._tools))
            index = index if type(index) is int else 0
            slot = self._tools.setdefault(index, ["", "", ""])
            function = call.get("function")
            function = function if isinstance(function, dict) else {}
            slot[0] = slot[0] or text_of(call.get("id"))
            slot[1] = slot[1] or text_of(function.get("name"))
            piece = text_of(function.get("arguments"))
            slot[2] += piece
            if slot[1]:
                out.append(ToolCallDelta(list(self._tools).index(index), slot[1], piece))
        for annotation in delta.get("annotations") or ():
            citation = citation_from(annotation)
            if citation is not None:
                out.append(citation)

    def finish(self, out: list[StreamEvent]) -> None:
        """The stream ended (EOF) without ``[DONE]``: end it if the answer was complete."""
        if self._done:
            return
        if self._finish_reason is None:
            self._done = True
            out.append(
                Failed(
                    NetworkError(
                        "The provider closed the stream before the answer was complete.",
                        provider=self._context.provider,
                    )
                )
            )
            return
        self._end(out)

    def _end(self, out: list[StreamEvent]) -> None:
        if self._done:
            return
        self._done = True
        for call_id, name, arguments in self._tools.values():
            if call_id and name:
                out.append(ToolCall(call_id, name, arguments))
        usage = chat_usage(self._usage)
        if usage is not None:
            out.append(usage)
        reason = self._finish_reason or "stop"
        out.append(Finished(reason, incomplete=reason in CUT_SHORT))


def parse_chat_completion(
    body: bytes | str, context: ErrorContext | None = None
) -> list[StreamEvent]:
    """The events of a non-streamed ``chat.completion`` body (or an error inside a 200)."""
    context = context or ErrorContext(api="chat")
    payload = load_json(body, "a response")
    if type(payload) is not dict:
        return [Failed(context.from_payload({"error": {"message": "unexpected response"}}))]
    if payload.get("error"):
        return [Failed(context.from_payload(payload))]
    events: list[StreamEvent] = [
        ResponseStarted(text_of(payload.get("id")), text_of(payload.get("model")) or None)
    ]
    choices = payload.get("choices")
    choice = choices[0] if isinstance(choices, list) and choices else {}
    message = choice.get("message") if isinstance(choice, dict) else None
    message = message if isinstance(message, dict) else {}
    reasoning = text_of(message.get("reasoning_content")) or text_of(message.get("reasoning"))
    if reasoning:
        events.append(ReasoningDelta(reasoning))
    content = message.get("content")
    if isinstance(content, list):  # some servers answer with content parts
        content = "".join(text_of(p.get("text")) for p in content if isinstance(p, dict))
    text = text_of(content) or text_of(message.get("refusal"))
    if text:
        events.append(TextDelta(text))
    for annotation in message.get("annotations") or ():
        citation = citation_from(annotation)
        if citation is not None:
            events.append(citation)
    for call in message.get("tool_calls") or ():
        if isinstance(call, dict) and isinstance(call.get("function"), dict):
            function = call["function"]
            call_id, name = text_of(call.get("id")), text_of(function.get("name"))
            if call_id and name:
                events.append(ToolCall(call_id, name, text_of(function.get("arguments"))))
    usage: Usage | None = chat_usage(payload.get("usage"))
    if usage is not None:
        events.append(usage)
    reason = text_of(choice.get("finish_reason") if isinstance(choice, dict) else None) or "stop"
    events.append(Finished(reason, incomplete=reason in CUT_SHORT))
    return events
