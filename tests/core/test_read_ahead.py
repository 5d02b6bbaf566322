"""Reading ahead in a thread: same items in the same order, errors after what came before,
and a producer that stops when its consumer does."""

from __future__ import annotations

import threading
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from polytag.core.errors import InputError
from polytag.core.read_ahead import read_ahead


@given(st.lists(st.integers()), st.integers(min_value=1, max_value=5))
def test_same_items_in_order(items, depth):
    assert list(read_ahead(iter(items), depth)) == items


def test_an_error_comes_after_the_items_before_it():
    def items():
        yield from range(5)
        raise InputError("in.txt, line 6: bad")

    got = []
    with pytest.raises(InputError, match="line 6"):
        for item in read_ahead(items(), depth=2):
            got.append(item)
    assert got == list(range(5))


def test_the_producer_stops_when_the_consumer_does():
    produced = []

    def items():
        for i in range(10_000):
            produced.append(i)
            yield i

    stream = read_ahead(items(), depth=3)
    assert next(stream) == 0
    stream.close()  # the consumer goes away
    time.sleep(0.3)
    assert len(produced) <= 3 + 2  # the queue, one waiting in put, one taken
    assert not any(t.name == "polytag-read-ahead" for t in threading.enumerate())


def test_depth_must_be_positive():
    with pytest.raises(ValueError, match="depth"):
        next(read_ahead([1], depth=0))


def test_working_is_set_while_the_producer_computes_and_clear_while_it_waits_or_has_ended():
    working = threading.Event()
    seen_while_producing = []

    def items():
        for i in range(5):
            seen_while_producing.append(working.is_set())
            yield i

    stream = read_ahead(items(), depth=1, working=working)
    assert next(stream) == 0
    time.sleep(0.3)  # the producer has filled the queue and waits for room
    assert not working.is_set()
    assert list(stream) == [1, 2, 3, 4]
    assert seen_while_producing == [True] * 5
    time.sleep(0.3)
    assert not working.is_set()  # ended


def test_working_is_clear_after_an_error():
    working = threading.Event()

    def items():
        yield 1
        raise InputError("in.txt, line 2: bad")

    with pytest.raises(InputError):
        list(read_ahead(items(), depth=4, working=working))
    assert not working.is_set()


def test_read_ahead_beside_tells_the_backend_while_it_reads_and_forgets_after():
    from polytag.core.read_ahead import read_ahead_beside

    told = []

    class Backend:
        def share_cores(self, working):
            told.append(working)

    class Tagger:
        backend = Backend()

    def items():
        for i in range(10_000):
            yield i

    with read_ahead_beside(Tagger(), items(), depth=2) as stream:
        assert next(stream) == 0 and callable(told[0])
    assert told[-1] is None  # forgotten, and the reader's thread has ended with the block
    time.sleep(0.3)
    assert not any(t.name == "polytag-read-ahead" for t in threading.enumerate())
    with read_ahead_beside(object(), iter([1, 2])) as stream:  # no backend to tell
        assert list(stream) == [1, 2]
