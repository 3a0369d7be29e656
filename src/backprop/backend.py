"""The array module and the dtype policy.

All array math in the engine goes through one handle, ``xp``: numpy by default, CuPy when a
network is placed on a GPU. Code takes the handle from the network (``net.xp``) instead of
importing numpy for arithmetic, so the same lines run on either device.

>>> from backprop.backend import resolve_dtype
>>> resolve_dtype("float32")
dtype('float32')
"""

from __future__ import annotations

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
