"""The real app and the user's settings file: a theme picked in the command palette and a save
in Settings change only what changed, and a file that did not load is never written over."""

from __future__ import annotations

import os
from pathlib import Path

from textual.command import CommandPalette
from textual.widgets import Button, Input, OptionList, Static

from tests.test_settings_file import BROKEN_FILE
from tests.ui.conftest import AppFactory, wait_for
from tests.ui.test_conversation_screen import idle
from tui.app import TuiApp
from tui.screens.conversation import ConversationScreen
from tui.screens.settings import SettingsScreen
from tui.screens.settings_confirm import ConfirmSave

SIZE = (110, 40)
KEY = "sk-live-USERFILE0123456789wxyz"

# A top-level comment, an unknown top-level key, [ui] with an unknown key before the theme,
# comments after values, [defaults] after [providers] and its keys in no particular order.
USER_FILE = f"""\
# My tui-chat settings -- edited by hand.
editor_note = "keep me"

[ui]
foo = 1
theme = "paper"  # the light one

[providers.openai]
api_key = "{KEY}"  # my own key

[defaults]
max_output_tokens = 2000   # enough for me
provider = "demo"
"""


def config_path(tmp_path: Path) -> Path:
    return tmp_path / "config.toml"  # where ``app_factory`` writes ``config``


def notices(app: TuiApp) -> list[str]:
    """The notifications the user was shown, oldest first."""
    return [str(notification.message) for notification in app._notifications]


async def pick_theme_in_palette(pilot, app: TuiApp, theme: str) -> None:  # type: ignore[no-untyped-def]
    """Ctrl+P, "Theme", Enter, the theme's name, Enter: as a user changes the theme."""
    await pilot.press("ctrl+p")
    await wait_for(lambda: isinstance(app.screen, CommandPalette))
    await pilot.press(*"theme")
    results = app.screen.query_one(OptionList)
    await wait_for(lambda: any("theme" in str(option.prompt).lower() for option in results.options))
    await pilot.press("enter")
    await wait_for(lambda: isinstance(app.screen, CommandPalette) and app.screen.query(Input))
    await pilot.press(*theme)
    results = app.screen.query_one(OptionList)
    await wait_for(lambda: any(str(o.prompt).strip() == theme for o in results.options))
    await pilot.press("enter")
    await wait_for(lambda: app.theme == theme)


async def open_settings(pilot, app: TuiApp) -> SettingsScreen:  # type: ignore[no-untyped-def]
    await pilot.press("ctrl+s")
    await wait_for(lambda: isinstance(app.screen, SettingsScreen))
    screen = app.screen
    assert isinstance(screen, SettingsScreen)
    return screen


async def set_max_tokens(pilot, screen: SettingsScreen, value: str) -> None:  # type: ignore[no-untyped-def]
    await pilot.click("#--content-tab-tab-defaults")
    field = screen.query_one("#default-max-tokens", Input)
    await pilot.click(field)
    await pilot.press("end", *["backspace"] * len(field.value), *value)
    assert field.value == value
    await pilot.press("ctrl+s")


async def test_a_theme_picked_in_the_palette_changes_only_the_theme_line(
    app_factory: AppFactory, tmp_path: Path
) -> None:
    app = app_factory(config=USER_FILE)
    path = config_path(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await idle(app)
        await pick_theme_in_palette(pilot, app, "dusk")
        expected = USER_FILE.replace('theme = "paper"', 'theme = "dusk"')
        await wait_for(lambda: path.read_text() == expected)
    assert os.stat(path).st_mode & 0o777 == 0o600


async def test_a_save_in_settings_changes_only_the_edited_value(
    app_factory: AppFactory, tmp_path: Path
) -> None:
    # The theme the app runs with (``tui-chat`` starts on the file's theme; this app does not).
    user_file = USER_FILE.replace('"paper"', '"textual-dark"')
    app = app_factory(config=user_file)
    path = config_path(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await idle(app)
        screen = await open_settings(pilot, app)
        await set_max_tokens(pilot, screen, "4096")
        await wait_for(lambda: isinstance(app.screen, ConversationScreen))
        await wait_for(lambda: "Settings saved." in notices(app))
    assert path.read_text() == user_file.replace(
        "max_output_tokens = 2000", "max_output_tokens = 4096"
    )
    assert os.stat(path).st_mode & 0o777 == 0o600


async def test_a_theme_pick_leaves_a_broken_file_as_it_was(
    app_factory: AppFactory, tmp_path: Path
) -> None:
    app = app_factory(config=BROKEN_FILE)
    path = config_path(tmp_path)
    original = path.read_bytes()
    async with app.run_test(size=SIZE) as pilot:
        await idle(app)
        await pick_theme_in_palette(pilot, app, "dusk")
        await wait_for(lambda: any("not saved" in notice for notice in notices(app)))
        [notice] = [notice for notice in notices(app) if "not saved" in notice]
        assert "has an error at line 3" in notice and "left as it is" in notice
        assert "\n" not in notice
        assert app.theme == "dusk"  # still used for this run
    assert path.read_bytes() == original
    assert sorted(p.name for p in tmp_path.glob("config.toml*")) == ["config.toml"]


async def save_over_the_broken_file(pilot, app: TuiApp) -> None:  # type: ignore[no-untyped-def]
    """Change a value in Settings and save: the question about the broken file comes up."""
    await idle(app)
    screen = await open_settings(pilot, app)
    await set_max_tokens(pilot, screen, "4096")
    await wait_for(lambda: isinstance(app.screen, ConfirmSave))


async def test_cancelling_a_save_over_a_broken_file_writes_nothing(
    app_factory: AppFactory, tmp_path: Path
) -> None:
    app = app_factory(config=BROKEN_FILE)
    path = config_path(tmp_path)
    original = path.read_bytes()
    async with app.run_test(size=SIZE) as pilot:
        await save_over_the_broken_file(pilot, app)
        question = str(app.screen.query_one("#confirm-question", Static).render())
        assert str(path) in question and "line 3" in question
        assert "config.toml.bak" in question and "Save anyway" in question
        await pilot.click(app.screen.query_one("#confirm-cancel", Button))
        await wait_for(lambda: any("were not saved" in notice for notice in notices(app)))
        assert "Settings saved." not in notices(app)
    assert path.read_bytes() == original
    assert sorted(p.name for p in tmp_path.glob("config.toml*")) == ["config.toml"]


async def test_a_confirmed_save_keeps_the_broken_file_as_a_backup(
    app_factory: AppFactory, tmp_path: Path
) -> None:
    app = app_factory(config=BROKEN_FILE)
    path = config_path(tmp_path)
    original = path.read_bytes()
    backup = tmp_path / "config.toml.bak"
    async with app.run_test(size=SIZE) as pilot:
        await save_over_the_broken_file(pilot, app)
        await pilot.click(app.screen.query_one("#confirm-save", Button))
        await wait_for(lambda: any("kept as" in notice for notice in notices(app)))
        assert any(str(backup) in notice for notice in notices(app))
    assert backup.read_bytes() == original
    assert os.stat(backup).st_mode & 0o777 == 0o600
    assert "max_output_tokens = 4096" in path.read_text()
    assert os.stat(path).st_mode & 0o777 == 0o600
