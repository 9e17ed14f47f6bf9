"""Search text: parsing what the person typed, and marking matches in the text found.

Snippets are made here rather than with FTS5's ``snippet()``: that function needs the full-text
query evaluated again for each row, which cost about 10 ms per hit for common words in a large
history. Marking follows the index's rules closely enough for display: case and diacritics are
ignored and the last word may be a prefix.
"""

from __future__ import annotations

import re
import unicodedata
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

MATCH_START = "["
MATCH_END = "]"
ELLIPSIS = "…"
MIN_PREFIX = 3
"""Letters the last word needs before it also matches as a prefix."""
SNIPPET_TOKENS = 12
SNIPPET_LEAD = 3
"""Words kept before the first match."""
SNIPPET_CHARS = 40
"""Characters of context either side of a match in a Chinese, Japanese or Korean snippet."""

CJK = re.compile("[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")
_TOKEN = re.compile(r"[^\W_]+")  # what unicode61 calls a token: letters and digits
_TAIL_CHARS = 12  # punctuation kept after the last word of a text


@dataclass(frozen=True, slots=True)
class ParsedQuery:
    """A search text split into words, ready to be quoted for FTS5."""

    words: tuple[str, ...]
    prefix_last: bool
    cjk: bool

    def match_expression(self) -> str:
        """The FTS5 query: each word a quoted string, the last one maybe a prefix."""
        quoted = ['"' + word.replace('"', '""') + '"' for word in self.words]
        if self.prefix_last:
            quoted[-1] += "*"
        return " ".join(quoted)


def parse_query(query: str) -> ParsedQuery | None:
    """Split a search text into words; None when nothing in it can be searched."""
    words = tuple(word for word in query.split() if any(char.isalnum() for char in word))
    if not words:
        return None
    cjk = any(CJK.search(word) for word in words)
    last_run = re.search(r"[^\W_]+$", words[-1])
    prefix_last = not cjk and last_run is not None and len(last_run.group()) >= MIN_PREFIX
    return ParsedQuery(words, prefix_last, cjk)


def fold(token: str) -> str:
    """Lower case without diacritics, as the index compares words."""
    folded = token.casefold()
    if folded.isascii():
        return folded
    decomposed = unicodedata.normalize("NFKD", folded)
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def one_line(text: str) -> str:
    """Collapse runs of whitespace (newlines included) to single spaces."""
    return " ".join(text.split())


def _matcher(parsed: ParsedQuery) -> Callable[[str], bool]:
    terms = [fold(token) for word in parsed.words for token in _TOKEN.findall(word)]
    prefix = terms[-1] if parsed.prefix_last and terms else None
    exact = frozenset(terms)

    def matches(token: str) -> bool:
        folded = fold(token)
        return folded in exact or (prefix is not None and folded.startswith(prefix))

    return matches


def mark_words(text: str, parsed: ParsedQuery) -> str:
    """About ``SNIPPET_TOKENS`` words around the first match, matching words marked."""
    matches = _matcher(parsed)
    tokens = _TOKEN.finditer(text)
    before: deque[re.Match[str]] = deque(maxlen=SNIPPET_LEAD)
    window: list[tuple[re.Match[str], bool]] = []
    skipped = False
    for token in tokens:  # stop folding at the first match: long messages stay cheap
        if matches(token.group()):
            window = [(kept, False) for kept in before] + [(token, True)]
            break
        if len(before) == SNIPPET_LEAD:
            skipped = True
        before.append(token)
    else:  # no match (the title, say, matched instead): the start of the text
        tokens = _TOKEN.finditer(text)
        skipped = False
    more = False
    for token in tokens:
        if len(window) >= SNIPPET_TOKENS:
            more = True
            break
        window.append((token, matches(token.group())))
    if not window:
        return one_line(text[:SNIPPET_CHARS])
    pieces = [ELLIPSIS] if skipped else []
    position = window[0][0].start()
    for token, hit in window:
        pieces.append(text[position : token.start()])
        word = token.group()
        pieces.append(f"{MATCH_START}{word}{MATCH_END}" if hit else word)
        position = token.end()
    # After the last word: an ellipsis if more words follow, else the closing punctuation.
    pieces.append(ELLIPSIS if more else text[position : position + _TAIL_CHARS])
    return one_line("".join(pieces))


def mark_substrings(text: str, parsed: ParsedQuery) -> str:
    """A stretch around the first occurrence of any word, every occurrence in it marked."""
    words = parsed.words
    folded = text.casefold()
    positions = [folded.find(word.casefold()) for word in words]
    found = [position for position in positions if position >= 0]
    first = min(found) if found else 0
    start = max(0, first - SNIPPET_CHARS)
    end = min(len(text), first + SNIPPET_CHARS * 2)
    pattern = re.compile("|".join(re.escape(word) for word in words), re.IGNORECASE)
    marked = pattern.sub(lambda hit: f"{MATCH_START}{hit.group()}{MATCH_END}", text[start:end])
    prefix = ELLIPSIS if start > 0 else ""
    suffix = ELLIPSIS if end < len(text) else ""
    return one_line(prefix + marked + suffix)


def mark(text: str, parsed: ParsedQuery) -> str:
    """The snippet of ``text`` for a query, by the rules its index used."""
    return mark_substrings(text, parsed) if parsed.cjk else mark_words(text, parsed)
