"""The backend: the array module a network computes with, chosen per network.

Every array operation of the engine and the training loop goes through one object, the
network's backend (``net.backend``, also ``net.xp``). It forwards the array module's functions
(``xp.matmul``, ``xp.exp``, ``xp.empty``, ...) and adds the few operations that a device may do
its own way: row reductions, the positive part and its indicator (ReLU), row gathers for
shuffled batches, element-wise optimiser updates over the flat buffers, the global norm, random
numbers, and moving arrays between the host and the device. The same delta rule therefore runs
on any backend; what is tuned for one device (the CPU's size thresholds, block-wise updates,
the numba kernels) lives in that device's backend.

``Backend`` holds the plain forms, written with the array module alone, which suit a GPU
array library such as CuPy; ``NumpyBackend`` (``backprop.engine.backend.numpy_backend``) is
the CPU's. ``get_backend("numpy")`` returns the shared numpy backend; ``register_backend``
adds another; ``backend_for(array)`` finds the backend that owns an array.

>>> import numpy as np
>>> from backprop.engine.backend import get_backend, resolve_dtype
>>> xp = get_backend("numpy")
>>> xp.row_sum(xp.asarray([[1.0, 2.0], [3.0, 4.0]]))
array([3., 7.])
>>> resolve_dtype("float32")
dtype('float32')
"""

from .base import (
    DTYPES,
    Backend,
    ScratchCache,
    backend_for,
    get_backend,
    register_backend,
    resolve_dtype,
)
from .devices import DeviceUnavailable, device_backend
from .numpy_backend import BLOCK, NUMPY, Blockwise, NumpyBackend, row_max, row_sum

register_backend(NUMPY)

__all__ = [
    "BLOCK",
    "DTYPES",
    "NUMPY",
    "Backend",
    "Blockwise",
    "DeviceUnavailable",
    "NumpyBackend",
    "ScratchCache",
    "backend_for",
    "device_backend",
    "get_backend",
    "register_backend",
    "resolve_dtype",
    "row_max",
    "row_sum",
]
