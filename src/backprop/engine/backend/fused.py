"""Optimiser steps compiled into one loop each (numba, the optional ``[fast]`` extra).

numpy runs an update such as Adam's as a dozen whole-array calls, each one reading and writing
the flat buffers again; for a network of half a million parameters that costs more than a
quarter of a training step. Compiled, the same step is one pass: entry i of every buffer is
read once, updated, and written once. The loops below are the numpy kernels of
``optimizers.py`` written out per entry, with the same folded constants, so both paths compute
the same update up to rounding.

They are used when numba is installed (``pip install 'backprop[fast]'``) and the buffers are
1-D contiguous numpy arrays of one float dtype; anything else (CuPy, numba missing or failing
to import, ``BACKPROP_NUMBA=0`` in the environment) keeps the numpy kernels. numba compiles a
kernel on its first use for each dtype and caches the machine code on disk.

>>> import numpy as np
>>> from backprop.engine.backend import fused
>>> params, grads = np.ones(3, np.float32), np.full(3, 0.5, np.float32)
>>> step = fused.compiled("sgd")
>>> if step is not None:  # numba installed
...     step(params, grads, np.array([0.1], np.float32))  # θ ← θ − lr·g, lr = 0.1
...     assert np.allclose(params, 0.95)
"""

from __future__ import annotations

import math
import os

import numpy as np

_kernels: dict | None = None


def enabled() -> bool:
    """True when the compiled kernels can be used: numba imports and ``BACKPROP_NUMBA`` != 0."""
    return not _turned_off() and bool(_load())


def _turned_off() -> bool:
    return os.environ.get("BACKPROP_NUMBA", "1").strip() == "0"


def compiled(name: str):
    """The compiled kernel called ``name`` (``"adam"``, ``"sgd"``, ...), or ``None``."""
    return None if _turned_off() else _load().get(name)


def kernel_for(name: str, arrays):
    """``compiled(name)`` where it can update ``arrays`` (see ``accepts``), else ``None``."""
    return compiled(name) if accepts(arrays) else None


def describe() -> str:
    """Which optimiser kernels run, in words (for ``backprop --version``)."""
    if _turned_off():
        return "numpy (BACKPROP_NUMBA=0)"
    if not _load():
        return "numpy (pip install 'backprop[fast]' for compiled updates)"
    import numba

    return f"compiled by numba {numba.__version__}"


def accepts(arrays) -> bool:
    """True for writeable 1-D contiguous numpy arrays of one float dtype and one length."""
    first = arrays[0]
    if type(first) is not np.ndarray or first.ndim != 1 or first.dtype not in _FLOATS:
        return False
    dtype, shape = first.dtype, first.shape
    for array in arrays:
        if type(array) is not np.ndarray or array.dtype != dtype or array.shape != shape:
            return False
        flags = array.flags
        if not (flags.c_contiguous and flags.writeable):
            return False
    return True


_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def _load() -> dict:
    """Compile-on-demand dispatchers for every kernel; empty when numba is unavailable."""
    global _kernels
    if _kernels is None:
        try:
            import numba
        except Exception:  # not installed, or built for another numpy
            _kernels = {}
        else:
            _kernels = {name: _jit(numba, kernel) for name, kernel in _KERNELS.items()}
    return _kernels


def _jit(numba, kernel):
    """numba's dispatcher for ``kernel``, caching its machine code on disk where it can."""
    options = {"error_model": "numpy", "nogil": True}  # numpy's model: no checks in the loop
    try:
        return numba.njit(cache=True, **options)(kernel)
    except RuntimeError:  # no writable cache directory: compile in every process instead
        return numba.njit(**options)(kernel)


# Each kernel updates its arrays in place, entry by entry, with the arguments of its numpy twin
# less the scratch array. The scalars arrive together as one small array of the buffers' dtype:
# so float32 buffers are updated in float32 arithmetic, as numpy does, and numba types one array
# argument much faster than six scalars, which matters for small networks. 1 − β arrives
# computed, as rounding it from a float32 β would be off by up to 5e-5 relative for β = 0.999.


def _sgd(params, grads, constants):
    (lr,) = constants
    for i in range(params.shape[0]):
        params[i] -= lr * grads[i]  # θ ← θ − lr·g


def _momentum(params, grads, velocity, constants):
    lr, mu = constants
    for i in range(params.shape[0]):
        v = mu * velocity[i] + grads[i]  # v ← μ·v + g
        velocity[i] = v
        params[i] -= lr * v  # θ ← θ − lr·v


def _nesterov(params, grads, velocity, constants):
    lr, mu = constants
    for i in range(params.shape[0]):
        g = grads[i]
        v = mu * velocity[i] + g  # v ← μ·v + g
        velocity[i] = v
        params[i] -= lr * (g + mu * v)  # θ ← θ − lr·(g + μ·v)


def _adam(params, grads, m, v, constants):
    beta_1, rest_1, beta_2, rest_2, eps_c, step_c = constants
    for i in range(params.shape[0]):
        g = grads[i]
        m_i = beta_1 * m[i] + rest_1 * g  # m ← β₁·m + (1 − β₁)·g
        v_i = beta_2 * v[i] + rest_2 * (g * g)  # v ← β₂·v + (1 − β₂)·g²
        m[i] = m_i
        v[i] = v_i
        params[i] -= step_c * (m_i / (math.sqrt(v_i) + eps_c))  # θ ← θ − lr_t·c·m / (√v + ε·c)


def _rmsprop(params, grads, v, constants):
    lr, rho, rest, epsilon = constants
    for i in range(params.shape[0]):
        g = grads[i]
        v_i = rho * v[i] + rest * (g * g)  # v ← ρ·v + (1 − ρ)·g²
        v[i] = v_i
        params[i] -= lr * (g / (math.sqrt(v_i) + epsilon))  # θ ← θ − lr·g / (√v + ε)


def _adagrad(params, grads, G, constants):
    lr, epsilon = constants
    for i in range(params.shape[0]):
        g = grads[i]
        G_i = G[i] + g * g  # G ← G + g²
        G[i] = G_i
        params[i] -= lr * (g / (math.sqrt(G_i) + epsilon))  # θ ← θ − lr·g / (√G + ε)


_KERNELS = {
    "sgd": _sgd,
    "momentum": _momentum,
    "nesterov": _nesterov,
    "adam": _adam,
    "rmsprop": _rmsprop,
    "adagrad": _adagrad,
}
