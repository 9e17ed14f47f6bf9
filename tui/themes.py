"""Theme files: bundled ``themes/*.toml`` plus the user's own folder, as ``textual.theme.Theme``.

One TOML file per theme. The keys are the ``Theme`` fields; the ``name`` inside the file (not
the file name) identifies the theme::

    name = "dusk"                      # letters, digits, "-" and "_"
    author = "..."                     # optional
    description = "..."                # optional
    dark = true
    primary = "#6ea8fe"                # required; the other colours are optional
    secondary = "#a48bef"
    accent = "#f2b662"
    foreground = "#dcdfe7"
    background = "#14161c"
    surface = "#1b1e26"
    panel = "#262a35"
    warning = "#f2b662"
    error = "#f0707e"
    success = "#7fd08a"

    [variables]                        # optional: Textual's and the app's own variables
    user-message-background = "#1f2a3d"
    input-selection-background = "#6ea8fe 30%"
    block-cursor-text-style = "none"

A variable is a colour (optionally followed by an alpha percentage, or ``auto 80%``) or, for
names ending in ``-style``, text-style words. Anything else would break the stylesheet when the
theme is applied, so it is refused here, with a sentence naming the file.

pydantic would cost import time on every start; the checks are plain code.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from textual.color import Color, ColorParseError
from textual.css.constants import VALID_STYLE_FLAGS
from textual.theme import Theme

__all__ = [
    "APP_THEME_VARIABLES",
    "ThemeFileError",
    "bundled_themes_dir",
    "load_theme_file",
    "load_themes",
    "parse_theme",
    "theme_variable_defaults",
]

COLOUR_KEYS = (
    "primary",
    "secondary",
    "accent",
    "foreground",
    "background",
    "surface",
    "panel",
    "warning",
    "error",
    "success",
)
TEXT_KEYS = ("name", "author", "description")
KNOWN_KEYS = frozenset((*COLOUR_KEYS, *TEXT_KEYS, "dark", "variables"))

APP_THEME_VARIABLES = (
    "user-message-background",
    "assistant-message-background",
    "reasoning-foreground",
)
"""The app's own theme variables; themes may set them, ``theme_variable_defaults`` fills gaps."""

# Textual turns the theme name into the CSS class ``-theme-<name>``: it must be an identifier.
_NAME = re.compile(r"[A-Za-z0-9_-]+")
_WITH_ALPHA = re.compile(r"(.*\S)\s+\d+(?:\.\d+)?%")


class ThemeFileError(ValueError):
    """A theme file that cannot be used; the message says why and names the file."""


def bundled_themes_dir() -> Path | None:
    """The shipped themes: ``tui/_themes`` in an installed wheel, else the source tree's."""
    package = Path(__file__).resolve().parent
    for candidate in (package / "_themes", package.parent / "themes"):
        if candidate.is_dir():
            return candidate
    return None


def _check_colour(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{where} must be a colour in quotes, not {type(value).__name__}")
    try:
        Color.parse(value)
    except ColorParseError:
        raise ValueError(f'{where} = {value!r} is not a colour (e.g. "#1e90ff")') from None
    return value


def _check_variable(name: Any, value: Any) -> None:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ValueError(f"variable name {name!r} must use only letters, digits, '-' and '_'")
    where = f"variables.{name}"
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{where} must be text in quotes")
    if "style" in name.split("-"):
        unknown = [word for word in value.split() if word not in VALID_STYLE_FLAGS]
        if unknown:
            allowed = ", ".join(sorted(VALID_STYLE_FLAGS))
            raise ValueError(f"{where} = {value!r} is not a text style (use: {allowed})")
        return
    colour = value.strip()
    with_alpha = _WITH_ALPHA.fullmatch(colour)
    if with_alpha:
        colour = with_alpha.group(1)
    if colour in ("auto", "initial"):
        return
    try:
        Color.parse(colour)
    except ColorParseError:
        raise ValueError(
            f"{where} = {value!r} is not a colour (optionally followed by an alpha %)"
        ) from None


def parse_theme(data: dict[str, Any]) -> Theme:
    """A ``Theme`` from a parsed theme document; ``ValueError`` says what is wrong."""
    unknown = sorted(set(data) - KNOWN_KEYS)
    if unknown:
        raise ValueError(
            f"unknown key {', '.join(map(repr, unknown))} "
            f"(known keys: {', '.join(sorted(KNOWN_KEYS))})"
        )
    name = data.get("name")
    if not isinstance(name, str) or not name:
        raise ValueError('it has no name (add e.g. name = "my-theme")')
    if not _NAME.fullmatch(name):
        raise ValueError(f"the name {name!r} must use only letters, digits, '-' and '_'")
    if "primary" not in data:
        raise ValueError('it has no primary colour (add e.g. primary = "#1e90ff")')
    for key in ("author", "description"):
        if key in data and not isinstance(data[key], str):
            raise ValueError(f"{key} must be text in quotes")
    colours = {key: _check_colour(data[key], key) for key in COLOUR_KEYS if key in data}
    dark = data.get("dark", True)
    if not isinstance(dark, bool):
        raise ValueError("dark must be true or false")
    variables = data.get("variables", {})
    if not isinstance(variables, dict):
        raise ValueError("[variables] must be a table")
    for variable, value in variables.items():
        _check_variable(variable, value)
    theme = Theme(
        name=name,
        primary=colours["primary"],
        secondary=colours.get("secondary"),
        accent=colours.get("accent"),
        foreground=colours.get("foreground"),
        background=colours.get("background"),
        surface=colours.get("surface"),
        panel=colours.get("panel"),
        warning=colours.get("warning"),
        error=colours.get("error"),
        success=colours.get("success"),
        dark=dark,
        variables=dict(variables),
    )
    try:
        # The colour system derives shades from these; a failure here would surface at paint.
        theme.to_color_system().generate()
    except (ValueError, ArithmeticError) as exc:
        raise ValueError(f"its colours cannot be combined ({exc})") from None
    return theme


def load_theme_file(path: Path) -> Theme:
    """Read and check one theme file; ``ThemeFileError`` names the file and the problem."""
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ThemeFileError(f"The theme file {path} is not valid TOML ({exc}).") from None
    except OSError as exc:
        raise ThemeFileError(f"The theme file {path} could not be read ({exc.strerror}).") from None
    try:
        return parse_theme(data)
    except ValueError as exc:
        raise ThemeFileError(f"The theme file {path} was skipped: {exc}.") from None


def _theme_files(folder: Path, problems: list[str]) -> list[Path]:
    try:
        return sorted(path for path in folder.glob("*.toml") if path.is_file())
    except OSError as exc:
        problems.append(f"The theme folder {folder} could not be read ({exc.strerror}).")
        return []


def load_themes(
    user_dir: Path | None, *, bundled_dir: Path | None = None
) -> tuple[list[Theme], list[str]]:
    """The bundled themes, then the user's (``user_dir`` may be missing), and one problem
    sentence per file that could not be used.

    A user theme replaces a bundled one of the same name; within one folder, files load in
    name order and a later duplicate name replaces an earlier one (and is reported).
    ``bundled_dir`` defaults to ``bundled_themes_dir()``.
    """
    problems: list[str] = []
    themes: dict[str, Theme] = {}
    bundled = bundled_dir if bundled_dir is not None else bundled_themes_dir()
    for folder in (bundled, user_dir):
        if folder is None or not folder.is_dir():
            continue
        origin: dict[str, Path] = {}
        for path in _theme_files(folder, problems):
            try:
                theme = load_theme_file(path)
            except ThemeFileError as exc:
                problems.append(str(exc))
                continue
            if theme.name in origin:
                problems.append(
                    f"The theme files {origin[theme.name]} and {path} both define "
                    f"{theme.name!r}; using {path}."
                )
            origin[theme.name] = path
            themes[theme.name] = theme
    return list(themes.values()), problems


def theme_variable_defaults(theme: Theme) -> dict[str, str]:
    """Values for ``APP_THEME_VARIABLES`` derived from ``theme``, for themes that omit them.

    Meant for ``App.get_theme_variable_defaults`` (``self.current_theme``): TCSS variables
    cannot refer to each other, so the shades are computed here.
    """
    fallback = "#121212" if theme.dark else "#efefef"
    background = Color.parse(theme.background or fallback)
    surface = Color.parse(theme.surface or theme.background or fallback)
    primary = Color.parse(theme.primary)
    foreground = Color.parse(theme.foreground or ("#e0e0e0" if theme.dark else "#1f1f1f"))
    return {
        "user-message-background": surface.blend(primary, 0.12).hex,
        "assistant-message-background": surface.hex,
        "reasoning-foreground": background.blend(foreground, 0.6).hex,
    }
