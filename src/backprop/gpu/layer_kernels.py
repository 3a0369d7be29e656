"""A layer's element-wise work on the GPU as one kernel each way: bias and activation going
forward, derivative and weighting coming back.

Kernel by kernel, a layer's forward pass after its product is two kernels or more (zˡ += bˡ,
then f, which is one kernel for ReLU and four for the sigmoid), and its backward pass three or
more (f'(zˡ), its product with ∂E/∂aˡ, then sₙδₙ for ∂E/∂Wˡ). Each reads and writes whole
(N, n) arrays; at small batches each costs mostly its launch, at large ones its trips through
memory. ``LayerKernels`` compiles each group into one ``cupy.ElementwiseKernel``:

* ``"forward"``: zˡ += bˡ and aˡ = f(zˡ), called ``kernel(b, z, a)``;
* ``"delta"``: δˡ = f'(zˡ) ⊙ ∂E/∂aˡ and sₙδˡₙ, called ``kernel(x, g, s, delta, weighted)``,
  where x is zˡ or aˡ as the activation's derivative is written (``derivative_of``);
* ``"output_delta"``: δᴸ = aᴸ − y and sₙδᴸₙ, for a loss canonical for the output activation,
  called ``kernel(a, y, s, delta, weighted)``; y may have a dtype of its own (0/1 targets).

Each built-in element-wise activation's CUDA form (``ACTIVATIONS``) is the twin of its numpy
form in ``backprop.engine.activations``: the same function, written with the same operations
where CUDA has them, so the fused and the plain kernels agree to rounding (the tests compare
every twin). Softmax couples a row's units: its forward pass is one kernel with a thread per
row (``SOFTMAX_ROWS``) for layers of at most ``SOFTMAX_WIDEST`` units, and its backward pass
(the Jacobian product, unless the output delta cancels to o − y) runs the plain kernels, as
do activations a user registers, and every layer with ``set_fused_layers(False)`` or inside
``with fused_layers(False):`` (the fusion is on by default).

>>> ACTIVATIONS["sigmoid"].function
'1 / (1 + exp(-z))'
>>> from backprop.activations import get_activation
>>> source("delta", get_activation("relu")).operation
'T f = a > 0 ? 1 : a; T d = f * g; delta = d; weighted = d * s;'
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..engine.activations import ACTIVATIONS as ENGINE_ACTIVATIONS
from ..engine.activations import Activation
from ..training.settings import check_flags
from .switches import temporarily

_SETTING = {"enabled": True}


def set_fused_layers(enabled: bool) -> None:
    """Fuse each layer's element-wise work into one kernel each way (``True``, the default) or
    run it as the plain kernels (``False``): the results agree to rounding."""
    check_flags(enabled=enabled)
    _SETTING["enabled"] = bool(enabled)


def fused_layers_enabled() -> bool:
    """Whether a GPU network's layers run their fused kernels."""
    return _SETTING["enabled"]


def fused_layers(enabled: bool = True):
    """Fused layer kernels on (or, with ``False``, off) within the block; the setting before it
    comes back after."""
    return temporarily(fused_layers_enabled, set_fused_layers, enabled)


@dataclass(frozen=True)
class ActivationSource:
    """An activation in CUDA C: a = f(z) as an expression of ``z``, and f'(z) as an
    expression of ``z`` or ``a`` (as the engine's twin's ``derivative_of`` says). ``{name}``
    stands for the activation's parameter ``name``, written in as a constant of type T."""

    function: str
    derivative: str

    def written(self, params: dict) -> ActivationSource:
        """Both expressions with the activation's parameters written in.

        >>> ACTIVATIONS["leaky_relu"].written({"slope": 0.25}).derivative
        '(z > 0) * T(0.75) + T(0.25)'
        """
        values = {name: f"T({value!r})" for name, value in params.items()}
        if "slope" in params:
            values["rest"] = f"T({1 - params['slope']!r})"
        return ActivationSource(self.function.format(**values), self.derivative.format(**values))


ACTIVATIONS = {
    "identity": ActivationSource("z", "1"),
    "sigmoid": ActivationSource("1 / (1 + exp(-z))", "a * (1 - a)"),
    "tanh": ActivationSource("tanh(z)", "1 - a * a"),
    # max(z, 0), NaN passed on; and for a ≥ 0, sign(a): 1, 0, or a NaN passed on
    "relu": ActivationSource("z < 0 ? 0 : z", "a > 0 ? 1 : a"),
    # max(z, slope·z) for 0 ≤ slope < 1; and [z > 0]·(1 − slope) + slope
    "leaky_relu": ActivationSource("z > 0 ? z : {slope} * z", "(z > 0) * {rest} + {slope}"),
    "softplus": ActivationSource("log1p(exp(-fabs(z))) + fmax(z, T(0))", "1 / (1 + exp(-z))"),
    "exp": ActivationSource("exp(z)", "a"),
}
"""The CUDA forms of the engine's element-wise activations, by the engine's names."""


@dataclass(frozen=True)
class KernelSource:
    """What ``cupy.ElementwiseKernel`` is made from."""

    in_params: str
    out_params: str
    operation: str
    name: str


SOFTMAX_ROWS = KernelSource(
    "raw T b, int32 width",
    "raw T z, raw T a",
    # one thread per row: zₖ += bₖ and m = maxₖ zₖ (a NaN left to spoil the sum), then
    # eₖ = e^(zₖ − m) and aₖ = eₖ / Σⱼ eⱼ, as the engine's softmax does in five kernels
    "ptrdiff_t row = i * width; T m = z[row] + b[0];"
    " for (int k = 0; k < width; ++k) {"
    " T v = z[row + k] + b[k]; z[row + k] = v; m = v > m ? v : m; }"
    " T total = 0;"
    " for (int k = 0; k < width; ++k) {"
    " T e = exp(z[row + k] - m); a[row + k] = e; total += e; }"
    " for (int k = 0; k < width; ++k) { a[row + k] /= total; }",
    "backprop_forward_softmax",
)
"""The forward kernel of a softmax layer, zˡ += bˡ and aˡ = softmax(zˡ), called
``kernel(b, width, z, a, size=rows)``: one thread per row, which beats the plain kernels'
row reductions only while rows are narrow (``SOFTMAX_WIDEST``)."""

SOFTMAX_WIDEST = 32
"""The widest softmax layer whose forward pass runs as ``SOFTMAX_ROWS``; wider ones run the
plain kernels (a thread walking a row three times is slow for wide rows)."""


def is_builtin(activation: Activation) -> bool:
    """Whether ``activation`` is one of the engine's built-ins with a CUDA form (a leaky ReLU
    of any slope included), not another function under a built-in's name."""
    builtin = ENGINE_ACTIVATIONS.get(activation.name)
    if builtin is None or activation.name not in ACTIVATIONS:
        return False
    return activation is builtin or (
        builtin.factory is not None and activation.factory is builtin.factory
    )


def cuda_form(activation: Activation) -> ActivationSource | None:
    """``activation``'s CUDA form with its parameters written in, or ``None`` when it has none
    (softmax, an activation registered by a user, or one made under a built-in's name from
    other functions)."""
    if not is_builtin(activation):
        return None
    return ACTIVATIONS[activation.name].written(activation.params)


def source(kind: str, activation: Activation) -> KernelSource | None:
    """The kernel of ``kind`` (``"forward"``, ``"delta"`` or ``"output_delta"``) for a layer
    of ``activation``, or ``None`` when the activation has no CUDA form."""
    if kind == "output_delta":  # δᴸ = o − y, whatever the canonical pair
        return KernelSource(
            "T a, Y y, T s",
            "T delta, T weighted",
            "T d = a - y; delta = d; weighted = d * s;",
            "backprop_output_delta",
        )
    form = cuda_form(activation)
    if form is None:
        return None
    tag = "_".join([activation.name, *(f"{value!r}" for value in activation.params.values())])
    tag = "".join(c if c.isalnum() else "_" for c in tag)
    if kind == "forward":
        return KernelSource(
            "T b", "T z, T a", f"z += b; a = {form.function};", f"backprop_forward_{tag}"
        )
    if kind == "delta":
        x = activation.derivative_of
        return KernelSource(
            f"T {x}, T g, T s",
            "T delta, T weighted",
            f"T f = {form.derivative}; T d = f * g; delta = d; weighted = d * s;",
            f"backprop_delta_{tag}",
        )
    raise ValueError(f"unknown layer kernel {kind!r}; known: forward, delta, output_delta")


class LayerKernels:
    """The compiled layer kernels of one GPU, made on first use and kept by their source."""

    def __init__(self, cupy) -> None:
        self.cupy = cupy
        self._compiled: dict = {}

    def get(self, kind: str, activation: Activation, width: int | None = None):
        """The compiled kernel of ``kind`` for a layer of ``activation`` and ``width`` units
        (needed for softmax), or ``None`` where the layer runs the plain kernels (no CUDA
        form, too wide a softmax, or the fusion switched off)."""
        if not _SETTING["enabled"]:
            return None
        if kind == "forward" and activation is ENGINE_ACTIVATIONS["softmax"]:
            return self._softmax(width)
        if kind == "output_delta":
            key = (kind,)
        elif is_builtin(activation):
            key = (kind, activation.name, tuple(activation.params.items()))
        else:
            return None
        if key not in self._compiled:
            kernel = source(kind, activation)
            self._compiled[key] = self.cupy.ElementwiseKernel(
                kernel.in_params, kernel.out_params, kernel.operation, kernel.name
            )
        return self._compiled[key]

    def _softmax(self, width: int | None):
        """``SOFTMAX_ROWS`` as ``kernel(b, z, a)``, for rows of at most ``SOFTMAX_WIDEST``."""
        if width is None or width > SOFTMAX_WIDEST:
            return None
        key = ("forward", "softmax", width)
        if key not in self._compiled:
            rows = self.cupy.ElementwiseKernel(
                SOFTMAX_ROWS.in_params,
                SOFTMAX_ROWS.out_params,
                SOFTMAX_ROWS.operation,
                SOFTMAX_ROWS.name,
            )
            columns = np.int32(width)

            def softmax(b, z, a):
                rows(b, columns, z, a, size=z.shape[0])

            self._compiled[key] = softmax
        return self._compiled[key]
