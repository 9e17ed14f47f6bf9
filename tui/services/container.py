"""The composition root's product: every service the app and the commands use, built once."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tui.config.paths import config_file, history_location
from tui.config.settings import Settings, load_settings

if TYPE_CHECKING:
    import httpx

    from tui.domain import ModelInfo
    from tui.services.chat import ChatService
    from tui.services.history import HistoryService
    from tui.services.mcp_client import McpHub
    from tui.services.models import ModelService
    from tui.services.provider_registry import ProviderRegistry
    from tui.services.tools import ToolPolicy
    from tui.store.db import Store


DEMO_TOKENS_PER_SECOND = 60.0
"""About the pace of a fast real model: the demo should feel like one."""


@dataclass
class Services:
    """Settings, the shared HTTP client, providers, the store and the chat engine."""

    settings: Settings
    client: httpx.AsyncClient
    registry: ProviderRegistry
    store: Store
    chat: ChatService
    problems: list[str] = field(default_factory=list)
    """Sentences about the settings that could not be used, to show once."""
    facts: dict[str, dict[str, Any]] = field(default_factory=dict)
    """What is known about providers' servers (the store's provider facts), by provider; the
    registry adds to it as it learns."""
    history: HistoryService = field(init=False)
    """The saved conversations, for the conversations screen."""
    models: ModelService = field(init=False)
    """Providers and their models, for the model picker."""
    mcp: McpHub = field(init=False)
    """The MCP servers of the settings: started when a turn first offers their tools."""

    def __post_init__(self) -> None:
        from tui.services.history import HistoryService
        from tui.services.mcp_client import McpHub
        from tui.services.models import ModelService
        from tui.services.tools import ToolRunner

        self.history = HistoryService(self.store)
        self.models = ModelService(self)
        tools = self.settings.tools
        self.mcp = McpHub(
            self.settings.mcp_servers.values(),
            call_timeout=tools.timeout,
            max_output=TOOL_OUTPUT_LIMIT,
        )
        self.chat.tools = ToolRunner(
            self.mcp, tool_policy(self.settings), remember=self._remember_allowed
        )
        self._saving: set[asyncio.Task[None]] = set()

    def _remember_allowed(self, server: str, tool: str) -> None:
        """ "Always allow": the tool goes into its server's ``always_allow`` in the file."""
        configured = self.settings.mcp_servers.get(server)
        if configured is None or tool in configured.always_allow:
            return
        servers = dict(self.settings.mcp_servers)
        servers[server] = replace(configured, always_allow=(*configured.always_allow, tool))
        previous, self.settings = self.settings, replace(self.settings, mcp_servers=servers)
        if previous.config_path is None:
            return
        task = asyncio.ensure_future(self._save_settings(previous))
        self._saving.add(task)
        task.add_done_callback(self._saving.discard)

    async def _save_settings(self, previous: Settings) -> None:
        from tui.services.settings_edit import apply_settings

        try:
            await apply_settings(self.settings, previous=previous)
        except (OSError, ValueError):  # the choice holds for this session all the same
            import logging

            logging.getLogger(__name__).warning("could not save an always-allowed tool")

    async def refresh_models(self, provider: str) -> list[ModelInfo]:
        """Fetch the provider's live model list, merge it, and cache it in the store."""
        models = await self.registry.refresh_models(provider)
        await self.store.repository.cache_models(provider, models)
        return models

    def apply_settings(self, settings: Settings) -> None:
        """Use edited settings from now on: new keys, providers and defaults."""
        from tui.providers.catalog import ModelCatalog
        from tui.services.provider_registry import ProviderRegistry

        catalog = ModelCatalog(settings)
        for config in self.registry.catalog.providers():
            if config.name not in catalog:  # keep a --base-url provider of this run
                catalog.add_provider(config)
        catalog.apply_facts(self.facts)
        self.registry = ProviderRegistry(
            settings,
            self.client,
            env=self.registry.env,
            catalog=catalog,
            keys=self.registry.keys,
            facts=self.facts,
        )
        self.chat.router = self.registry
        self.chat.defaults = settings.defaults
        self.mcp.configure(settings.mcp_servers.values())
        if self.chat.tools is not None:
            self.chat.tools.set_policy(tool_policy(settings))
        self.settings = settings
        self.problems = list(catalog.problems)

    @property
    def damaged(self) -> bool:
        """The history file was found damaged: nothing more is written to it."""
        return self.store.damaged

    def on_damage(self, listener: Callable[[str, Path | None], None]) -> None:
        """Call ``listener(message, path)`` once, when the store finds its file damaged.

        ``message`` is the one line to show; ``path`` the file to offer moving aside.
        """
        path = self.store.path
        self.store.guard.add_listener(lambda error: listener(str(error), path))

    async def close(self) -> None:
        """Close everything; a database that cannot take the last deletes does not stop it."""
        from tui.store.errors import StoreError

        try:
            # Busy, read-only or damaged: the conversations waiting for their undo window to
            # be deleted stay in the history (they show again next time); nothing else is lost.
            with contextlib.suppress(StoreError):
                await self.history.purge_all()
        finally:
            await self.chat.close()
            if self._saving:
                await asyncio.wait(set(self._saving), timeout=2)
            await self.mcp.close()
            await self.client.aclose()
            await self.store.close()


def damaged_file(exc: BaseException) -> Path | None:
    """The history file to offer moving aside when ``exc`` says it is damaged, else None.

    Not for a file of a newer version, nor for another program's database.
    """
    from tui.store.errors import CorruptDatabaseError, ForeignDatabaseError

    if isinstance(exc, CorruptDatabaseError) and not isinstance(exc, ForeignDatabaseError):
        location = exc.location
        if location and Path(location).exists():
            return Path(location)
    return None


async def move_database_aside(path: Path) -> Path:
    """Rename the history file (and its ``-wal``/``-shm``) out of the way; never deletes it.

    Returns where it went. Call only with the person's consent, with the store closed.
    Raises ``StoreError`` when the file cannot be renamed.
    """
    from tui.store.sqlitefile import move_aside

    return await asyncio.to_thread(move_aside, path)


async def open_services(
    *,
    config: str | None = None,
    db: str | None = None,
    env: Mapping[str, str] | None = None,
    base_url: str | None = None,
    api_key: str | None = None,
    demo_tokens_per_second: float | None = None,
    improve_titles: bool | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    busy_timeout_ms: int | None = None,
) -> Services:
    """Read the settings, open the store (migrating it if needed) and wire the engine.

    ``base_url`` (with ``api_key`` or ``TUI_CHAT_API_KEY``) adds the ad-hoc provider ``custom``.
    ``busy_timeout_ms``: how long a write waits for another program's lock (default: the
    store's ``BUSY_TIMEOUT_MS``).
    Raises ``tui.store.errors.StoreError`` when the database cannot be used; its
    ``settings_problems`` then carries the settings' problems found before, to show as well.
    """
    from tui.providers.catalog import ADHOC_PROVIDER, ModelCatalog, adhoc_provider
    from tui.providers.demo import demo_mounts
    from tui.providers.errors import ConfigurationError
    from tui.providers.http import make_client
    from tui.services.chat import ChatService
    from tui.services.provider_registry import ProviderRegistry
    from tui.store.db import BUSY_TIMEOUT_MS, open_store

    env = dict(os.environ) if env is None else dict(env)
    settings, problems = load_settings(config_file(config), env)
    if improve_titles is not None:
        settings = replace(
            settings, defaults=replace(settings.defaults, improve_titles=improve_titles)
        )
    catalog = ModelCatalog(settings)
    problems.extend(catalog.problems)
    keys: dict[str, str] = {}
    if base_url:
        try:
            catalog.add_provider(adhoc_provider(base_url))
        except ValueError as exc:
            raise ConfigurationError(f"--base-url: {exc}") from None
        key = api_key or env.get("TUI_CHAT_API_KEY")
        if key:
            keys[ADHOC_PROVIDER] = key
    speed = demo_tokens_per_second
    if speed is None:
        speed = _demo_speed(env.get("TUI_CHAT_DEMO_SPEED"), problems)
    client = make_client(mounts=demo_mounts(tokens_per_second=speed), transport=transport)
    url, file = history_location(db, settings.database_url)
    try:
        store = await open_store(
            url,
            path=file,
            busy_timeout_ms=BUSY_TIMEOUT_MS if busy_timeout_ms is None else busy_timeout_ms,
        )
    except BaseException as exc:
        await client.aclose()
        _note_settings_problems(exc, problems)
        raise
    try:
        facts = await store.repository.provider_facts()
    except BaseException as exc:
        await store.close()
        await client.aclose()
        _note_settings_problems(exc, problems)
        raise
    catalog.apply_facts(facts)
    registry = ProviderRegistry(settings, client, env=env, catalog=catalog, keys=keys, facts=facts)
    chat = ChatService(store.repository, registry, defaults=settings.defaults)
    return Services(settings, client, registry, store, chat, problems, facts=facts)


TOOL_OUTPUT_LIMIT = 100_000
"""Characters of one tool result the model is given; the rest is cut, and the model told."""


def tool_policy(settings: Settings) -> ToolPolicy:
    """The settings' ``[tools]`` and every server's ``always_allow``, for the tool runner."""
    from tui.services.tools import ToolPolicy

    allowed = frozenset(
        (server.name, tool)
        for server in settings.mcp_servers.values()
        for tool in server.always_allow
    )
    return ToolPolicy(
        max_rounds=settings.tools.max_rounds,
        timeout=settings.tools.timeout,
        always_allow=allowed,
    )


def _note_settings_problems(exc: BaseException, problems: list[str]) -> None:
    """A store error carries the settings' problems, so they are shown even so."""
    from tui.store.errors import StoreError

    if isinstance(exc, StoreError):
        exc.settings_problems = list(problems)


def _demo_speed(value: str | None, problems: list[str]) -> float:
    """``TUI_CHAT_DEMO_SPEED``: the demo's tokens per second (0 streams flat out)."""
    if not value:
        return DEMO_TOKENS_PER_SECOND
    try:
        speed = float(value)
    except ValueError:
        speed = -1.0
    if speed < 0:
        problems.append(
            f"TUI_CHAT_DEMO_SPEED must be a number of tokens per second (0: flat out); "
            f"using {DEMO_TOKENS_PER_SECOND:g}."
        )
        return DEMO_TOKENS_PER_SECOND
    return speed
