"""Reading a stream in a background thread while its consumer works on what came before.

Raw text is segmented (Python, and ONNX Runtime on one thread) and then tagged (ONNX Runtime on
the rest); done one after the other, each waits for the other. `read_ahead` runs the producer
in its own thread, so the Python work of one overlaps the other's ONNX runs (which release the
GIL). The queue is bounded, so memory stays bounded however long the stream is.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TypeVar

T = TypeVar("T")

_ITEM, _ERROR, _END = range(3)
_POLL_S = 0.1  # how often a blocked producer checks whether the consumer has gone


def read_ahead(items: Iterable[T], depth: int = 4096, working: threading.Event | None = None) -> Iterator[T]:
    """Yields what `items` yields, in order, produced up to `depth` items ahead in a thread.

    An exception raised by `items` is raised here after every item produced before it, as a
    plain iteration would. If the consumer stops early (break, error, close), the producer stops
    at its next item and the thread ends. working: set while the producer computes, clear while
    it waits for room in the queue and once it has ended (the consumer may then take its core)."""
    if depth < 1:
        raise ValueError("depth must be at least 1")
    slots: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    working = working if working is not None else threading.Event()

    def put(entry: tuple) -> bool:
        try:
            slots.put_nowait(entry)
            return True
        except queue.Full:
            pass
        was_working = working.is_set()
        working.clear()  # waiting, not computing
        while not stop.is_set():
            try:
                slots.put(entry, timeout=_POLL_S)
            except queue.Full:
                continue
            if was_working:
                working.set()
            return True
        return False

    def produce() -> None:
        working.set()
        try:
            for item in items:
                if not put((_ITEM, item)):
                    return
        except BaseException as error:  # noqa: BLE001 - handed to the consumer, raised there
            put((_ERROR, error))
            return
        finally:
            working.clear()  # (put may set it again after a wait: cleared for good here)
        put((_END, None))

    worker = threading.Thread(target=produce, name="polytag-read-ahead", daemon=True)
    worker.start()
    try:
        while True:
            kind, value = slots.get()
            if kind == _ITEM:
                yield value
            elif kind == _ERROR:
                raise value
            else:
                return
    finally:
        stop.set()
        worker.join(timeout=1.0)  # a producer blocked inside `items` itself is left (daemon)


@contextmanager
def read_ahead_beside(tagger, items: Iterable[T], depth: int = 4096) -> Iterator[Iterator[T]]:
    """`items` read ahead in a thread, while the tagger's backend is told when that thread
    computes (`OnnxBackend.share_cores`: its graph then runs on a thread fewer); a backend
    without share_cores is not told."""
    working = threading.Event()
    share_cores = getattr(getattr(tagger, "backend", None), "share_cores", None)
    if share_cores is not None:
        share_cores(working.is_set)
    stream = read_ahead(items, depth, working)
    try:
        yield stream
    finally:
        stream.close()  # (a consumer that stopped early: the reader's thread ends too)
        if share_cores is not None:
            share_cores(None)
