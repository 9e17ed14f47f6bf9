"""Reading the demo model's requests, with the 4xx answers OpenAI gives to bad ones."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from tui.providers.demo.errors import ApiError, load_body
from tui.providers.demo.text import DemoConversation, LogEntry, OfferedTool, Tooling

ATTACHMENT_PARTS = {"image_url", "input_image", "file", "input_file", "input_audio"}
TEXT_PARTS = {"text", "input_text", "output_text"}
SUMMARY_MODES = ("auto", "concise", "detailed")
TOOL_CHOICES = ("none", "auto", "required")
_FUNCTION_NAME = re.compile(r"[a-zA-Z0-9_-]{1,64}")


class DemoModel(Protocol):
    """What request parsing needs to know about a demo model."""

    @property
    def chat(self) -> bool:
        """Served on Chat Completions (else Responses only)."""
        ...

    @property
    def efforts(self) -> tuple[str, ...]:
        """Accepted reasoning efforts."""
        ...


def _model(body: dict[str, Any], models: Mapping[str, DemoModel], *, status: int) -> str:
    model = body.get("model")
    if model is None:
        raise ApiError.missing("model")
    if not isinstance(model, str):
        raise ApiError.invalid_type("model", "a string", model)
    if model not in models:
        raise ApiError.model_not_found(model, status=status)
    return model


def _flag(body: Mapping[str, Any], name: str, default: bool, where: str = "") -> bool:
    value = body.get(name, default)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise ApiError.invalid_type(where + name, "a boolean", value)
    return value


def _limit(body: dict[str, Any], name: str, minimum: int) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ApiError.invalid_type(name, "an integer", value)
    if value < minimum:
        raise ApiError(
            400,
            f"Invalid '{name}': integer below minimum value. Expected a value >= {minimum}, "
            f"but got {value} instead.",
            param=name,
            code="integer_below_min_value",
        )
    return value


def _effort(value: Any, model: DemoModel, param: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ApiError.invalid_type(param, "a string", value)
    if value not in model.efforts:
        supported = ", ".join(f"'{effort}'" for effort in model.efforts)
        raise ApiError(
            400,
            f"Unsupported value: '{param}' does not support '{value}' with this model. "
            f"Supported values are: {supported}.",
            param=param,
            code="unsupported_value",
        )
    return value


def _stream_options(body: dict[str, Any], stream: bool) -> dict[str, Any]:
    options = body.get("stream_options")
    if options is None:
        return {}
    if not isinstance(options, dict):
        raise ApiError.invalid_type("stream_options", "an object", options)
    if not stream:
        raise ApiError(
            400,
            "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
            param="stream_options",
            code="invalid_value",
        )
    return options


def _content(content: Any, where: str) -> tuple[str, int]:
    """Text and attachment count of a message's ``content`` (a string or a list of parts)."""
    if content is None:
        return "", 0
    if isinstance(content, str):
        return content, 0
    if not isinstance(content, list):
        raise ApiError.invalid_type(where, "a string or an array of content parts", content)
    texts: list[str] = []
    attachments = 0
    for index, part in enumerate(content):
        if not isinstance(part, dict):
            raise ApiError.invalid_type(f"{where}[{index}]", "an object", part)
        kind = part.get("type")
        if kind in TEXT_PARTS and isinstance(part.get("text"), str):
            texts.append(part["text"])
        elif kind in ATTACHMENT_PARTS:
            attachments += 1
    return "\n".join(texts), attachments


@dataclass(slots=True)
class _Transcript:
    """Messages read from ``messages`` or ``input``."""

    user_turns: list[str]
    instructions: list[str]
    chars: int = 0
    count: int = 0
    attachments: int = 0
    log: list[LogEntry] = field(default_factory=list)

    def add(self, role: str, text: str, attachments: int) -> None:
        """Count one message; system and developer text becomes instructions."""
        self.chars += len(text)
        self.count += 1
        if role in ("system", "developer"):
            self.instructions.append(text)
        elif role == "user":
            self.user_turns.append(text)
            self.attachments = attachments
            self.log.append(LogEntry("user", text=text))
        elif role == "assistant":
            self.log.append(LogEntry("assistant"))

    def add_call(self, call_id: str, name: str, arguments: str) -> None:
        """A tool call the assistant made earlier."""
        self.chars += len(name) + len(arguments)
        self.log.append(LogEntry("call", call_id, name, arguments))

    def add_output(self, call_id: str, output: str) -> None:
        """A tool result sent back."""
        self.chars += len(output)
        self.count += 1
        self.log.append(LogEntry("output", call_id, text=output))


def _estimate_tokens(chars: int, messages: int) -> int:
    return max(1, chars // 4 + 4 * messages)


def _string(value: Any, param: str) -> str:
    if value is None:
        raise ApiError.missing(param)
    if not isinstance(value, str):
        raise ApiError.invalid_type(param, "a string", value)
    return value


def _tools(data: dict[str, Any], *, chat: bool) -> tuple[tuple[OfferedTool, ...], list[Any]]:
    """The function tools offered, and ``tools`` as a Response echoes it."""
    value = data.get("tools")
    if value is None:
        return (), []
    if not isinstance(value, list):
        raise ApiError.invalid_type("tools", "an array of objects", value)
    offered: list[OfferedTool] = []
    echo: list[Any] = []
    for index, tool in enumerate(value):
        where = f"tools[{index}]"
        if not isinstance(tool, dict):
            raise ApiError.invalid_type(where, "an object", tool)
        if tool.get("type") is None:
            raise ApiError.missing(f"{where}.type")
        if tool["type"] != "function":
            echo.append(tool)  # hosted tools (web search...) are not the demo's to call
            continue
        spec = tool.get("function") if chat else tool
        prefix = f"{where}.function." if chat else f"{where}."
        if spec is None:
            raise ApiError.missing(f"{where}.function")
        if not isinstance(spec, dict):
            raise ApiError.invalid_type(f"{where}.function", "an object", spec)
        name = _string(spec.get("name"), prefix + "name")
        if not _FUNCTION_NAME.fullmatch(name):
            raise ApiError(
                400,
                f"Invalid '{prefix}name': string does not match pattern. Expected a string "
                "that matches the pattern '^[a-zA-Z0-9_-]+$'.",
                param=prefix + "name",
                code="invalid_value",
            )
        description = spec.get("description")
        if description is not None and not isinstance(description, str):
            raise ApiError.invalid_type(prefix + "description", "a string", description)
        parameters = spec.get("parameters")
        if parameters is None:
            parameters = {"type": "object", "properties": {}}
        if not isinstance(parameters, dict):
            raise ApiError.invalid_type(prefix + "parameters", "an object", parameters)
        offered.append(OfferedTool(name, description or "", parameters))
        strict = spec.get("strict")
        echo.append(
            {
                "type": "function",
                "description": description,
                "name": name,
                "parameters": parameters,
                "strict": True if strict is None else strict,
            }
        )
    return tuple(offered), echo


def _tool_choice(
    value: Any, tools: tuple[OfferedTool, ...], *, chat: bool
) -> tuple[str, str | None]:
    """``(choice, forced tool name)`` from ``tool_choice``."""
    if value is None:
        return "auto", None
    if isinstance(value, str):
        if value not in TOOL_CHOICES:
            raise ApiError(
                400,
                f"Invalid value: '{value}'. Supported values are: 'none', 'auto', and 'required'.",
                param="tool_choice",
                code="invalid_value",
            )
        return value, None
    if not isinstance(value, dict):
        raise ApiError.invalid_type("tool_choice", "a string or an object", value)
    if value.get("type") != "function":
        return "auto", None  # a hosted tool or an allowed list: nothing to force
    if chat:
        function = value.get("function")
        if not isinstance(function, dict):
            raise ApiError.missing("tool_choice.function")
        name = _string(function.get("name"), "tool_choice.function.name")
    else:
        name = _string(value.get("name"), "tool_choice.name")
    if name not in {tool.name for tool in tools}:
        raise ApiError(
            400,
            f"Tool choice 'function' with name '{name}' not found in 'tools' parameter.",
            param="tool_choice",
        )
    return "function", name


def _only_with_tools(data: dict[str, Any], name: str) -> None:
    """Chat Completions refuses ``tool_choice`` and ``parallel_tool_calls`` without tools."""
    if data.get(name) is not None and not data.get("tools"):
        raise ApiError(
            400,
            f"Invalid value for '{name}': '{name}' is only allowed when 'tools' are specified.",
            param=name,
        )


def _unanswered(calls: list[str], answered: set[str], index: int) -> None:
    missing = [call_id for call_id in calls if call_id not in answered]
    if missing:
        raise ApiError(
            400,
            "An assistant message with 'tool_calls' must be followed by tool messages "
            "responding to each 'tool_call_id'. The following tool_call_ids did not have "
            f"response messages: {', '.join(missing)}",
            param=f"messages.[{index}].role",
        )


def _chat_tool_calls(value: Any, index: int, transcript: _Transcript) -> list[str]:
    """Record an assistant message's ``tool_calls``; their ids."""
    where = f"messages[{index}].tool_calls"
    if not isinstance(value, list):
        raise ApiError.invalid_type(where, "an array of objects", value)
    ids: list[str] = []
    for number, call in enumerate(value):
        if not isinstance(call, dict):
            raise ApiError.invalid_type(f"{where}[{number}]", "an object", call)
        call_id = _string(call.get("id"), f"{where}[{number}].id")
        function = call.get("function")
        if not isinstance(function, dict):
            raise ApiError.missing(f"{where}[{number}].function")
        name = _string(function.get("name"), f"{where}[{number}].function.name")
        arguments = _string(function.get("arguments"), f"{where}[{number}].function.arguments")
        transcript.add_call(call_id, name, arguments)
        ids.append(call_id)
    return ids


def _tooling(
    data: dict[str, Any], tools: tuple[OfferedTool, ...], log: list[LogEntry], *, chat: bool
) -> Tooling:
    choice, forced = _tool_choice(data.get("tool_choice"), tools, chat=chat)
    return Tooling(
        tools=tools,
        choice=choice,
        forced=forced,
        parallel=_flag(data, "parallel_tool_calls", True),
        log=tuple(log),
    )


@dataclass(frozen=True, slots=True)
class ParsedChat:
    """A valid ``/chat/completions`` request."""

    model: str
    conversation: DemoConversation
    stream: bool
    include_usage: bool
    obfuscate: bool
    effort: str | None
    limit: int | None
    input_tokens: int


def parse_chat(body: bytes, models: Mapping[str, DemoModel]) -> ParsedChat:
    """Validate a Chat Completions request as OpenAI does; ``ApiError`` otherwise."""
    data = load_body(body)
    if "model" not in data:
        raise ApiError.missing("model")
    messages = data.get("messages")
    if messages is None:
        raise ApiError.missing("messages")
    if not isinstance(messages, list):
        raise ApiError.invalid_type("messages", "an array of objects", messages)
    if not messages:
        raise ApiError(
            400,
            "Invalid 'messages': empty array. Expected an array with minimum length 1, "
            "but got an empty array instead.",
            param="messages",
            code="empty_array",
        )
    model_id = _model(data, models, status=404)
    model = models[model_id]
    if not model.chat:
        raise ApiError(
            404,
            "This model is only supported in v1/responses and not in v1/chat/completions.",
            param="model",
        )
    transcript = _Transcript([], [])
    pending: list[str] = []  # the tool_call_ids of the latest assistant message with tool_calls
    pending_index = 0
    answered: set[str] = set()
    for index, message in enumerate(messages):
        if not isinstance(message, dict):
            raise ApiError.invalid_type(f"messages[{index}]", "an object", message)
        role = message.get("role")
        if not isinstance(role, str):
            raise ApiError.missing(f"messages[{index}].role")
        content = _content(message.get("content"), f"messages[{index}].content")
        if role == "tool":
            call_id = _string(message.get("tool_call_id"), f"messages[{index}].tool_call_id")
            if call_id not in pending:
                raise ApiError(
                    400,
                    "Invalid parameter: messages with role 'tool' must be a response to a "
                    "preceeding message with 'tool_calls'.",
                    param=f"messages.[{index}].role",
                )
            answered.add(call_id)
            transcript.add_output(call_id, content[0])
            continue
        _unanswered(pending, answered, pending_index)
        pending, answered = [], set()
        transcript.add(role, *content)
        if role == "assistant" and message.get("tool_calls") is not None:
            pending = _chat_tool_calls(message["tool_calls"], index, transcript)
            pending_index = index
    _unanswered(pending, answered, pending_index)
    _only_with_tools(data, "tool_choice")
    _only_with_tools(data, "parallel_tool_calls")
    tools, _ = _tools(data, chat=True)
    stream = _flag(data, "stream", False)
    options = _stream_options(data, stream)
    limits = [
        limit
        for limit in (_limit(data, "max_completion_tokens", 1), _limit(data, "max_tokens", 1))
        if limit is not None
    ]
    conversation = DemoConversation(
        user_turns=tuple(transcript.user_turns),
        instructions="\n".join(transcript.instructions) or None,
        attachments=transcript.attachments,
        tooling=_tooling(data, tools, transcript.log, chat=True),
    )
    return ParsedChat(
        model=model_id,
        conversation=conversation,
        stream=stream,
        include_usage=_flag(options, "include_usage", False, "stream_options."),
        obfuscate=_flag(options, "include_obfuscation", True, "stream_options."),
        effort=_effort(data.get("reasoning_effort"), model, "reasoning_effort"),
        limit=min(limits) if limits else None,
        input_tokens=_estimate_tokens(transcript.chars, transcript.count),
    )


@dataclass(frozen=True, slots=True)
class StoredTurn:
    """What the demo remembers of a stored response, to answer requests chained from it."""

    previous_id: str | None
    user_turns: tuple[str, ...]
    chars: int
    """Input and output characters of this turn: later turns are billed for them again."""
    messages: int
    log: tuple[LogEntry, ...] = ()
    """The turn's input and output steps, tool calls included (``function_call`` items)."""


@dataclass(frozen=True, slots=True)
class ParsedResponses:
    """A valid ``/responses`` request, with the chain it continues already read."""

    model: str
    conversation: DemoConversation
    stream: bool
    obfuscate: bool
    effort: str | None
    summary: str | None
    limit: int | None
    input_tokens: int
    instructions: str | None
    previous_response_id: str | None
    store: bool
    temperature: float
    new_user_turns: tuple[str, ...]
    new_chars: int
    new_messages: int
    encrypted_reasoning: bool = False
    new_log: tuple[LogEntry, ...] = ()
    tools: tuple[Any, ...] = ()
    """``tools`` as the Response echoes it."""
    tool_choice: Any = "auto"
    parallel_tool_calls: bool = True

    def turn(self, answer_chars: int, calls: tuple[LogEntry, ...] = ()) -> StoredTurn:
        """What to remember of this request once answered (``calls``: the tool calls made)."""
        answer = calls or ((LogEntry("assistant"),) if answer_chars else ())
        return StoredTurn(
            previous_id=self.previous_response_id,
            user_turns=self.new_user_turns,
            chars=self.new_chars + answer_chars + sum(len(c.name + c.text) for c in calls),
            messages=self.new_messages + 1,
            log=self.new_log + answer,
        )


def _read_input(value: Any, transcript: _Transcript) -> None:
    if isinstance(value, str):
        transcript.add("user", value, 0)
        return
    if not isinstance(value, list):
        raise ApiError.invalid_type("input", "a string or an array of input items", value)
    for index, item in enumerate(value):
        if not isinstance(item, dict):
            raise ApiError.invalid_type(f"input[{index}]", "an object", item)
        role = item.get("role")
        kind = item.get("type", "message")
        if kind == "function_call":
            transcript.add_call(
                _string(item.get("call_id"), f"input[{index}].call_id"),
                _string(item.get("name"), f"input[{index}].name"),
                _string(item.get("arguments"), f"input[{index}].arguments"),
            )
            continue
        if kind == "function_call_output":
            call_id = _string(item.get("call_id"), f"input[{index}].call_id")
            output = item.get("output")
            if output is None:
                raise ApiError.missing(f"input[{index}].output")
            transcript.add_output(call_id, _content(output, f"input[{index}].output")[0])
            continue
        if kind != "message" or not isinstance(role, str):
            continue  # reasoning items and the like: nothing to answer
        transcript.add(role, *_content(item.get("content"), f"input[{index}].content"))


def _check_outputs(chain: list[StoredTurn], log: list[LogEntry]) -> None:
    """Every ``function_call_output`` answers a call of the chain or of this input."""
    known = {entry.call_id for turn in chain for entry in turn.log if entry.kind == "call"}
    for entry in log:
        if entry.kind == "call":
            known.add(entry.call_id)
        elif entry.kind == "output" and entry.call_id not in known:
            raise ApiError(
                400,
                f"No tool call found for function call output with call_id {entry.call_id}.",
                param="input",
            )


def _chain(previous_id: Any, stored: Mapping[str, StoredTurn]) -> list[StoredTurn]:
    """The stored turns ``previous_id`` continues, oldest first."""
    if previous_id is None:
        return []
    if not isinstance(previous_id, str):
        raise ApiError.invalid_type("previous_response_id", "a string", previous_id)
    chain: list[StoredTurn] = []
    current: str | None = previous_id
    while current is not None and len(chain) <= len(stored):
        turn = stored.get(current)
        if turn is None:
            # Only the id the client sent is named, as OpenAI does.
            raise ApiError(
                400,
                f"Previous response with id '{previous_id}' not found.",
                param="previous_response_id",
                code="previous_response_not_found",
            )
        chain.append(turn)
        current = turn.previous_id
    chain.reverse()
    return chain


def _includes(data: dict[str, Any], name: str) -> bool:
    include = data.get("include")
    if include is None:
        return False
    if not isinstance(include, list) or not all(isinstance(entry, str) for entry in include):
        raise ApiError.invalid_type("include", "an array of strings", include)
    return name in include


def _temperature(value: Any) -> float:
    if value is None:
        return 1.0
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ApiError.invalid_type("temperature", "a decimal", value)
    if not 0 <= value <= 2:
        bound = (
            "below minimum value. Expected a value >= 0"
            if value < 0
            else ("above maximum value. Expected a value <= 2")
        )
        raise ApiError(
            400,
            f"Invalid 'temperature': decimal {bound}, but got {value} instead.",
            param="temperature",
            code="decimal_below_min_value" if value < 0 else "decimal_above_max_value",
        )
    return float(value)


def parse_responses(
    body: bytes, models: Mapping[str, DemoModel], stored: Mapping[str, StoredTurn]
) -> ParsedResponses:
    """Validate a Responses request as OpenAI does and read the chain it continues."""
    data = load_body(body)
    model_id = _model(data, models, status=400)
    model = models[model_id]
    if "input" not in data:
        raise ApiError.missing("input")
    transcript = _Transcript([], [])
    _read_input(data["input"], transcript)
    instructions = data.get("instructions")
    if instructions is not None and not isinstance(instructions, str):
        raise ApiError.invalid_type("instructions", "a string", instructions)
    reasoning = data.get("reasoning") or {}
    if not isinstance(reasoning, dict):
        raise ApiError.invalid_type("reasoning", "an object", reasoning)
    summary = reasoning.get("summary", reasoning.get("generate_summary"))
    if summary is not None and summary not in SUMMARY_MODES:
        raise ApiError(
            400,
            f"Invalid value: '{summary}'. Supported values are: 'auto', 'concise', 'detailed'.",
            param="reasoning.summary",
            code="invalid_value",
        )
    stream = _flag(data, "stream", False)
    options = _stream_options(data, stream)
    chain = _chain(data.get("previous_response_id"), stored)
    tools, echoed_tools = _tools(data, chat=False)
    if tools or chain:
        # A bare history replay with no tools and no chain keeps its stray outputs (ignored).
        _check_outputs(chain, transcript.log)
    log = [entry for turn in chain for entry in turn.log] + transcript.log
    tooling = _tooling(data, tools, log, chat=False)
    history_turns = tuple(turn for stored_turn in chain for turn in stored_turn.user_turns)
    all_instructions = [text for text in (instructions, *transcript.instructions) if text]
    chars = sum(turn.chars for turn in chain) + transcript.chars + len(instructions or "")
    messages = sum(turn.messages for turn in chain) + transcript.count + bool(instructions)
    return ParsedResponses(
        model=model_id,
        conversation=DemoConversation(
            user_turns=history_turns + tuple(transcript.user_turns),
            instructions="\n".join(all_instructions) or None,
            attachments=transcript.attachments,
            tooling=tooling,
        ),
        stream=stream,
        obfuscate=_flag(options, "include_obfuscation", True, "stream_options."),
        effort=_effort(reasoning.get("effort"), model, "reasoning.effort"),
        summary=summary,
        limit=_limit(data, "max_output_tokens", 16),
        input_tokens=_estimate_tokens(chars, messages),
        instructions=instructions,
        previous_response_id=data.get("previous_response_id"),
        store=_flag(data, "store", True),
        temperature=_temperature(data.get("temperature")),
        new_user_turns=tuple(transcript.user_turns),
        new_chars=transcript.chars,
        new_messages=transcript.count,
        encrypted_reasoning=_includes(data, "reasoning.encrypted_content"),
        new_log=tuple(transcript.log),
        tools=tuple(echoed_tools),
        tool_choice=data.get("tool_choice") or "auto",
        parallel_tool_calls=tooling.parallel,
    )
