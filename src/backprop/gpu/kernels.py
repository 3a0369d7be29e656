"""The optimisers' updates as CUDA element-wise kernels: one pass over the flat buffers.

Each entry is the per-element loop of its twin of the same name in
``backprop.engine.backend.fused`` (numba, the CPU), written in CUDA C for
``cupy.ElementwiseKernel``: the same arrays in the same order (``p`` the parameters, ``g`` the
gradient, then the optimiser's state), the same folded constants, so the three forms (these,
numba's and the numpy ufunc kernels of ``backprop.training.kernels``) compute the same update up
to rounding. ``T`` is the buffers' dtype, and the constants arrive in it.

>>> sorted(KERNELS)
['adagrad', 'adam', 'momentum', 'nesterov', 'rmsprop', 'sgd']
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class KernelSource:
    """A kernel's state arrays (after ``p`` and ``g``), its constants, and its per-element code."""

    state: tuple[str, ...]
    constants: tuple[str, ...]
    operation: str

    def in_params(self) -> str:
        return ", ".join(f"T {name}" for name in ("g", *self.constants))

    def out_params(self) -> str:
        """The arrays written: the parameters and the state (an output is read as well)."""
        return ", ".join(f"T {name}" for name in ("p", *self.state))

    def in_params_from_buffer(self) -> str:
        """The inputs of the form a CUDA graph captures: the gradient and a device buffer
        holding the constants, which is written before each replay (``gpu.graphs``)."""
        return "T g, raw T constants"

    def operation_from_buffer(self) -> str:
        """The operation with each constant read from the buffer first.

        >>> print(KERNELS["sgd"].operation_from_buffer())
        T lr = constants[0]; p -= lr * g;
        """
        reads = " ".join(f"T {name} = constants[{i}];" for i, name in enumerate(self.constants))
        return f"{reads} {self.operation}"


KERNELS = {
    "sgd": KernelSource(
        (),
        ("lr",),
        "p -= lr * g;",  # θ ← θ − lr·g
    ),
    "momentum": KernelSource(
        ("velocity",),
        ("lr", "mu"),
        "T v = mu * velocity + g;"  # v ← μ·v + g
        " velocity = v;"
        " p -= lr * v;",  # θ ← θ − lr·v
    ),
    "nesterov": KernelSource(
        ("velocity",),
        ("lr", "mu"),
        "T v = mu * velocity + g;"  # v ← μ·v + g
        " velocity = v;"
        " p -= lr * (g + mu * v);",  # θ ← θ − lr·(g + μ·v)
    ),
    "adam": KernelSource(
        ("m", "v"),
        ("beta_1", "rest_1", "beta_2", "rest_2", "eps_c", "step_c"),
        "T m_i = beta_1 * m + rest_1 * g;"  # m ← β₁·m + (1 − β₁)·g
        " T v_i = beta_2 * v + rest_2 * (g * g);"  # v ← β₂·v + (1 − β₂)·g²
        " m = m_i;"
        " v = v_i;"
        " p -= step_c * (m_i / (sqrt(v_i) + eps_c));",  # θ ← θ − lr_t·c·m / (√v + ε·c)
    ),
    "rmsprop": KernelSource(
        ("v",),
        ("lr", "rho", "rest", "epsilon"),
        "T v_i = rho * v + rest * (g * g);"  # v ← ρ·v + (1 − ρ)·g²
        " v = v_i;"
        " p -= lr * (g / (sqrt(v_i) + epsilon));",  # θ ← θ − lr·g / (√v + ε)
    ),
    "adagrad": KernelSource(
        ("G",),
        ("lr", "epsilon"),
        "T G_i = G + g * g;"  # G ← G + g²
        " G = G_i;"
        " p -= lr * (g / (sqrt(G_i) + epsilon));",  # θ ← θ − lr·g / (√G + ε)
    ),
}
"""The kernels' sources, by the names of ``training.kernels.STEPS`` and ``fused``'s twins."""
