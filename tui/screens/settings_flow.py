"""Opening the settings from anywhere: edit, save, and swap the new settings in."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from textual.app import App

    from tui.config.settings import Settings
    from tui.services.container import Services


async def edit_settings(
    app: App[object], services: Services, focus_provider: str | None, *, tab: str = "providers"
) -> bool:
    """Show the settings screen; on Save, write the file and apply it. True if anything changed.

    Must run in a worker (it waits for the screen to be dismissed).
    """
    from tui.safe_text import inert
    from tui.screens.settings import SettingsScreen
    from tui.services.settings_edit import key_statuses

    settings = services.settings
    providers = services.registry.catalog.providers()
    env = services.registry.env
    screen = SettingsScreen(
        settings,
        providers,
        key_statuses(providers, settings, env),
        focus_provider=focus_provider,
        themes=sorted(app.available_themes),
        env=env,
        tab=tab,
    )
    updated = await app.push_screen_wait(screen)
    if updated is None or updated == settings:
        return False
    saved = await _save(app, updated, settings)
    services.apply_settings(updated)
    if updated.ui.theme in app.available_themes:
        app.theme = updated.ui.theme
    if saved is not None:
        app.notify(inert(saved), timeout=5, markup=False)
    return True


async def _save(app: App[object], updated: Settings, settings: Settings) -> str | None:
    """Write what changed; ask first when the file did not load. The line to show, if saved.

    A file that did not load is written only after the user agrees, and only once a copy of it
    is kept beside it; Cancel leaves it as it is (the settings are still used for this run).
    """
    from tui.safe_text import inert
    from tui.screens.settings_confirm import ConfirmSave
    from tui.services.settings_edit import SettingsFileError, apply_settings, backup_name

    path = settings.config_path
    try:
        try:
            await apply_settings(updated, path, previous=settings)
        except SettingsFileError as error:
            question = error.backup_question(await asyncio.to_thread(backup_name, error.path))
            if not await app.push_screen_wait(ConfirmSave(question)):
                app.notify(
                    inert(f"The settings are in use for this run but were not saved: {error}"),
                    title="Settings not saved",
                    severity="warning",
                    timeout=15,
                    markup=False,
                )
                return None
            backup = await apply_settings(updated, path, previous=settings, keep_backup=True)
            if backup is not None:
                return f"Settings saved; the old file is kept as {backup}."
    except (OSError, ValueError) as exc:
        app.notify(
            inert(f"The settings are in use now but could not be saved: {exc}"),
            title="Settings not saved",
            severity="error",
            timeout=15,
            markup=False,
        )
        return None
    return "Settings saved."
