"""On a CUDA GPU: the delta rule's every intermediate, and each optimiser's fused update, equal
numpy's (float64 to 1e-12 relative, float32 to 1e-5)."""

from __future__ import annotations

import numpy as np
import pytest

import backprop as bp
from backprop.engine.backend import Backend, ScratchCache
from backprop.training.kernels import STEPS

HIDDEN = ["identity", "sigmoid", "tanh", "relu", "leaky_relu", "softplus"]
OUTPUTS = [
    ("softmax", "cross_entropy"),
    ("sigmoid", "log_loss"),
    ("identity", "squared"),
    ("identity", "absolute"),
    ("identity", "huber"),
    ("exp", "poisson"),
    ("tanh", "squared"),
    ("softmax", "squared"),
]
TOLERANCE = {"float64": 1e-12, "float32": 1e-5}


def targets(rng, loss, n, n_out):
    if loss == "cross_entropy":
        return rng.integers(0, n_out, size=n)
    if loss == "log_loss":
        return rng.integers(0, 2, size=(n, n_out)).astype(float)
    if loss == "poisson":
        return rng.poisson(1.0, size=(n, n_out)).astype(float)
    return rng.uniform(0.1, 0.9, size=(n, n_out))


def skip_network(hidden, output, loss, dtype, **options):
    """Concatenated and summed skip connections: 4 → 6 → 6 → (6 + 6 summed) → [x, a³] → 3."""
    sizes = [
        4,
        bp.Layer(6, hidden),
        bp.Layer(6, hidden),
        bp.Layer(6, hidden, inputs=[1, 2], combine="sum"),
        bp.Layer(3, output, inputs=[0, 3]),
    ]
    return bp.Network(sizes, loss=loss, dtype=dtype, seed=7, **options)


def assert_close(got, expected, dtype, what):
    expected = np.asarray(expected, dtype=np.float64)
    tolerance = TOLERANCE[dtype]
    scale = max(1.0, float(np.max(np.abs(expected)))) if expected.size else 1.0
    np.testing.assert_allclose(got, expected, rtol=tolerance, atol=tolerance * scale, err_msg=what)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("output, loss", OUTPUTS, ids=[f"{o}-{l}" for o, l in OUTPUTS])
@pytest.mark.parametrize("hidden", HIDDEN)
def test_the_trace_on_the_gpu_equals_numpys(gpu, hidden, output, loss, dtype):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(11, 4))
    Y = targets(rng, loss, 11, 3)
    weights = rng.uniform(0.5, 2.0, size=11)
    host = skip_network(hidden, output, loss, dtype)
    device = skip_network(hidden, output, loss, dtype, device="cuda")
    np.testing.assert_array_equal(gpu.to_host(device.params), host.params)  # drawn on the host
    expected, got = host.backprop(X, Y, weights), device.backprop(X, Y, weights)
    assert_close(float(got.loss), expected.loss, dtype, "loss")
    for l in range(1, 5):
        for name in ("z", "a", "delta", "grad_W", "grad_b"):
            value = getattr(got, name)[l]
            assert_close(gpu.to_host(value), getattr(expected, name)[l], dtype, f"{name}[{l}]")
    assert_close(gpu.to_host(device.predict(X)), host.predict(X), dtype, "predict")


STATE = {"sgd": 0, "momentum": 1, "nesterov": 1, "adam": 2, "rmsprop": 1, "adagrad": 1}
CONSTANTS = {
    "sgd": (0.1,),
    "momentum": (0.1, 0.9),
    "nesterov": (0.1, 0.9),
    "adam": (0.9, 0.1, 0.999, 0.001, 1e-8, 0.01),
    "rmsprop": (0.01, 0.9, 0.1, 1e-8),
    "adagrad": (0.1, 1e-10),
}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", sorted(STATE))
def test_each_fused_update_equals_the_plain_kernels(gpu, cupy, name, dtype):
    rng = np.random.default_rng(1)
    n = 100_003  # not a multiple of any block size
    host = [rng.normal(size=n).astype(dtype) for _ in range(2)]
    host += [rng.uniform(0.0, 1.0, size=n).astype(dtype) for _ in range(STATE[name])]
    fused = [cupy.asarray(array) for array in host]
    plain = [cupy.asarray(array) for array in host]
    gpu._kernels.clear()
    gpu.elementwise(name, STEPS[name], fused, CONSTANTS[name], ScratchCache())
    assert gpu._kernels[(name, False)] is not None  # the CUDA kernel ran, not the plain form
    Backend.elementwise(gpu, name, STEPS[name], plain, CONSTANTS[name], ScratchCache())
    for index, (got, expected) in enumerate(zip(fused, plain, strict=True)):
        if index == 1:
            np.testing.assert_array_equal(gpu.to_host(got), host[1])  # the gradient is read only
            continue
        assert_close(gpu.to_host(got), gpu.to_host(expected), dtype, f"array {index}")
    changed = gpu.to_host(fused[0]) != host[0]
    assert changed.mean() > 0.99


def test_an_update_on_strided_buffers_runs_the_plain_kernels(gpu, cupy):
    params = cupy.ones(20)[::2]  # not contiguous: the fused kernel is not for it
    grads = cupy.full(10, 0.5)
    gpu.elementwise("sgd", STEPS["sgd"], [params, grads], (0.1,), ScratchCache())
    np.testing.assert_allclose(gpu.to_host(params), 0.95)
