"""Parsing search text and marking matches (pure functions)."""

from __future__ import annotations

from tui.store.snippets import ParsedQuery, fold, mark, parse_query


def query(text: str) -> ParsedQuery:
    parsed = parse_query(text)
    assert parsed is not None
    return parsed


def test_fold_ignores_case_and_diacritics() -> None:
    assert fold("Café") == fold("CAFE") == "cafe"
    assert fold("Übermut") == "ubermut"
    assert fold("Ångström") == "angstrom"


def test_marks_every_matching_word_with_diacritics_and_prefix() -> None:
    snippet = mark("Try the Café de Flore, then another café.", query("cafe"))
    assert snippet == "Try the [Café] de Flore, then another [café]."
    assert mark("Pythonic code in Python", query("pyth")) == "[Pythonic] code in [Python]"
    # Only the last word is a prefix.
    assert mark("pythonic py python", query("py pyth")) == "[pythonic] [py] [python]"


def test_window_around_the_first_match() -> None:
    words = [f"w{i}" for i in range(40)]
    words[20] = "needle"
    snippet = mark(" ".join(words), query("needle"))
    assert snippet == "…w17 w18 w19 [needle] w21 w22 w23 w24 w25 w26 w27 w28…"
    assert mark("needle at the start", query("needle")) == "[needle] at the start"


def test_text_without_a_match_shows_its_start() -> None:
    long_title = " ".join(f"t{i}" for i in range(30))
    assert mark(long_title, query("absent")) == " ".join(f"t{i}" for i in range(12)) + "…"
    assert mark("???", query("absent")) == "???"
    assert mark("line one\n\n  line two", query("two")) == "line one line [two]"


def test_phrases_with_punctuation() -> None:
    assert mark("send an e-mail now", query("e-mail")) == "send an [e]-[mail] now"


def test_chinese_japanese_korean_substrings() -> None:
    text = "今日は" + "あ" * 60 + "私は日本語を勉強しています" + "い" * 200
    snippet = mark(text, query("日本語"))
    assert "[日本語]" in snippet
    assert snippet.startswith("…") and snippet.endswith("…")
    assert mark("한국어를 배우고 있어요", query("배우고")) == "한국어를 [배우고] 있어요"
