"""What the settings screen needs below the UI: key status, field checks, the edited Settings.

Nothing here imports Textual, and no key is ever returned unmasked: ``KeyStatus`` carries only
where a key comes from and its masked form. Check messages never repeat the rejected value,
since a key pasted into the wrong field must not end up on screen or in a log.

Saving edits the user's file rather than rewriting it: the file is parsed with ``tomlkit``, only
the keys whose value changed are set (in place, where the user put them) or removed, and the
document is written back atomically at mode 0600, so comments, key order and keys the app does
not know survive. A file that does not load (not TOML, or a value of the wrong type) is never
written unless the caller asks for it with ``keep_backup``, and then only after a byte-for-byte
copy of it is kept beside it (``config.toml.bak``, or ``.bak.1`` and on if that name is taken).
"""

from __future__ import annotations

import asyncio
import os
import re
import tempfile
import tomllib
from collections.abc import Iterable, Mapping, MutableMapping
from dataclasses import dataclass, replace
from itertools import count
from pathlib import Path
from typing import Any

from tui.config.settings import (
    MAX_TOKENS_PARAMS,
    ProviderSettings,
    Secret,
    Settings,
    load_settings,
    parse_settings,
    settings_to_toml,
)
from tui.domain import ProviderConfig
from tui.providers.catalog import ADHOC_PROVIDER, custom_provider, validate_base_url
from tui.providers.keys import find_api_key
from tui.providers.presets import BUILTIN_PROVIDERS

__all__ = [
    "KeyStatus",
    "ProviderEdit",
    "SettingsFileError",
    "apply_settings",
    "backup_name",
    "check_settings_file",
    "check_api_key",
    "check_base_url",
    "check_env_name",
    "check_max_output_tokens",
    "check_new_provider_name",
    "check_temperature",
    "edited_provider",
    "edited_providers",
    "key_status",
    "key_statuses",
]

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PROVIDER_NAME = re.compile(r"[a-z][a-z0-9_-]*")


@dataclass(frozen=True)
class KeyStatus:
    """Whether a provider has a key now, and from where; never the key itself."""

    provider: str
    source: str | None
    """``"settings"`` (the settings file), ``"env:NAME"``, or ``None`` when there is no key."""
    masked: str | None
    """The key as ``sk-…a1b2``; ``None`` when there is no key."""
    required: bool = True
    """False for servers that work without a key (local ones, custom ones naming none)."""

    @property
    def env_name(self) -> str | None:
        """The variable the key came from, if it came from the environment."""
        if self.source and self.source.startswith("env:"):
            return self.source.removeprefix("env:")
        return None

    def describe(self) -> str:
        """One line for the screen, e.g. ``Key from $OPENAI_API_KEY: sk-…a1b2``."""
        if self.source == "settings":
            return f"Key saved in the settings file: {self.masked}"
        if self.env_name:
            return f"Key from ${self.env_name}: {self.masked}"
        if not self.required:
            return "No key needed (the server may still ask for one)."
        return "No key set."


def key_status(
    config: ProviderConfig, settings: Settings | None, env: Mapping[str, str] | None = None
) -> KeyStatus:
    """Where ``config``'s key comes from, resolved as requests resolve it (``find_api_key``)."""
    found = find_api_key(config, settings, os.environ if env is None else env)
    if found is None:
        return KeyStatus(config.name, None, None, config.requires_key)
    key, source = found
    return KeyStatus(config.name, source, Secret(key).masked(), config.requires_key)


def key_statuses(
    providers: Iterable[ProviderConfig],
    settings: Settings | None,
    env: Mapping[str, str] | None = None,
) -> dict[str, KeyStatus]:
    """``key_status`` for each provider, by name."""
    return {config.name: key_status(config, settings, env) for config in providers}


# --------------------------------------------------------------------------------------------
# Field checks: each returns the parsed value or raises ValueError with a sentence to show.
# --------------------------------------------------------------------------------------------


def check_temperature(text: str) -> float | None:
    """Empty means the model's default; otherwise a number from 0 to 2."""
    text = text.strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        raise ValueError("Temperature must be a number from 0 to 2.") from None
    if not 0 <= value <= 2:
        raise ValueError("Temperature must be from 0 to 2.")
    return value


def check_max_output_tokens(text: str) -> int | None:
    """Empty means the model's default; otherwise a positive whole number."""
    text = text.strip().replace("_", "")
    if not text:
        return None
    try:
        value = int(text)
    except ValueError:
        raise ValueError("Max output tokens must be a whole number.") from None
    if value <= 0:
        raise ValueError("Max output tokens must be more than 0.")
    return value


def check_env_name(text: str) -> str | None:
    """Empty means the provider's default variable; otherwise a valid variable name."""
    text = text.strip()
    if not text:
        return None
    if not _ENV_NAME.fullmatch(text):
        raise ValueError(
            "Give the name of an environment variable (letters, digits and _), "
            "e.g. MYBOX_API_KEY, not the key itself."
        )
    return text


def check_api_key(text: str) -> Secret | None:
    """Empty keeps the current key; otherwise one line of printable characters, no spaces."""
    text = text.strip()
    if not text:
        return None
    if not all(char.isprintable() and not char.isspace() and char.isascii() for char in text):
        raise ValueError("An API key is one line of printable characters, without spaces.")
    return Secret(text)


def check_base_url(text: str, *, required: bool) -> str | None:
    """Empty means the preset's URL (an error when ``required``); else ``validate_base_url``."""
    if not text.strip():
        if required:
            raise ValueError("A base URL is required, e.g. http://localhost:8000/v1.")
        return None
    return validate_base_url(text)


def check_new_provider_name(text: str, taken: Iterable[str]) -> str:
    """A name for a new custom provider: short, lower-case, not already used."""
    name = text.strip()
    if not name:
        raise ValueError("Give the new provider a name, e.g. mybox.")
    if not _PROVIDER_NAME.fullmatch(name):
        raise ValueError(
            "A provider name starts with a letter and uses only a-z, 0-9, '-' and '_'."
        )
    if name in set(taken) or name in BUILTIN_PROVIDERS or name == ADHOC_PROVIDER:
        raise ValueError(f"There is already a provider called {name}.")
    return name


# --------------------------------------------------------------------------------------------
# Building the new Settings
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProviderEdit:
    """The checked values of one provider's fields on the screen."""

    name: str
    base_url: str | None
    """None: the preset's URL (built-in providers only)."""
    api_key_env: str | None
    max_tokens_param: str
    supports_responses: bool
    new_key: Secret | None = None
    """A key typed on the screen; None keeps the current one."""
    remove_key: bool = False
    """Drop the key saved in the settings file (a typed ``new_key`` wins)."""


def edited_provider(
    edit: ProviderEdit, previous: ProviderSettings | None
) -> ProviderSettings | None:
    """The settings section for ``edit``: only what differs from the preset is stored.

    A built-in provider with nothing left to store has no section (``None``); its label and
    extra model ids from the file are kept as they were.
    """
    preset = BUILTIN_PROVIDERS.get(edit.name)
    if preset is None and not edit.base_url:
        raise ValueError(f"The custom provider {edit.name} needs a base URL.")
    if edit.max_tokens_param not in MAX_TOKENS_PARAMS:
        raise ValueError("The token limit field must be max_completion_tokens or max_tokens.")
    # A custom provider's defaults depend on its URL (max_tokens unless it is OpenAI's host).
    baseline = preset or replace(custom_provider(edit.name, edit.base_url or ""), base_url="")
    if edit.new_key:
        api_key: Secret | None = edit.new_key
    elif edit.remove_key:
        api_key = None
    else:
        api_key = previous.api_key if previous else None
    section = ProviderSettings(
        name=edit.name,
        label=previous.label if previous else None,
        base_url=edit.base_url if edit.base_url != baseline.base_url else None,
        api_key=api_key,
        api_key_env=edit.api_key_env if edit.api_key_env != baseline.api_key_env else None,
        max_tokens_param=(
            edit.max_tokens_param
            if edit.max_tokens_param != baseline.max_tokens_param
            or (previous is not None and previous.max_tokens_param)
            else None
        ),
        supports_responses=(
            edit.supports_responses
            if edit.supports_responses != baseline.supports_responses
            else None
        ),
        models=previous.models if previous else (),
    )
    if preset is not None and section == ProviderSettings(name=edit.name):
        return None
    return section


def edited_providers(
    original: Mapping[str, ProviderSettings],
    edits: Iterable[ProviderEdit],
    removed: Iterable[str],
) -> dict[str, ProviderSettings]:
    """``original`` with the edited sections replaced and the removed ones dropped.

    Sections the screen did not show (e.g. ones the catalog could not use) are kept as they
    were: the screen never deletes what it did not display.
    """
    providers = dict(original)
    dropped = set(removed)
    for name in dropped:
        providers.pop(name, None)
    for edit in edits:
        # A provider removed and added again on the screen starts afresh.
        previous = None if edit.name in dropped else original.get(edit.name)
        section = edited_provider(edit, previous)
        if section is None:
            providers.pop(edit.name, None)
        else:
            providers[edit.name] = section
    return providers


# --------------------------------------------------------------------------------------------
# Saving: the user's file, edited in place
# --------------------------------------------------------------------------------------------


class SettingsFileError(ValueError):
    """The settings file did not load (not TOML, or a wrong value), so it was left as it is."""

    def __init__(self, path: Path, line: int | None, problem: str, *, syntax: bool) -> None:
        self.path = path
        self.line = line
        """The first line with the error (1-based), when it can be told."""
        self.problem = problem
        """What is wrong, as one sentence without the line."""
        self.syntax = syntax
        """True when the file is not TOML at all (so it cannot be edited, only replaced)."""
        super().__init__(f"{self._where()} and was left as it is.")

    def _where(self) -> str:
        at = f" at line {self.line}" if self.line else ""
        return f"{self.path} has an error{at} ({self.problem.rstrip('.')})"

    def backup_question(self, backup_name: str) -> str:
        """One line for the confirm dialog before an explicit save."""
        return f"{self._where()}. Save anyway, keeping the old file as {backup_name}?"


_AT_LINE = re.compile(r"\s*\(at line (\d+), column \d+\)\s*$")
_PATH_IN_PROBLEM = re.compile(r"^\[?([^\s\]]+?)\]? must ")
_TABLE_HEADER = re.compile(r"^\[\[?([^\]]*)\]\]?")
_KEY_VALUE = re.compile(r"^((?:[^=#\"']|\"[^\"]*\"|'[^']*')+?)\s*=")


def _split_key(text: str) -> list[str]:
    """``a."b.c".d`` as ``["a", "b.c", "d"]`` (good enough for finding a line)."""
    parts = re.findall(r'\s*("[^"]*"|\'[^\']*\'|[^.]+)\s*(?:\.|$)', text.strip())
    return [part.strip().strip("\"'") for part in parts]


def _line_of(text: str, dotted: str) -> int | None:
    """The line where the key ``dotted`` (e.g. ``defaults.temperature``) is set, if found."""
    path = _split_key(dotted)
    table: list[str] = []
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if header := _TABLE_HEADER.match(stripped):
            table = _split_key(header.group(1))
            if table == path:
                return number
        elif pair := _KEY_VALUE.match(stripped):
            key = table + _split_key(pair.group(1))
            # The key itself, or a parent set on one line (an inline table, say).
            if key == path or (len(key) < len(path) and path[: len(key)] == key):
                return number
    return None


def _read(path: Path) -> bytes | None:
    """The file's bytes; ``None`` when there is no file. Other ``OSError``s propagate."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def _file_error(path: Path, raw: bytes) -> SettingsFileError | None:
    """Why ``raw`` (the file at ``path``) does not load, as ``load_settings`` reads it."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        where = raw[: exc.start].count(b"\n") + 1
        return SettingsFileError(path, where, "not UTF-8 text", syntax=True)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        found = _AT_LINE.search(message)
        problem = _AT_LINE.sub("", message) or "not valid TOML"
        return SettingsFileError(path, int(found.group(1)) if found else None, problem, syntax=True)
    problems: list[str] = []
    parse_settings(data, problems)
    if not problems:
        return None
    problem = problems[0].removesuffix(" Ignored.").removesuffix("; ignored.")
    named = _PATH_IN_PROBLEM.match(problem)
    line = _line_of(text, named.group(1)) if named else None
    return SettingsFileError(path, line, problem, syntax=False)


def check_settings_file(path: Path) -> SettingsFileError | None:
    """Why the settings file at ``path`` would not load as it is now; ``None`` if it loads.

    A missing file loads (as the defaults). Raises ``OSError`` when the file cannot be read.
    """
    raw = _read(path)
    return None if raw is None else _file_error(path, raw)


_MISSING = object()


def _is_inline(container: object) -> bool:
    from tomlkit.items import InlineTable

    return isinstance(container, InlineTable)


def _new_table(value: Mapping[str, Any], *, inline: bool = False) -> Any:
    import tomlkit

    if inline:  # inside ``x = { ... }`` only inline tables can go
        return tomlkit.inline_table()
    # ``[providers.x]`` headers, not an empty ``[providers]`` one above them.
    nested = bool(value) and all(isinstance(item, Mapping) for item in value.values())
    return tomlkit.table(is_super_table=nested)


def _blank_line() -> Any:
    import tomlkit

    return tomlkit.nl()


def _edit(
    container: MutableMapping[str, Any],
    old: Mapping[str, Any],
    new: Mapping[str, Any],
    where: list[str],
    on_conflict: Any,
) -> None:
    """Change ``container`` (part of a tomlkit document) by what differs from ``old`` to ``new``.

    Keys not in ``old`` or ``new`` are the user's and are left alone; so are keys whose value
    did not change, even if the file spells them differently.
    """
    for key in old:
        if key not in new and key in container:
            del container[key]
    for key, value in new.items():
        before = old.get(key, _MISSING)
        if isinstance(value, Mapping):
            before = before if isinstance(before, Mapping) else {}
            inner = container.get(key, _MISSING)
            if isinstance(inner, MutableMapping):
                _edit(inner, before, value, [*where, key], on_conflict)
                continue
            if inner is _MISSING and before == value:
                continue  # e.g. a section of defaults the file never had
            if inner is not _MISSING:
                on_conflict([*where, key])
            inline = _is_inline(container)
            table = _new_table(value, inline=inline)
            _edit(table, before, value, [*where, key], on_conflict)
            if where and not inline:  # it may land among other tables: keep a blank line after
                table.add(_blank_line())
            container[key] = table
        elif value != before:
            container[key] = value


def _backup_path(path: Path, raw: bytes) -> Path:
    """Write ``raw`` beside ``path`` as ``NAME.bak`` (or ``.bak.1``…): never over another file.

    An existing backup with the very same bytes is used as it is.
    """
    for number in count():
        candidate = path.with_name(f"{path.name}.bak" + (f".{number}" if number else ""))
        try:
            fd = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            try:
                if candidate.is_file() and candidate.read_bytes() == raw:
                    return candidate
            except OSError:
                pass
            continue
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(raw)
                handle.flush()
                os.fsync(handle.fileno())
        except BaseException:
            candidate.unlink(missing_ok=True)
            raise
        return candidate
    raise AssertionError("unreachable")  # pragma: no cover


def backup_name(path: Path) -> str:
    """The name the next backup of ``path`` would get (for the confirm question)."""
    raw = _read(path)
    for number in count():
        candidate = path.with_name(f"{path.name}.bak" + (f".{number}" if number else ""))
        try:
            if not candidate.exists() or (raw is not None and candidate.read_bytes() == raw):
                return candidate.name
        except OSError:
            continue
    raise AssertionError("unreachable")  # pragma: no cover


def _write_atomically(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` (owner-only): a crash leaves the old file or the new one."""
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    tmp = Path(name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    try:  # the rename itself survives a crash only once the folder is synced
        folder = os.open(path.parent, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(folder)
    except OSError:
        pass
    finally:
        os.close(folder)


def save_settings_file(
    settings: Settings,
    path: Path,
    *,
    previous: Settings | None = None,
    keep_backup: bool = False,
) -> Path | None:
    """Save what changed from ``previous`` to ``settings`` into the file at ``path``.

    ``previous`` is what the app believed the file said (the settings before the edit); when
    not given, the file as it loads now (with the environment) stands in for it. Only keys
    whose value differs are written; everything else in the file stays byte for byte.

    Raises ``SettingsFileError`` (writing nothing) when the file does not load, unless
    ``keep_backup``: then a copy of it is kept first, and the path of that copy is returned.
    Raises ``OSError`` when the file cannot be read or written.
    """
    import tomlkit
    from tomlkit.exceptions import ParseError, TOMLKitError

    path = Path(os.path.realpath(path))  # a symlinked file is edited, not replaced by a copy
    raw = _read(path)
    error = None if raw is None else _file_error(path, raw)
    document: Any = tomlkit.document()
    if raw is not None and (error is None or not error.syntax):
        try:
            document = tomlkit.parse(raw.decode("utf-8"))
        except ParseError as exc:  # what tomllib took but tomlkit does not: start afresh
            error = SettingsFileError(path, exc.line, "not valid TOML", syntax=True)
    if error is not None and not keep_backup:
        raise error
    if previous is None:
        previous = load_settings(path)[0]
    conflicts: list[str] = []

    def on_conflict(key: list[str]) -> None:
        """A value stands where a table must go (``ui = "dark"``): replaced only if allowed."""
        dotted = ".".join(key)
        if not keep_backup:
            text = raw.decode("utf-8", "replace") if raw else ""
            raise SettingsFileError(
                path, _line_of(text, dotted), f"{dotted} must be a table", syntax=False
            )
        conflicts.append(dotted)

    try:
        _edit(document, settings_to_toml(previous), settings_to_toml(settings), [], on_conflict)
    except TOMLKitError as exc:  # a layout tomlkit cannot edit: say so, write nothing
        raise ValueError(f"{path} could not be edited ({exc}); it was left as it is.") from exc
    backup = None
    if raw is not None and (error is not None or conflicts):
        backup = _backup_path(path, raw)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = tomlkit.dumps(document)
    if text.endswith("\n\n") and not (raw or b"").endswith(b"\n\n"):
        text = text.rstrip("\n") + "\n"  # a table added last brings no blank line at the end
    if raw and b"\r\n" in raw and not re.search(rb"(?<!\r)\n", raw):
        text = re.sub(r"(?<!\r)\n", "\r\n", text)  # new lines end as the user's lines do
    _write_atomically(path, text)
    return backup


async def apply_settings(
    settings: Settings,
    path: Path | None = None,
    *,
    previous: Settings | None = None,
    keep_backup: bool = False,
) -> Path | None:
    """``save_settings_file`` off the event loop, to ``path``, else ``settings.config_path``.

    Returns the backup kept (``keep_backup``), if one was needed. Raises ``SettingsFileError``
    when the file does not load (and nothing was written), ``OSError`` when it cannot be
    written, and ``ValueError`` when there is no path to write to.
    """
    target = path or settings.config_path
    if target is None:
        raise ValueError("These settings have no file to be saved to.")
    return await asyncio.to_thread(
        save_settings_file, settings, target, previous=previous, keep_backup=keep_backup
    )
