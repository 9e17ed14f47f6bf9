"""Full-text search: non-ASCII text, punctuation, prefixes, order, snippets, index upkeep."""

from __future__ import annotations

import pytest

from tui.domain import MessageStatus, Role, SearchHit
from tui.store.repository import ConversationRepository
from tui.store.search import parse_query


async def chat(repo: ConversationRepository, title: str, *texts: str) -> int:
    """A conversation whose messages alternate user/assistant with the given texts."""
    conversation = await repo.create_conversation(title=title)
    parent = None
    for index, content in enumerate(texts):
        role = Role.USER if index % 2 == 0 else Role.ASSISTANT
        message = await repo.add_message(
            conversation.id, role=role, content=content, parent_id=parent
        )
        parent = message.id
    return conversation.id


def titles(hits: list[SearchHit]) -> list[str]:
    return [hit.conversation.title for hit in hits]


async def test_words_diacritics_and_case(repo: ConversationRepository) -> None:
    await chat(repo, "Paris", "Where is a good café near the Louvre?", "Try Café de Flore.")
    await chat(repo, "German", "Was heißt Übermut?", "Übermut means hubris.")
    await chat(repo, "Other", "Nothing to see here.")
    assert titles(await repo.search("cafe")) == ["Paris"]
    assert titles(await repo.search("CAFÉ")) == ["Paris"]
    assert titles(await repo.search("ubermut")) == ["German"]
    assert titles(await repo.search("übermut")) == ["German"]
    assert titles(await repo.search("heißt")) == ["German"]
    assert await repo.search("absent") == []


async def test_chinese_japanese_korean(repo: ConversationRepository) -> None:
    await chat(repo, "Nihongo", "私は日本語を勉強しています", "がんばって!")
    await chat(repo, "Chinese", "我们用中文聊天吧", "好的")
    await chat(repo, "Korean", "한국어를 배우고 있어요")
    await chat(repo, "日本の旅", "Kyoto in autumn")
    assert titles(await repo.search("日本語")) == ["Nihongo"]
    assert set(titles(await repo.search("日本"))) == {"Nihongo", "日本の旅"}  # two characters
    assert titles(await repo.search("勉強")) == ["Nihongo"]  # the middle of a sentence
    assert titles(await repo.search("中文")) == ["Chinese"]
    assert titles(await repo.search("배우고")) == ["Korean"]
    assert titles(await repo.search("日本語 勉強")) == ["Nihongo"]
    assert await repo.search("日本語 韓国") == []
    hit = (await repo.search("勉強"))[0]
    assert "[勉強]" in hit.snippet and hit.message_id is not None


async def test_punctuation_and_query_syntax_are_plain_text(repo: ConversationRepository) -> None:
    await chat(
        repo,
        "Syntax",
        'He said "hello" - and left; use x AND y, NEAR(a b), c++ & e-mail, do NOT panic',
    )
    await chat(repo, "Plain", "hello world")
    queries = [
        '"hello"',
        'said "hello',
        "hello -",
        "-hello",
        "hello*",
        "*",
        "AND",
        "NEAR(a",
        "c++",
        "e-mail",
        "x AND y",
        "(a b)",
        "col:hello",
        "'",
        '"',
        "^",
        "",
        "   ",
        "hello OR",
        "NOT hello",
    ]
    for query in queries:
        hits = await repo.search(query)  # never raises
        assert len({hit.conversation.id for hit in hits}) == len(hits)
    assert titles(await repo.search("e-mail")) == ["Syntax"]
    assert titles(await repo.search("x AND y")) == ["Syntax"]
    assert set(titles(await repo.search('"hello"'))) == {"Syntax", "Plain"}
    assert titles(await repo.search("NOT hello")) == ["Syntax"]  # NOT is a word here
    assert await repo.search("") == [] and await repo.search("*") == []


async def test_prefix_as_you_type(repo: ConversationRepository) -> None:
    await chat(repo, "Lang", "I write Python every day")
    await chat(repo, "Snake", "a pythonic pyramid")
    assert set(titles(await repo.search("pyth"))) == {"Lang", "Snake"}
    assert set(titles(await repo.search("pyt"))) == {"Lang", "Snake"}
    assert titles(await repo.search("write pyth")) == ["Lang"]
    assert titles(await repo.search("pythonic")) == ["Snake"]
    # Only the last word is a prefix; a finished earlier word must match whole.
    assert await repo.search("pyth every") == []
    # Below three letters a word matches only whole.
    assert await repo.search("py") == []


def test_parse_query_quotes_everything() -> None:
    parsed = parse_query('say "hi" NEAR(x) pyth')
    assert parsed is not None
    assert parsed.match_expression() == '"say" """hi""" "NEAR(x)" "pyth"*'
    assert parse_query("-- ** ::") is None
    short = parse_query("go py")
    assert short is not None and not short.prefix_last


async def test_each_conversation_once_title_first_then_newest(
    repo: ConversationRepository,
) -> None:
    old = await chat(repo, "Old one", "kiwi here", "kiwi again", "and kiwi")
    titled = await chat(repo, "Kiwi recipes", "no fruit named in messages")
    new = await chat(repo, "New one", "a kiwi")
    hits = await repo.search("kiwi")
    assert [hit.conversation.id for hit in hits] == [titled, new, old]
    assert hits[0].message_id is None and hits[0].snippet == "[Kiwi] recipes"
    assert hits[1].snippet == "a [kiwi]" and hits[1].message_id is not None
    assert hits[2].snippet == "and [kiwi]"  # the newest matching message of the thread
    assert len(await repo.search("kiwi", limit=2)) == 2
    assert await repo.search("kiwi", limit=0) == []


async def test_older_conversations_are_found_behind_a_thread_full_of_matches(
    repo: ConversationRepository,
) -> None:
    older = [await chat(repo, f"Older {n}", f"one mango in thread {n}") for n in range(3)]
    busy = await chat(repo, "Busy", *(f"mango number {n}" for n in range(700)))
    hits = await repo.search("mango")
    # The newest 700 matches are all in one thread: the search keeps looking past them.
    assert [hit.conversation.id for hit in hits] == [busy, *reversed(older)]
    assert hits[0].snippet == "[mango] number 699"


async def test_snippet_is_one_line_with_marks(repo: ConversationRepository) -> None:
    long_text = " ".join(f"word{i}" for i in range(100)) + "\n\nthe needle is here\n" + "x " * 50
    await chat(repo, "Long", long_text)
    hit = (await repo.search("needle"))[0]
    assert "[needle]" in hit.snippet
    assert "\n" not in hit.snippet
    assert hit.snippet.startswith("…") and hit.snippet.endswith("…")


async def test_streaming_text_is_indexed_when_finished(repo: ConversationRepository) -> None:
    conversation = await repo.create_conversation(title="Stream")
    reply = await repo.add_message(
        conversation.id, role=Role.ASSISTANT, status=MessageStatus.STREAMING
    )
    for piece in ("The answer ", "involves ", "zanzibar."):
        await repo.append_text(reply.id, piece)
    assert await repo.search("zanzibar") == []
    await repo.finish_message(reply.id, status=MessageStatus.COMPLETE)
    assert titles(await repo.search("zanzibar")) == ["Stream"]
    await repo.finish_message(reply.id, status=MessageStatus.FAILED)  # status only: still there
    assert titles(await repo.search("zanzibar")) == ["Stream"]


async def test_interrupted_text_is_searchable(repo: ConversationRepository) -> None:
    conversation = await repo.create_conversation(title="Crash")
    reply = await repo.add_message(
        conversation.id, role=Role.ASSISTANT, status=MessageStatus.STREAMING
    )
    await repo.append_text(reply.id, "partial quokka text")
    await repo.mark_interrupted(all_writers=True)
    assert titles(await repo.search("quokka")) == ["Crash"]


async def test_edits_renames_and_deletes_keep_the_index_exact(
    repo: ConversationRepository,
) -> None:
    conversation = await repo.create_conversation(title="Alpha topic")
    message = await repo.add_message(conversation.id, role=Role.USER, content="mango and 日本語")
    await repo.finish_message(message.id, status=MessageStatus.COMPLETE, content="papaya, 中文")
    assert await repo.search("mango") == []
    assert await repo.search("日本語") == []
    assert titles(await repo.search("papaya")) == ["Alpha topic"]
    assert titles(await repo.search("中文")) == ["Alpha topic"]

    await repo.rename_conversation(conversation.id, "Beta topic")
    assert await repo.search("alpha") == []
    assert titles(await repo.search("beta")) == ["Beta topic"]

    await repo.delete_conversation(conversation.id)
    for query in ("papaya", "beta", "中文", "topic"):
        assert await repo.search(query) == []


@pytest.mark.parametrize("archived", [False, True])
async def test_archived_conversations_are_found(
    repo: ConversationRepository, archived: bool
) -> None:
    cid = await chat(repo, "Shelf", "durian facts")
    await repo.set_archived(cid, archived)
    hits = await repo.search("durian")
    assert [hit.conversation.archived for hit in hits] == [archived]
