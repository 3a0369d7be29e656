"""CUDA's streams, events and graph capture for the numpy stand-in of CuPy (``fake_cupy``).

Work runs at once, on the host, so nothing here waits or overlaps; what the stand-in keeps of
CUDA is its rules. Streams are entered and left as CuPy's are (``get_current_stream`` is the
innermost), waits and copies are logged (``Stream.log``), and while a stream is being captured
into a graph, what CUDA or CuPy refuse in a capture is refused here too, with
``CaptureRefused``, and noted in ``Stream.refused``:

* reading a device value on the host (``float()``, ``bool()``, ``.item()``, ``asnumpy``): the
  host would wait for work that has not run;
* copying host memory to the device: a graph would copy whatever the host memory holds when it
  is replayed, not what it held when captured;
* ``cupy.matmul`` and CuPy's other cuBLAS calls, which CuPy refuses in a capture;
* cuRAND draws, which a graph would replay with the seed it was captured with;
* waiting for an event or a stream;
* a cuBLAS product on any stream but the one being captured.

A failed capture falls back to the step run kernel by kernel, with a warning, and would pass a
test that compares results; ``tests/conftest.py`` fails any test after which
``Stream.refused`` is not empty.
"""

from __future__ import annotations

import contextlib
import time
import types

import numpy as np


class CaptureRefused(RuntimeError):
    """What CUDA or CuPy would refuse while a stream is being captured."""


def refuse_in_capture(what: str) -> None:
    """Raise ``CaptureRefused`` (and note it) if a stream is being captured."""
    if Stream.capturing is not None:
        message = f"{what} while a stream is being captured"
        Stream.refused.append(message)
        raise CaptureRefused(message)


class Event:
    """A CUDA event: recording and waiting are logged (``Stream.log``), nothing waits; the
    time between two is the host's (``get_elapsed_time``)."""

    def record(self, stream=None) -> None:
        self.time = time.perf_counter()
        Stream.log.append(("record", self, stream or Stream.current()))

    def synchronize(self) -> None:
        refuse_in_capture("waiting for an event")
        Stream.log.append(("synchronize", self))


class Stream:
    """A CUDA stream: what runs on it runs at once; waits are logged in ``log``."""

    log: list = []
    refused: list = []
    entered: list = []  # the streams entered with ``with``, innermost last
    capturing: Stream | None = None
    null: Stream
    _next_ptr = 2

    def __init__(self, non_blocking: bool = False, ptr: int | None = None) -> None:
        if ptr is None:
            ptr, Stream._next_ptr = Stream._next_ptr, Stream._next_ptr + 1
        self.ptr = ptr

    @staticmethod
    def current() -> Stream:
        """CuPy's current stream: the innermost entered, else the null stream."""
        return Stream.entered[-1] if Stream.entered else Stream.null

    def wait_event(self, event) -> None:
        Stream.log.append(("wait", self, event))

    def synchronize(self) -> None:
        refuse_in_capture("waiting for a stream")

    def begin_capture(self, mode=None) -> None:
        if self.ptr in (0, 1):
            raise RuntimeError("cannot capture on the default (legacy) stream")
        if Stream.capturing is not None:
            raise RuntimeError("a stream is already being captured")
        Stream.capturing = self

    def end_capture(self) -> ReplayedGraph:
        if Stream.capturing is not self:
            raise RuntimeError("this stream is not being captured")
        Stream.capturing = None
        return ReplayedGraph()

    def __enter__(self):
        Stream.entered.append(self)
        return self

    def __exit__(self, *exc):
        Stream.entered.pop()
        return False

    @staticmethod
    def reset() -> None:
        Stream.log.clear()
        Stream.refused.clear()
        Stream.entered.clear()
        Stream.capturing = None


Stream.null = Stream(ptr=0)


class ReplayedGraph:
    """What a capture gives: numpy cannot defer work, so the capture ran the step at once
    and the launch right after it does nothing; every later launch runs the captured function
    again, with the arguments it was captured with, as a graph replays its kernels with theirs,
    and writes the device arrays it returns into those the capture returned (``_write_into``),
    as a graph writes its results where the captured kernels wrote them. The replay runs under the
    capture's rules, on a stream of its own."""

    captures: list = []

    def __init__(self) -> None:
        self.function = self.result = None
        self.launches = 0
        ReplayedGraph.captures.append(self)

    def launch(self, stream=None) -> None:
        self.launches += 1
        if self.launches == 1:
            return
        replay = Stream()
        with replay:
            Stream.capturing = replay
            try:
                results = self.function()
            finally:
                Stream.capturing = None
        _write_into(self.result, results)


def _write_into(captured, replayed) -> None:
    """Copy the device arrays of ``replayed`` into those in the same places of ``captured``:
    in tuples, lists and dicts, and in the cells of closures (a function to call later on
    what the step computed), as a graph writes where the captured kernels wrote."""
    if isinstance(captured, np.ndarray):
        np.copyto(captured.view(np.ndarray), replayed.view(np.ndarray))
    elif isinstance(captured, (tuple, list)):
        for old, new in zip(captured, replayed, strict=True):
            _write_into(old, new)
    elif isinstance(captured, dict):
        for key, old in captured.items():
            _write_into(old, replayed[key])
    elif callable(captured) and getattr(captured, "__closure__", None):
        for old, new in zip(captured.__closure__, replayed.__closure__, strict=True):
            if isinstance(old.cell_contents, np.ndarray):
                _write_into(old.cell_contents, new.cell_contents)


def capturing(real_capture):
    """``graphs.capture`` (``real_capture``) run on the stand-in's streams, its graph given
    the function to replay."""

    def capture(cupy, pool, function):
        graph, result = real_capture(cupy, pool, function)
        graph.function, graph.result = function, result
        return graph, result

    return capture


@contextlib.contextmanager
def using_allocator(malloc=None):
    """CuPy's allocator setting for a block; the stand-in's arrays are numpy's."""
    yield


def get_elapsed_time(start: Event, stop: Event) -> float:
    """Milliseconds from ``start`` to ``stop``, as CuPy gives them."""
    return (stop.time - start.time) * 1e3


def memory_pool() -> types.SimpleNamespace:
    """A memory pool that allocates nothing (the arrays are numpy's) and holds no bytes."""
    return types.SimpleNamespace(malloc=None, free_all_blocks=lambda: None, total_bytes=lambda: 0)
