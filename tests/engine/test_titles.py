"""Titles from the first message: one clean line, cut at a word."""

from __future__ import annotations

from tui.services.titles import title_from_text


def test_first_nonblank_line_without_markup() -> None:
    assert title_from_text("\n\n## **How do I** _parse_ `TOML`?\nmore") == "How do I parse TOML?"


def test_long_text_is_cut_at_a_word_with_an_ellipsis() -> None:
    title = title_from_text("word " * 40)
    assert title.endswith("…")
    assert len(title) <= 60
    assert "wor…" not in title


def test_quotes_and_spaces_are_folded() -> None:
    assert title_from_text('  "Hello   there"  ') == "Hello there"


def test_nothing_usable_gives_the_default() -> None:
    assert title_from_text("  \n ### \n") == "New chat"


def test_non_ascii_survives() -> None:
    assert title_from_text("Qu'est-ce que la déduplication ? 日本語") == (
        "Qu'est-ce que la déduplication ? 日本語"
    )
