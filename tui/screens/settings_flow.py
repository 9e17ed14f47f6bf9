"""Opening the settings from anywhere: edit, save, and swap the new settings in."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from textual.app import App

    from tui.services.container import Services


async def edit_settings(
    app: App[object], services: Services, focus_provider: str | None, *, tab: str = "providers"
) -> bool:
    """Show the settings screen; on Save, write the file and apply it. True if anything changed.

    Must run in a worker (it waits for the screen to be dismissed).
    """
    from tui.screens.settings import SettingsScreen
    from tui.services.settings_edit import apply_settings, key_statuses

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
    try:
        await apply_settings(updated, settings.config_path)
    except (OSError, ValueError) as exc:
        app.notify(
            f"The settings are in use now but could not be saved: {exc}",
            title="Settings not saved",
            severity="error",
            timeout=15,
        )
    services.apply_settings(updated)
    if updated.ui.theme in app.available_themes:
        app.theme = updated.ui.theme
    app.notify("Settings saved.", timeout=3)
    return True
