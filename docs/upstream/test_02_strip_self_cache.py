"""A Strip must not cache itself as the result of divide or crop_extend.

When the result is the strip itself (a single cut at its end, or a crop to its
own length), caching it creates a reference cycle, so every such strip can only
be freed by the garbage collector.
"""

import gc

import pytest
from rich.segment import Segment
from textual.strip import Strip


@pytest.fixture
def no_automatic_gc():
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def test_divide_whole_strip_is_freed_by_reference_counting(no_automatic_gc) -> None:
    strip = Strip([Segment("Hello, "), Segment("World")])
    assert strip.divide([12]) == [strip]
    del strip
    assert gc.collect() == 0


def test_crop_extend_to_own_length_is_freed_by_reference_counting(
    no_automatic_gc,
) -> None:
    strip = Strip([Segment("Hello, "), Segment("World")])
    assert strip.crop_extend(0, 12, None) is strip
    del strip
    assert gc.collect() == 0


def test_divide_still_cuts() -> None:
    strip = Strip([Segment("Hello, "), Segment("World")])
    assert [part.text for part in strip.divide([5, 12])] == ["Hello", ", World"]
    assert [part.text for part in strip.divide([5, 12])] == ["Hello", ", World"]
