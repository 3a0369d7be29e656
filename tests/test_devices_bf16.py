"""bfloat16 products with float32 weights on the GPU (``backprop.gpu.set_bf16`` and ``with
bf16():``), over the numpy stand-in for CuPy, whose cuBLAS rounds the inputs of a product to
bfloat16 for ``CUBLAS_COMPUTE_32F_FAST_16BF``. ``tests/gpu`` checks the same on a GPU."""

from __future__ import annotations

import fake_cupy
import numpy as np
import pytest

import backprop as bp
from backprop.engine.backend import DeviceUnavailable
from backprop.gpu import bf16, bf16_enabled, blas, precision, set_bf16, tf32


@pytest.fixture(autouse=True)
def bf16_off_after(monkeypatch):
    """The setting is the process's: whatever a test does, it is off again after it."""
    monkeypatch.setitem(precision._BF16, "enabled", False)


@pytest.fixture
def cupy(monkeypatch, registry):
    return fake_cupy.install(monkeypatch, device_count=1)


def _data(n=64):
    rng = np.random.default_rng(0)
    return rng.normal(size=(n, 6)).astype(np.float32), rng.integers(0, 3, size=n)


def _network(dtype="float32"):
    sizes = [6, bp.Layer(32, "tanh"), bp.Layer(16, "relu"), bp.Layer(3, "softmax")]
    return bp.Network(sizes, loss="cross_entropy", dtype=dtype, seed=3, device="cuda")


def test_bf16_takes_true_or_false(cupy):
    with pytest.raises(TypeError, match="enabled must be True or False"):
        set_bf16(1)
    assert not bf16_enabled()


def test_the_forward_pass_under_bf16_is_the_product_of_bf16_inputs(cupy):
    net = bp.Network([6, 4], "identity", "identity", "squared", seed=1, device="cuda")
    X = _data()[0]
    W, b = cupy.asnumpy(net.layers[1].W), cupy.asnumpy(net.layers[1].b)
    with bf16(), tf32():  # bfloat16 takes precedence
        z = cupy.asnumpy(net.predict(X))
    expected = fake_cupy.to_bf16(X) @ fake_cupy.to_bf16(W).T + b
    np.testing.assert_allclose(z, expected, rtol=1e-6, atol=1e-6)
    tf32_only = fake_cupy.to_tf32(X) @ fake_cupy.to_tf32(W).T + b
    assert np.abs(z - tf32_only).max() > 1e-4


def test_turning_bf16_on_captures_the_training_step_anew(cupy):
    X, y = _data(96)
    fake_cupy.ReplayedGraph.captures.clear()
    net = _network()
    net.fit(X, y, epochs=1, batch_size=16, warn=False)
    with bf16():
        net.fit(X, y, epochs=1, batch_size=16, warn=False)
    assert len(fake_cupy.ReplayedGraph.captures) == 2


def test_bf16_before_ampere_is_refused(monkeypatch, registry):
    fake_cupy.install(monkeypatch, device_count=1, capability="75")
    message = r"bfloat16 needs a GPU of compute capability 8.0 or newer \(Ampere\); cuda:0 is 7.5"
    with pytest.raises(DeviceUnavailable, match=message):
        set_bf16(True)
    assert not bf16_enabled()


def test_bf16_without_cublas_to_call_directly_is_refused(cupy, monkeypatch):
    def unavailable(module):
        raise blas.CublasUnavailable("cuBLAS is not loaded in this process")

    monkeypatch.setattr(blas, "load_cublas", unavailable)
    with pytest.raises(DeviceUnavailable, match="bfloat16 products need cuBLAS called directly"):
        set_bf16(True)
    assert not bf16_enabled()
