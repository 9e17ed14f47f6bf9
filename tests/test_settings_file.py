"""Saving edits the user's settings file: comments, order and unknown keys survive, and a file
that did not load is never written over (unless asked, and then only after a backup)."""

from __future__ import annotations

import os
import stat
from dataclasses import replace
from pathlib import Path

import pytest

from tui.config.settings import ProviderSettings, Secret, Settings, UiSettings, load_settings
from tui.services.settings_edit import (
    SettingsFileError,
    apply_settings,
    backup_name,
    check_settings_file,
    save_settings_file,
)

KEY = "sk-live-FILEKEY0123456789wxyz"

# Comments at the top and after values, [ui] before [defaults], keys in an odd order, keys the
# app does not know (ui.foo, a top-level one, a whole unknown table) and a dotted key.
USER_FILE = f"""\
# My tui-chat settings -- edited by hand.
editor_note = "keep me"

[ui]
foo = 1
theme = "paper"  # the light one, for daytime

[providers.openai]
api_key = "{KEY}"   # my own key
label = "Work OpenAI"

[defaults]
temperature = 0.4
model = "gpt-5.2"  # fast enough
provider = "openai"
defaults_extra.nested = true

[plugins.spell]
enabled = true
"""

BROKEN_FILE = f"""\
[defaults]
provider = "openai"
model = "gpt-5.2
[providers.openai]
api_key = "{KEY}"
"""


def folder(tmp_path: Path) -> Path:
    """A folder of its own, so what is in it is only what a save put there."""
    conf = tmp_path / "conf"
    conf.mkdir()
    return conf


def write(path: Path, text: str) -> bytes:
    path.write_text(text)
    path.chmod(0o600)
    return path.read_bytes()


def loaded(path: Path) -> Settings:
    settings, problems = load_settings(path, env={})
    assert problems == []
    return settings


async def test_a_theme_save_changes_only_the_theme(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    write(path, USER_FILE)
    before = loaded(path)
    await apply_settings(replace(before, ui=UiSettings(theme="dusk")), previous=before)
    assert path.read_text() == USER_FILE.replace('theme = "paper"', 'theme = "dusk"')
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


async def test_edits_set_and_remove_only_what_changed_where_it_was(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    write(path, USER_FILE)
    before = loaded(path)
    openai = before.providers["openai"]
    after = replace(
        before,
        defaults=replace(before.defaults, temperature=None, model="gpt-5.2-mini"),
        providers={
            "openai": replace(openai, api_key=Secret("sk-new-NEWKEY0000000000abcd")),
            "mybox": ProviderSettings("mybox", base_url="http://10.0.0.5:8000/v1"),
        },
    )
    await apply_settings(after, path, previous=before)
    expected = (
        USER_FILE.replace("temperature = 0.4\n", "")
        .replace('model = "gpt-5.2"', 'model = "gpt-5.2-mini"')
        .replace(KEY, "sk-new-NEWKEY0000000000abcd")
    )
    # A new provider goes with the others.
    openai_section = 'label = "Work OpenAI"\n\n'
    expected = expected.replace(
        openai_section,
        openai_section + '[providers.mybox]\nbase_url = "http://10.0.0.5:8000/v1"\n\n',
    )
    assert path.read_text() == expected
    assert loaded(path).providers["mybox"].base_url == "http://10.0.0.5:8000/v1"


async def test_nothing_is_added_that_the_user_did_not_change(tmp_path: Path) -> None:
    """Defaults the model fills in (api_mode, improve_titles) and keys from the environment
    never appear in the file; removing the saved key removes only that line."""
    path = tmp_path / "config.toml"
    write(path, USER_FILE)
    before, _ = load_settings(path, env={"OPENAI_API_KEY": "sk-env-ENVKEY999999999", "X": "1"})
    openai = replace(before.providers["openai"], api_key=None)
    after = replace(before, providers={"openai": openai})
    await apply_settings(after, path, previous=before)
    text = path.read_text()
    assert text == USER_FILE.replace(f'api_key = "{KEY}"   # my own key\n', "")
    assert "api_mode" not in text and "improve_titles" not in text and "sk-env" not in text


async def test_without_the_settings_before_the_file_itself_is_the_baseline(
    tmp_path: Path,
) -> None:
    path = tmp_path / "config.toml"
    write(path, USER_FILE)
    before = loaded(path)
    await apply_settings(replace(before, ui=UiSettings(theme="dusk")), path)
    assert path.read_text() == USER_FILE.replace('theme = "paper"', 'theme = "dusk"')


async def test_a_new_file_holds_only_what_was_chosen(tmp_path: Path) -> None:
    path = tmp_path / "new" / "config.toml"
    await apply_settings(Settings(ui=UiSettings(theme="dusk")), path, previous=Settings())
    assert path.read_text() == '[ui]\ntheme = "dusk"\n'
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


async def test_a_file_with_a_syntax_error_is_left_byte_for_byte(tmp_path: Path) -> None:
    path = folder(tmp_path) / "config.toml"
    original = write(path, BROKEN_FILE)
    before, problems = load_settings(path, env={})
    assert problems  # reported at start
    with pytest.raises(SettingsFileError) as caught:
        await apply_settings(replace(before, ui=UiSettings(theme="dusk")), path, previous=before)
    assert path.read_bytes() == original
    assert sorted(os.listdir(path.parent)) == ["config.toml"]  # no backup, no temporary file
    error = caught.value
    assert error.line == 3
    message = str(error)
    assert str(path) in message and "line 3" in message and "left as it is" in message
    assert "\n" not in message
    assert check_settings_file(path) is not None


async def test_a_file_with_a_wrong_value_is_left_and_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    original = write(path, '# mine\n[defaults]\nmodel = "m"\ntemperature = "warm"\n')
    before, _ = load_settings(path, env={})
    with pytest.raises(SettingsFileError) as caught:
        await apply_settings(replace(before, ui=UiSettings(theme="dusk")), path, previous=before)
    assert path.read_bytes() == original
    assert caught.value.line == 4
    assert "defaults.temperature" in str(caught.value)


async def test_a_value_where_a_table_belongs_is_not_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    original = write(path, 'title = "x"\nui = "dark"\n')
    before, _ = load_settings(path, env={})
    with pytest.raises(SettingsFileError) as caught:
        await apply_settings(replace(before, ui=UiSettings(theme="dusk")), path, previous=before)
    assert path.read_bytes() == original
    assert caught.value.line == 2 and "ui must be a table" in str(caught.value)


async def test_keep_backup_copies_the_broken_file_first(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    original = write(path, BROKEN_FILE)
    before, _ = load_settings(path, env={})
    assert backup_name(path) == "config.toml.bak"
    after = replace(before, ui=UiSettings(theme="dusk"))
    backup = await apply_settings(after, path, previous=before, keep_backup=True)
    assert backup == tmp_path / "config.toml.bak"
    assert backup.read_bytes() == original
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600  # it holds a key
    assert loaded(path).ui.theme == "dusk"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


async def test_an_existing_backup_is_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    (tmp_path / "config.toml.bak").write_text("an older backup\n")
    original = write(path, BROKEN_FILE)
    before, _ = load_settings(path, env={})
    assert backup_name(path) == "config.toml.bak.1"
    backup = await apply_settings(
        replace(before, ui=UiSettings(theme="dusk")), path, previous=before, keep_backup=True
    )
    assert backup == tmp_path / "config.toml.bak.1"
    assert backup.read_bytes() == original
    assert (tmp_path / "config.toml.bak").read_text() == "an older backup\n"


async def test_a_failed_write_leaves_the_old_file_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = folder(tmp_path) / "config.toml"
    original = write(path, USER_FILE)
    before = loaded(path)

    def crash(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", crash)
    with pytest.raises(OSError, match="No space"):
        await apply_settings(replace(before, ui=UiSettings(theme="dusk")), path, previous=before)
    assert path.read_bytes() == original
    assert sorted(os.listdir(path.parent)) == ["config.toml"]  # the temporary file is gone


async def test_a_symlinked_file_is_edited_through_the_link(tmp_path: Path) -> None:
    target = tmp_path / "dotfiles" / "tui-chat.toml"
    target.parent.mkdir()
    write(target, USER_FILE)
    link = tmp_path / "config.toml"
    link.symlink_to(target)
    before = loaded(link)
    await apply_settings(replace(before, ui=UiSettings(theme="dusk")), link, previous=before)
    assert link.is_symlink()
    assert target.read_text() == USER_FILE.replace('theme = "paper"', 'theme = "dusk"')


def test_save_settings_file_is_the_same_work_without_a_thread(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    write(path, USER_FILE)
    before = loaded(path)
    assert save_settings_file(replace(before, ui=UiSettings(theme="dusk")), path) is None
    assert 'theme = "dusk"  # the light one' in path.read_text()
