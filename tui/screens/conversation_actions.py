"""What the conversation screen does to the conversation it holds, beside chatting in it.

Files to attach, rename, archive, export, the model picker, the chat's own settings and the app's
settings, and the status line's account of what the next turn will use. They are a mixin of
``ConversationScreen``: Textual finds ``action_*`` and ``on_*`` methods, and runs ``@work``
workers, on the screen itself.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from textual import work
from textual.content import Content
from textual.widgets import Static

from tui.domain import Attachment, ChatSettings, Conversation
from tui.services.history import inert
from tui.widgets.path_input import PathInput
from tui.widgets.prompt_input import PromptInput
from tui.widgets.status_bar import StatusBar

if TYPE_CHECKING:
    from textual.screen import Screen

    from tui.screens.model_picker import PickerResult
    from tui.services.container import Services
    from tui.services.handle import ServiceHandle

    _Screen = Screen[None]
else:
    _Screen = object


class ConversationActions(_Screen):
    """The conversation screen's actions on its conversation, files and settings."""

    handle: ServiceHandle
    conversation_id: int | None
    conversation: Conversation | None
    new_chat_settings: ChatSettings | None
    attachments: list[Attachment]
    _path_purpose: str = "attach"
    """What the path field is for: ``attach`` or ``export``."""

    # ------------------------------------------------------------------ the next turn

    def current_settings(self, services: Services) -> ChatSettings:
        """What the next turn here uses: the open conversation's settings, else the new
        chat's."""
        if self.conversation_id is not None and self.conversation is not None:
            return services.chat.settings_for(self.conversation)
        return self.new_chat_settings or services.chat.settings_for(None)

    def show_next_turn(self, services: Services | None = None) -> None:
        """The status line names what the next turn will use: provider, model, API, effort."""
        from tui.providers.errors import ProviderError

        services = services or self.handle.current
        if services is None:
            return
        settings = self.current_settings(services)
        try:
            turn = services.chat.next_turn(settings)
        except ProviderError:  # an unusable choice is reported when a message is sent
            self.query_one(StatusBar).show_route(
                settings.provider or "?", settings.model or "?", ""
            )
            return
        self.query_one(StatusBar).show_route(
            turn.provider_label,
            turn.model.id,
            turn.api.value,
            effort=turn.reasoning_effort,
            reasoning=bool(turn.model.reasoning_efforts),
        )

    # ------------------------------------------------------------------ attachments

    def action_attach(self) -> None:
        self._path_purpose = "attach"
        path_input = self.query_one(PathInput)
        path_input.border_title = None
        path_input.display = True
        path_input.focus()

    def _close_attach(self) -> None:
        path_input = self.query_one(PathInput)
        path_input.value = ""
        path_input.display = False
        self.query_one(PromptInput).focus()

    def take_path(self, value: str) -> None:
        """The path field was submitted: attach that file, or export there."""
        from tui.services.attachments import AttachmentError, read_attachment

        if not value.strip():
            self._close_attach()
            return
        if self._path_purpose == "export":
            self._export_to(value.strip())
            return
        try:
            attachment = read_attachment(value.strip())
        except AttachmentError as exc:
            self.notify(str(exc), title="Not attached", severity="error")
            return
        self.attachments.append(attachment)
        self._show_attachments()
        self._close_attach()

    def _show_attachments(self) -> None:
        bar = self.query_one("#attachments", Static)
        bar.display = bool(self.attachments)
        names = "  ".join(
            f"📎 {inert(a.name)} ({_size(len(a.data or b''))})" for a in self.attachments
        )
        bar.update(  # file names are the user's, but never markup
            Content.assemble(
                names,
                (
                    "   (sent with the next message; Ctrl+F adds more, "
                    "Backspace in an empty prompt removes the last)",
                    "dim",
                ),
            )
        )

    def on_prompt_input_backspace_on_empty(self, event: PromptInput.BackspaceOnEmpty) -> None:
        """Backspace in an empty prompt takes back the last file waiting to be sent."""
        event.stop()
        if self.attachments:
            removed = self.attachments.pop()
            self._show_attachments()
            self.notify(f"Removed {removed.name}.", timeout=3)

    # ------------------------------------------------------------------ this conversation

    def action_rename(self) -> None:
        self._rename()

    @work(group="manage", exclusive=True, exit_on_error=False)
    async def _rename(self) -> None:
        from tui.screens.text_prompt import TextPrompt

        services = await self.handle.get()
        conversation = await self._open_conversation(services)
        if conversation is None:
            return
        title = await self.app.push_screen_wait(
            TextPrompt("Rename conversation", inert(conversation.title))
        )
        if title is None or not title.strip() or title.strip() == conversation.title:
            return
        await services.history.rename(conversation.id, title.strip())
        self.conversation = await services.history.get(conversation.id)
        self.sub_title = title.strip()

    def action_archive(self) -> None:
        self._archive()

    @work(group="manage", exclusive=True, exit_on_error=False)
    async def _archive(self) -> None:
        services = await self.handle.get()
        conversation = await self._open_conversation(services)
        if conversation is None:
            return
        archived = not conversation.archived
        await services.history.set_archived(conversation.id, archived)
        self.conversation = await services.history.get(conversation.id)
        self.notify(
            "Archived: it stays open here; Ctrl+O then v shows the archive."
            if archived
            else "Restored to the conversations list.",
            title=inert(conversation.title),
        )

    def action_export(self) -> None:
        from pathlib import Path

        from tui.services.history import export_name

        conversation = self.conversation
        if self.conversation_id is None or conversation is None:
            self.notify("Nothing to export yet: this chat has no messages.")
            return
        self._path_purpose = "export"
        path_input = self.query_one(PathInput)
        path_input.value = str(Path.cwd() / export_name(conversation, "md"))
        path_input.border_title = "Export to (.md or .json)"
        path_input.display = True
        path_input.focus()

    @work(group="manage", exclusive=True, exit_on_error=False)
    async def _export_to(self, text: str) -> None:
        from pathlib import Path

        services = await self.handle.get()
        if self.conversation_id is None:
            return
        try:
            written = await services.history.export(self.conversation_id, Path(text))
        except FileExistsError:
            self.notify(
                f"Not exported: {inert(text)} exists already; choose another name.",
                severity="error",
            )
            return
        except (OSError, LookupError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            self.notify(f"Not exported: {inert(reason)}", severity="error")
            return
        self._close_attach()
        self.notify(f"Exported to {inert(str(written))}.", title="Export")

    async def _open_conversation(self, services: Services) -> Conversation | None:
        if self.conversation_id is None:
            self.notify("This chat is not saved yet: send a message first.")
            return None
        conversation = await services.history.get(self.conversation_id)
        if conversation is None:
            self.notify("This conversation no longer exists.", severity="error")
        return conversation

    # ------------------------------------------------------------------ model and settings

    def action_switch_model(self) -> None:
        self.pick_model(self.conversation_id)

    def action_chat_settings(self) -> None:
        self.edit_chat_settings()

    def pick_model(self, conversation_id: int | None) -> None:
        """The model picker for a conversation (this one, or one highlighted in the list), or
        for the next new chat; the choice is stored and applies from the next turn.

        For the open conversation or a new chat the picker is pushed at once, so keys typed
        right after the one that opened it go to its filter, not into the prompt."""
        services = self.handle.current
        if services is not None and (
            conversation_id is None
            or (self.conversation is not None and self.conversation.id == conversation_id)
        ):
            self._open_picker(services, self.conversation if conversation_id is not None else None)
        else:
            self._pick_model_loading(conversation_id)

    @work(group="model-picker", exclusive=True, exit_on_error=False)
    async def _pick_model_loading(self, conversation_id: int | None) -> None:
        services = await self.handle.get()
        conversation = None
        if conversation_id is not None:
            conversation = await services.history.get(conversation_id)
            if conversation is None:
                self.notify(f"Conversation {conversation_id} no longer exists.", severity="error")
                return
        self._open_picker(services, conversation)

    def _open_picker(self, services: Services, conversation: Conversation | None) -> None:
        from tui.screens.model_picker import ModelPicker

        settings = (
            services.chat.settings_for(conversation)
            if conversation is not None
            else self.new_chat_settings or services.chat.settings_for(None)
        )
        if settings.provider is None:  # the default provider, named
            settings = replace(settings, provider=services.registry.default_provider())
        if not settings.model:
            settings = replace(
                settings, model=services.registry.catalog.default_model(settings.provider or "")
            )
        target = inert(conversation.title) if conversation is not None else "the next new chat"

        def picked(result: PickerResult) -> None:
            self._use_picked(services, conversation, settings, result)

        self.app.push_screen(ModelPicker(services.models, settings, target=target), picked)

    @work(group="model-picked", exit_on_error=False)
    async def _use_picked(
        self,
        services: Services,
        conversation: Conversation | None,
        settings: ChatSettings,
        picked: PickerResult,
    ) -> None:
        from tui.screens.model_picker import NeedsKey, PickedModel

        if isinstance(picked, NeedsKey):
            self.open_settings(focus_provider=picked.provider)
            return
        if not isinstance(picked, PickedModel):
            return
        chosen = replace(
            settings, provider=picked.provider, model=picked.model, api_mode=picked.api_mode
        )
        await self._apply_settings(services, conversation, chosen)
        await services.models.note_used(picked.provider, picked.model)
        if picked.make_default:
            try:
                await services.models.make_default(picked.provider, picked.model, picked.api_mode)
            except (OSError, ValueError) as exc:
                self.notify(
                    f"Used for new chats in this run; the settings file could not be saved: {exc}",
                    severity="warning",
                )
            else:
                self.notify(f"New chats now start on {inert(picked.model)}.", title="Default")
        self.show_next_turn(services)

    @work(group="chat-settings", exclusive=True, exit_on_error=False)
    async def edit_chat_settings(self) -> None:
        """The panel for this conversation's (or the next new chat's) other settings."""
        from tui.providers.errors import ProviderError
        from tui.screens.chat_settings import ChatSettingsScreen

        services = await self.handle.get()
        conversation = None
        if self.conversation_id is not None:
            conversation = await services.history.get(self.conversation_id)
        settings = self.current_settings(services)
        if conversation is not None:
            settings = services.chat.settings_for(conversation)
        try:
            turn = services.chat.next_turn(settings)
        except ProviderError as exc:
            self.notify(str(exc), title="Chat settings", severity="error")
            return
        target = inert(conversation.title) if conversation is not None else "the next new chat"
        route = inert(f"{turn.provider_label} · {turn.model.id} (Ctrl+T switches model)")
        edited = await self.app.push_screen_wait(
            ChatSettingsScreen(settings, turn.model, target=target, route=route)
        )
        if edited is None or edited == settings:
            return
        await self._apply_settings(services, conversation, edited)
        self.notify("They apply from the next message.", title="Chat settings saved")

    async def _apply_settings(
        self, services: Services, conversation: Conversation | None, settings: ChatSettings
    ) -> None:
        """Store ``settings`` on ``conversation``, or keep them for the next new chat."""
        if conversation is None:
            self.new_chat_settings = settings
        else:
            stored = await services.chat.save_settings(conversation.id, settings)
            if conversation.id == self.conversation_id:
                self.conversation = stored
        self.show_next_turn(services)

    # ------------------------------------------------------------------ settings

    def open_settings(self, focus_provider: str | None = None, *, tab: str = "providers") -> None:
        """Open the settings, optionally on one provider's key or on another section."""
        self._open_settings(focus_provider, tab)

    @work(group="settings", exclusive=True, exit_on_error=False)
    async def _open_settings(self, focus_provider: str | None, tab: str) -> None:
        from tui.screens.settings_flow import edit_settings

        services = await self.handle.get()
        changed = await edit_settings(self.app, services, focus_provider, tab=tab)
        if changed:
            self.show_next_turn(services)


def _size(count: int) -> str:
    for unit in ("B", "KB", "MB"):
        if count < 1024:
            return f"{count:.0f} {unit}"
        count = count / 1024  # type: ignore[assignment]
    return f"{count:.0f} GB"
