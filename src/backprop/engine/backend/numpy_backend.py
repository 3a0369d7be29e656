"""The CPU backend: numpy, with the tuning that pays on a CPU.

numpy's cost per call (about a microsecond) is large against the work of a small network, and
its loops differ in speed by shape and size, so the forms below were measured and chosen:

* row reductions over the few columns of an output layer as a matrix-vector product or a loop
  over columns, not ``sum(axis=1)`` / ``max(axis=1)`` (ten times slower for thousands of
  narrow rows);
* the ReLU's max(z, 0) as ``clip`` on large arrays (vectorised) and ``maximum`` on small ones
  (cheaper to call), and its indicator as ``sign`` on small arrays, ``greater`` on large ones;
* row gathers through ``take(..., mode="clip")``, which writes straight into the batch buffer;
* optimiser updates as one compiled pass per step when numba is installed (``fused``), else as
  numpy ufuncs run block by block, so their scratch array is one block long;
* the training loss read every ``loss_log_rows`` rows (reading costs nothing on a CPU, and a
  diverging run stops sooner).

>>> import numpy as np
>>> from backprop.engine.backend import NUMPY
>>> NUMPY.row_max(np.array([[1.0, 5.0, 2.0], [4.0, 3.0, 0.0]]))
array([5., 4.])
"""

from __future__ import annotations

import functools
import math

import numpy as np

from . import fused
from .base import Backend, ScratchCache

BLOCK = 1 << 16
"""Elements per block: long enough that numpy's per-call cost is small against the work."""


def row_sum(x):
    """Σₖ x[n, k] for every row n, as the product x·1.

    >>> row_sum(np.array([[1.0, 2.0], [3.0, 4.0]]))
    array([3., 7.])
    """
    return x @ _ones(x.shape[1], x.dtype)


@functools.lru_cache(maxsize=32)
def _ones(width: int, dtype) -> np.ndarray:
    ones = np.ones(width, dtype)
    ones.flags.writeable = False
    return ones


def row_max(x):
    """maxₖ x[n, k] for every row n (NaN wins, as in ``np.maximum``).

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


class Blockwise:
    """Run an element-wise kernel over equal-length flat arrays, one block at a time.

    ``run(kernel, arrays, *args)`` calls ``kernel(*blocks, scratch, *args)`` for consecutive
    blocks of ``arrays``, where ``scratch`` is a work array of the block's length. The kernel
    must be element-wise (entry i of every output depends only on entry i of the inputs), so
    the result is bit for bit that of one call over the whole arrays, while the scratch array is
    one block long instead of as long as the buffers. Arrays that are not 1-D get one call.

    >>> x = np.arange(5.0)
    >>> def double(x, scratch):
    ...     np.multiply(x, 2, out=scratch)
    ...     x[...] = scratch
    >>> Blockwise().run(double, [x]); x
    array([0., 2., 4., 6., 8.])
    """

    def __init__(self, cache: ScratchCache | None = None) -> None:
        self.cache = ScratchCache() if cache is None else cache

    def run(self, kernel, arrays, *args) -> None:
        first = arrays[0]
        if first.ndim != 1 or first.shape[0] <= BLOCK:
            kernel(*arrays, self.cache.get(NUMPY, first.shape, first.dtype), *args)
            return
        n = first.shape[0]
        scratch = self.cache.get(NUMPY, (BLOCK,), first.dtype)
        for start in range(0, n, BLOCK):
            stop = min(start + BLOCK, n)
            kernel(*[array[start:stop] for array in arrays], scratch[: stop - start], *args)


class NumpyBackend(Backend):
    """numpy on the CPU, with the forms measured fastest there (see the module docstring)."""

    name = "numpy"
    loss_log_rows = 4096

    def __init__(self) -> None:
        super().__init__(np, "numpy")

    def owns(self, array) -> bool:
        return isinstance(array, np.ndarray)

    def asarray(self, host_array, dtype=None):
        return np.asarray(host_array, dtype=dtype)

    def to_host(self, array) -> np.ndarray:
        return np.asarray(array)

    def errstate(self, **settings):
        return np.errstate(**settings)

    def permutation(self, rng, n: int):
        return rng.permutation(n)

    def uniform_into(self, rng, out) -> None:
        rng.random(dtype=out.dtype, out=out)

    def row_sum(self, x):
        return row_sum(x)

    def row_max(self, x):
        return row_max(x)

    def positive_part(self, z, out) -> None:
        # clip with two bounds has a vectorised loop and maximum against a scalar does not
        # (three times slower on a 128 x 512 batch); for small arrays maximum's lower call
        # cost wins.
        if z.size >= 8192:
            np.clip(z, 0, np.inf, out=out)
        else:
            np.maximum(z, 0, out=out)

    def positive_indicator(self, a, out) -> None:
        # For a ≥ 0, [a > 0] is sign(a): numpy's cheaper call on small arrays (greater is
        # vectorised, sign is not). sign passes a NaN on; greater is used on large arrays.
        if a.size < 2048:
            np.sign(a, out=out)
        else:
            np.greater(a, 0, out=out)

    def gather_rows(self, source, rows, out) -> None:
        # mode="clip" lets numpy write straight into the buffer; "raise" gathers via a temporary
        np.take(source, rows, axis=0, out=out, mode="clip")

    def scalar(self, value) -> float:
        return float(value)  # reading a value costs nothing on the CPU

    def global_norm(self, x) -> float:
        norm = math.sqrt(float(np.vdot(x, x)))
        if math.isinf(norm):
            # The sum of squares can overflow though every entry is finite (in float32 once the
            # norm passes ~1.8e19); rescaling by the largest entry costs a temporary, but only
            # here.
            peak = float(np.max(np.abs(x)))
            if math.isfinite(peak) and peak > 0:
                scaled = x / peak
                norm = peak * math.sqrt(float(np.vdot(scaled, scaled)))
        return norm

    def clip_to_norm(self, x, max_norm: float) -> float:
        norm = self.global_norm(x)
        if math.isfinite(norm) and norm > max_norm:
            x *= max_norm / norm
        return norm

    def elementwise(self, name: str, kernel, arrays, constants, cache: ScratchCache) -> None:
        compiled = fused.kernel_for(name, arrays)  # only ever for writeable buffers
        if compiled is not None:  # the constants in the buffers' dtype: float32 stays float32
            compiled(*arrays, np.array(constants, dtype=arrays[0].dtype))
            return
        Blockwise(cache).run(functools.partial(kernel, self), arrays, *constants)


NUMPY = NumpyBackend()
"""The shared numpy backend, the default of every network."""
