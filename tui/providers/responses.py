"""OpenAI Responses API: request bodies and stream parsing.

The stream is a sequence of typed events ending in ``response.completed``, ``.incomplete`` or
``.failed`` (or an ``error`` event), with no ``[DONE]`` (``../shared/wire/PROTOCOL.md`` section a).
Only the few event types that carry something for the user are read; every other type, known or
not, is skipped. ``sequence_number`` is never required.
"""

from __future__ import annotations

from collections.abc import Callable
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
    WebSearch,
)
from tui.providers.errors import NetworkError
from tui.providers.payloads import (
    ErrorContext,
    citation_from,
    data_url,
    load_object,
    responses_usage,
    text_of,
)

PATH = "/responses"
WEB_SEARCH_TOOL = {"type": "web_search_preview"}
_GAP = "\n\n"
"""Between reasoning summary parts, which arrive as separate paragraphs."""


def build_responses_body(request: ChatRequest, config: ProviderConfig) -> dict[str, Any]:
    """The JSON body of ``POST /responses`` for ``request``."""
    body: dict[str, Any] = {
        "model": request.model,
        "input": [item for message in request.messages for item in _input_items(message)],
        "stream": request.stream,
        # Sent explicitly: some providers (AI/ML API) default to false, which breaks chaining.
        "store": request.store,
    }
    if request.instructions:
        body["instructions"] = request.instructions
    if request.previous_response_id:
        body["previous_response_id"] = request.previous_response_id
    reasoning: dict[str, str] = {}
    if request.reasoning_effort:
        reasoning["effort"] = request.reasoning_effort
    if request.reasoning_summary:
        reasoning["summary"] = request.reasoning_summary
    if reasoning:
        body["reasoning"] = reasoning
    if request.max_output_tokens is not None:
        body["max_output_tokens"] = request.max_output_tokens
    if request.temperature is not None:
        body["temperature"] = request.temperature
    if request.verbosity:
        body["text"] = {"verbosity": request.verbosity}
    tools: list[dict[str, Any]] = [
        {  # flat on Responses: no "function" wrapper
            "type": "function",
            "name": tool.name,
            "description": tool.description,
            "parameters": dict(tool.parameters),
        }
        for tool in request.tools
    ]
    if request.web_search:
        tools.append(dict(WEB_SEARCH_TOOL))
    if tools:
        body["tools"] = tools
    if request.tools:
        if request.tool_choice:
            body["tool_choice"] = request.tool_choice
        if request.parallel_tool_calls is not None:
            body["parallel_tool_calls"] = request.parallel_tool_calls
    return body


def _input_items(message: InputMessage) -> list[dict[str, Any]]:
    """A turn as ``input`` items: tool calls and their outputs are items of their own."""
    if message.tool_results:
        return [
            {"type": "function_call_output", "call_id": result.call_id, "output": result.output}
            for result in message.tool_results
        ]
    items = [_input_item(message)] if message.content or not message.tool_calls else []
    items.extend(
        {
            "type": "function_call",
            "call_id": call.call_id,
            "name": call.name,
            "arguments": call.arguments,
        }
        for call in message.tool_calls
    )
    return items


def _input_item(message: InputMessage) -> dict[str, Any]:
    if message.role is not Role.USER or not message.attachments:
        # Plain string content is accepted for every role, assistant history included.
        return {"role": message.role.value, "content": message.content}
    parts: list[dict[str, Any]] = []
    if message.content:
        parts.append({"type": "input_text", "text": message.content})
    for attachment in message.attachments:
        if attachment.kind is AttachmentKind.IMAGE:
            parts.append(
                {"type": "input_image", "image_url": data_url(attachment), "detail": "auto"}
            )
        elif attachment.data is not None:
            parts.append(
                {
                    "type": "input_file",
                    "filename": attachment.name,
                    "file_data": data_url(attachment),
                }
            )
        else:
            parts.append({"type": "input_file", "file_url": data_url(attachment)})
    return {"role": "user", "content": parts}


class ResponsesStreamParser:
    """Turns Responses stream events into stream events, one ``data:`` at a time."""

    __slots__ = (
        "_context",
        "_store",
        "_started",
        "_emitted",
        "_streamed",
        "_gap",
        "_tools",
        "_calls",
    )

    def __init__(self, context: ErrorContext | None = None, *, store: bool = True) -> None:
        self._context = context or ErrorContext(api="responses")
        self._store = store
        self._started = False
        self._emitted = False
        """Anything for the user so far (text, reasoning, a tool call)."""
        self._streamed = False
        """Deltas arrived for the current part, so its ``.done`` text is a repeat."""
        self._gap = False
        self._tools = False
        self._calls: dict[str, tuple[int, str]] = {}
        """Function-call item id -> its index among the answer's calls, and its name."""

    def feed(self, event: str, data: str, out: list[StreamEvent]) -> bool:
        """Parse one event's data into ``out``; True once the stream is over."""
        if data[:1] != "{" and data.strip() in ("[DONE]", ""):
            if data.strip():
                self.finish(out)
                return True
            return False
        payload = load_object(data)
        kind = payload.get("type") or event
        if kind == "response.output_text.delta":
            delta = payload.get("delta")
            if delta and type(delta) is str:
                out.append(TextDelta(delta))
                self._emitted = self._streamed = True
            return False
        if kind in _REASONING_DELTAS:
            delta = payload.get("delta")
            if delta and type(delta) is str:
                self._reasoning(delta, out)
                self._streamed = True
            return False
        handler = _HANDLERS.get(kind)
        if handler is not None:
            return handler(self, payload, out)
        if payload.get("error"):  # an unknown event carrying an error is still an error
            return self._error(payload, out)
        return False

    def finish(self, out: list[StreamEvent]) -> None:
        """The stream ended (EOF) before a terminal event."""
        out.append(
            Failed(
                NetworkError(
                    "The provider closed the stream before the answer was complete.",
                    provider=self._context.provider,
                )
            )
        )

    def _reasoning(self, text: str, out: list[StreamEvent]) -> None:
        if self._gap:
            self._gap = False
            text = _GAP + text
        out.append(ReasoningDelta(text))
        self._emitted = True

    def _start(self, payload: dict[str, Any], out: list[StreamEvent]) -> bool:
        if not self._started:
            response = payload.get("response")
            if isinstance(response, dict):
                self._started = True
                out.append(_started(response, self._store))
        return False

    def _item_added(self, payload: dict[str, Any], out: list[StreamEvent]) -> bool:
        self._streamed = False
        item = payload.get("item")
        if isinstance(item, dict) and item.get("type") == "reasoning" and self._emitted:
            self._gap = True
        search = _web_search(item, done=False)
        if search is not None:
            out.append(search)
        if isinstance(item, dict) and item.get("type") == "function_call":
            name = text_of(item.get("name"))
            self._calls[text_of(item.get("id"))] = (len(self._calls), name)
            if name:
                out.append(
                    ToolCallDelta(len(self._calls) - 1, name, text_of(item.get("arguments")))
                )
        return False

    def _arguments_delta(self, payload: dict[str, Any], out: list[StreamEvent]) -> bool:
        known = self._calls.get(text_of(payload.get("item_id")))
        piece = text_of(payload.get("delta"))
        if known is not None and known[1] and piece:
            out.append(ToolCallDelta(known[0], known[1], piece))
        return False

    def _part_added(self, payload: dict[str, Any], out: list[StreamEvent]) -> bool:
        self._streamed = False
        return False

    def _summary_part_added(self, payload: dict[str, Any], out: list[StreamEvent]) -> bool:
        self._streamed = False
        if self._emitted:
            self._gap = True
        return False

    def _text_done(self, payload: dict[str, Any], out: list[StreamEvent]) -> bool:
        # A server that sends only the ``.done`` event still delivers its text.
        text = text_of(payload.get("text")) or text_of(payload.get("refusal"))
        if text and not self._streamed:
            out.append(TextDelta(text))
            self._emitted = True
        self._streamed = False
        return False

    def _reasoning_done(self, payload: dict[str, Any], out: list[StreamEvent]) -> bool:
        text = text_of(payload.get("text"))
        if text and not self._streamed:
            self._reasoning(text, out)
        self._streamed = False
        return False

    def _refusal_delta(self, payload: dict[str, Any], out: list[StreamEvent]) -> bool:
        delta = text_of(payload.get("delta"))
        if delta:
            out.append(TextDelta(delta))
            self._emitted = self._streamed = True
        return False

    def _annotation(self, payload: dict[str, Any], out: list[StreamEvent]) -> bool:
        citation = citation_from(payload.get("annotation"))
        if citation is not None:
            out.append(citation)
        return False

    def _item_done(self, payload: dict[str, Any], out: list[StreamEvent]) -> bool:
        search = _web_search(payload.get("item"), done=True)
        if search is not None:
            out.append(search)
        call = _tool_call(payload.get("item"))
        if call is not None:
            out.append(call)
            self._emitted = self._tools = True
        return False

    def _terminal(self, payload: dict[str, Any], out: list[StreamEvent]) -> bool:
        response = payload.get("response")
        response = response if isinstance(response, dict) else {}
        if not self._started:
            self._started = True
            out.append(_started(response, self._store))
        if not self._emitted:
            out.extend(_output_events(response))
        usage = responses_usage(response.get("usage"))
        if usage is not None:
            out.append(usage)
        if payload.get("type") == "response.incomplete":
            out.append(_incomplete(response))
        else:
            has_tools = self._tools or any(type(e) is ToolCall for e in out)
            out.append(Finished("tool_calls" if has_tools else "stop"))
        return True

    def _failed(self, payload: dict[str, Any], out: list[StreamEvent]) -> bool:
        response = payload.get("response")
        error = response.get("error") if isinstance(response, dict) else None
        out.append(Failed(self._context.from_payload(_failure_payload(error))))
        return True

    def _error(self, payload: dict[str, Any], out: list[StreamEvent]) -> bool:
        out.append(Failed(self._context.from_payload(payload)))
        return True


_REASONING_DELTAS = frozenset(
    {"response.reasoning_summary_text.delta", "response.reasoning_text.delta"}
)
_Handler = Callable[[ResponsesStreamParser, dict[str, Any], list[StreamEvent]], bool]
_HANDLERS: dict[str, _Handler] = {
    "response.created": ResponsesStreamParser._start,
    "response.in_progress": ResponsesStreamParser._start,
    "response.queued": ResponsesStreamParser._start,
    "response.output_item.added": ResponsesStreamParser._item_added,
    "response.content_part.added": ResponsesStreamParser._part_added,
    "response.reasoning_summary_part.added": ResponsesStreamParser._summary_part_added,
    "response.output_text.done": ResponsesStreamParser._text_done,
    "response.refusal.delta": ResponsesStreamParser._refusal_delta,
    "response.refusal.done": ResponsesStreamParser._text_done,
    "response.reasoning_summary_text.done": ResponsesStreamParser._reasoning_done,
    "response.reasoning_text.done": ResponsesStreamParser._reasoning_done,
    "response.output_text.annotation.added": ResponsesStreamParser._annotation,
    "response.output_item.done": ResponsesStreamParser._item_done,
    "response.function_call_arguments.delta": ResponsesStreamParser._arguments_delta,
    "response.completed": ResponsesStreamParser._terminal,
    "response.incomplete": ResponsesStreamParser._terminal,
    "response.failed": ResponsesStreamParser._failed,
    "error": ResponsesStreamParser._error,
}


def _started(response: dict[str, Any], store: bool) -> ResponseStarted:
    response_id = text_of(response.get("id"))
    echoed = response.get("store")
    stored = echoed if type(echoed) is bool else store
    return ResponseStarted(
        response_id, text_of(response.get("model")) or None, chainable=bool(response_id) and stored
    )


def _incomplete(response: dict[str, Any]) -> Finished:
    details = response.get("incomplete_details")
    reason = text_of(details.get("reason")) if isinstance(details, dict) else ""
    return Finished(reason or "incomplete", incomplete=True)


def _failure_payload(error: object) -> dict[str, Any]:
    if isinstance(error, dict) and error:
        return {"error": error}
    return {"error": {"code": "server_error", "message": "The response failed."}}


def _web_search(item: object, *, done: bool) -> WebSearch | None:
    """A ``web_search_call`` item as it starts or ends (with the query it ran)."""
    if not isinstance(item, dict) or item.get("type") != "web_search_call":
        return None
    action = item.get("action")
    query = action.get("query") if isinstance(action, dict) else None
    return WebSearch(
        str(item.get("id") or ""), done=done, query=query if isinstance(query, str) else None
    )


def _tool_call(item: object) -> ToolCall | None:
    if not isinstance(item, dict) or item.get("type") != "function_call":
        return None
    call_id, name = text_of(item.get("call_id")), text_of(item.get("name"))
    if not call_id or not name:
        return None
    return ToolCall(call_id, name, text_of(item.get("arguments")))


def _output_events(response: dict[str, Any]) -> list[StreamEvent]:
    """The user-visible content of a complete Response object's ``output``."""
    reasoning: list[str] = []
    text: list[str] = []
    tail: list[StreamEvent] = []
    output = response.get("output")
    for item in output if isinstance(output, list) else ():
        if not isinstance(item, dict):
            continue
        kind = item.get("type")
        if kind == "reasoning":
            for key in ("summary", "content"):
                parts = item.get(key)
                for part in parts if isinstance(parts, list) else ():
                    if isinstance(part, dict) and text_of(part.get("text")):
                        reasoning.append(part["text"])
        elif kind == "message":
            for part in item.get("content") or ():
                if not isinstance(part, dict):
                    continue
                text.append(text_of(part.get("text")) or text_of(part.get("refusal")))
                for annotation in part.get("annotations") or ():
                    citation = citation_from(annotation)
                    if citation is not None:
                        tail.append(citation)
        else:
            call = _tool_call(item)
            if call is not None:
                tail.append(call)
    if not text and text_of(response.get("output_text")):
        text.append(response["output_text"])
    events: list[StreamEvent] = []
    if reasoning:
        events.append(ReasoningDelta(_GAP.join(reasoning)))
    if "".join(text):
        events.append(TextDelta("".join(text)))
    events.extend(tail)
    return events


def parse_response(
    body: bytes | str, context: ErrorContext | None = None, *, store: bool = True
) -> list[StreamEvent]:
    """The events of a non-streamed Response object (or an error inside a 200)."""
    context = context or ErrorContext(api="responses")
    payload = load_object(body, "a response")
    status = payload.get("status")
    if status == "failed":
        return [Failed(context.from_payload(_failure_payload(payload.get("error"))))]
    if payload.get("error"):
        return [Failed(context.from_payload(payload))]
    events: list[StreamEvent] = [_started(payload, store)]
    events.extend(_output_events(payload))
    usage = responses_usage(payload.get("usage"))
    if usage is not None:
        events.append(usage)
    if status == "incomplete":
        events.append(_incomplete(payload))
    else:
        has_tools = any(type(event) is ToolCall for event in events)
        events.append(Finished("tool_calls" if has_tools else "stop"))
    return events
