"""``CupyBackend``: the engine and the training loop on an NVIDIA GPU, through CuPy.

The delta rule runs unchanged: the plain forms of ``Backend`` suit CuPy, whose arrays and
functions mirror numpy's. What differs from the CPU:

* arrays live on the GPU; ``asarray`` copies host data there and ``to_host`` back
  (``cupy.asnumpy``);
* scalars (the loss, norms) stay on the device until the loop reads them, and the loss is read
  once per epoch (``loss_log_rows = None``), so the host never waits in the middle of an epoch;
* each optimiser update is one fused ``cupy.ElementwiseKernel`` over the flat buffers
  (``kernels.KERNELS``), compiled on first use and kept per dtype;
* shuffles and dropout masks are drawn on the GPU by cuRAND (Philox), reseeded for every draw
  from the network's numpy generator. The generator itself stays on the host: initial weights
  are drawn there as on the CPU (the same seed gives the same network on either device), and
  its state is plain data that checkpoints store and restore.

CuPy is imported by ``device_backend``, never when this module is imported.

Precision and launches: float32 products run in float32 unless TF32 is asked for
(``precision.set_tf32`` or ``with tf32():``, or ``CUPY_TF32=1`` in the environment); there is
no bfloat16 dtype (``DTYPES``); each step is launched kernel by kernel, not replayed as a CUDA
graph, though it reads nothing back to the host (``tests/test_backend_seams.py``).
"""

from __future__ import annotations

import contextlib

import numpy as np

from ..engine.backend import Backend, ScratchCache, device_backend
from .kernels import KERNELS

_FLOAT_NAMES = ("float32", "float64")


class CupyBackend(Backend):
    """CuPy on GPU ``index`` (``device="cuda:index"``)."""

    loss_log_rows = None

    def __init__(self, cupy, index: int = 0) -> None:
        super().__init__(cupy, "cupy" if index == 0 else f"cupy:{index}")
        self.index = index
        self.device = f"cuda:{index}"
        self._kernels: dict = {}
        self._random = None

    def __reduce__(self):
        return _backend_of_gpu, (self.index,)

    def __getattr__(self, attribute: str):
        value = super().__getattr__(attribute)
        if self.index != 0 and callable(value) and not isinstance(value, type):
            value = _on_device(self.module, self.index, value)
            setattr(self, attribute, value)
        return value

    def _on_this_device(self):
        if self.index == 0:
            return contextlib.nullcontext()
        return self.module.cuda.Device(self.index)

    # -- arrays crossing between host and device ----------------------------------------------
    def owns(self, array) -> bool:
        return isinstance(array, self.module.ndarray) and array.device.id == self.index

    def asarray(self, host_array, dtype=None):
        with self._on_this_device():
            return self.module.asarray(host_array, dtype=dtype)

    def to_host(self, array) -> np.ndarray:
        return self.module.asnumpy(array)

    def errstate(self, **settings):
        """The training loop runs inside this: on GPU ``index`` (CuPy has no error settings)."""
        return self._on_this_device()

    # -- random numbers on the device ----------------------------------------------------------
    def permutation(self, rng, n: int):
        return self._device_random(rng).permutation(int(n))  # cuRAND draws, argsort on the GPU

    def uniform_into(self, rng, out) -> None:
        out[...] = self._device_random(rng).random_sample(out.shape, dtype=out.dtype)

    def _device_random(self, rng):
        """cuRAND's Philox generator, reseeded from the host generator ``rng``: the device's
        numbers then follow from the host generator's state alone."""
        with self._on_this_device():
            if self._random is None:
                philox = self.module.cuda.curand.CURAND_RNG_PSEUDO_PHILOX4_32_10
                self._random = self.module.random.RandomState(np.uint64(0), method=philox)
            # CuPy takes a uint64 seed (it refuses a Python int's int64 as unsafe to cast)
            self._random.seed(rng.integers(0, 2**64, dtype=np.uint64))
        return self._random

    # -- the optimiser updates -----------------------------------------------------------------
    def elementwise(self, name: str, kernel, arrays, constants, cache: ScratchCache) -> None:
        compiled = self._kernel(name) if self._fusable(arrays) else None
        if compiled is None:
            super().elementwise(name, kernel, arrays, constants, cache)
            return
        params, grads, *state = arrays
        scalar = arrays[0].dtype.type  # the constants in the buffers' dtype
        with self._on_this_device():
            compiled(grads, *(scalar(c) for c in constants), params, *state)

    def _kernel(self, name: str):
        """The compiled ``cupy.ElementwiseKernel`` called ``name``, or ``None`` for an update
        that has no CUDA form (it runs as the plain kernels)."""
        if name not in self._kernels:
            source = KERNELS.get(name)
            self._kernels[name] = (
                None
                if source is None
                else self.module.ElementwiseKernel(
                    source.in_params(),
                    source.out_params(),
                    source.operation,
                    f"backprop_{name}_step",
                )
            )
        return self._kernels[name]

    def _fusable(self, arrays) -> bool:
        """True for 1-D contiguous arrays of this backend, of one float dtype and length."""
        first = arrays[0]
        if not self.owns(first) or first.ndim != 1 or first.dtype.name not in _FLOAT_NAMES:
            return False
        return all(
            self.owns(array)
            and array.dtype == first.dtype
            and array.shape == first.shape
            and array.flags.c_contiguous
            for array in arrays
        )


def _backend_of_gpu(index: int) -> Backend:
    """The backend of GPU ``index`` in this process (for unpickling)."""
    return device_backend(f"cuda:{index}")


def _on_device(cupy, index: int, function):
    """``function`` called with GPU ``index`` as CuPy's current device."""

    def call(*args, **kwargs):
        with cupy.cuda.Device(index):
            return function(*args, **kwargs)

    call.__name__ = getattr(function, "__name__", "call")
    return call
