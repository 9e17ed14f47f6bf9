"""SSE framing: every way a server may cut and punctuate an event stream."""

from __future__ import annotations

import pytest

from tui.providers.sse import Frame, SSEDecodeError, SSEFramer

CHAT_STREAM = (
    b'data: {"a": 1}\n\n: keep-alive\n\ndata: {"b": "\xc3\xa9\xf0\x9f\x98\x8a"}\n\ndata: [DONE]\n\n'
)
RESPONSES_STREAM = (
    b'event: response.created\ndata: {"type": "response.created"}\n\n'
    b'event: response.output_text.delta\ndata: {"delta": "hi"}\n\n'
)


def frames_of(*chunks: bytes) -> list[Frame]:
    framer = SSEFramer()
    frames: list[Frame] = []
    for chunk in chunks:
        frames.extend(framer.feed(chunk))
    return frames + framer.flush()


def test_event_less_stream_with_done_and_comments() -> None:
    assert frames_of(CHAT_STREAM) == [
        ("", '{"a": 1}'),
        ("", '{"b": "é😊"}'),
        ("", "[DONE]"),
    ]


def test_event_framed_stream() -> None:
    assert frames_of(RESPONSES_STREAM) == [
        ("response.created", '{"type": "response.created"}'),
        ("response.output_text.delta", '{"delta": "hi"}'),
    ]


@pytest.mark.parametrize("stream", [CHAT_STREAM, RESPONSES_STREAM], ids=["chat", "responses"])
def test_any_split_gives_the_same_frames(stream: bytes) -> None:
    whole = frames_of(stream)
    for cut in range(1, len(stream)):
        assert frames_of(stream[:cut], stream[cut:]) == whole, cut
    assert frames_of(*(stream[i : i + 1] for i in range(len(stream)))) == whole


@pytest.mark.parametrize("newline", [b"\r\n", b"\r"], ids=["crlf", "cr"])
def test_other_line_endings(newline: bytes) -> None:
    stream = RESPONSES_STREAM.replace(b"\n", newline)
    expected = frames_of(RESPONSES_STREAM)
    assert frames_of(stream) == expected
    for cut in range(1, len(stream)):
        assert frames_of(stream[:cut], stream[cut:]) == expected, cut


def test_multi_line_data_joins_with_newline() -> None:
    assert frames_of(b"data: first\ndata:second\ndata:  third\n\n") == [
        ("", "first\nsecond\n third")
    ]


def test_fields_without_space_ids_retries_and_unknown_fields() -> None:
    stream = b"id: 7\nretry: 100\nevent:ping\nfoo: bar\ndata:{}\n\n"
    assert frames_of(stream) == [("ping", "{}")]


def test_comment_only_and_data_less_events_are_skipped() -> None:
    assert frames_of(b": hello\n\nevent: lonely\n\n\n\n\ndata: x\n\n") == [("", "x")]


def test_last_event_without_blank_line_is_delivered_at_the_end() -> None:
    framer = SSEFramer()
    assert framer.feed(b'data: {"a": 1}\n\ndata: {"b": 2}') == [("", '{"a": 1}')]
    assert framer.flush() == [("", '{"b": 2}')]


def test_huge_event_in_many_chunks() -> None:
    payload = b"x" * 3_000_000
    stream = b"data: " + payload + b"\n\n"
    chunks = [stream[i : i + 65536] for i in range(0, len(stream), 65536)]
    assert frames_of(*chunks) == [("", payload.decode())]


def test_invalid_utf8_is_an_error() -> None:
    with pytest.raises(SSEDecodeError):
        SSEFramer().feed(b'data: {"a": "\xff"}\n\n')


def test_truncated_utf8_at_the_end_is_an_error() -> None:
    framer = SSEFramer()
    assert framer.feed(b'data: "\xf0\x9f') == []
    with pytest.raises(SSEDecodeError):
        framer.flush()
