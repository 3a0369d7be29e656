"""On a CUDA GPU (Ampere or newer): ``with backprop.gpu.tf32():`` runs float32 products as TF32,
which shows in the trace (no longer float32's to 1e-6, but within 5e-3 of each array's largest
value: TF32 rounds each input by up to 4.9e-4 of it), and leaves float64 networks and the
setting after the block as they were; ``with backprop.gpu.bf16():`` likewise with bfloat16
inputs (within 4e-2: each input rounded by up to 3.9e-3)."""

from __future__ import annotations

import numpy as np
import pytest

import backprop as bp
from backprop.gpu import bf16, bf16_enabled, tf32, tf32_enabled


def _trace(dtype, X, y):
    # tanh: a smooth derivative, so a z that rounding moves across a kink flips no δ
    net = bp.Network([256, 512, 512, 10], "tanh", "softmax", "cross_entropy", dtype=dtype,
                     seed=0, device="cuda")  # fmt: skip
    return net.backprop(X, y).to_host()


ROUNDINGS = {"tf32": (tf32, tf32_enabled, 5e-3), "bf16": (bf16, bf16_enabled, 4e-2)}


@pytest.mark.parametrize("rounding", ROUNDINGS)
@pytest.mark.parametrize("dtype, changed", [("float32", True), ("float64", False)])
def test_tf32_and_bf16_round_float32_products_only(gpu, dtype, changed, rounding):
    block, enabled, tolerance = ROUNDINGS[rounding]
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(1024, 256)), rng.integers(0, 10, size=1024)
    exact = _trace(dtype, X, y)
    assert not enabled()
    with block():
        rounded = _trace(dtype, X, y)
    assert not enabled()
    for name in ("z", "delta", "grad_W"):
        for layer in (1, 2, 3):
            got, want = getattr(rounded, name)[layer], getattr(exact, name)[layer]
            scale = float(np.abs(want).max())
            differs = not np.allclose(got, want, rtol=1e-6, atol=1e-6 * scale)
            assert differs == changed, (dtype, name, layer)
            np.testing.assert_allclose(got, want, rtol=0, atol=tolerance * scale)
