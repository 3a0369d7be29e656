"""On a CUDA GPU: the fused layer kernels (``backprop.gpu.layer_kernels``), compiled by NVRTC,
compute what the engine's numpy forms compute, every activation and both dtypes, and a fit
gives the same network with them as without them."""

from __future__ import annotations

import numpy as np
import pytest
from test_devices_layer_kernels import (  # noqa: F401 (collected here, on the GPU)
    test_the_delta_kernel_is_the_delta_rule_and_the_weighting,
    test_the_delta_kernel_passes_on_what_the_plain_kernels_pass_on,
    test_the_forward_kernel_adds_the_bias_and_computes_the_activation,
    test_the_output_delta_kernel_takes_targets_of_any_dtype,
    test_the_softmax_kernel_adds_the_bias_and_normalises_each_row,
)

import backprop as bp
from backprop.gpu import fused_layers


@pytest.fixture
def tolerance():
    """CUDA's exp, tanh and log1p are within a few ulps of numpy's."""
    return {"float32": 1e-5, "float64": 1e-12}


@pytest.mark.parametrize("dtype, rtol", [("float64", 1e-10), ("float32", 1e-4)])
@pytest.mark.parametrize("graphs", [True, False], ids=["graphs", "eager"])
def test_a_fit_gives_the_same_network_with_and_without_fused_layers(gpu, dtype, rtol, graphs):
    rng = np.random.default_rng(4)
    X = rng.normal(size=(256, 5)).astype(np.float32)
    y = rng.integers(0, 3, size=256)
    weights = rng.uniform(0.5, 2.0, size=256)
    sizes = [5, bp.Layer(16, "tanh"), bp.Layer(16, "softplus", dropout=0.1),
             bp.Layer(16, "leaky_relu"), bp.Layer(3, "softmax")]  # fmt: skip
    fits = []
    for fused in (True, False):
        net = bp.Network(sizes, loss="cross_entropy", dtype=dtype, seed=5, device="cuda")
        with fused_layers(fused), bp.gpu.cuda_graphs(graphs):
            net.fit(X, y, sample_weight=weights, epochs=3, batch_size=64, warn=False)
        fits.append(net.backend.to_host(net.params))
    compiled = {key[:2] for key in gpu._layer_kernels._compiled}
    assert {
        ("forward", "tanh"),
        ("delta", "softplus"),
        ("forward", "softmax"),
        ("output_delta",),
    } <= (compiled)
    np.testing.assert_allclose(fits[0], fits[1], rtol=rtol, atol=rtol * 1e-2)
