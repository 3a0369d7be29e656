"""A backend that stands in for a GPU on the CPU: it computes with numpy, but its arrays refuse
every numpy function called on them from outside the backend, refuse to be mixed with host
arrays, and count every value the host reads back.

The engine and the training loop must reach every array operation through ``net.xp``; a call
that bypasses it (``np.exp(z)`` where ``xp.exp(z)`` was meant) raises ``BypassError`` here,
as CuPy would fail on it on a real GPU.
"""

from __future__ import annotations

import functools
import threading

import numpy as np

from backprop.engine.backend import Backend, register_backend


class BypassError(AssertionError):
    """An array operation went around the backend."""


_inside = threading.local()
HOST_READS = {"count": 0}


def _depth() -> int:
    return getattr(_inside, "depth", 0)


class _Allowed:
    def __enter__(self):
        _inside.depth = _depth() + 1

    def __exit__(self, *exc):
        _inside.depth -= 1


def _plain(value):
    return value.view(np.ndarray) if isinstance(value, DeviceArray) else value


def _device(value):
    if isinstance(value, np.ndarray) and not isinstance(value, DeviceArray):
        return value.view(DeviceArray)
    if isinstance(value, np.generic):
        return np.asarray(value).view(DeviceArray)  # a 0-d array, as CuPy returns
    if isinstance(value, tuple):
        return tuple(_device(item) for item in value)
    return value


def _refuse_host_arrays(values, what) -> None:
    for value in values:
        if isinstance(value, (list, tuple)):
            _refuse_host_arrays(value, what)
        elif isinstance(value, np.ndarray) and not isinstance(value, DeviceArray):
            raise BypassError(f"{what}: a host (numpy) array mixed with device arrays")


class DeviceArray(np.ndarray):
    """numpy's array, but numpy's functions work on it only when called through the backend."""

    def __array_ufunc__(self, ufunc, method, *inputs, out=None, **kwargs):
        if not _depth():
            raise BypassError(f"numpy ufunc {ufunc.__name__} called on a device array")
        if out is not None:
            kwargs["out"] = tuple(_plain(o) for o in out)
        result = getattr(ufunc, method)(*(_plain(x) for x in inputs), **kwargs)
        if out is not None:
            return out[0] if len(out) == 1 else out
        return _device(result)

    def __array_function__(self, func, types, args, kwargs):
        if not _depth():
            raise BypassError(f"numpy function {func.__name__} called on a device array")
        with _Allowed():
            return _device(super().__array_function__(func, types, args, kwargs))

    # -- reading values back: what a GPU makes the host wait for -------------------------------
    def __float__(self):
        HOST_READS["count"] += 1
        return float(self.view(np.ndarray))

    def __int__(self):
        HOST_READS["count"] += 1
        return int(self.view(np.ndarray))

    def __bool__(self):
        HOST_READS["count"] += 1
        return bool(self.view(np.ndarray))

    def item(self, *args):
        HOST_READS["count"] += 1
        return self.view(np.ndarray).item(*args)

    def tolist(self):
        HOST_READS["count"] += 1
        return self.view(np.ndarray).tolist()


def _through_the_backend(method, check_arguments=True):
    @functools.wraps(method)
    def call(self, *args, **kwargs):
        if check_arguments:
            _refuse_host_arrays([*args, *kwargs.values()], method.__name__)
        with _Allowed():
            return _device(method(self, *args, **kwargs))

    return call


# Operators and methods are what a device array offers too (CuPy's have them all).
for _name in [
    "__add__",
    "__radd__",
    "__iadd__",
    "__sub__",
    "__rsub__",
    "__isub__",
    "__mul__",
    "__rmul__",
    "__imul__",
    "__truediv__",
    "__rtruediv__",
    "__itruediv__",
    "__pow__",
    "__rpow__",
    "__matmul__",
    "__rmatmul__",
    "__neg__",
    "__abs__",
    "__lt__",
    "__le__",
    "__gt__",
    "__ge__",
    "__eq__",
    "__ne__",
    "__and__",
    "__or__",
    "__invert__",
    "sum",
    "mean",
    "max",
    "min",
    "argmax",
    "argmin",
    "all",
    "any",
    "copy",
    "astype",
    "reshape",
    "ravel",
    "fill",
    "nonzero",
    "dot",
    "clip",
]:
    setattr(DeviceArray, _name, _through_the_backend(getattr(np.ndarray, _name)))
for _name in ("__getitem__", "__repr__", "__str__", "__format__"):
    setattr(DeviceArray, _name, _through_the_backend(getattr(np.ndarray, _name), False))


def _setitem(self, key, value):
    _refuse_host_arrays([value], "assignment into a device array")
    with _Allowed():
        np.ndarray.__setitem__(self, key, value)


DeviceArray.__setitem__ = _setitem


class _Module:
    """numpy's namespace, each function run inside the backend and returning device arrays."""

    def __getattr__(self, name: str):
        value = getattr(np, name)
        if isinstance(value, type) or not callable(value):
            return value

        @functools.wraps(value)
        def call(*args, **kwargs):
            _refuse_host_arrays([*args, *kwargs.values()], name)
            with _Allowed():
                return _device(value(*args, **kwargs))

        return call


class StrictBackend(Backend):
    """The plain backend over ``_Module``: the code path a GPU array library takes."""

    name = "strict"

    def __init__(self) -> None:
        super().__init__(_Module(), "strict")

    def owns(self, array) -> bool:
        return isinstance(array, DeviceArray)

    def asarray(self, host_array, dtype=None):
        if isinstance(host_array, DeviceArray):
            return host_array if dtype is None else host_array.astype(dtype)
        return np.array(host_array, dtype=dtype, copy=True).view(DeviceArray)

    def to_host(self, array) -> np.ndarray:
        HOST_READS["count"] += 1
        return np.array(array.view(np.ndarray), copy=True)


STRICT = register_backend(StrictBackend())
