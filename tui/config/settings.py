"""Settings: a TOML file plus ``TUI_CHAT_*`` environment overrides, held in frozen dataclasses.

pydantic-settings would cost ~100 ms of import on every start, so the file is read with
``tomllib`` and validated here. Saving (``tui.services.settings_edit``) edits the file in place
with ``tomlkit``, changing only what changed, so the user's comments and keys survive.

Priority, highest first: explicit arguments (command-line flags), then the environment, then the
file, then the defaults below. A file that cannot be read or has bad values never stops the app:
``load_settings`` returns the usable part and a list of problems to show once.

Example file::

    [defaults]
    provider = "openai"
    model = "gpt-5.2"
    api_mode = "auto"          # auto | chat | responses
    reasoning_effort = "low"
    system_prompt = "Be brief."

    [ui]
    theme = "textual-dark"

    [providers.openai]
    api_key_env = "OPENAI_API_KEY"   # or: api_key = "sk-..."

    [providers.mybox]                # a custom OpenAI-compatible server
    base_url = "http://10.0.0.5:8000/v1"
    api_key_env = "MYBOX_KEY"
    max_tokens_param = "max_tokens"
    supports_responses = false
    models = ["qwen3-32b"]
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

from tui.domain import ApiMode

API_MODES = {mode.value for mode in ApiMode}
MAX_TOKENS_PARAMS = {"max_completion_tokens", "max_tokens"}


class Secret:
    """A string that never shows itself in ``repr``/``str``, logs or tracebacks."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get(self) -> str:
        return self._value

    def masked(self) -> str:
        """``sk-…a1b2`` style, for the settings screen."""
        value = self._value
        if len(value) <= 8:
            return "•" * len(value)
        return f"{value[:3]}…{value[-4:]}"

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)


@dataclass(frozen=True)
class ProviderSettings:
    """A user's settings for one provider (a built-in one, or a custom one with ``base_url``)."""

    name: str
    label: str | None = None
    base_url: str | None = None
    """Overrides the built-in URL; required for a custom provider."""
    api_key: Secret | None = None
    """A literal key; prefer ``api_key_env``."""
    api_key_env: str | None = None
    """Environment variable holding the key."""
    max_tokens_param: str | None = None
    supports_responses: bool | None = None
    models: tuple[str, ...] = ()
    """Extra model ids to list for this provider."""
    first_token_timeout: float | None = None
    """Seconds a reply may take to start; None: the built-in 600."""
    idle_timeout: float | None = None
    """Seconds a started reply may go silent; None: the built-in 60."""


VERBOSITY_LEVELS = ("low", "medium", "high")


@dataclass(frozen=True)
class Defaults:
    provider: str | None = None
    """None: the first built-in provider with a key, else the offline demo."""
    model: str | None = None
    api_mode: ApiMode = ApiMode.AUTO
    reasoning_effort: str | None = None
    verbosity: str | None = None
    reasoning_summary: str | None = "auto"
    temperature: float | None = None
    max_output_tokens: int | None = None
    system_prompt: str | None = None
    improve_titles: bool = True
    """Ask the model for a better title after the first reply."""


@dataclass(frozen=True)
class UiSettings:
    theme: str = "textual-dark"


T = TypeVar("T")

MCP_NAME = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
"""An MCP server's name: it prefixes tool names, which providers limit to ``[A-Za-z0-9_-]``."""


@dataclass(frozen=True)
class McpServerSettings:
    """One MCP server, as ``[mcp_servers.NAME]``: a command to run (stdio) or a URL
    (streamable HTTP), in the shape other MCP clients use."""

    name: str
    command: str | None = None
    args: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    cwd: str | None = None
    url: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    """Sent with every request (a token, say): shown masked, never logged."""
    enabled: bool = True
    always_allow: tuple[str, ...] = ()
    """Tools of this server that run without asking ("always allow" adds to it)."""

    @property
    def transport(self) -> str:
        return "stdio" if self.command else "http"


@dataclass(frozen=True)
class ToolSettings:
    """``[tools]``: how the model's tool calls are governed."""

    max_rounds: int = 10
    """Rounds of tool calls one reply may make; then it stops and says so."""
    timeout: float = 60.0
    """Seconds one tool call may run."""


@dataclass(frozen=True)
class Settings:
    defaults: Defaults = field(default_factory=Defaults)
    ui: UiSettings = field(default_factory=UiSettings)
    tools: ToolSettings = field(default_factory=ToolSettings)
    providers: dict[str, ProviderSettings] = field(default_factory=dict)
    mcp_servers: dict[str, McpServerSettings] = field(default_factory=dict)
    database_url: str | None = None
    """SQLAlchemy URL; None means the SQLite file from ``paths.database_file``."""
    config_path: Path | None = None

    def provider(self, name: str) -> ProviderSettings | None:
        return self.providers.get(name)


def _as_str(value: Any, where: str, problems: list[str]) -> str | None:
    if value is None or isinstance(value, str):
        return value
    problems.append(f"{where} must be text, not {type(value).__name__}; ignored.")
    return None


def _parse_defaults(data: Any, problems: list[str]) -> Defaults:
    if not isinstance(data, dict):
        problems.append("[defaults] must be a table; ignored.")
        return Defaults()
    text_values: dict[str, Any] = {}
    for key in (
        "provider",
        "model",
        "reasoning_effort",
        "verbosity",
        "reasoning_summary",
        "system_prompt",
    ):
        if key in data:
            value = _as_str(data[key], f"defaults.{key}", problems)
            if value is not None:
                text_values[key] = value
    verbosity = text_values.get("verbosity")
    if verbosity is not None and verbosity not in VERBOSITY_LEVELS:
        problems.append(
            f"defaults.verbosity must be one of {', '.join(VERBOSITY_LEVELS)}; got {verbosity!r}."
        )
        del text_values["verbosity"]
    out = Defaults(**text_values)
    if "api_mode" in data:
        mode = data["api_mode"]
        if mode in API_MODES:
            out = replace(out, api_mode=ApiMode(mode))
        else:
            problems.append(
                f"defaults.api_mode must be one of auto, chat, responses; got {mode!r}."
            )
    if "temperature" in data:
        temp = data["temperature"]
        if isinstance(temp, int | float) and not isinstance(temp, bool) and 0 <= temp <= 2:
            out = replace(out, temperature=float(temp))
        else:
            problems.append(f"defaults.temperature must be a number from 0 to 2; got {temp!r}.")
    if "max_output_tokens" in data:
        limit = data["max_output_tokens"]
        if isinstance(limit, int) and not isinstance(limit, bool) and limit > 0:
            out = replace(out, max_output_tokens=limit)
        else:
            problems.append(
                f"defaults.max_output_tokens must be a positive whole number; got {limit!r}."
            )
    if "improve_titles" in data:
        if isinstance(data["improve_titles"], bool):
            out = replace(out, improve_titles=data["improve_titles"])
        else:
            problems.append("defaults.improve_titles must be true or false.")
    return out


def _parse_provider(name: str, data: Any, problems: list[str]) -> ProviderSettings | None:
    where = f"providers.{name}"
    if not isinstance(data, dict):
        problems.append(f"[{where}] must be a table; ignored.")
        return None
    key = _as_str(data.get("api_key"), f"{where}.api_key", problems)
    max_param = data.get("max_tokens_param")
    if max_param is not None and max_param not in MAX_TOKENS_PARAMS:
        problems.append(f"{where}.max_tokens_param must be max_completion_tokens or max_tokens.")
        max_param = None
    supports = data.get("supports_responses")
    if supports is not None and not isinstance(supports, bool):
        problems.append(f"{where}.supports_responses must be true or false.")
        supports = None
    models = data.get("models", [])
    if not isinstance(models, list) or not all(isinstance(m, str) for m in models):
        problems.append(f"{where}.models must be a list of model ids.")
        models = []
    base_url = _as_str(data.get("base_url"), f"{where}.base_url", problems)
    if base_url is not None and not base_url.startswith(("http://", "https://")):
        # Never repeat the value: it may be a key pasted into the wrong field.
        problems.append(f"{where}.base_url must start with http:// or https://; ignored.")
        base_url = None
    return ProviderSettings(
        name=name,
        label=_as_str(data.get("label"), f"{where}.label", problems),
        base_url=base_url.rstrip("/") if base_url else None,
        api_key=Secret(key) if key else None,
        api_key_env=_as_str(data.get("api_key_env"), f"{where}.api_key_env", problems),
        max_tokens_param=max_param,
        supports_responses=supports,
        models=tuple(models),
        first_token_timeout=_seconds(data, "first_token_timeout", where, problems),
        idle_timeout=_seconds(data, "idle_timeout", where, problems),
    )


def _seconds(data: dict[str, Any], key: str, where: str, problems: list[str]) -> float | None:
    """A time limit in seconds: a positive number; anything else is a problem and ignored."""
    if key not in data:
        return None
    value = data[key]
    if isinstance(value, int | float) and not isinstance(value, bool) and 0 < value < float("inf"):
        return float(value)
    problems.append(
        f"{where}.{key} must be a positive number of seconds; got {value!r}; using the default."
    )
    return None


def _string_table(value: Any, where: str, problems: list[str]) -> dict[str, str]:
    if value is None:
        return {}
    if isinstance(value, dict) and all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        return dict(value)
    problems.append(f"{where} must be a table of strings; ignored.")
    return {}


def parse_mcp_server(name: str, data: Any, problems: list[str]) -> McpServerSettings | None:
    """One ``[mcp_servers.NAME]`` table; a server that cannot be used is a problem, skipped."""
    where = f"mcp_servers.{name}"
    if not MCP_NAME.match(name):
        problems.append(
            f"[{where}]: a server's name is letters, digits, - and _ (at most 32); ignored."
        )
        return None
    if not isinstance(data, dict):
        problems.append(f"[{where}] must be a table; ignored.")
        return None
    command = _as_str(data.get("command"), f"{where}.command", problems)
    url = _as_str(data.get("url"), f"{where}.url", problems)
    if bool(command) == bool(url):
        problems.append(f"[{where}] needs either command (stdio) or url (HTTP); ignored.")
        return None
    if url is not None and not url.startswith(("http://", "https://")):
        problems.append(f"{where}.url must start with http:// or https://; ignored.")
        return None
    args = data.get("args", [])
    if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
        problems.append(f"{where}.args must be a list of strings; ignored.")
        return None
    enabled = data.get("enabled", True)
    if not isinstance(enabled, bool):
        problems.append(f"{where}.enabled must be true or false; taken as true.")
        enabled = True
    allow = data.get("always_allow", [])
    if not isinstance(allow, list) or not all(isinstance(a, str) for a in allow):
        problems.append(f"{where}.always_allow must be a list of tool names; ignored.")
        allow = []
    return McpServerSettings(
        name=name,
        command=command,
        args=tuple(args),
        env=_string_table(data.get("env"), f"{where}.env", problems),
        cwd=_as_str(data.get("cwd"), f"{where}.cwd", problems),
        url=url,
        headers=_string_table(data.get("headers"), f"{where}.headers", problems),
        enabled=enabled,
        always_allow=tuple(dict.fromkeys(allow)),
    )


def mcp_server_to_toml(server: McpServerSettings) -> dict[str, Any]:
    """``[mcp_servers.NAME]`` as written: only the keys that are set."""
    section: dict[str, Any] = {}
    if server.command:
        section["command"] = server.command
        if server.args:
            section["args"] = list(server.args)
        if server.env:
            section["env"] = dict(server.env)
        if server.cwd:
            section["cwd"] = server.cwd
    else:
        section["url"] = server.url
        if server.headers:
            section["headers"] = dict(server.headers)
    if not server.enabled:
        section["enabled"] = False
    if server.always_allow:
        section["always_allow"] = list(server.always_allow)
    return section


def _parse_tools(data: Any, problems: list[str]) -> ToolSettings:
    if not isinstance(data, dict):
        problems.append("[tools] must be a table; ignored.")
        return ToolSettings()
    tools = ToolSettings()
    rounds = data.get("max_rounds", tools.max_rounds)
    if isinstance(rounds, bool) or not isinstance(rounds, int) or not 1 <= rounds <= 100:
        problems.append("tools.max_rounds must be a whole number from 1 to 100; 10 is used.")
        rounds = tools.max_rounds
    timeout = data.get("timeout", tools.timeout)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not timeout > 0:
        problems.append("tools.timeout must be a number of seconds above 0; 60 is used.")
        timeout = tools.timeout
    return ToolSettings(max_rounds=rounds, timeout=float(timeout))


def _named_tables(
    data: dict[str, Any],
    key: str,
    parse: Callable[[str, Any, list[str]], T | None],
    problems: list[str],
) -> dict[str, T]:
    """``[key.NAME]`` tables, each parsed by ``parse``; those it cannot use are left out."""
    raw = data.get(key, {})
    if not isinstance(raw, dict):
        problems.append(f"[{key}] must be a table; ignored.")
        return {}
    parsed = {name: parse(name, section, problems) for name, section in raw.items()}
    return {name: value for name, value in parsed.items() if value is not None}


def parse_settings(data: dict[str, Any], problems: list[str]) -> Settings:
    """Build ``Settings`` from a parsed TOML document, collecting problems instead of failing."""
    defaults = _parse_defaults(data.get("defaults", {}), problems)
    ui_data = data.get("ui", {})
    ui = UiSettings()
    if isinstance(ui_data, dict) and "theme" in ui_data:
        theme = _as_str(ui_data["theme"], "ui.theme", problems)
        if theme:
            ui = UiSettings(theme=theme)
    providers = _named_tables(data, "providers", _parse_provider, problems)
    mcp_servers = _named_tables(data, "mcp_servers", parse_mcp_server, problems)
    database_url = _as_str(data.get("database_url"), "database_url", problems)
    return Settings(
        defaults=defaults,
        ui=ui,
        tools=_parse_tools(data.get("tools", {}), problems),
        providers=providers,
        mcp_servers=mcp_servers,
        database_url=database_url,
    )


def _apply_env(settings: Settings, env: dict[str, str]) -> Settings:
    defaults = settings.defaults
    if env.get("TUI_CHAT_PROVIDER"):
        defaults = replace(defaults, provider=env["TUI_CHAT_PROVIDER"])
    if env.get("TUI_CHAT_MODEL"):
        defaults = replace(defaults, model=env["TUI_CHAT_MODEL"])
    mode = env.get("TUI_CHAT_API_MODE")
    if mode in API_MODES:
        defaults = replace(defaults, api_mode=ApiMode(mode))
    ui = settings.ui
    if env.get("TUI_CHAT_THEME"):
        ui = UiSettings(theme=env["TUI_CHAT_THEME"])
    database_url = env.get("TUI_CHAT_DATABASE_URL") or settings.database_url
    return replace(settings, defaults=defaults, ui=ui, database_url=database_url)


def load_settings(path: Path, env: dict[str, str] | None = None) -> tuple[Settings, list[str]]:
    """Read the settings file (missing is fine) and apply the environment.

    Returns the settings and a list of problems, each a sentence naming the file.
    """
    env = dict(os.environ) if env is None else env
    problems: list[str] = []
    data: dict[str, Any] = {}
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        pass
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        problems.append(
            f"The settings file {path} is not valid TOML ({exc}); using the defaults. "
            "Fix or delete the file."
        )
    except OSError as exc:
        problems.append(f"The settings file {path} could not be read ({exc.strerror}).")
    file_problems: list[str] = []
    settings = parse_settings(data, file_problems)
    problems.extend(f"{path}: {problem}" for problem in file_problems)
    settings = replace(_apply_env(settings, env), config_path=path)
    return settings, problems


def settings_to_toml(settings: Settings) -> dict[str, Any]:
    """The settings as a TOML document; keys appear only when set.

    A save writes only what differs between two of these (``tui.services.settings_edit``).
    """
    defaults: dict[str, Any] = {}
    for key in (
        "provider",
        "model",
        "reasoning_effort",
        "verbosity",
        "reasoning_summary",
        "temperature",
        "max_output_tokens",
        "system_prompt",
    ):
        value = getattr(settings.defaults, key)
        if value is not None:
            defaults[key] = value
    defaults["api_mode"] = settings.defaults.api_mode.value
    defaults["improve_titles"] = settings.defaults.improve_titles
    providers: dict[str, Any] = {}
    for name, prov in settings.providers.items():
        section: dict[str, Any] = {}
        if prov.label:
            section["label"] = prov.label
        if prov.base_url:
            section["base_url"] = prov.base_url
        if prov.api_key:
            section["api_key"] = prov.api_key.get()
        if prov.api_key_env:
            section["api_key_env"] = prov.api_key_env
        if prov.max_tokens_param:
            section["max_tokens_param"] = prov.max_tokens_param
        if prov.supports_responses is not None:
            section["supports_responses"] = prov.supports_responses
        if prov.models:
            section["models"] = list(prov.models)
        for key in ("first_token_timeout", "idle_timeout"):
            limit = getattr(prov, key)
            if limit is not None:
                section[key] = int(limit) if limit == int(limit) else limit
        providers[name] = section
    document: dict[str, Any] = {"defaults": defaults, "ui": {"theme": settings.ui.theme}}
    if providers:
        document["providers"] = providers
    tools: dict[str, Any] = {}
    if settings.tools.max_rounds != ToolSettings.max_rounds:
        tools["max_rounds"] = settings.tools.max_rounds
    if settings.tools.timeout != ToolSettings.timeout:
        timeout = settings.tools.timeout
        tools["timeout"] = int(timeout) if timeout == int(timeout) else timeout
    if tools:
        document["tools"] = tools
    if settings.mcp_servers:
        document["mcp_servers"] = {
            name: mcp_server_to_toml(server) for name, server in settings.mcp_servers.items()
        }
    if settings.database_url:
        document["database_url"] = settings.database_url
    return document
