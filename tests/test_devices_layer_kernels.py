"""A layer's element-wise work as one GPU kernel each way (``backprop.gpu.layer_kernels``),
over the numpy stand-in for CuPy, which runs each kernel's CUDA C source translated into
numpy: every activation's CUDA twin computes what the engine's numpy form computes, special
values included, and a fit gives the same network with the fused kernels as without them.
``tests/gpu`` compiles the same kernels with NVRTC and compares them on a GPU."""

from __future__ import annotations

import fake_cupy
import numpy as np
import pytest

import backprop as bp
from backprop.engine.activations import (
    ACTIVATIONS,
    BUILTIN_NAMES,
    Activation,
    get_activation,
    leaky_relu,
)
from backprop.engine.backend import get_backend
from backprop.gpu import fused_layers, fused_layers_enabled, set_fused_layers
from backprop.gpu import layer_kernels as lk

ELEMENTWISE = [
    *(get_activation(name) for name in lk.ACTIVATIONS if name != "leaky_relu"),
    leaky_relu(0.01),
    leaky_relu(0.25),
    leaky_relu(0.0),
]
SPECIAL = [-1e4, -88.0, -50.0, -1.0, -1e-8, -0.0, 0.0, 1e-8, 0.5, 1.0, 50.0, 88.0, 1e4]
TOLERANCE = {"float32": 1e-6, "float64": 1e-14}
"""The twins' agreement as numpy computes them; a GPU's math library may differ by an ulp or
two (``tests/gpu/test_gpu_layer_kernels.py``)."""


@pytest.fixture
def cupy(monkeypatch, registry):
    return fake_cupy.install(monkeypatch, device_count=1)


@pytest.fixture
def gpu(cupy):
    return bp.Network([1, 1], device="cuda").backend


@pytest.fixture
def tolerance():
    return TOLERANCE


def _z(dtype, extremes=True):
    """A (rows, 4) batch of pre-activations: a spread of values, and the special ones."""
    rng = np.random.default_rng(0)
    values = rng.normal(scale=3.0, size=(6, 4))
    special = np.array(SPECIAL + ([np.inf, -np.inf, np.nan] if extremes else []))
    special = np.resize(special, (-(-special.size // 4), 4))
    return np.vstack([values, special]).astype(dtype)


def _close(got, expected, rtol):
    tiny = np.finfo(expected.dtype).smallest_normal  # subnormal results may lose digits
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=tiny, equal_nan=True)


def test_every_elementwise_builtin_has_a_twin_and_softmax_has_none():
    elementwise = {name for name, a in ACTIVATIONS.items() if a.elementwise}
    elementwise &= BUILTIN_NAMES  # not those registered by other tests
    assert set(lk.ACTIVATIONS) == elementwise
    assert lk.cuda_form(get_activation("softmax")) is None


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("activation", ELEMENTWISE, ids=repr)
def test_the_forward_kernel_adds_the_bias_and_computes_the_activation(
    gpu, activation, dtype, tolerance
):
    z = _z(dtype)
    b = np.linspace(-1, 1, z.shape[1]).astype(dtype)
    with np.errstate(all="ignore"):
        expected_z = z + b
        expected_a = activation(expected_z)
        fused_z, fused_a = gpu.asarray(z), gpu.empty_like(gpu.asarray(z))
        gpu.layer_kernel("forward", activation)(gpu.asarray(b), fused_z, fused_a)
    if activation.name == "leaky_relu" and activation.params["slope"] == 0:
        # numpy's max(z, 0·z) is NaN at z = +inf (0·inf); the twin's z > 0 ? z : 0·z is +inf
        expected_a[np.isposinf(expected_z)] = np.inf
    _close(gpu.to_host(fused_z), expected_z, tolerance[dtype])
    _close(gpu.to_host(fused_a), expected_a, tolerance[dtype])
    assert fused_a.dtype == dtype


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("width", [1, 3, 10, lk.SOFTMAX_WIDEST])
def test_the_softmax_kernel_adds_the_bias_and_normalises_each_row(gpu, width, dtype, tolerance):
    rng = np.random.default_rng(3)
    z = rng.normal(scale=5.0, size=(9, width)).astype(dtype)
    z[1] *= 100  # e^z would overflow without the row's maximum taken off
    z[2, -1], z[3, -1], z[4, :] = np.nan, np.inf, -np.inf  # rows that come out NaN
    z[5, 0] = -np.inf if width > 1 else 0.0  # a unit that gets none of the mass
    b = rng.normal(size=width).astype(dtype)
    softmax = get_activation("softmax")
    with np.errstate(all="ignore"):
        expected_z = z + b
        expected_a = softmax(expected_z)
        fused_z, fused_a = gpu.asarray(z), gpu.empty_like(gpu.asarray(z))
        gpu.layer_kernel("forward", softmax, width)(gpu.asarray(b), fused_z, fused_a)
    _close(gpu.to_host(fused_z), expected_z, tolerance[dtype])
    _close(gpu.to_host(fused_a), expected_a, tolerance[dtype])
    assert np.isnan(expected_a[2:5]).all() and np.isfinite(expected_a[5]).all()


def test_a_softmax_wider_than_its_kernel_runs_the_plain_kernels(gpu):
    softmax = get_activation("softmax")
    assert gpu.layer_kernel("forward", softmax, lk.SOFTMAX_WIDEST) is not None
    assert gpu.layer_kernel("forward", softmax, lk.SOFTMAX_WIDEST + 1) is None
    assert gpu.layer_kernel("delta", softmax, 3) is None  # its Jacobian product stays plain


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("weights", [False, True], ids=["uniform", "weighted"])
@pytest.mark.parametrize("activation", ELEMENTWISE, ids=repr)
def test_the_delta_kernel_is_the_delta_rule_and_the_weighting(
    gpu, activation, dtype, weights, tolerance
):
    z = _z(dtype, extremes=False)
    rng = np.random.default_rng(1)
    g = rng.normal(size=z.shape).astype(dtype)
    s = (rng.uniform(size=(z.shape[0], 1)) if weights else np.array(1 / z.shape[0])).astype(dtype)
    with np.errstate(all="ignore"):
        a = activation(z)
        expected = np.empty_like(z)
        activation.backward(z, a, g, expected)  # δ = f'(z) ⊙ g
        x = z if activation.derivative_of == "z" else a
        delta, weighted = (gpu.empty_like(gpu.asarray(z)) for _ in range(2))
        kernel = gpu.layer_kernel("delta", activation)
        kernel(gpu.asarray(x), gpu.asarray(g), gpu.asarray(s), delta, weighted)
    _close(gpu.to_host(delta), expected, tolerance[dtype])
    _close(gpu.to_host(weighted), expected * s, tolerance[dtype])


@pytest.mark.parametrize("activation", ELEMENTWISE, ids=repr)
def test_the_delta_kernel_passes_on_what_the_plain_kernels_pass_on(gpu, activation, tolerance):
    """Infinite and NaN pre-activations: the same deltas, NaN where numpy gives NaN."""
    z = _z("float32")
    g = np.ones_like(z)
    with np.errstate(all="ignore"):
        a = activation(z)
        expected = np.empty_like(z)
        activation.backward(z, a, g, expected, get_backend("numpy"))
        x = z if activation.derivative_of == "z" else a
        delta, weighted = (gpu.empty_like(gpu.asarray(z)) for _ in range(2))
        kernel = gpu.layer_kernel("delta", activation)
        kernel(gpu.asarray(x), gpu.asarray(g), gpu.asarray(np.float32(1)), delta, weighted)
    _close(gpu.to_host(delta), expected, tolerance["float32"])


@pytest.mark.parametrize("target_dtype", ["float32", "float64", "uint8", "int64"])
def test_the_output_delta_kernel_takes_targets_of_any_dtype(gpu, target_dtype, tolerance):
    rng = np.random.default_rng(2)
    a = rng.uniform(size=(5, 3)).astype(np.float32)
    y = rng.integers(0, 2, size=(5, 3)).astype(target_dtype)
    s = rng.uniform(size=(5, 1)).astype(np.float32)
    delta, weighted = (gpu.empty_like(gpu.asarray(a)) for _ in range(2))
    kernel = gpu.layer_kernel("output_delta", get_activation("softmax"))
    kernel(gpu.asarray(a), gpu.asarray(y), gpu.asarray(s), delta, weighted)
    expected = np.subtract(a, y, dtype=np.float32)
    _close(gpu.to_host(delta), expected, tolerance["float32"])
    _close(gpu.to_host(weighted), expected * s, tolerance["float32"])


def test_activations_without_a_cuda_form_run_the_plain_kernels(gpu):
    def cube(xp, z, out):
        xp.power(z, 3, out=out)

    impostor = Activation("relu", cube, lambda xp, z, out: out.fill(1))
    registered = bp.register_activation("cubic", lambda z: z**3, lambda z: 3 * z**2, overwrite=True)
    del ACTIVATIONS["cubic"]  # the table is the process's
    for activation in (get_activation("softmax"), impostor, registered):
        assert gpu.layer_kernel("forward", activation) is None
        assert gpu.layer_kernel("delta", activation) is None
    assert gpu.layer_kernel("forward", get_activation("relu")) is not None
    assert get_backend("numpy").layer_kernel("forward", get_activation("relu")) is None
    with pytest.raises(ValueError, match="unknown layer kernel 'sideways'"):
        lk.source("sideways", get_activation("relu"))


def test_leaky_relus_of_different_slopes_get_kernels_of_their_own(gpu):
    gentle, steep = (gpu.layer_kernel("forward", leaky_relu(s)) for s in (0.01, 0.5))
    assert gentle is not steep
    assert gpu.layer_kernel("forward", leaky_relu(0.5)) is steep  # compiled once
    assert "T(0.5)" in lk.source("forward", leaky_relu(0.5)).operation


def test_the_switch_is_on_by_default_refuses_non_flags_and_a_block_restores_it(gpu):
    assert fused_layers_enabled()
    with fused_layers(False):
        assert not fused_layers_enabled()
        assert gpu.layer_kernel("forward", get_activation("relu")) is None
        off_key = gpu.graph_key()
    assert fused_layers_enabled()
    assert gpu.graph_key() != off_key  # a graph captured with one setting is not replayed
    with pytest.raises(TypeError, match="enabled must be True or False"):
        set_fused_layers("no")
    assert fused_layers_enabled()


def _fit(sizes, loss, fused: bool, **options):
    rng = np.random.default_rng(4)
    X = rng.normal(size=(96, sizes[0])).astype(np.float32)
    labels = rng.integers(0, 3, size=96)
    y = labels if loss == "cross_entropy" else np.eye(3, dtype=np.float32)[labels]
    net = bp.Network(sizes, loss=loss, seed=5, device="cuda")
    fake_cupy.ElementwiseKernel.compiled.clear()
    with fused_layers(fused):
        history = net.fit(X, y, epochs=3, batch_size=32, warn=False, **options)
    return net, history, set(fake_cupy.ElementwiseKernel.compiled)


def _host_params(net):
    return net.backend.to_host(net.params)


@pytest.mark.parametrize("graphs", [True, False], ids=["graphs", "eager"])
def test_a_fit_gives_the_same_network_with_and_without_fused_layers(cupy, graphs):
    sizes = [5, bp.Layer(8, "tanh"), bp.Layer(8, "relu"), bp.Layer(3, "softmax")]
    weights = np.random.default_rng(6).uniform(0.5, 2.0, size=96)
    with bp.gpu.cuda_graphs(graphs):
        fused, fused_history, fused_kernels = _fit(
            sizes, "cross_entropy", True, sample_weight=weights
        )
        plain, plain_history, plain_kernels = _fit(
            sizes, "cross_entropy", False, sample_weight=weights
        )
    assert {
        "backprop_forward_tanh",
        "backprop_delta_relu",
        "backprop_forward_softmax",
        "backprop_output_delta",
    } <= (fused_kernels)
    assert not any(
        name.startswith(("backprop_forward", "backprop_delta")) for name in plain_kernels
    )
    np.testing.assert_allclose(_host_params(fused), _host_params(plain), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(fused_history["loss"], plain_history["loss"], rtol=1e-5)


def test_dropout_and_a_non_canonical_output_go_through_the_fused_kernels_too(cupy):
    sizes = [5, bp.Layer(8, "sigmoid", dropout=0.25), bp.Layer(3, "sigmoid")]
    fused, _, kernels = _fit(sizes, "squared", True)
    plain, _, _ = _fit(sizes, "squared", False)
    assert "backprop_delta_sigmoid" in kernels and "backprop_output_delta" not in kernels
    np.testing.assert_allclose(_host_params(fused), _host_params(plain), rtol=1e-5, atol=1e-6)
