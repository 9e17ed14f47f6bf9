"""Theme files: the bundled ones load and apply, broken ones are reported, users override."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.app import App, ComposeResult
from textual.color import Color
from textual.theme import Theme
from textual.widgets import Label

from tui.themes import (
    APP_THEME_VARIABLES,
    bundled_themes_dir,
    load_themes,
    theme_variable_defaults,
)

GOOD = 'name = "{name}"\nprimary = "{primary}"\ndark = {dark}\n'


class ThemedApp(App[None]):
    """Uses the app's own theme variables, as the conversation screen does."""

    CSS = """
    #user { background: $user-message-background; }
    #assistant { background: $assistant-message-background; }
    #reasoning { color: $reasoning-foreground; }
    """

    def __init__(self, themes: list[Theme]) -> None:
        super().__init__()
        self._themes = themes

    def get_theme_variable_defaults(self) -> dict[str, str]:
        return theme_variable_defaults(self.current_theme)

    def compose(self) -> ComposeResult:
        yield Label("you", id="user")
        yield Label("model", id="assistant")
        yield Label("thinking", id="reasoning")

    def on_mount(self) -> None:
        for theme in self._themes:
            self.register_theme(theme)


def write(folder: Path, filename: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / filename
    path.write_text(text, encoding="utf-8")
    return path


def test_bundled_folder_is_the_repository_themes() -> None:
    folder = bundled_themes_dir()
    assert folder is not None
    assert {path.stem for path in folder.glob("*.toml")} >= {"dusk", "paper", "moss"}


def test_every_bundled_theme_loads_cleanly() -> None:
    themes, problems = load_themes(None)
    assert problems == []
    by_name = {theme.name: theme for theme in themes}
    assert set(by_name) >= {"dusk", "paper", "moss"}
    assert by_name["paper"].dark is False
    assert by_name["dusk"].dark is True
    for theme in themes:
        for variable in APP_THEME_VARIABLES:
            assert variable in theme.variables, (theme.name, variable)


async def test_every_bundled_theme_registers_and_applies() -> None:
    themes, _ = load_themes(None)
    app = ThemedApp(themes)
    async with app.run_test(size=(40, 6)) as pilot:
        for theme in themes:
            app.theme = theme.name
            await pilot.pause()
            user = app.query_one("#user", Label)
            expected = Color.parse(theme.variables["user-message-background"])
            assert user.styles.background == expected
            assert app.current_theme.name == theme.name
            assert f"-theme-{theme.name}" in app.classes


async def test_textual_themes_get_the_app_variables_by_default() -> None:
    app = ThemedApp([])
    async with app.run_test(size=(40, 6)) as pilot:
        for name in ("textual-dark", "textual-light", "nord"):
            app.theme = name
            await pilot.pause()
            expected = theme_variable_defaults(app.current_theme)["user-message-background"]
            assert app.query_one("#user", Label).styles.background == Color.parse(expected)


@pytest.mark.parametrize(
    ("filename", "text", "expected"),
    [
        ("broken.toml", 'name = "x"\nprimary = ', "not valid TOML"),
        ("colour.toml", 'name = "x"\nprimary = "#12345z"', "'#12345z' is not a colour"),
        ("nameless.toml", 'primary = "#123456"', "has no name"),
        ("spaced.toml", 'name = "my theme"\nprimary = "#123456"', "must use only letters"),
        ("noprimary.toml", 'name = "x"\nbackground = "#123456"', "no primary colour"),
        ("number.toml", 'name = "x"\nprimary = 12', "must be a colour in quotes"),
        ("dark.toml", 'name = "x"\nprimary = "red"\ndark = "yes"', "dark must be true or false"),
        ("typo.toml", 'name = "x"\nprimay = "red"\nprimary = "red"', "unknown key 'primay'"),
        (
            "variable.toml",
            'name = "x"\nprimary = "red"\n[variables]\nuser-message-background = "blurple"',
            "variables.user-message-background = 'blurple' is not a colour",
        ),
        (
            "style.toml",
            'name = "x"\nprimary = "red"\n[variables]\nblock-cursor-text-style = "shiny"',
            "is not a text style",
        ),
        ("binary.toml", b"\xff\xfe name", "not valid TOML"),
    ],
)
def test_a_broken_file_is_reported_once_and_others_still_load(
    tmp_path: Path, filename: str, text: str | bytes, expected: str
) -> None:
    user_dir = tmp_path / "themes"
    write(user_dir, "good.toml", GOOD.format(name="mine", primary="#336699", dark="true"))
    bad = user_dir / filename
    if isinstance(text, bytes):
        bad.write_bytes(text)
    else:
        bad.write_text(text, encoding="utf-8")
    themes, problems = load_themes(user_dir)
    assert len(problems) == 1
    assert str(bad) in problems[0]
    assert expected in problems[0]
    names = {theme.name for theme in themes}
    assert "mine" in names and "dusk" in names
    assert "x" not in names


def load_forms_theme(tmp_path: Path) -> Theme:
    """A theme using every accepted variable form; it must load without problems."""
    write(
        tmp_path,
        "forms.toml",
        'name = "forms"\nprimary = "rgb(10, 20, 30)"\n[variables]\n'
        'input-selection-background = "#81a1c1 35%"\nlink-color = "auto 87%"\n'
        'link-background = "initial"\nlink-style-hover = "bold not underline"\n'
        'footer-key-foreground = "ansi_bright_blue"\nscrollbar = "rgb(1, 2, 3) 50%"\n',
    )
    themes, problems = load_themes(tmp_path, bundled_dir=tmp_path / "none")
    assert problems == []
    assert [theme.name for theme in themes] == ["forms"]
    assert themes[0].variables["link-color"] == "auto 87%"
    return themes[0]


def test_valid_variable_forms_are_accepted(tmp_path: Path) -> None:
    assert load_forms_theme(tmp_path).variables["link-background"] == "initial"


async def test_accepted_variable_forms_work_in_a_stylesheet(tmp_path: Path) -> None:
    theme = load_forms_theme(tmp_path)

    class VariableApp(ThemedApp):
        CSS = (
            ThemedApp.CSS
            + """
        #user { color: $link-color; text-style: $link-style-hover; }
        #assistant { background: $scrollbar; color: $footer-key-foreground; }
        #reasoning { background: $input-selection-background; }
        """
        )

    app = VariableApp([theme])
    async with app.run_test(size=(40, 6)) as pilot:
        app.theme = "forms"
        await pilot.pause()
        assistant = app.query_one("#assistant", Label)
        assert assistant.styles.background == Color(1, 2, 3, 0.5)


def test_user_theme_overrides_the_bundled_one_of_the_same_name(tmp_path: Path) -> None:
    user_dir = tmp_path / "themes"
    # The name inside the file counts, not the file name.
    write(user_dir, "my-dusk.toml", GOOD.format(name="dusk", primary="#ff0000", dark="false"))
    themes, problems = load_themes(user_dir)
    assert problems == []
    dusk = [theme for theme in themes if theme.name == "dusk"]
    assert len(dusk) == 1
    assert dusk[0].primary == "#ff0000"
    assert dusk[0].dark is False


def test_duplicate_names_in_one_folder_are_reported(tmp_path: Path) -> None:
    write(tmp_path, "a.toml", GOOD.format(name="twin", primary="#111111", dark="true"))
    write(tmp_path, "b.toml", GOOD.format(name="twin", primary="#222222", dark="true"))
    themes, problems = load_themes(tmp_path, bundled_dir=tmp_path / "none")
    assert [theme.primary for theme in themes] == ["#222222"]
    assert len(problems) == 1
    assert "a.toml" in problems[0] and "b.toml" in problems[0]


def test_missing_user_folder_is_fine(tmp_path: Path) -> None:
    themes, problems = load_themes(tmp_path / "absent")
    assert problems == []
    assert {theme.name for theme in themes} >= {"dusk", "paper", "moss"}


async def test_user_theme_registers_in_an_app(tmp_path: Path) -> None:
    write(
        tmp_path,
        "ocean.toml",
        'name = "ocean"\nprimary = "#1e90ff"\nbackground = "#001020"\n'
        'author = "me"\ndescription = "blue"\n',
    )
    themes, problems = load_themes(tmp_path)
    assert problems == []
    app = ThemedApp(themes)
    async with app.run_test(size=(40, 6)) as pilot:
        app.theme = "ocean"
        await pilot.pause()
        assert app.screen.styles.background == Color.parse("#001020")
