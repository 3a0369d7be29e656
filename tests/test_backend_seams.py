"""The engine and the training loop on a backend that refuses any array call bypassing it.

``strict_backend.STRICT`` computes with numpy but behaves as a GPU array library does: numpy's
functions refuse its arrays, host arrays may not be mixed in, and every value read back to the
host is counted. Everything here must give what the numpy backend gives, without a bypass, and
a training step must read nothing back.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
from strict_backend import HOST_READS, STRICT, BypassError, DeviceArray

import backprop as bp
from backprop.training.step import TrainingStep
from backprop.training.transforms import gradient_transforms


def pair(sizes, **options):
    """The same network on the numpy backend and on the strict one."""
    host = bp.Network(sizes, dtype="float64", seed=4, **options)
    device = bp.Network(sizes, dtype="float64", seed=4, backend=STRICT, **options)
    return host, device


def data(n=40, n_in=3, n_out=2, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, n_in))
    return X, rng, n_out


def test_a_direct_numpy_call_on_a_device_array_is_caught():
    z = STRICT.zeros((2, 3))
    with pytest.raises(BypassError, match="exp"):
        np.exp(z)
    with pytest.raises(BypassError, match="host"):
        STRICT.add(z, np.ones((2, 3)))
    assert isinstance(STRICT.exp(z), DeviceArray)


ACTIVATION_CASES = ["identity", "sigmoid", "tanh", "relu", "leaky_relu", "softplus"]
LOSS_CASES = [
    ("softmax", "cross_entropy"),
    ("sigmoid", "log_loss"),
    ("identity", "squared"),
    ("identity", "absolute"),
    ("identity", "huber"),
    ("exp", "poisson"),
    ("tanh", "squared"),
    ("softmax", "squared"),
]


def targets(rng, output, loss, n, n_out):
    if loss == "cross_entropy":
        return rng.integers(0, n_out, size=n)
    if loss == "log_loss":
        return rng.integers(0, 2, size=(n, n_out)).astype(float)
    if loss == "poisson":
        return rng.poisson(1.0, size=(n, n_out)).astype(float)
    return rng.uniform(0.1, 0.9, size=(n, n_out))


@pytest.mark.parametrize("hidden", ACTIVATION_CASES)
@pytest.mark.parametrize("output, loss", LOSS_CASES, ids=[f"{o}-{l}" for o, l in LOSS_CASES])
def test_forward_backward_and_predict_match_numpy(hidden, output, loss):
    X, rng, n_out = data(n=9, n_out=3)
    Y = targets(rng, output, loss, 9, n_out)
    sizes = [3, bp.Layer(5, hidden), bp.Layer(4, hidden, inputs=[0, 1]), bp.Layer(n_out, output)]
    host, device = pair(sizes, loss=loss)
    expected, got = host.backprop(X, Y), device.backprop(X, Y)
    assert got.loss == pytest.approx(expected.loss, rel=1e-12)
    for l in range(1, 4):
        np.testing.assert_allclose(STRICT.to_host(got.grad_W[l]), expected.grad_W[l], rtol=1e-10)
        np.testing.assert_allclose(STRICT.to_host(got.delta[l]), expected.delta[l], rtol=1e-10)
    np.testing.assert_allclose(STRICT.to_host(device.predict(X)), host.predict(X), rtol=1e-12)
    classes = device.predict_classes(X)
    np.testing.assert_array_equal(STRICT.to_host(classes), host.predict_classes(X))


FIT_CASES = {
    "adam-dropout-l2-clip-weights": dict(
        optimizer="adam", l2=0.01, clip_norm=0.5, weighted=True, dropout=0.2
    ),
    "sgd-nesterov-per-sample-l2": dict(
        optimizer=bp.SGD(0.05, momentum=0.9, nesterov=True), l2=0.1, l2_per_sample=True
    ),
    "rmsprop-validation-early-stop": dict(
        optimizer="rmsprop", validation_split=0.25, early_stopping=True, shuffle=False
    ),
    "adagrad-plateau-schedule": dict(
        optimizer="adagrad", schedule=bp.schedules.ReduceOnPlateau(patience=0), batch_size=None
    ),
    "zero-weight-batch": dict(optimizer="adam", weighted="zeros", shuffle=False),
}


@pytest.mark.parametrize("case", FIT_CASES.values(), ids=FIT_CASES)
def test_fit_matches_numpy_without_a_bypass(case):
    case = dict(case)
    X, rng, n_out = data(n=40)
    labels = rng.integers(0, n_out, size=40)
    dropout = case.pop("dropout", 0.0)
    weighted = case.pop("weighted", False)
    weights = None
    if weighted:
        weights = rng.uniform(0.5, 2.0, size=40)
        if weighted == "zeros":
            weights[8:16] = 0  # the second batch of 8 carries no weight
    options = {"epochs": 4, "batch_size": 8, "warn": False, "sample_weight": weights, **case}
    sizes = [3, bp.Layer(6, "relu", dropout=dropout), bp.Layer(n_out, "softmax")]
    host, device = pair(sizes, loss="cross_entropy")
    expected = host.fit(X, labels, **copy.deepcopy(options))  # a schedule keeps state
    got = device.fit(X, labels, **copy.deepcopy(options))
    np.testing.assert_allclose(STRICT.to_host(device.params), host.params, rtol=1e-9)
    np.testing.assert_allclose(got.loss, expected.loss, rtol=1e-9)
    assert got.records.keys() == expected.records.keys()
    np.testing.assert_allclose(got.grad_norm, expected.grad_norm, rtol=1e-9)


def test_checkpoint_and_resume_on_the_device(tmp_path):
    X, rng, n_out = data(n=32)
    labels = rng.integers(0, n_out, size=32)
    options = dict(batch_size=8, optimizer="adam", warn=False, checkpoint=tmp_path / "run.ckpt")
    sizes = [3, bp.Layer(6, "tanh"), bp.Layer(n_out, "softmax")]
    _, straight = pair(sizes, loss="cross_entropy")
    straight.fit(X, labels, epochs=4, **{**options, "checkpoint": tmp_path / "other.ckpt"})
    _, first = pair(sizes, loss="cross_entropy")
    first.fit(X, labels, epochs=2, **options)
    _, resumed = pair(sizes, loss="cross_entropy")
    resumed.fit(X, labels, epochs=4, resume=True, **options)
    np.testing.assert_array_equal(STRICT.to_host(resumed.params), STRICT.to_host(straight.params))


def test_gradcheck_and_explain_run_on_a_host_copy():
    X, rng, _ = data(n=3)
    host, device = pair([3, 4, 2], hidden="tanh", output="sigmoid", loss="log_loss")
    Y = rng.integers(0, 2, size=(3, 2))
    assert bp.gradcheck(device, X, Y) < 1e-6
    assert device.backprop(X[:1], Y[:1]).explain() == host.backprop(X[:1], Y[:1]).explain()


def steps_reading(net, X, Y, weights, batches: int) -> int:
    """Host reads during ``batches`` training steps with L2 and clipping."""
    optimizer = bp.Adam(0.01)
    step = TrainingStep(net, optimizer, gradient_transforms(0.01, True, 1.0))
    X, Y, weights = net.check_data(X, Y, weights)
    state = optimizer.init(net.params, xp=net.xp)
    before = HOST_READS["count"]
    for start in range(0, batches * 8, 8):
        rows = slice(start, start + 8)
        result = step(X[rows], Y[rows], weights[rows], 0.01, state, observe=True)
        state = result.optimizer_state
    return HOST_READS["count"] - before


def test_a_training_step_reads_nothing_back():
    X, rng, n_out = data(n=80)
    labels = rng.integers(0, n_out, size=80)
    weights = rng.uniform(0.5, 2.0, size=80)
    _, device = pair(
        [3, bp.Layer(6, "relu", dropout=0.1), bp.Layer(n_out, "softmax")], loss="cross_entropy"
    )
    assert steps_reading(device, X, labels, weights, batches=10) == 0


def test_host_reads_per_epoch_do_not_grow_with_the_number_of_batches():
    X, rng, n_out = data(n=320)
    labels = rng.integers(0, n_out, size=320)
    weights = rng.uniform(0.5, 2.0, size=320)

    def reads(batch_size):
        _, device = pair([3, 6, bp.Layer(n_out, "softmax")], loss="cross_entropy")
        options = dict(epochs=3, optimizer="adam", l2=0.01, clip_norm=1.0, warn=False)
        before = HOST_READS["count"]
        device.fit(X, labels, batch_size=batch_size, sample_weight=weights, **options)
        return HOST_READS["count"] - before

    few, many = reads(160), reads(4)  # 2 and 80 batches an epoch
    assert many == few
