"""Command line entry point: ``tui-chat`` (and ``python -m tui``).

``tui-chat`` alone opens the app; the subcommands run the same engine on the same database,
for scripts.
Exit codes: 0 success, 1 the provider or the store failed, 2 bad usage, 130 interrupted,
141 the reader of stdout went away (``tui-chat list | head -1``).
"""

from __future__ import annotations

import argparse
import os
import sys

from tui import __version__
from tui.exit_codes import EXIT_BROKEN_PIPE, EXIT_INTERRUPTED, EXIT_OK


def _common(default: object) -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--db",
        metavar="PATH",
        default=default,
        help="database file (default: TUI_CHAT_DB or the data folder)",
    )
    common.add_argument(
        "--config",
        metavar="PATH",
        default=default,
        help="settings file (default: TUI_CHAT_CONFIG or the config folder)",
    )
    return common


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tui-chat",
        description="A full-screen terminal chat client for OpenAI-compatible providers.",
        parents=[_common(None)],
    )
    # On a command the options have no default, so `tui-chat --db X list` keeps the X given
    # before the command (argparse would otherwise reset it to the command's default).
    common = _common(argparse.SUPPRESS)
    parser.add_argument("--version", action="store_true", help="show the version and exit")
    parser.add_argument(
        "--verbose",
        action="store_true",
        help="with --version: the versions of Python and Textual, and each Textual work-around",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    ask = commands.add_parser(
        "ask",
        parents=[common],
        help="ask once and stream the reply to stdout",
        description="Stream a reply to stdout and store the turn. Reads stdin when PROMPT is '-' "
        "or absent and stdin is not a terminal.",
    )
    ask.add_argument("prompt", nargs="*", help="the question (several words are joined)")
    ask.add_argument("-m", "--model", help="model id (the provider's own id or a family alias)")
    ask.add_argument(
        "-p", "--provider", help="provider name (openai, aimlapi, gmi, ollama, ..., demo)"
    )
    ask.add_argument("--base-url", metavar="URL", help="an ad-hoc OpenAI-compatible server")
    ask.add_argument(
        "--api-key", metavar="KEY", help="key for --base-url (or set TUI_CHAT_API_KEY)"
    )
    ask.add_argument("--api", choices=["auto", "chat", "responses"], help="which API to use")
    ask.add_argument("-s", "--system", metavar="TEXT", help="system prompt (instructions)")
    ask.add_argument(
        "--reasoning-effort",
        metavar="LEVEL",
        help="how hard a reasoning model thinks: none, minimal, low, medium, high or xhigh "
        "(models take the levels they support)",
    )
    ask.add_argument("--max-output-tokens", type=_positive_int, metavar="N")
    ask.add_argument("--temperature", type=_temperature, metavar="T")
    ask.add_argument("--web-search", action="store_true", help="let the model search the web")
    tools = ask.add_mutually_exclusive_group()
    tools.add_argument(
        "--approve-tools",
        action="store_true",
        help="run every tool call the model makes without asking (MCP servers' tools)",
    )
    tools.add_argument(
        "--no-tools", action="store_true", help="offer the model no tools for this turn"
    )
    thread = ask.add_mutually_exclusive_group()
    thread.add_argument(
        "-c", "--continue", dest="continue_", action="store_true", help="continue the latest chat"
    )
    thread.add_argument("--conversation", type=int, metavar="ID", help="continue this chat")
    ask.add_argument(
        "--attach", action="append", default=[], metavar="FILE", help="attach an image or document"
    )
    ask.add_argument("--no-stream", action="store_true", help="wait for the whole reply")
    ask.add_argument(
        "--show-reasoning", action="store_true", help="print reasoning to stderr as it arrives"
    )
    ask.add_argument("--raw", action="store_true", help=_RAW_HELP)
    ask.add_argument(
        "--first-token-timeout",
        type=_seconds,
        metavar="SECONDS",
        help="how long the reply may take to start (default: the provider's "
        "first_token_timeout, else 600)",
    )
    ask.add_argument(
        "--idle-timeout",
        type=_seconds,
        metavar="SECONDS",
        help="how long a started reply may go silent (default: the provider's idle_timeout, "
        "else 60)",
    )

    listing = commands.add_parser("list", parents=[common], help="list saved conversations")
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    listing.add_argument("--limit", type=_positive_int, default=50)
    listing.add_argument("--archived", action="store_true", help="list archived conversations")

    show = commands.add_parser("show", parents=[common], help="print a conversation")
    show.add_argument("id", type=int)
    show.add_argument("--tree", action="store_true", help="every branch, not just the active one")
    show.add_argument("--raw", action="store_true", help=_RAW_HELP)

    search = commands.add_parser("search", parents=[common], help="full-text search")
    search.add_argument("text", nargs="+")
    search.add_argument("--limit", type=_positive_int, default=20)

    for verb, what in (
        ("delete", "delete a conversation and its messages"),
        ("pin", "pin a conversation to the top of the list"),
        ("unpin", "unpin a conversation"),
        ("archive", "hide a conversation from the list"),
        ("restore", "bring an archived conversation back"),
    ):
        manage = commands.add_parser(verb, parents=[common], help=what)
        manage.add_argument("id", type=int)
    rename = commands.add_parser("rename", parents=[common], help="give a conversation a title")
    rename.add_argument("id", type=int)
    rename.add_argument("title", nargs="+", help="the new title (several words are joined)")

    export = commands.add_parser("export", parents=[common], help="export a conversation")
    export.add_argument("id", type=int, nargs="?")
    export.add_argument(
        "--all", action="store_true", help="every conversation (archived too) in one document"
    )
    export.add_argument("--format", choices=["md", "json"], default="md")
    export.add_argument("--tree", action="store_true", help="Markdown: every branch")
    export.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")
    export.add_argument("--raw", action="store_true", help=_RAW_HELP)

    imp = commands.add_parser(
        "import", parents=[common], help="import a JSON export or ChatGPT's conversations.json"
    )
    imp.add_argument(
        "file",
        help="a file written by 'tui-chat export [--all] --format json', or ChatGPT's "
        "conversations.json ('-': stdin)",
    )

    models = commands.add_parser("models", parents=[common], help="list providers' models")
    models.add_argument("-p", "--provider", help="only this provider")
    models.add_argument(
        "--refresh", action="store_true", help="ask the provider for its live list (GET /models)"
    )
    models.add_argument("--json", action="store_true")

    doctor = commands.add_parser(
        "doctor",
        parents=[common],
        help="probe what a provider's server supports",
        description="Send a few tiny requests to see what the server supports (/models, "
        "/chat/completions streaming and usage, /responses and previous_response_id, reasoning "
        "fields, the token-limit parameter), print a table and remember the findings.",
    )
    target = doctor.add_mutually_exclusive_group()
    target.add_argument("-p", "--provider", help="provider name (default: the default provider)")
    target.add_argument("--base-url", metavar="URL", help="an ad-hoc OpenAI-compatible server")
    doctor.add_argument(
        "--api-key", metavar="KEY", help="key for --base-url (or set TUI_CHAT_API_KEY)"
    )
    doctor.add_argument(
        "-m", "--model", help="model to probe with (default: a small one the server lists)"
    )

    database = commands.add_parser(
        "db",
        parents=[common],
        help="check the history database, move a damaged one aside, or copy it elsewhere",
        description="check and move-aside work on the database file: --db, else TUI_CHAT_DB, "
        "else the data folder's. copy also reaches a PostgreSQL history (database_url).",
    )
    actions = database.add_subparsers(dest="db_action", metavar="ACTION", required=True)
    actions.add_parser(
        "check",
        parents=[common],
        help="run SQLite's integrity check; prints 'ok' or the problems (exit 1)",
    )
    move = actions.add_parser(
        "move-aside",
        parents=[common],
        help="rename the database file (and its -wal/-shm) out of the way; nothing is deleted",
        description="Rename the database file out of the way so the next start makes a new, "
        "empty history; the old file is kept beside it for recovery, and its new path printed.",
    )
    move.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")
    copy = actions.add_parser(
        "copy",
        parents=[common],
        help="copy the whole history to or from another database (SQLite file or PostgreSQL)",
        description="Copy every conversation, message (with its branches), attachment and the "
        "model caches between the current history (--db, else database_url or "
        "TUI_CHAT_DATABASE_URL, else the data folder's file) and another database, keeping "
        "their ids. The source is only read. The target must hold no conversations yet: it is "
        "written in one transaction, so a failure or Ctrl+C leaves it as it was. The counts on "
        "both sides are compared at the end (exit 1 if they differ). URL is "
        "postgresql+asyncpg://user@host:port/database (the password from PGPASSWORD or "
        "~/.pgpass, or in the URL), an SQLite file, or sqlite+aiosqlite:///FILE.",
    )
    direction = copy.add_mutually_exclusive_group(required=True)
    direction.add_argument(
        "--to",
        metavar="URL",
        dest="copy_to",
        help="copy the current history into URL (an empty history)",
    )
    direction.add_argument(
        "--from",
        metavar="URL",
        dest="copy_from",
        help="copy the history at URL into the current one (which must be empty)",
    )

    mcp = commands.add_parser(
        "mcp",
        parents=[common],
        help="MCP servers (tools): list them, or import a standard mcpServers JSON file",
    )
    mcp_actions = mcp.add_subparsers(dest="mcp_action", metavar="ACTION", required=True)
    mcp_actions.add_parser("list", parents=[common], help="the configured MCP servers")
    mcp_import = mcp_actions.add_parser(
        "import",
        parents=[common],
        help='add the servers of a {"mcpServers": {...}} file (as other MCP clients write it)',
        description="Servers already configured under the same name are kept as they are. "
        "The settings file is edited in place: its comments and other keys stay.",
    )
    mcp_import.add_argument("file", help="the JSON file")
    mcp_add = mcp_actions.add_parser(
        "add",
        parents=[common],
        help="add a server: NAME COMMAND [ARGS...] (stdio) or NAME --url URL (streamable HTTP)",
        description="Examples: 'tui-chat mcp add clock -- python -m tui.mcp_clock' (the example "
        "clock server), 'tui-chat mcp add search --url http://127.0.0.1:8931/mcp'.",
    )
    mcp_add.add_argument("name", help="letters, digits, - and _ (it prefixes clashing tool names)")
    mcp_add.add_argument("--url", help="a streamable-HTTP server's URL")
    mcp_add.add_argument(
        "--header", action="append", default=[], metavar="NAME=VALUE", help="an HTTP header"
    )
    mcp_add.add_argument(
        "--env", action="append", default=[], metavar="NAME=VALUE", help="for a stdio server"
    )
    mcp_add.add_argument(
        "server_command",
        nargs=argparse.REMAINDER,
        metavar="COMMAND",
        help="the command and its arguments",
    )
    mcp_actions.add_parser(
        "tools",
        parents=[common],
        help="start the enabled servers and list their tools (or why a server failed)",
    )
    return parser


_RAW_HELP = (
    "print the text exactly as stored, control characters and escape sequences included "
    "(by default they are made visible so they cannot drive the terminal)"
)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError("must be greater than 0")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError("must be a positive number of seconds")
    return value


def _temperature(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 <= value <= 2:
        raise argparse.ArgumentTypeError("must be between 0 and 2")
    return value


def version_text(*, verbose: bool = False) -> str:
    """``tui-chat 0.1.0``; verbose, also Python, Textual and the state of each work-around
    on this Textual (checked, not installed: the app installs them as it starts)."""
    lines = [f"tui-chat {__version__}"]
    if verbose:
        import platform
        from importlib.metadata import version

        from tui import textual_fixes

        lines.append(f"Python {platform.python_version()}, Textual {version('textual')}")
        lines.append(
            "Textual work-arounds, checked on this Textual (the app installs the ready ones as it "
            "starts; TUI_CHAT_NO_TEXTUAL_FIXES=1 leaves out all but paste-as-text and "
            "table-tooltips-as-text, which keep untrusted text from acting):"
        )
        lines.extend(f"  {line}" for line in textual_fixes.report())
        from tui.textual_fixes.private import PRIVATE_USES, missing

        gone = missing()
        lines.append(
            f"Private Textual names the widgets use: {len(PRIVATE_USES)}, "
            + ("all present" if not gone else f"{len(gone)} missing:")
        )
        lines.extend(f"  {line}" for line in gone)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run the app or a command."""
    args = build_parser().parse_args(argv)
    if args.version:
        print(version_text(verbose=args.verbose))
        return EXIT_OK
    if args.command is None:
        from tui.subcommands import run_app

        return run_app(args)
    from tui.subcommands import run_command

    try:
        code = run_command(args)
        sys.stdout.flush()  # here, so a closed pipe is reported below, not at exit
        return code
    except KeyboardInterrupt:
        print("tui-chat: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (``| head``): stop quietly. Python flushes stdout once more at
        # exit, so point it at /dev/null first or that flush reports the same error again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return EXIT_BROKEN_PIPE
