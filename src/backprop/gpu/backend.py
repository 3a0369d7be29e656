"""``CupyBackend``: the engine and the training loop on an NVIDIA GPU, through CuPy.

The delta rule runs unchanged: the plain forms of ``Backend`` suit CuPy, whose arrays and
functions mirror numpy's. What differs from the CPU:

* arrays live on the GPU; ``asarray`` copies host data there and ``to_host`` back
  (``cupy.asnumpy``);
* scalars (the loss, norms) stay on the device until the loop reads them, and the loss is read
  once per epoch (``loss_log_rows = None``), so the host never waits in the middle of an epoch;
* each optimiser update is one fused ``cupy.ElementwiseKernel`` over the flat buffers
  (``kernels.KERNELS``), compiled on first use and kept per dtype;
* a layer's element-wise work is one kernel each way (``layer_kernels``): zˡ += bˡ with
  aˡ = f(zˡ) going forward, δˡ = f'(zˡ) ⊙ ∂E/∂aˡ with sₙδˡₙ coming back;
* shuffles and dropout masks are drawn on the GPU by cuRAND (Philox), reseeded for every draw
  from the network's numpy generator. The generator itself stays on the host: initial weights
  are drawn there as on the CPU (the same seed gives the same network on either device), and
  its state is plain data that checkpoints store and restore.

CuPy is imported by ``device_backend``, never when this module is imported.

* training data larger than half the GPU's free memory stays in host memory and is copied
  over a chunk at a time, the copies overlapping the steps (``streaming``);
* matrix products call cuBLAS directly (``blas.Cublas``), which CuPy does not allow while a
  stream is captured, and norms and the softmax derivative's row sums are reduction kernels
  rather than cuBLAS's dot or ``cupy.einsum`` (which calls cuBLAS), so that the
  training step can be captured whole as a CUDA graph (``graphs.GraphedStep``, which
  ``wrap_step`` puts around it). Where cuBLAS cannot be called directly, products go through
  ``cupy.matmul`` and steps are not captured.

Precision: float32 products run in float32 unless TF32 is asked for (``precision.set_tf32`` or
``with tf32():``, or ``CUPY_TF32=1`` in the environment); there is no bfloat16 dtype
(``DTYPES``).
"""

from __future__ import annotations

import contextlib
import threading

import numpy as np

from ..engine.backend import Backend, ScratchCache, device_backend
from . import blas, streaming
from .graphs import GraphedStep, cuda_graphs_enabled
from .kernels import KERNELS
from .layer_kernels import LayerKernels, fused_layers_enabled
from .precision import float32_products
from .switches import temporarily

_FLOAT_NAMES = ("float32", "float64")


class CupyBackend(Backend):
    """CuPy on GPU ``index`` (``device="cuda:index"``)."""

    loss_log_rows = None

    def __init__(self, cupy, index: int = 0) -> None:
        super().__init__(cupy, "cupy" if index == 0 else f"cupy:{index}")
        self.index = index
        self.device = f"cuda:{index}"
        self._kernels: dict = {}
        self._layer_kernels = LayerKernels(cupy)
        self._random = None
        self._blas = None  # blas.Cublas, or why cuBLAS cannot be called directly
        # per thread: the optimiser constants' list while recording them (``recorded``), and
        # the captured kernels' constant buffers in the graph's form (``slots``)
        self._mode = threading.local()

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
        if getattr(self._mode, "slots", None) is not None:
            return  # in the graph's form the masks are drawn before the step (graphs.py)
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

    # -- products and norms that a captured stream allows --------------------------------------
    def matmul(self, a, b, out=None):
        """``a @ b`` (into ``out``) by cuBLAS called directly where it can be, else
        ``cupy.matmul``: the same call whether or not a graph is being captured."""
        cublas = self._direct_blas()
        if cublas is not None and self.owns(a) and self.owns(b):
            with self._on_this_device():
                product = cublas.matmul(a, b, out)
            if product is not None:
                return product
        with self._on_this_device():
            return self.module.matmul(a, b, out=out)

    def squared_norm(self, x):
        """Σ x², one reduction kernel (cuBLAS's dot cannot be captured through CuPy)."""
        with self._on_this_device():
            return self._sum_of("squared_norm", "T x", "x * x")(x)

    def row_dot(self, x, y):
        """Σₖ x[n, k]·y[n, k] for every row n, one reduction kernel (``cupy.einsum`` calls
        cuBLAS, which cannot be captured through CuPy)."""
        with self._on_this_device():
            return self._sum_of("row_dot", "T x, T y", "x * y")(x, y, axis=1)

    def _sum_of(self, name: str, in_params: str, map_expr: str):
        """The compiled ``cupy.ReductionKernel`` summing ``map_expr`` of ``in_params``."""
        kernel = self._kernels.get(name)
        if kernel is None:
            kernel = self._kernels[name] = self.module.ReductionKernel(
                in_params, "T total", map_expr, "a + b", "total = a", "0", f"backprop_{name}"
            )
        return kernel

    def global_norm(self, x):
        return self.module.sqrt(self.squared_norm(x))

    def _direct_blas(self):
        if self._blas is None:
            with self._on_this_device():
                self._blas = blas.direct_blas(self.module)
        return None if isinstance(self._blas, str) else self._blas

    # -- training data larger than the GPU's memory ------------------------------------------
    def streams(self, nbytes: int) -> bool:
        with self._on_this_device():
            return streaming.streams(self.module, nbytes)

    def stream_batches(self, data, size: int):
        """``streaming.StreamedBatches`` for inputs and targets left in host memory."""
        if self.owns(data.X):
            return None
        with self._on_this_device():
            return streaming.StreamedBatches(self, data, size)

    # -- the training step as a CUDA graph ----------------------------------------------------
    def wrap_step(self, step):
        """``step`` with its full batches replayed from a CUDA graph (``graphs.GraphedStep``),
        unless graphs are off or the step reduces gradients across processes."""
        if not cuda_graphs_enabled() or getattr(step, "reduce_gradients", True) is not None:
            return step
        return GraphedStep(step)

    def graph_refusal(self) -> str | None:
        """Why this GPU's steps cannot be captured, or ``None`` when they can."""
        self._direct_blas()
        return self._blas if isinstance(self._blas, str) else None

    def graph_key(self) -> tuple:
        """The settings a captured graph holds fixed besides the step's own: how float32
        products run (``precision.float32_products``), and whether layers run their fused
        kernels."""
        return float32_products(self.module), fused_layers_enabled()

    @contextlib.contextmanager
    def recording_constants(self):
        """Within the block the optimiser's updates launch nothing: the constants each would
        pass to its kernel are appended to the list the block is given."""
        recorded: list = []
        with self._in_mode("recorded", recorded):
            yield recorded

    def in_graph_form(self, slots):
        """Within the block the optimiser's kernels read their constants from ``slots``
        (``graphs.Slots``) and dropout masks are taken as already drawn."""
        return self._in_mode("slots", slots)

    def _in_mode(self, mode: str, value):
        """This thread's ``mode`` (``recorded`` or ``slots``) set to ``value`` within a block."""
        return temporarily(
            lambda: getattr(self._mode, mode, None),
            lambda new: setattr(self._mode, mode, new),
            value,
        )

    # -- a layer's element-wise work as one kernel ----------------------------------------------
    def layer_kernel(self, kind: str, activation, width: int | None = None):
        """The layer's fused kernel of ``kind`` (``layer_kernels``), or ``None`` where the
        activation has no CUDA form or the fusion is off."""
        kernel = self._layer_kernels.get(kind, activation, width)
        if kernel is None or self.index == 0:
            return kernel
        return _on_device(self.module, self.index, kernel)

    # -- the optimiser updates -----------------------------------------------------------------
    def elementwise(self, name: str, kernel, arrays, constants, cache: ScratchCache) -> None:
        recorded = getattr(self._mode, "recorded", None)
        slots = getattr(self._mode, "slots", None)
        if recorded is not None:
            recorded.append(tuple(constants))
            return
        from_buffer = slots is not None
        compiled = self._kernel(name, from_buffer) if self._fusable(arrays) else None
        if compiled is None:
            if from_buffer:
                raise RuntimeError(f"the {name} update has no kernel that a graph can replay")
            super().elementwise(name, kernel, arrays, constants, cache)
            return
        params, grads, *state = arrays
        if from_buffer:
            inputs = (slots.next(len(constants)),)
        else:
            scalar = arrays[0].dtype.type  # the constants in the buffers' dtype
            inputs = tuple(scalar(c) for c in constants)
        with self._on_this_device():
            compiled(grads, *inputs, params, *state)

    def _kernel(self, name: str, from_buffer: bool = False):
        """The compiled ``cupy.ElementwiseKernel`` called ``name`` (its form reading the
        constants from a buffer, with ``from_buffer``), or ``None`` for an update that has no
        CUDA form (it runs as the plain kernels)."""
        key = (name, from_buffer)
        if key not in self._kernels:
            source = KERNELS.get(name)
            self._kernels[key] = (
                None
                if source is None
                else self.module.ElementwiseKernel(
                    source.in_params_from_buffer() if from_buffer else source.in_params(),
                    source.out_params(),
                    source.operation_from_buffer() if from_buffer else source.operation,
                    f"backprop_{name}_step" + ("_from_buffer" if from_buffer else ""),
                )
            )
        return self._kernels[key]

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
