"""Training on NVIDIA GPUs through CuPy (the ``[gpu]`` extra): ``device="cuda"``.

``bp.Network(..., device="cuda")``, ``net.to("cuda")`` and ``bp.load(path, device="cuda")``
find this package through the engine's table of optional devices
(``backprop.engine.backend.devices``); it imports CuPy only then. ``device_backend(index)``
returns the backend of GPU ``index``, made once and registered by name (``"cupy"`` for GPU 0,
``"cupy:N"`` after), or raises ``DeviceUnavailable`` saying what is missing. ``set_tf32`` and
``with tf32():`` opt into TF32 products for float32 networks, ``set_bf16`` and ``with bf16():``
into bfloat16 products with float32 weights (``precision``);
``set_cuda_graphs`` and ``with cuda_graphs(False):`` turn off the replay of the training step
from a CUDA graph (``graphs``), and ``set_fused_layers`` and ``with fused_layers(False):`` the
kernels that do a layer's element-wise work in one pass each way (``layer_kernels``), both on
by default; training data larger than half the
GPU's free memory (or than ``set_stream_limit`` says) is streamed from host memory
(``streaming``).

>>> from backprop.gpu import KERNELS
>>> KERNELS["sgd"].operation
'p -= lr * g;'
"""

from __future__ import annotations

from ..engine.backend import DeviceUnavailable, get_backend, register_backend
from .backend import CupyBackend
from .graphs import cuda_graphs, cuda_graphs_enabled, set_cuda_graphs
from .kernels import KERNELS
from .layer_kernels import fused_layers, fused_layers_enabled, set_fused_layers
from .precision import bf16, bf16_enabled, set_bf16, set_tf32, tf32, tf32_enabled
from .streaming import set_stream_limit, stream_limit, streaming_above

__all__ = [
    "KERNELS",
    "CupyBackend",
    "bf16",
    "bf16_enabled",
    "cuda_graphs",
    "cuda_graphs_enabled",
    "device_backend",
    "fused_layers",
    "fused_layers_enabled",
    "set_bf16",
    "set_cuda_graphs",
    "set_fused_layers",
    "set_stream_limit",
    "set_tf32",
    "stream_limit",
    "streaming_above",
    "tf32",
    "tf32_enabled",
]

INSTALL = 'pip install "backprop[gpu]"'


def device_backend(index: int = 0) -> CupyBackend:
    """The backend of GPU ``index``. Raises ``ImportError`` without CuPy (the engine turns it
    into ``DeviceUnavailable`` with the install line), and ``DeviceUnavailable`` when CuPy
    cannot load or finds no such GPU."""
    name = "cupy" if index == 0 else f"cupy:{index}"
    try:
        return get_backend(name)
    except ValueError:
        pass
    cupy = _import_cupy()
    count = _device_count(cupy)
    where = "cuda" if index == 0 else f"cuda:{index}"
    if count == 0:
        raise DeviceUnavailable(
            f"device={where!r}: no CUDA GPU was found (CuPy {cupy.__version__} is installed)"
        )
    if index >= count:
        raise DeviceUnavailable(
            f"device={where!r}: there is no GPU {index}; this machine has {count} "
            f"(cuda:0 to cuda:{count - 1})"
        )
    return register_backend(CupyBackend(cupy, index))


def _import_cupy():
    try:
        import cupy
    except ImportError:
        raise
    except Exception as error:  # installed, but its CUDA libraries failed to load
        raise DeviceUnavailable(
            f"CuPy is installed but cannot load ({type(error).__name__}: {error}); "
            f"install the cupy-cuda package matching this machine's CUDA: {INSTALL}"
        ) from None
    return cupy


def _device_count(cupy) -> int:
    """The number of CUDA GPUs; 0 where the driver is missing or sees none."""
    try:
        return int(cupy.cuda.runtime.getDeviceCount())
    except Exception:  # CUDARuntimeError: no driver, or cudaErrorNoDevice
        return 0
