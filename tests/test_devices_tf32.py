"""TF32 products on the GPU (``backprop.gpu.set_tf32`` and ``with tf32():``), over the numpy
stand-in for CuPy, whose float32 products round their inputs to TF32's 10-bit mantissa once
CuPy's compute type says so; where bfloat16 products (``with bf16():``) behave alike, the same
tests check them too (``test_devices_bf16.py`` has the rest). ``tests/gpu`` checks the same on
a GPU."""

from __future__ import annotations

import sys

import fake_cupy
import numpy as np
import pytest
from test_devices import INSTALL_LINE

import backprop as bp
from backprop.engine.backend import DeviceUnavailable
from backprop.gpu import bf16, bf16_enabled, set_tf32, tf32, tf32_enabled


def _fake_gpus(monkeypatch, count=1, capability="90"):
    return fake_cupy.install(monkeypatch, device_count=count, capability=capability)


@pytest.fixture
def fake_gpu(monkeypatch, registry):
    return _fake_gpus(monkeypatch)


def _network(dtype="float32"):
    sizes = [6, bp.Layer(32, "tanh"), bp.Layer(16, "relu"), bp.Layer(3, "softmax")]
    return bp.Network(sizes, loss="cross_entropy", dtype=dtype, seed=3, device="cuda")


def _data(n=64):
    rng = np.random.default_rng(0)
    return rng.normal(size=(n, 6)).astype(np.float32), rng.integers(0, 3, size=n)


@pytest.mark.parametrize("block, enabled", [(tf32, tf32_enabled), (bf16, bf16_enabled)])
def test_tf32_and_bf16_are_off_until_asked_and_a_block_puts_them_back(fake_gpu, block, enabled):
    assert not enabled()
    with block():
        assert enabled()
        with block(False):
            assert not enabled()
        assert enabled()
    assert not enabled()
    with pytest.raises(KeyError), block():
        raise KeyError("inside")
    assert not enabled()


def test_tf32_is_cupys_compute_type_for_float32(fake_gpu):
    set_tf32(True)
    assert fake_gpu._core.get_compute_type(np.float32) == fake_cupy.COMPUTE_TYPE_TF32
    set_tf32(False)
    assert fake_gpu._core.get_compute_type(np.float32) == fake_cupy.COMPUTE_TYPE_DEFAULT


@pytest.mark.parametrize("block, rtol, atol", [(tf32, 2e-2, 2e-3), (bf16, 0.1, 2e-2)])
def test_float32_products_round_their_inputs_and_float64_ones_do_not(fake_gpu, block, rtol, atol):
    X, y = _data()
    for dtype, changed in (("float32", True), ("float64", False)):
        net = _network(dtype)
        exact = net.backprop(X, y).to_host()
        with block():
            rounded = net.backprop(X, y).to_host()
        for name in ("z", "delta", "grad_W"):
            for layer in (1, 2, 3):
                got, want = getattr(rounded, name)[layer], getattr(exact, name)[layer]
                assert (not np.array_equal(got, want)) == changed, (dtype, name, layer)
                np.testing.assert_allclose(got, want, rtol=rtol, atol=atol)


def test_the_forward_pass_under_tf32_is_the_product_of_tf32_inputs(fake_gpu):
    net = bp.Network([6, 4], "identity", "identity", "squared", dtype="float32", seed=1,
                     device="cuda")  # fmt: skip
    X = _data()[0]
    layer = net.layers[1]
    W, b = fake_gpu.asnumpy(layer.W), fake_gpu.asnumpy(layer.b)
    with tf32():
        z = fake_gpu.asnumpy(net.predict(X))
    expected = fake_cupy.to_tf32(X) @ fake_cupy.to_tf32(W).T + b
    np.testing.assert_array_equal(z, expected)
    assert np.abs(z - (X @ W.T + b)).max() > 0  # the rounding shows


@pytest.mark.parametrize("block", [tf32, bf16])
def test_training_under_tf32_or_bf16_ends_near_float32s(fake_gpu, block):
    X, y = _data(240)
    options = dict(epochs=20, batch_size=32, optimizer=bp.Adam(1e-2), warn=False, shuffle=False)
    exact = _network().fit(X, y, **options).loss[-1]
    with block():
        rounded = _network().fit(X, y, **options).loss[-1]
    assert rounded != exact and rounded == pytest.approx(exact, rel=0.05)


def test_tf32_without_cupy_says_how_to_install_it(monkeypatch, registry):
    monkeypatch.setitem(sys.modules, "cupy", None)
    with pytest.raises(DeviceUnavailable, match=INSTALL_LINE.replace("[", r"\[")):
        set_tf32(True)


def test_tf32_on_a_gpu_before_ampere_is_refused(monkeypatch, registry):
    cupy = _fake_gpus(monkeypatch, count=2, capability="75")
    message = r"TF32 needs a GPU of compute capability 8.0 or newer \(Ampere\); cuda:0 is 7.5"
    with pytest.raises(DeviceUnavailable, match=message):
        set_tf32(True)
    assert cupy._core.get_compute_type(np.float32) == fake_cupy.COMPUTE_TYPE_DEFAULT
    set_tf32(False)  # turning it off needs no tensor cores


@pytest.mark.parametrize("value", [1, "yes", None])
def test_tf32_takes_true_or_false_only(fake_gpu, value):
    with pytest.raises(TypeError, match="enabled must be True or False"):
        set_tf32(value)
    assert not tf32_enabled()
