"""TF32 and bfloat16 matrix products on the GPU: opted into, for float32 networks.

TF32 is how NVIDIA's tensor cores (Ampere and newer: compute capability 8.0 and up) multiply
float32 matrices fast: each input of a product is rounded to a 10-bit mantissa (float32 keeps
23; the 8-bit exponent, hence the range, is float32's), and the products are summed in
float32. Each rounding is off by up to 2⁻¹¹ ≈ 4.9e-4 of the value, against float32's 2⁻²⁴ ≈
6e-8, so zˡ = aˡ⁻¹·Wˡᵀ, δˡ·Wˡ and ∂E/∂Wˡ = δˡᵀ·aˡ⁻¹ agree with their float32 values to about
1e-3 relative, not 1e-6. Training is seldom hurt by that (gradient noise from the batch is far
larger), but results are no longer float32's, a gradient check on the GPU fails at float32's
tolerance, and the gain is in large products only (BENCHMARKS.md).

The switch is CuPy's compute type for float32 products, which is one setting for the whole
process, as PyTorch's ``torch.backends.cuda.matmul.allow_tf32`` is: ``set_tf32(True)`` turns
it on for every float32 product on every GPU (the network's and any other CuPy code's), and
``with tf32():`` for a block. float64 networks, the CPU and the element-wise work (activations,
their derivatives, the optimiser's update) are untouched. The environment variable
``CUPY_TF32=1`` turns it on from the start, as CuPy documents. On a GPU::

    import backprop as bp
    import backprop.gpu

    net = bp.Network([1024, 4096, 4096, 10], "relu", "softmax", "cross_entropy", device="cuda")
    with backprop.gpu.tf32():  # float32 products as TF32 in this block only
        net.fit(X, y, batch_size=4096)

bfloat16 (``set_bf16`` or ``with bf16():``) goes further: each input of a product is rounded
to a 7-bit mantissa, off by up to 2⁻⁸ ≈ 3.9e-3 of its value, and the products are summed in
float32, at twice TF32's tensor-core rate. The weights, the gradients, the optimiser's state
and every element-wise step stay float32 (the "master weights"): only the products round. It
is cuBLAS's compute type ``CUBLAS_COMPUTE_32F_FAST_16BF`` on float32 arrays, so nothing is
copied into bfloat16 arrays, and it needs cuBLAS called directly (``blas.Cublas``); it is a
setting of backprop's for the whole process, and while it is on it takes precedence over
TF32. z, δ and ∂E/∂W agree with float32's to about 1e-2 relative.
"""

from __future__ import annotations

import numpy as np

from ..engine.backend import DeviceUnavailable, device_backend
from ..training.settings import check_flags
from .switches import temporarily

TF32_CAPABILITY = 80
"""The least compute capability (major · 10 + minor) whose tensor cores do TF32 and bfloat16:
Ampere."""
_BF16 = {"enabled": False}


def _cupy_core():
    """CuPy's ``_core`` (its compute-type setting and constants), after checking that the GPUs
    are there; ``DeviceUnavailable`` saying what is missing otherwise."""
    cupy = device_backend("cuda").module
    return cupy, cupy._core


def tf32_enabled() -> bool:
    """Whether float32 products on the GPU run as TF32 now."""
    _, core = _cupy_core()
    return _tf32_set(core)


def _tf32_set(core) -> bool:
    return core.get_compute_type(np.float32) == core._routines_linalg.COMPUTE_TYPE_TF32


def float32_products(cupy) -> str:
    """How float32 products run now: ``"bf16"``, ``"tf32"`` or ``"float32"`` (bfloat16 takes
    precedence over TF32). ``cupy`` is the module, imported already."""
    if _BF16["enabled"]:
        return "bf16"
    return "tf32" if _tf32_set(cupy._core) else "float32"


def set_tf32(enabled: bool) -> None:
    """Run every float32 product on the GPU as TF32 (``True``) or in float32 (``False``, the
    default) from now on. Raises ``DeviceUnavailable`` without CuPy or a GPU, or, to turn it
    on, when a GPU is older than Ampere (its products would silently stay float32)."""
    check_flags(enabled=enabled)
    cupy, core = _cupy_core()
    linalg = core._routines_linalg
    if enabled:
        _check_tensor_cores(cupy, "TF32")
    compute_type = linalg.COMPUTE_TYPE_TF32 if enabled else linalg.COMPUTE_TYPE_DEFAULT
    core.set_compute_type(np.float32, compute_type)


def tf32(enabled: bool = True):
    """Float32 products on the GPU as TF32 (or, with ``False``, in float32) within the block;
    the setting before it comes back after, also when the block raises."""
    return temporarily(tf32_enabled, set_tf32, enabled)


def bf16_enabled() -> bool:
    """Whether float32 products on the GPU round their inputs to bfloat16 now."""
    return _BF16["enabled"]


def set_bf16(enabled: bool) -> None:
    """Run every float32 product of backprop's on the GPU with its inputs rounded to bfloat16
    and summed in float32 (``True``), or as float32 or TF32 products say (``False``, the
    default). Raises ``DeviceUnavailable`` without CuPy or a GPU, or, to turn it on, when a GPU
    is older than Ampere or cuBLAS cannot be called directly."""
    check_flags(enabled=enabled)
    backend = device_backend("cuda")
    if enabled:
        _check_tensor_cores(backend.module, "bfloat16")
        refusal = backend.graph_refusal()
        if refusal is not None:
            raise DeviceUnavailable(f"bfloat16 products need cuBLAS called directly: {refusal}")
    _BF16["enabled"] = bool(enabled)


def bf16(enabled: bool = True):
    """Float32 products on the GPU from bfloat16 inputs (or, with ``False``, not) within the
    block; the setting before it comes back after, also when the block raises."""
    return temporarily(bf16_enabled, set_bf16, enabled)


def _check_tensor_cores(cupy, what: str) -> None:
    for index in range(int(cupy.cuda.runtime.getDeviceCount())):
        capability = int(cupy.cuda.Device(index).compute_capability)
        if capability < TF32_CAPABILITY:
            major, minor = divmod(capability, 10)
            raise DeviceUnavailable(
                f"{what} needs a GPU of compute capability 8.0 or newer (Ampere); cuda:{index} "
                f"is {major}.{minor}"
            )
