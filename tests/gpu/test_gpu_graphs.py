"""On a CUDA GPU: cuBLAS called directly agrees with ``cupy.matmul``, the training step is
captured as a CUDA graph without a warning, and a fit whose full batches replay the graph
gives bit for bit the fit run kernel by kernel, for every optimiser, with dropout, sample
weights, weight decay, clipping and a schedule."""

from __future__ import annotations

import copy
import warnings

import numpy as np
import pytest
from test_devices_graphs import OUTPUTS, fit_with_skips
from test_gpu_training import OPTIMIZERS

import backprop as bp
from backprop.gpu import cuda_graphs, graphs
from backprop.training.batches import Batches


@pytest.fixture
def captures(monkeypatch):
    """Every capture made during the test, by the real ``graphs.capture``."""
    made = []
    real = graphs.capture

    def counting(*args):
        made.append(real(*args))
        return made[-1]

    monkeypatch.setattr(graphs, "capture", counting)
    return made


def _fit(graphs_on, dtype, optimizer, **options):
    params, history = _fit_history(graphs_on, dtype, optimizer, **options)
    return params, history.loss


def _fit_history(graphs_on, dtype, optimizer, n=300, **options):
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(n, 20)), rng.integers(0, 4, size=n)
    net = bp.Network([20, bp.Layer(64, "relu", dropout=0.1), bp.Layer(32, "tanh"),
                      bp.Layer(4, "softmax")], loss="cross_entropy", dtype=dtype, seed=3,
                     device="cuda")  # fmt: skip
    with cuda_graphs(graphs_on), warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # a capture that failed would warn
        history = net.fit(X, y, epochs=3, batch_size=64, optimizer=copy.deepcopy(optimizer),
                          warn=False, **options)  # fmt: skip
    return net.backend.to_host(net.params), history


def test_cublas_called_directly_passes_its_check(gpu):
    assert gpu.graph_refusal() is None


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", OPTIMIZERS)
def test_replayed_steps_equal_the_steps_run_kernel_by_kernel(gpu, captures, name, dtype):
    weights = np.random.default_rng(1).uniform(0.5, 2.0, size=300)
    options = dict(sample_weight=weights, weight_decay=1e-2, l2=1e-3, clip_norm=1.0,
                   schedule=bp.schedules.StepDecay(2, 0.5))  # fmt: skip
    params, losses = _fit(True, dtype, OPTIMIZERS[name], **options)
    assert len(captures) == 2  # the rate of epochs 0-1, then that of epoch 2
    expected, expected_losses = _fit(False, dtype, OPTIMIZERS[name], **options)
    np.testing.assert_array_equal(params, expected)
    assert losses == expected_losses


@pytest.mark.parametrize("rounding", ["tf32", "bf16"])
def test_tf32_and_bf16_products_are_captured_as_such(gpu, captures, rounding):
    with getattr(bp.gpu, rounding)():
        params, _ = _fit(True, "float32", OPTIMIZERS["adam"])
        expected, _ = _fit(False, "float32", OPTIMIZERS["adam"])
    np.testing.assert_array_equal(params, expected)
    plain, _ = _fit(True, "float32", OPTIMIZERS["adam"])
    assert not np.array_equal(plain, params)  # the products' rounding changed the weights


@pytest.mark.parametrize("outputs", OUTPUTS)
def test_every_activation_loss_and_skip_connection_is_captured(gpu, captures, outputs):
    X = np.random.default_rng(0).normal(size=(300, 20))
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # a capture that failed would warn
        params, losses = fit_with_skips(outputs, X, 64)
    assert len(captures) == 1
    with cuda_graphs(False):
        expected, expected_losses = fit_with_skips(outputs, X, 64)
    np.testing.assert_array_equal(params, expected)
    assert losses == expected_losses


@pytest.mark.parametrize("shuffle", [True, False])
def test_batches_the_graph_gathers_itself_are_the_batches_given(gpu, captures, monkeypatch,
                                                                shuffle):  # fmt: skip
    """The graph gathers and logs its batches (``walk``), also a batch at a time (shuffled
    data too large to gather whole) and past a batch of weight 0 it skips."""
    monkeypatch.setattr(Batches, "WHOLE_BYTES", 0)
    weights = np.random.default_rng(1).uniform(0.5, 2.0, size=300)
    weights[64:128] = 0  # unshuffled, the second batch is skipped
    options = dict(sample_weight=weights, shuffle=shuffle)
    params, losses = _fit(True, "float32", OPTIMIZERS["adam"], **options)
    assert len(captures) == 1
    expected, expected_losses = _fit(False, "float32", OPTIMIZERS["adam"], **options)
    np.testing.assert_array_equal(params, expected)
    assert losses == expected_losses


def test_the_batch_that_records_the_layer_statistics_replays_as_a_graph(gpu, captures):
    """With full batches only (256 rows, batch 64), the epoch's last batch is a second graph,
    captured in the second epoch; its statistics are those of the fit without graphs."""
    params, history = _fit_history(True, "float32", OPTIMIZERS["adam"], n=256)
    assert len(captures) == 2  # the plain step and the one that records the statistics
    expected, expected_history = _fit_history(False, "float32", OPTIMIZERS["adam"], n=256)
    np.testing.assert_array_equal(params, expected)
    assert history.loss == expected_history.loss
    assert history.layer_records == expected_history.layer_records
