"""The commands: ``ask``, ``list``, ``show``, ``search``, ``export``, ``import``, ``models``,
``doctor``, ``db``, and ``rename``, ``delete``, ``pin``, ``unpin``, ``archive``, ``restore``.

They run the same services as the app on the same database. Output meant for pipes goes to stdout;
notes, reasoning and errors go to stderr, errors as one line with what to do.

Text from models, providers and files is untrusted: everything printed passes through
``tui.safe_text.inert`` (``--raw`` on ``ask``, ``show`` and ``export`` prints it as stored).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import sys
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from contextlib import aclosing, asynccontextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, TextIO, cast

from tui.domain import ApiMode, Attachment, ReasoningDelta, TextDelta
from tui.exit_codes import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from tui.safe_text import inert, is_inert

if TYPE_CHECKING:
    from tui.domain import Conversation, ModelInfo
    from tui.services.container import Services
    from tui.services.turns import TurnOptions
    from tui.store.repository import ConversationRepository


class UsageError(Exception):
    """Bad input on the command line: reported as one line, exit 2."""


class CommandError(Exception):
    """The provider or the database failed: reported as one line, exit 1."""


def run_app(args: argparse.Namespace) -> int:
    """``tui-chat`` with no command: the full-screen app."""
    from tui.app import TuiApp
    from tui.config.paths import config_file, history_location, user_themes_dir
    from tui.config.settings import load_settings
    from tui.services.container import open_services
    from tui.store.sqlitefile import peek_conversations

    async def factory() -> Services:
        return await open_services(config=args.config, db=args.db)

    path = config_file(args.config)
    settings, _ = load_settings(path)  # problems are shown once the app is up
    # A fresh machine goes straight to a new chat; a history opens on its list.
    # (A server's history is not peeked at: the list opens, and says if it cannot reach it.)
    _, file = history_location(args.db, settings.database_url)
    saved = peek_conversations(file) if file is not None else None
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
        "db": _db,
        "mcp": _mcp,
        "rename": _manage,
        "delete": _manage,
        "pin": _manage,
        "unpin": _manage,
        "archive": _manage,
        "restore": _manage,
    }
    from sqlalchemy.exc import DBAPIError

    from tui.store.errors import StoreError
    from tui.store.failures import describe_db_error

    try:
        return asyncio.run(handlers[args.command](args))
    except UsageError as exc:
        _error(str(exc))
        return EXIT_USAGE
    except CommandError as exc:
        _error(str(exc))
        return EXIT_FAILED
    except StoreError as exc:  # the database failed after it was opened (locked, read-only, ...)
        _error(str(exc))
        return EXIT_FAILED
    except DBAPIError as exc:  # one the store did not put in words itself
        _error(str(describe_db_error(exc.orig, str(_database_path(args)))))
        return EXIT_FAILED


def _database_path(args: argparse.Namespace) -> Path:
    from tui.config.paths import database_file

    return database_file(args.db)


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
        print(f"tui-chat: warning: {printable(problem)}", file=sys.stderr)
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
        data = sys.stdin.buffer.read()
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise UsageError(
                f"the prompt is not UTF-8 text (byte {exc.start}); convert it first, "
                "e.g. with iconv -t UTF-8"
            ) from None
    else:
        raise UsageError("no prompt: give one as arguments, or pipe it to stdin")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # undecodable bytes in the arguments
        raise UsageError("the prompt is not UTF-8 text; convert it first") from None
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
        if args.provider and not args.base_url:
            _known_provider(services, args.provider)  # before anything is stored
            _key_available(services, args.provider)
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
            first_token_timeout=args.first_token_timeout,
            idle_timeout=args.idle_timeout,
            tools=not args.no_tools,
            approve=_approver(args),
        )
        return await _stream_reply(services, conversation_id, prompt, attachments, options, args)


def _approver(args: argparse.Namespace) -> Callable[[Any], Awaitable[Any]]:
    """Who approves tool calls: everyone (``--approve-tools``), the user at a terminal (y/N per
    call), or no one (stdin is not a terminal: each call is denied, with how to allow it)."""
    from tui.services.tools import Decision

    async def everyone(request: Any) -> Decision:
        return Decision.ALLOW

    async def terminal(request: Any) -> Decision:
        record = request.record
        where = f" ({record.server})" if record.server else ""
        arguments = " ".join(record.arguments.split())  # one line: no fake prompt above it
        if len(arguments) > 400:
            arguments = arguments[:400] + "…"
        position = f" [{request.position}/{request.count}]" if request.count > 1 else ""
        sys.stderr.write(
            printable(f"tui-chat: run tool {record.name}{where}{position} with {arguments}?")
            + " [y/N, a = always] "
        )
        sys.stderr.flush()
        answer = (await _read_line()).strip().lower()
        if answer in ("a", "always"):
            return Decision.ALWAYS
        return Decision.ALLOW if answer in ("y", "yes") else Decision.DENY

    async def no_one(request: Any) -> Decision:
        record = request.record
        where = f" ({record.server})" if record.server else ""
        print(
            printable(f"tui-chat: tool call {record.name}{where} denied: ")
            + "not a terminal to ask on; pass --approve-tools to allow tool calls",
            file=sys.stderr,
        )
        return Decision.DENY

    if args.approve_tools:
        return everyone
    return terminal if sys.stdin.isatty() and sys.stderr.isatty() else no_one


async def _stream_reply(
    services: Services,
    conversation_id: int | None,
    prompt: str,
    attachments: list[Attachment],
    options: TurnOptions,
    args: argparse.Namespace,
) -> int:
    from tui.providers.errors import ProviderError
    from tui.services.turns import ReplyFinished, ToolCallChanged, ToolNotice, UserMessageSaved

    out = sys.stdout
    shown = _shown(args)  # chunk by chunk: inert works per character
    last = "\n"
    reasoning_last = "\n"  # the last character of reasoning printed to stderr
    saved_in: int | None = None

    def end_reasoning() -> None:
        """End a reasoning line on stderr before anything else is printed after it."""
        nonlocal reasoning_last
        if reasoning_last != "\n":
            sys.stderr.write("\n")
            sys.stderr.flush()
            reasoning_last = "\n"

    try:
        turn = services.chat.send(conversation_id, prompt, attachments=attachments, options=options)
        # Closed on any way out (a closed pipe too), so the reply is stored as it ended.
        async with aclosing(cast("AsyncGenerator[object, None]", turn)) as events:
            async for event in events:
                if isinstance(event, TextDelta):
                    end_reasoning()
                    out.write(shown(event.text))
                    out.flush()
                    last = event.text[-1:] or last
                elif isinstance(event, ReasoningDelta) and args.show_reasoning:
                    sys.stderr.write(shown(event.text))
                    sys.stderr.flush()
                    reasoning_last = event.text[-1:] or reasoning_last
                elif isinstance(event, UserMessageSaved):
                    saved_in = event.message.conversation_id
                elif isinstance(event, ToolCallChanged) and event.call.finished:
                    end_reasoning()
                    if last != "\n":
                        out.write("\n")
                        out.flush()
                        last = "\n"
                    print(_tool_line(event.call), file=sys.stderr)
                elif isinstance(event, ToolNotice):
                    print(f"tui-chat: note: {printable(event.text)}", file=sys.stderr)
                elif isinstance(event, ReplyFinished):
                    end_reasoning()
                    if last != "\n":
                        out.write("\n")
                        out.flush()
                    if event.error is not None:
                        raise _turn_error(services, event.error, options, args, saved_in)
                    if event.message.status.value == "incomplete":
                        print(
                            "tui-chat: note: the reply was cut short (token limit)",
                            file=sys.stderr,
                        )
    except ProviderError as exc:  # routing problems: unknown provider or model
        raise _turn_error(services, exc, options, args, saved_in) from None
    finally:
        end_reasoning()
    return EXIT_OK


async def _read_line() -> str:
    """A line from stdin, read in a daemon thread: Ctrl+C while waiting ends the command at
    once (a worker of asyncio's own pool would keep it alive until the user pressed Enter)."""
    import threading

    loop = asyncio.get_running_loop()
    line: asyncio.Future[str] = loop.create_future()

    def answered(text: str) -> None:
        if not line.done():
            line.set_result(text)

    def read() -> None:
        try:
            text = sys.stdin.readline()
        except (OSError, ValueError):
            text = ""
        if not loop.is_closed():
            loop.call_soon_threadsafe(answered, text)

    threading.Thread(target=read, name="tool-approval", daemon=True).start()
    return await line


def _tool_line(record: Any) -> str:
    """One line on stderr for a finished tool call: name, server, how it ended."""
    where = f" ({record.server})" if record.server else ""
    took = f" in {record.duration_ms} ms" if record.duration_ms is not None else ""
    line = f"tui-chat: tool {record.name}{where}: {record.status.value}{took}"
    if record.error:
        line += f": {record.error}"
    return printable(line.replace("\n", " "))


def _shown(args: argparse.Namespace) -> Callable[[str], str]:
    """How stored text reaches stdout: made inert, or as is with ``--raw``."""
    return (lambda text: text) if getattr(args, "raw", False) else printable


def _known_provider(services: Services, name: str) -> None:
    """A provider name given on the command line that does not exist is bad usage."""
    from tui.providers.errors import ConfigurationError

    try:
        services.registry.config(name)
    except ConfigurationError as exc:
        raise UsageError(f"{exc} ('tui-chat models' lists their models)") from None


def _key_available(services: Services, name: str) -> None:
    """A provider that needs a key and has none fails before the question is stored."""
    from tui.providers.catalog import missing_key_error

    registry = services.registry
    if registry.has_key(name):
        return
    error = missing_key_error(registry.config(name), registry.settings)
    note = _withheld_key_note(services, name)
    raise CommandError(f"{error.message} {note}" if note else str(error))


def _turn_error(
    services: Services,
    error: Exception,
    options: TurnOptions,
    args: argparse.Namespace,
    saved_in: int | None,
) -> UsageError | CommandError:
    """The one line for a failed turn, saying what to do about it."""
    from tui.providers.errors import AuthenticationError, ModelNotFoundError, ProviderError

    name = options.provider
    if name is None:
        try:
            name = services.registry.default_provider()
        except ProviderError:  # only used to word the message
            name = None
    kept = f" Your message is kept in conversation {saved_in}." if saved_in is not None else ""
    if isinstance(error, ModelNotFoundError) and args.model:
        listing = f"tui-chat models -p {name} --refresh" if name else "tui-chat models --refresh"
        return UsageError(
            f"{error.message} '{listing}' lists the models the server has; -m picks one.{kept}"
        )
    if isinstance(error, AuthenticationError) and name is not None:
        note = _withheld_key_note(services, name)
        if note is not None:
            return CommandError(f"{error.message} {note}{kept}")
    return CommandError(f"{error}{kept}")


def _withheld_key_note(services: Services, name: str) -> str | None:
    """When no key was sent because the one that is set may only go to its own provider."""
    from urllib.parse import urlsplit

    from tui.providers.catalog import ADHOC_KEY_ENV, ADHOC_PROVIDER
    from tui.providers.errors import ProviderError
    from tui.providers.presets import HOST_KEY_ENVS

    registry = services.registry
    try:
        config = registry.config(name)
        if registry.api_key(name) is not None:
            return None  # a key was sent and refused: the usual message says what to do
    except ProviderError:
        return None
    host = urlsplit(config.base_url).hostname or "this server"
    section = registry.settings.provider(name)
    named = {config.api_key_env, section.api_key_env if section else None}
    for own_host, variable in HOST_KEY_ENVS.items():
        if own_host == host or not registry.env.get(variable, "").strip():
            continue
        if name == ADHOC_PROVIDER:
            todo = f"set {ADHOC_KEY_ENV} or --api-key for this server"
        elif variable in named:
            todo = f"set api_key or another api_key_env for [providers.{name}] in the settings"
        else:
            continue
        return f"{variable} is set but is only sent to {own_host}, not to {host}; {todo}."
    return None


# ---------------------------------------------------------------------------------------- browse


async def _list(args: argparse.Namespace) -> int:
    async with opened(args) as services:
        repository = services.store.repository
        conversations = await repository.list_conversations(
            limit=args.limit, archived=args.archived
        )
        failed = {c.id for c in conversations if await _last_reply_failed(repository, c)}
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
                "failed": c.id in failed,
            }
            for c in conversations
        ]
        print(inert_json(json.dumps(rows, ensure_ascii=False, indent=2)))
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
        mark = "  [last reply failed]" if c.id in failed else ""
        print(f"{c.id:>6}{pin} {when}  {model:<24}  {printable(c.title)}{mark}")
    return EXIT_OK


async def _last_reply_failed(
    repository: ConversationRepository, conversation: Conversation
) -> bool:
    """Whether the active path ends in a reply that failed (the question is kept, unanswered)."""
    from tui.domain import MessageStatus, Role

    if conversation.active_leaf_id is None:
        return False
    leaf = await repository.get_message(conversation.active_leaf_id)
    return leaf is not None and leaf.role is Role.ASSISTANT and leaf.status is MessageStatus.FAILED


def inert_json(text: str) -> str:
    """JSON text with every character ``inert`` would change written as a ``\\uXXXX`` escape.

    The same JSON to a parser (outside strings JSON is plain ASCII, so they can only be in one),
    but nothing in it can drive a terminal.
    """
    if is_inert(text):
        return text
    return "".join(ch if is_inert(ch) else f"\\u{ord(ch):04x}" for ch in text)


async def _show(args: argparse.Namespace) -> int:
    from tui.services.export import export_markdown

    async with opened(args) as services:
        text = await export_markdown(services.store.repository, args.id, whole_tree=args.tree)
    sys.stdout.write(_shown(args)(text))
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
            with Path(args.output).open("x", encoding="utf-8") as file:  # never over a file
                file.write(text)
        except FileExistsError:
            raise CommandError(
                f"{args.output} exists already; nothing was written: choose another name"
            ) from None
        except OSError as exc:
            raise CommandError(f"cannot write {args.output}: {exc.strerror}") from None
        print(f"Exported {what} to {printable(args.output)}", file=sys.stderr)
    elif args.raw:
        sys.stdout.write(text)
    else:
        sys.stdout.write(inert_json(text) if args.format == "json" else printable(text))
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
        if args.provider:
            _known_provider(services, args.provider)
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
        )  # ASCII only: ensure_ascii escapes anything a server could have put in an id
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
        print(f"{name:<10} {printable(model.id):<34} {apis:<15} {' '.join(badges)}")
    return EXIT_OK


# ---------------------------------------------------------------------------------------- doctor


async def _doctor(args: argparse.Namespace) -> int:
    """Probe a provider's server, print one row per check, and remember what was found."""
    from tui.providers.catalog import ADHOC_PROVIDER
    from tui.providers.errors import ProviderError
    from tui.services.doctor import DoctorError, remember, run_doctor

    async with opened(args, base_url=args.base_url, api_key=args.api_key) as services:
        registry = services.registry
        if args.provider:
            _known_provider(services, args.provider)
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


# ---------------------------------------------------------------------------------------- db


async def _mcp(args: argparse.Namespace) -> int:
    """``mcp list`` and ``mcp import FILE``: the settings file's ``[mcp_servers]``."""
    from tui.config.paths import config_file
    from tui.config.settings import load_settings
    from tui.services.mcp_config import McpImportError, describe, read_mcp_file, with_servers
    from tui.services.settings_edit import SettingsFileError, apply_settings

    path = config_file(args.config)
    settings, problems = load_settings(path, env={})  # the file as it is, no overrides
    for problem in problems:
        print(f"tui-chat: note: {printable(problem)}", file=sys.stderr)
    if args.mcp_action == "tools":
        return await _mcp_tools(settings)
    if args.mcp_action == "add":
        return await _mcp_add(args, settings, path)
    if args.mcp_action == "list":
        if not settings.mcp_servers:
            where = printable(str(path))
            print(f"No MCP servers in {where}; 'tui-chat mcp import FILE' adds some.")
        for server in settings.mcp_servers.values():
            print(describe(server))
        return EXIT_OK
    try:
        found = read_mcp_file(Path(args.file), settings)
    except McpImportError as exc:
        raise CommandError(str(exc)) from None
    for problem in found.problems:
        print(f"tui-chat: note: {printable(problem)}", file=sys.stderr)
    for name in found.kept:
        print(f"{printable(name)}: already configured; kept as it is", file=sys.stderr)
    if not found.added:
        print("Nothing added.", file=sys.stderr)
        return EXIT_OK
    try:
        await apply_settings(with_servers(settings, found.added), path, previous=settings)
    except SettingsFileError as exc:
        raise CommandError(f"{exc}; nothing was added") from None
    except (OSError, ValueError) as exc:
        raise CommandError(f"cannot save {path}: {exc}") from None
    for server in found.added:
        print(f"Added {describe(server)}")
    return EXIT_OK


async def _mcp_add(args: argparse.Namespace, settings: Any, path: Path) -> int:
    """``mcp add NAME COMMAND...`` or ``mcp add NAME --url URL``, checked as the file is."""
    from tui.config.settings import parse_mcp_server
    from tui.services.mcp_config import describe, with_servers
    from tui.services.settings_edit import SettingsFileError, apply_settings

    command = [part for part in args.server_command if part != "--"]
    if bool(command) == bool(args.url):
        raise UsageError("give either a command (stdio) or --url URL (streamable HTTP)")
    if args.name in settings.mcp_servers:
        raise UsageError(f"there is already an MCP server named {printable(args.name)!r}")
    section: dict[str, Any] = {}
    if args.url:
        section["url"] = args.url
        section["headers"] = _pairs(args.header, "--header")
    else:
        section["command"], section["args"] = command[0], command[1:]
        section["env"] = _pairs(args.env, "--env")
    problems: list[str] = []
    server = parse_mcp_server(args.name, section, problems)
    if server is None or problems:
        raise UsageError(printable("; ".join(problems) or "that server cannot be used"))
    try:
        await apply_settings(with_servers(settings, [server]), path, previous=settings)
    except SettingsFileError as exc:
        raise CommandError(f"{exc}; nothing was added") from None
    except (OSError, ValueError) as exc:
        raise CommandError(f"cannot save {path}: {exc}") from None
    print(f"Added {describe(server)}")
    return EXIT_OK


def _pairs(items: list[str], option: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise UsageError(f"{option} takes NAME=VALUE, not {printable(item)!r}")
        found[name] = value
    return found


async def _mcp_tools(settings: Any) -> int:
    """Start each enabled server, print its state and its tools; exit 1 if one failed."""
    from tui.services.mcp_client import McpHub

    if not settings.mcp_servers:
        print("No MCP servers configured; 'tui-chat mcp add' or 'tui-chat mcp import' adds some.")
        return EXIT_OK
    hub = McpHub(settings.mcp_servers.values(), call_timeout=settings.tools.timeout)
    try:
        tools = await hub.tools()
        failed = False
        for state in hub.states():
            print(printable(f"{state.name}: {state.describe()}"))
            failed = failed or state.status == "failed"
            for tool in (t for t in tools if t.server == state.name):
                summary = (tool.description or "").strip().splitlines()
                line = f"  {tool.name}" + (f"  {summary[0][:80]}" if summary else "")
                print(printable(line))
    finally:
        await hub.close()
    return EXIT_FAILED if failed else EXIT_OK


async def _db(args: argparse.Namespace) -> int:
    """``db check`` and ``db move-aside``: on the file itself, without opening the store;
    ``db copy``: the whole history to or from another store."""
    if args.db_action == "copy":
        return await _db_copy(args)
    url, _ = _current_store(args)
    if url is not None:
        raise UsageError(
            f"the history is on a database server ({_shown_location(url, None)}); "
            f"'db {args.db_action}' works on an SQLite file: name one with --db"
        )
    path = _database_path(args)
    if args.db_action == "check":
        return _db_check(path)
    return _db_move_aside(path, assume_yes=args.yes)


def _db_check(path: Path) -> int:
    from tui.store.sqlitefile import integrity_problems

    if not path.exists():
        raise CommandError(f"there is no database at {path} (--db or TUI_CHAT_DB choose one)")
    problems = integrity_problems(path)
    if not problems:
        print("ok")
        return EXIT_OK
    for problem in problems:
        print(printable(problem))
    count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
    _error(
        f"{path} failed the integrity check ({count}). Copy what you can with 'tui-chat export "
        "--all', then 'tui-chat db move-aside' to start a new history (the file is kept)."
    )
    return EXIT_FAILED


def _db_move_aside(path: Path, *, assume_yes: bool) -> int:
    from tui.store.sqlitefile import move_aside

    if not path.exists():
        raise CommandError(f"there is no database at {path}; nothing was moved")
    if not assume_yes:
        if not sys.stdin.isatty():
            raise UsageError(
                f"not moving {path} aside without --yes (stdin is not a terminal to ask on)"
            )
        sys.stderr.write(
            f"Move {printable(str(path))} aside? It is renamed, not deleted, and the next start "
            "makes a new, empty history. [y/N] "
        )
        sys.stderr.flush()
        answer = sys.stdin.readline().strip().lower()
        if answer not in ("y", "yes"):
            print("Nothing was moved.", file=sys.stderr)
            return EXIT_FAILED
    target = move_aside(path)
    print(printable(str(target)))
    print(
        f"Moved {printable(str(path))} aside; the next start makes a new history there.",
        file=sys.stderr,
    )
    return EXIT_OK


if TYPE_CHECKING:
    from tui.store.copy import Counts as CopyCounts
    from tui.store.db import Store


def _current_store(args: argparse.Namespace) -> tuple[str | None, Path | None]:
    """The (url, path) of the current history, chosen as ``open_services`` chooses it."""
    from tui.config.paths import config_file, history_location
    from tui.config.settings import load_settings

    settings, _ = load_settings(config_file(args.config))
    url, path = history_location(args.db, settings.database_url)
    return _store_location(url) if url is not None else (None, path)


def _store_location(text: str) -> tuple[str | None, Path | None]:
    """A URL or file path as the (url, path) ``open_store`` takes: SQLite URLs become paths."""
    from tui.store.errors import DatabaseUrlError
    from tui.store.postgres import parse_url

    if "://" not in text:
        return None, Path(text).expanduser()
    try:
        parsed = parse_url(text)
    except DatabaseUrlError as exc:
        raise UsageError(str(exc)) from None
    database = parsed.database or ""
    if parsed.get_backend_name() == "sqlite" and database and not database.startswith("file:"):
        if database == ":memory:":
            raise UsageError("an in-memory SQLite database cannot hold a history; name a file")
        return None, Path(database).expanduser()
    return text, None


def _shown_location(url: str | None, path: Path | None) -> str:
    from tui.store.postgres import hidden

    return printable(str(path) if path is not None else hidden(url or ""))


def _copy_progress_line(done: int, total: int) -> None:
    sys.stderr.write(f"\rCopying… {done:,} of {total:,} messages")
    sys.stderr.flush()


async def _open_for_copy(url: str | None, path: Path | None, *, source: bool) -> Store:
    from tui.store.db import open_store
    from tui.store.errors import StoreError

    shown = _shown_location(url, path)
    if source and path is not None and not path.is_file():
        raise CommandError(f"there is no history at {shown}; nothing was copied")
    try:
        return await open_store(url, path=path, recover=False)
    except StoreError as exc:
        raise CommandError(str(exc)) from None
    except ValueError:  # a URL SQLAlchemy could parse but not use (a bad port, say)
        raise UsageError(f"{shown} is not a database URL tui-chat can open") from None


async def _db_copy(args: argparse.Namespace) -> int:
    """``db copy --to URL`` / ``--from URL``: the whole history, counts checked at the end."""
    from tui.store.copy import copy_history
    from tui.store.errors import StoreError
    from tui.store.postgres import hidden

    current = _current_store(args)
    other = _store_location(args.copy_to if args.copy_to is not None else args.copy_from)
    source, target = (current, other) if args.copy_to is not None else (other, current)
    if source[1] is not None and target[1] is not None and source[1].exists():
        if target[1].exists() and source[1].resolve() == target[1].resolve():
            raise UsageError(f"{_shown_location(*source)} is both the source and the target")
    if source[0] is not None and target[0] is not None and hidden(source[0]) == hidden(target[0]):
        raise UsageError(f"{_shown_location(*source)} is both the source and the target")
    shown_target = _shown_location(*target)
    tty = sys.stderr.isatty()
    shown = False

    def progress(done: int, total: int) -> None:
        nonlocal shown
        shown = True
        _copy_progress_line(done, total)

    source_store = await _open_for_copy(*source, source=True)
    try:
        target_store = await _open_for_copy(*target, source=False)
        try:
            result = await copy_history(
                source_store, target_store, progress=progress if tty else None
            )
        except StoreError as exc:
            raise CommandError(str(exc)) from None
        finally:
            if shown:
                sys.stderr.write("\n")
            await target_store.close()
    finally:
        await source_store.close()
    if not result.matches:
        raise CommandError(
            f"the counts differ after copying to {shown_target}: the source has "
            f"{_counts_text(result.source)}, the target {_counts_text(result.target)}. "
            "Check the target before using it."
        )
    copied = result.copied
    files = f" ({_plural(copied.attachments, 'attachment')})" if copied.attachments else ""
    print(
        f"Copied {_plural(copied.conversations, 'conversation')} and "
        f"{_plural(copied.messages, 'message')}{files} from {_shown_location(*source)} to "
        f"{shown_target}; counts match.",
        file=sys.stderr,
    )
    return EXIT_OK


def _plural(count: int, word: str) -> str:
    return f"{count:,} {word}{'' if count == 1 else 's'}"


def _counts_text(counts: CopyCounts) -> str:
    """Counts as words: "3 conversations, 12 messages, 1 attachment"."""
    return ", ".join(
        (
            _plural(counts.conversations, "conversation"),
            _plural(counts.messages, "message"),
            _plural(counts.attachments, "attachment"),
        )
    )
