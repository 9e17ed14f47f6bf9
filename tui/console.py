"""The commands: ``ask``, ``list``, ``show``, ``search``, ``export``, ``import``, ``models``.

They run the same services as the app on the same database. Output meant for pipes goes to stdout;
notes, reasoning and errors go to stderr, errors as one line with what to do.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from tui.cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from tui.domain import ApiMode, Attachment, ReasoningDelta, TextDelta

if TYPE_CHECKING:
    from tui.domain import ModelInfo
    from tui.services.container import Services
    from tui.services.turns import TurnOptions


class UsageError(Exception):
    """Bad input on the command line: reported as one line, exit 2."""


class CommandError(Exception):
    """The provider or the database failed: reported as one line, exit 1."""


def run_app(args: argparse.Namespace) -> int:
    """``tui-chat`` with no command: the full-screen app."""
    from tui.app import TuiApp
    from tui.config.paths import config_file, user_themes_dir
    from tui.config.settings import load_settings
    from tui.services.container import open_services

    async def factory() -> Services:
        return await open_services(config=args.config, db=args.db)

    path = config_file(args.config)
    settings, _ = load_settings(path)  # problems are shown once the app is up
    TuiApp(factory, theme=settings.ui.theme, themes_dir=user_themes_dir(path), tune_gc=True).run()
    return EXIT_OK


def run_command(args: argparse.Namespace) -> int:
    handlers = {
        "ask": _ask,
        "list": _list,
        "show": _show,
        "search": _search,
        "export": _export,
        "import": _import,
        "models": _models,
    }
    try:
        return asyncio.run(handlers[args.command](args))
    except UsageError as exc:
        _error(str(exc))
        return EXIT_USAGE
    except CommandError as exc:
        _error(str(exc))
        return EXIT_FAILED


def _error(message: str, stream: TextIO | None = None) -> None:
    print(f"tui-chat: error: {message}", file=stream or sys.stderr)


@asynccontextmanager
async def opened(args: argparse.Namespace, **kwargs: object) -> AsyncIterator[Services]:
    """The services for one command, closed afterwards; a failure to open is a CommandError."""
    from tui.providers.errors import ConfigurationError
    from tui.services.container import open_services
    from tui.store.errors import StoreError

    try:
        services = await open_services(config=args.config, db=args.db, **kwargs)  # type: ignore[arg-type]
    except (StoreError, ConfigurationError) as exc:
        raise CommandError(str(exc)) from None
    for problem in services.problems:
        print(f"tui-chat: warning: {problem}", file=sys.stderr)
    try:
        yield services
    except LookupError as exc:  # a conversation or message id that does not exist
        raise CommandError(f"{exc} (see 'tui-chat list')") from None
    finally:
        await services.close()


# ---------------------------------------------------------------------------------------- ask


def _read_prompt(args: argparse.Namespace) -> str:
    words = list(args.prompt)
    if words and words != ["-"]:
        text = " ".join(words)
    elif words == ["-"] or not sys.stdin.isatty():
        text = sys.stdin.read()
    else:
        raise UsageError("no prompt: give one as arguments, or pipe it to stdin")
    if not text.strip():
        raise UsageError("the prompt is empty")
    return text


def read_attachment(path_text: str) -> Attachment:
    """``--attach FILE``: a bad file is a usage error."""
    from tui.services.attachments import AttachmentError
    from tui.services.attachments import read_attachment as read

    try:
        return read(path_text)
    except AttachmentError as exc:
        raise UsageError(str(exc)) from None


async def _ask(args: argparse.Namespace) -> int:
    from tui.providers.catalog import ADHOC_PROVIDER
    from tui.services.turns import TurnOptions

    prompt = _read_prompt(args)
    attachments = [read_attachment(item) for item in args.attach]
    async with opened(args, base_url=args.base_url, api_key=args.api_key) as services:
        conversation_id: int | None = args.conversation
        if args.continue_:
            latest = await services.store.repository.latest_conversation()
            conversation_id = latest.id if latest else None
        elif conversation_id is not None:
            if await services.store.repository.get_conversation(conversation_id) is None:
                raise UsageError(
                    f"there is no conversation {conversation_id} (see 'tui-chat list')"
                )
        options = TurnOptions(
            provider=ADHOC_PROVIDER if args.base_url else args.provider,
            model=args.model,
            api_mode=ApiMode(args.api) if args.api else None,
            system_prompt=args.system,
            reasoning_effort=args.reasoning_effort,
            max_output_tokens=args.max_output_tokens,
            temperature=args.temperature,
            web_search=args.web_search,
            stream=not args.no_stream,
        )
        return await _stream_reply(services, conversation_id, prompt, attachments, options, args)


async def _stream_reply(
    services: Services,
    conversation_id: int | None,
    prompt: str,
    attachments: list[Attachment],
    options: TurnOptions,
    args: argparse.Namespace,
) -> int:
    from tui.providers.errors import ProviderError
    from tui.services.turns import ReplyFinished

    out = sys.stdout
    last = "\n"
    reasoning_open = False
    try:
        async for event in services.chat.send(
            conversation_id, prompt, attachments=attachments, options=options
        ):
            if isinstance(event, TextDelta):
                if reasoning_open:
                    sys.stderr.write("\n")
                    reasoning_open = False
                out.write(event.text)
                out.flush()
                last = event.text[-1:] or last
            elif isinstance(event, ReasoningDelta) and args.show_reasoning:
                sys.stderr.write(event.text)
                sys.stderr.flush()
                reasoning_open = True
            elif isinstance(event, ReplyFinished):
                if last != "\n":
                    out.write("\n")
                    out.flush()
                if event.error is not None:
                    raise CommandError(str(event.error))
                if event.message.status.value == "incomplete":
                    print("tui-chat: note: the reply was cut short (token limit)", file=sys.stderr)
    except ProviderError as exc:  # routing problems: unknown provider or model
        raise CommandError(str(exc)) from exc
    return EXIT_OK


# ---------------------------------------------------------------------------------------- browse


async def _list(args: argparse.Namespace) -> int:
    async with opened(args) as services:
        conversations = await services.store.repository.list_conversations(
            limit=args.limit, archived=args.archived
        )
    if args.json:
        rows = [
            {
                "id": c.id,
                "title": c.title,
                "provider": c.provider,
                "model": c.model,
                "messages": c.message_count,
                "pinned": c.pinned,
                "updated_at": c.updated_at.isoformat(),
            }
            for c in conversations
        ]
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return EXIT_OK
    if not conversations:
        print('No conversations yet. Start one with: tui-chat ask "hello"', file=sys.stderr)
        return EXIT_OK
    for c in conversations:
        pin = "*" if c.pinned else " "
        when = c.updated_at.astimezone().strftime("%Y-%m-%d %H:%M")
        print(f"{c.id:>6}{pin} {when}  {(c.model or '-')[:24]:<24}  {c.title}")
    return EXIT_OK


async def _show(args: argparse.Namespace) -> int:
    from tui.services.export import export_markdown

    async with opened(args) as services:
        text = await export_markdown(services.store.repository, args.id, whole_tree=args.tree)
    sys.stdout.write(text)
    return EXIT_OK


async def _search(args: argparse.Namespace) -> int:
    async with opened(args) as services:
        hits = await services.store.repository.search(" ".join(args.text), limit=args.limit)
    if not hits:
        print("No matches.", file=sys.stderr)
        return EXIT_OK
    for hit in hits:
        snippet = " ".join(hit.snippet.split())
        print(f"{hit.conversation.id:>6}  {hit.conversation.title}\n        {snippet}")
    return EXIT_OK


async def _export(args: argparse.Namespace) -> int:
    from tui.services.export import export_json, export_markdown

    async with opened(args) as services:
        if args.format == "json":
            text = await export_json(services.store.repository, args.id) + "\n"
        else:
            text = await export_markdown(services.store.repository, args.id, whole_tree=args.tree)
    if args.output:
        try:
            Path(args.output).write_text(text, encoding="utf-8")
        except OSError as exc:
            raise CommandError(f"cannot write {args.output}: {exc.strerror}") from None
        print(f"Exported conversation {args.id} to {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return EXIT_OK


async def _import(args: argparse.Namespace) -> int:
    from tui.services.export import ImportFormatError, import_json

    try:
        text = sys.stdin.read() if args.file == "-" else Path(args.file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read {args.file}: {exc}") from None
    async with opened(args) as services:
        try:
            conversation = await import_json(services.store.repository, text)
        except ImportFormatError as exc:
            raise CommandError(f"{args.file}: {exc}") from None
    print(f"Imported as conversation {conversation.id}: {conversation.title}")
    return EXIT_OK


async def _models(args: argparse.Namespace) -> int:
    from tui.providers.errors import ProviderError

    async with opened(args) as services:
        names = [args.provider] if args.provider else services.registry.names()
        rows: list[tuple[str, ModelInfo]] = []
        for name in names:
            try:
                models = (
                    await services.refresh_models(name)
                    if args.refresh
                    else services.registry.models(name)
                )
            except ProviderError as exc:
                raise CommandError(f"{name}: {exc}") from None
            rows.extend((name, model) for model in models)
    if args.json:
        print(
            json.dumps(
                [
                    {
                        "provider": name,
                        "id": model.id,
                        "family": model.family,
                        "endpoints": sorted(api.value for api in model.endpoints),
                        "reasoning_efforts": list(model.reasoning_efforts),
                        "image_input": model.image_input,
                        "file_input": model.file_input,
                        "web_search": model.web_search,
                    }
                    for name, model in rows
                ],
                indent=2,
            )
        )
        return EXIT_OK
    for name, model in rows:
        apis = "+".join(sorted(api.value for api in model.endpoints))
        badges = [
            b
            for b, on in (
                ("image", model.image_input),
                ("file", model.file_input),
                ("web", model.web_search),
            )
            if on
        ]
        if model.reasoning_efforts:
            badges.append("reasoning")
        print(f"{name:<10} {model.id:<34} {apis:<15} {' '.join(badges)}")
    return EXIT_OK
