"""Command line entry point: ``tui-chat`` (and ``python -m tui``)."""

from __future__ import annotations

import argparse
import sys

from tui import __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tui-chat",
        description="A full-screen terminal chat client for OpenAI-compatible providers.",
    )
    parser.add_argument("--version", action="version", version=f"tui-chat {__version__}")
    return parser


def main(argv: list[str] | None = None) -> int:
    build_parser().parse_args(argv)
    print(
        f"tui-chat {__version__}: the chat engine is being built; nothing to run yet.",
        file=sys.stderr,
    )
    return 0
