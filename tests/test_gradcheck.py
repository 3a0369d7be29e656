"""Backprop's gradients against central finite differences over many random networks."""

import itertools
import zlib

import numpy as np
import pytest

import backprop as bp

HIDDEN = ["identity", "sigmoid", "tanh", "relu", "leaky_relu", "softplus"]
# every loss with the output activations it is used with (canonical pair first)
OUTPUTS = {
    "squared": ["identity", "sigmoid", "tanh", "softmax"],
    "log_loss": ["sigmoid", "softmax"],
    "cross_entropy": ["softmax", "sigmoid"],
    "absolute": ["identity", "tanh"],
    "huber": ["identity", "softplus"],
    "poisson": ["exp", "softplus"],
}
CASES = [
    (hidden, output, loss)
    for loss, outputs in OUTPUTS.items()
    for output, hidden in itertools.product(outputs, HIDDEN)
]


def random_targets(rng, loss, n, k):
    if loss == "cross_entropy":
        return rng.integers(0, k, size=n)
    if loss == "log_loss":
        return rng.integers(0, 2, size=(n, k)).astype(float)
    if loss == "poisson":
        return rng.poisson(1.5, size=(n, k)).astype(float)
    return rng.normal(size=(n, k))


def random_network(rng, hidden, output, loss, **layer_options):
    depth = int(rng.integers(1, 4))
    widths = [int(w) for w in rng.integers(2, 7, size=depth)]
    n_in, n_out = int(rng.integers(1, 5)), int(rng.integers(2, 5))
    layers = [bp.Layer(w, hidden, **layer_options) for w in widths]
    return bp.Network(
        [n_in, *layers, bp.Layer(n_out, output)], loss=loss, seed=int(rng.integers(1 << 30))
    )


@pytest.mark.parametrize("hidden, output, loss", CASES)
def test_random_architectures(hidden, output, loss):
    rng = np.random.default_rng(zlib.crc32(f"{hidden}-{output}-{loss}".encode()))
    for _ in range(3):
        net = random_network(rng, hidden, output, loss)
        X = rng.normal(size=(int(rng.integers(1, 6)), net.n_inputs))
        Y = random_targets(rng, loss, X.shape[0], net.n_outputs)
        comparison = bp.compare_gradients(net, X, Y)
        assert comparison.worst < 1e-6, (net, comparison.worst)
        assert comparison.checked.mean() > 0.8  # kinks leave out only a few parameters


@pytest.mark.parametrize("hidden", HIDDEN)
@pytest.mark.parametrize("combine", ["sum", "concat"])
def test_skip_connections(hidden, combine):
    rng = np.random.default_rng(len(hidden) * 7 + len(combine))
    net = bp.Network(
        [
            3,
            bp.Layer(4, hidden),
            bp.Layer(4, hidden, inputs=[1]),
            bp.Layer(4, hidden, inputs=[1, 2], combine=combine),
            bp.Layer(2, "sigmoid", inputs=[0, 2, 3] if combine == "concat" else [3]),
        ],
        loss="log_loss",
        seed=11,
    )
    X, Y = rng.normal(size=(5, 3)), rng.integers(0, 2, size=(5, 2))
    assert bp.gradcheck(net, X, Y) < 1e-6


@pytest.mark.parametrize("training", [False, True], ids=["dropout-off", "dropout-frozen-mask"])
def test_dropout_layers(training):
    rng = np.random.default_rng(8)
    net = bp.Network(
        [
            4,
            bp.Layer(6, "tanh", dropout=0.3),
            bp.Layer(5, "relu", dropout=0.5),
            bp.Layer(3, "softmax"),
        ],
        loss="cross_entropy",
        seed=3,
    )
    X, Y = rng.normal(size=(6, 4)), rng.integers(0, 3, size=6)
    assert bp.gradcheck(net, X, Y, training=training, seed=4) < 1e-6


def test_dropout_mask_changes_the_gradient():
    net = bp.Network([3, bp.Layer(8, "tanh", dropout=0.5), 1], dtype="float64", seed=0)
    X, Y = np.ones((2, 3)), [[1.0], [0.0]]
    off = bp.compare_gradients(net, X, Y).analytic
    on = bp.compare_gradients(net, X, Y, training=True).analytic
    assert not np.allclose(off, on)


def test_sample_weights_in_gradcheck():
    rng = np.random.default_rng(9)
    net = bp.Network([3, 5, 2], hidden="tanh", output="identity", seed=1)
    X, Y = rng.normal(size=(6, 3)), rng.normal(size=(6, 2))
    assert bp.gradcheck(net, X, Y, sample_weight=rng.uniform(0, 2, size=6)) < 1e-6


def test_gradcheck_catches_a_wrong_derivative():
    """A derivative that is off by a factor must fail the check: the test can see bugs."""
    wrong = bp.register_activation(
        "wrong_tanh", np.tanh, lambda a: 1.1 * (1 - a**2), derivative_of="a", overwrite=True
    )
    net = bp.Network([2, bp.Layer(3, wrong), 1], output="identity", seed=0)
    X, Y = np.random.default_rng(0).normal(size=(4, 2)), np.zeros((4, 1))
    assert bp.gradcheck(net, X, Y) > 1e-3


def test_registered_activation_and_loss_pass():
    act = bp.register_activation(
        "swish_test",
        lambda z: z / (1 + np.exp(-z)),
        lambda z: (1 + np.exp(-z) + z * np.exp(-z)) / (1 + np.exp(-z)) ** 2,
        overwrite=True,
    )
    loss = bp.register_loss(
        "quartic_test", lambda o, y: (o - y) ** 4, lambda o, y: 4 * (o - y) ** 3, overwrite=True
    )
    net = bp.Network([2, bp.Layer(4, act), 2], output="identity", loss=loss, seed=2)
    X, Y = np.random.default_rng(1).normal(size=(3, 2)), np.zeros((3, 2))
    assert bp.gradcheck(net, X, Y) < 1e-6


def test_gradcheck_runs_in_float64_on_a_copy():
    net = bp.Network([2, 3, 1], seed=0)
    before = net.params.copy()
    comparison = bp.compare_gradients(net, [[0.1, 0.2]], [[1.0]])
    assert comparison.analytic.dtype == np.float64
    assert net.params.dtype == np.float32 and np.array_equal(net.params, before)
