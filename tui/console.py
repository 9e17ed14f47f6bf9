"""The commands: ``ask``, ``list``, ``show``, ``search``, ``export``, ``import``, ``models``,
``doctor``, and ``rename``, ``delete``, ``pin``, ``unpin``, ``archive``, ``restore``.

They run the same services as the app on the same database. Output meant for pipes goes to stdout;
notes, reasoning and errors go to stderr, errors as one line with what to do.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING, TextIO

from tui.cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from tui.domain import ApiMode, Attachment, ReasoningDelta, TextDelta
from tui.safe_text import inert

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
    from tui.config.paths import config_file, database_file, user_themes_dir
    from tui.config.settings import load_settings
    from tui.services.container import open_services
    from tui.store.sqlitefile import peek_conversations

    async def factory() -> Services:
        return await open_services(config=args.config, db=args.db)

    path = config_file(args.config)
    settings, _ = load_settings(path)  # problems are shown once the app is up
    # A fresh machine goes straight to a new chat; a history opens on its list.
    saved = peek_conversations(database_file(args.db)) if not settings.database_url else None
    TuiApp(
        factory,
        home=saved is not False,
        theme=settings.ui.theme,
        themes_dir=user_themes_dir(path),
        tune_gc=True,
    ).run()
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
        "doctor": _doctor,
        "rename": _manage,
        "delete": _manage,
        "pin": _manage,
        "unpin": _manage,
        "archive": _manage,
        "restore": _manage,
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
    print(f"tui-chat: error: {printable(message)}", file=stream or sys.stderr)


def printable(text: str) -> str:
    """``text`` with control characters other than newline and tab made visible
    (``tui.safe_text.inert``): titles and texts come from files and providers, and an escape
    sequence in one must not drive the terminal."""
    return inert(text)


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
        if args.archived:
            print("No archived conversations.", file=sys.stderr)
        else:
            print('No conversations yet. Start one with: tui-chat ask "hello"', file=sys.stderr)
        return EXIT_OK
    for c in conversations:
        pin = "*" if c.pinned else " "
        when = c.updated_at.astimezone().strftime("%Y-%m-%d %H:%M")
        model = printable(c.model or "-")[:24]
        print(f"{c.id:>6}{pin} {when}  {model:<24}  {printable(c.title)}")
    return EXIT_OK


async def _show(args: argparse.Namespace) -> int:
    from tui.services.export import export_markdown

    async with opened(args) as services:
        text = await export_markdown(services.store.repository, args.id, whole_tree=args.tree)
    sys.stdout.write(printable(text))
    return EXIT_OK


async def _search(args: argparse.Namespace) -> int:
    async with opened(args) as services:
        hits = await services.store.repository.search(" ".join(args.text), limit=args.limit)
    if not hits:
        print("No matches.", file=sys.stderr)
        return EXIT_OK
    for hit in hits:
        snippet = " ".join(hit.snippet.split())
        title = printable(hit.conversation.title)
        print(f"{hit.conversation.id:>6}  {title}\n        {printable(snippet)}")
    return EXIT_OK


async def _export(args: argparse.Namespace) -> int:
    from tui.services.export import export_all, export_json, export_markdown

    if args.all == (args.id is not None):
        raise UsageError("give a conversation ID or --all (not both)")
    async with opened(args) as services:
        repository = services.store.repository
        if args.all:
            text, count = await export_all(repository, args.format, whole_tree=args.tree)
            what = f"{count} conversation{'s' if count != 1 else ''}"
        elif args.format == "json":
            text = await export_json(repository, args.id) + "\n"
            what = f"conversation {args.id}"
        else:
            text = await export_markdown(repository, args.id, whole_tree=args.tree)
            what = f"conversation {args.id}"
    if args.output:
        try:
            Path(args.output).write_text(text, encoding="utf-8")
        except OSError as exc:
            raise CommandError(f"cannot write {args.output}: {exc.strerror}") from None
        print(f"Exported {what} to {printable(args.output)}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return EXIT_OK


def _progress_line(done: int, read: float) -> None:
    sys.stderr.write(f"\rImporting… {done:,} conversations, {read:.0%} of the file read")
    sys.stderr.flush()


async def _import(args: argparse.Namespace) -> int:
    from tui.services.export import ImportFormatError
    from tui.services.imports import import_file
    from tui.store.errors import StoreError

    source: Path | IO[bytes]
    if args.file == "-":
        source = io.BytesIO(sys.stdin.buffer.read())
    else:
        source = Path(args.file)
        try:
            source.open("rb").close()
        except OSError as exc:
            raise UsageError(f"cannot read {args.file}: {exc.strerror or exc}") from None
    tty = sys.stderr.isatty()
    shown = False

    def progress(done: int, read: float) -> None:
        nonlocal shown
        shown = True
        _progress_line(done, read)

    async with opened(args) as services:
        try:
            result = await import_file(
                services.store.sessions,
                source,
                progress=progress if tty else None,
                location=services.store.location,
            )
        except ImportFormatError as exc:
            raise CommandError(f"{args.file}: {exc}") from None
        except OSError as exc:
            raise UsageError(f"cannot read {args.file}: {exc.strerror or exc}") from None
        except StoreError as exc:
            raise CommandError(str(exc)) from None
        finally:
            if shown:
                sys.stderr.write("\n")
    if result.kind == "tui-chat":
        cid, title = result.conversation_ids[0], result.titles[0]
        print(f"Imported as conversation {cid}: {printable(title)}")
    count = len(result.conversation_ids)
    print(
        f"Imported {count:,} conversation{'s' if count != 1 else ''} "
        f"({result.messages:,} message{'s' if result.messages != 1 else ''}) "
        f"from {printable(args.file)}",
        file=sys.stderr,
    )
    return EXIT_OK


# ---------------------------------------------------------------------------------------- manage

_DONE = {
    "rename": "Renamed",
    "delete": "Deleted",
    "pin": "Pinned",
    "unpin": "Unpinned",
    "archive": "Archived",
    "restore": "Restored",
}


async def _manage(args: argparse.Namespace) -> int:
    """``rename``, ``delete``, ``pin``, ``unpin``, ``archive``, ``restore``: one line to stderr."""
    from tui.store.errors import NotFoundError

    title = " ".join(args.title) if args.command == "rename" else None
    if title is not None and not title.split():
        raise UsageError("the new title is empty")
    async with opened(args) as services:
        repository = services.store.repository
        found = await repository.get_conversation(args.id)
        if found is None:
            raise CommandError(f"there is no conversation {args.id} (see 'tui-chat list')")
        try:
            if title is not None:
                await repository.rename_conversation(args.id, title)
            elif args.command == "delete":
                await repository.delete_conversation(args.id)
            elif args.command in ("pin", "unpin"):
                await repository.set_pinned(args.id, args.command == "pin")
            else:
                await repository.set_archived(args.id, args.command == "archive")
        except NotFoundError:  # deleted by another copy in between
            raise CommandError(
                f"there is no conversation {args.id} (see 'tui-chat list')"
            ) from None
        after = await repository.get_conversation(args.id)
    shown = after.title if after is not None else found.title
    print(f"{_DONE[args.command]} conversation {args.id}: {printable(shown)}", file=sys.stderr)
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


# ---------------------------------------------------------------------------------------- doctor


async def _doctor(args: argparse.Namespace) -> int:
    """Probe a provider's server, print one row per check, and remember what was found."""
    from tui.providers.catalog import ADHOC_PROVIDER
    from tui.providers.errors import ProviderError
    from tui.services.doctor import DoctorError, remember, run_doctor

    async with opened(args, base_url=args.base_url, api_key=args.api_key) as services:
        registry = services.registry
        try:
            name = ADHOC_PROVIDER if args.base_url else args.provider or registry.default_provider()
            report = await run_doctor(registry, name, model=args.model)
        except DoctorError as exc:
            raise CommandError(str(exc)) from None
        except ProviderError as exc:  # an unknown provider
            raise CommandError(str(exc)) from None
        await remember(registry, report, services.store.repository)
    model = f", model {printable(report.model)}" if report.model else ""
    print(f"{printable(report.provider)} at {printable(report.base_url)}{model}")
    rows = [("check", "result", "detail")]
    rows += [(c.name, c.result, c.detail) for c in report.checks]
    cells = [[" ".join(printable(cell).split()) for cell in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(2)]
    for row in cells:
        print(f"{row[0]:<{widths[0]}}  {row[1]:<{widths[1]}}  {row[2]}".rstrip())
    saved = {k: v for k, v in report.facts.items() if k not in ("base_url", "probed_at")}
    if saved:
        told = ", ".join(f"{key}={json.dumps(value)}" for key, value in saved.items())
        print(f"Remembered for {printable(report.provider)}: {printable(told)}", file=sys.stderr)
    return EXIT_OK
