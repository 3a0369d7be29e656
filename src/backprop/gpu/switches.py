"""What the GPU's process-wide settings (TF32 and bfloat16 products, CUDA graphs, the stream
limit) share: a setting changed for one block only.

>>> state = {"on": False}
>>> with temporarily(lambda: state["on"], lambda value: state.update(on=value), True):
...     print(state["on"])
True
>>> state["on"]
False
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable


@contextlib.contextmanager
def temporarily(read: Callable, write: Callable, value):
    """``write(value)`` within the block; what ``read()`` gave before it is written back after,
    also when the block raises."""
    before = read()
    write(value)
    try:
        yield
    finally:
        write(before)
