"""The array module and the dtype policy.

All array math in the engine goes through one handle, ``xp``: numpy by default, CuPy when a
network is placed on a GPU. Code takes the handle from the network (``net.xp``) instead of
importing numpy for arithmetic, so the same lines run on either device.

>>> from backprop.engine.backend import resolve_dtype
>>> resolve_dtype("float32")
dtype('float32')
"""

from __future__ import annotations

import functools
from types import ModuleType

import numpy as np

DTYPES = ("float32", "float64")


def resolve_dtype(dtype: object) -> np.dtype:
    """Return the numpy dtype for ``"float32"`` or ``"float64"`` (or a dtype object)."""
    if dtype is None:
        raise TypeError(f"dtype must be one of {DTYPES}, got None")
    try:
        resolved = np.dtype(dtype)
    except TypeError as error:
        raise TypeError(f"dtype must be one of {DTYPES}, got {dtype!r}") from error
    if resolved.name not in DTYPES:
        raise ValueError(f"dtype must be one of {DTYPES}, got {resolved.name!r}")
    return resolved


def array_module(name: str = "numpy") -> ModuleType:
    """Return the array module called ``name``: ``"numpy"`` or ``"cupy"``."""
    if name == "numpy":
        return np
    if name == "cupy":
        try:
            import cupy
        except ImportError as error:
            raise ValueError("device 'cupy' needs CuPy: pip install 'backprop[gpu]'") from error
        return cupy
    raise ValueError(f"unknown array module {name!r}; choose 'numpy' or 'cupy'")


def to_numpy(array) -> np.ndarray:
    """Bring a device array (CuPy) to host memory; anything else is returned unchanged."""
    if type(array).__module__.split(".")[0] == "cupy":
        return array.get()
    return array


# --- reductions along short rows --------------------------------------------------------------
# numpy reduces along the last axis row by row, at tens of nanoseconds per row, so for the
# narrow matrices of outputs (a few classes, thousands of rows) sum(axis=1) and max(axis=1) cost
# ten times more than a matrix-vector product or a loop over the few columns.


def row_sum(x):
    """Σₖ x[n, k] for every row n, as the product x·1.

    >>> import numpy as np
    >>> row_sum(np.array([[1.0, 2.0], [3.0, 4.0]]))
    array([3., 7.])
    """
    if type(x) is np.ndarray:
        return x @ _ones(x.shape[1], x.dtype)
    return x @ np.ones_like(x, shape=(x.shape[1],))  # CuPy: the ones on its device


@functools.lru_cache(maxsize=32)
def _ones(width: int, dtype) -> np.ndarray:
    ones = np.ones(width, dtype)
    ones.flags.writeable = False
    return ones


def row_max(x):
    """maxₖ x[n, k] for every row n (NaN wins, as in ``np.maximum``).

    >>> import numpy as np
    >>> row_max(np.array([[1.0, 5.0, 2.0], [4.0, 3.0, 0.0]]))
    array([5., 4.])
    """
    n, k = x.shape
    if k < 2 or k > min(16, 2 + n // 16):  # one call per column costs more than it saves
        return x.max(axis=1)
    out = np.maximum(x[:, 0], x[:, 1])
    for column in range(2, k):
        np.maximum(out, x[:, column], out=out)
    return out


# --- element-wise work over flat buffers, block by block -------------------------------------

BLOCK = 1 << 16
"""Elements per block: long enough that numpy's per-call cost is small against the work."""


class Blockwise:
    """Run an element-wise kernel over equal-length flat arrays, one block at a time.

    ``run(kernel, arrays, *args)`` calls ``kernel(*blocks, scratch, *args)`` for consecutive
    blocks of ``arrays``, where ``scratch`` is a work array of the block's length. The kernel
    must be element-wise (entry i of every output depends only on entry i of the inputs), so
    the result is bit for bit that of one call over the whole arrays, while the scratch array is
    one block long instead of as long as the buffers. Arrays that are not 1-D numpy arrays (a
    CuPy array, a matrix) get one call.

    >>> import numpy as np
    >>> x = np.arange(5.0)
    >>> def double(x, scratch):
    ...     np.multiply(x, 2, out=scratch)
    ...     x[...] = scratch
    >>> Blockwise().run(double, [x]); x
    array([0., 2., 4., 6., 8.])
    """

    def __init__(self) -> None:
        self._scratch = None

    def __getstate__(self) -> dict:
        return {"_scratch": None}  # a cache: pickles and copies do not carry it

    def run(self, kernel, arrays, *args) -> None:
        first = arrays[0]
        if type(first) is not np.ndarray or first.ndim != 1 or first.shape[0] <= BLOCK:
            kernel(*arrays, self._scratch_like(first, first.shape), *args)
            return
        n = first.shape[0]
        scratch = self._scratch_like(first, (BLOCK,))
        for start in range(0, n, BLOCK):
            stop = min(start + BLOCK, n)
            kernel(*[array[start:stop] for array in arrays], scratch[: stop - start], *args)

    def _scratch_like(self, like, shape: tuple):
        """The cached scratch array, remade when its kind, dtype or shape differs."""
        scratch = self._scratch
        if (
            scratch is None
            or type(scratch) is not type(like)
            or scratch.dtype != like.dtype
            or scratch.shape != shape
        ):
            xp = array_module(type(like).__module__.split(".")[0])
            scratch = self._scratch = xp.empty(shape, like.dtype)
        return scratch
