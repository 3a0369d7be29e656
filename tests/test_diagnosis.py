"""history.diagnose() names the problem planted in a training run."""

import warnings

import numpy as np
import pytest

import backprop as bp

MOONS = bp.datasets.two_moons(n_samples=300, noise=0.2, seed=0)


def moons_network(hidden="tanh", depth=1):
    return bp.Network(
        [2, *[16] * depth, 2], hidden=hidden, output="softmax", loss="cross_entropy", seed=0
    )


def codes(history):
    return [finding.code for finding in history.diagnose()]


def train(net, X, y, **options):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bp.ConvergenceWarning)
        return net.fit(X, y, batch_size=32, **options)


def test_too_few_epochs():
    history = train(moons_network(), MOONS.X, MOONS.y, epochs=15, optimizer=bp.SGD(0.05))
    assert codes(history) == ["more_epochs"]
    assert "more epochs" in str(history.diagnose()[0])


def test_learning_rate_too_high():
    history = train(moons_network(), MOONS.X, MOONS.y, epochs=40, optimizer=bp.SGD(40.0))
    assert "lower_learning_rate" in codes(history)


def test_deep_sigmoid_network_has_vanishing_gradients_and_relu_does_not():
    sigmoid = train(moons_network("sigmoid", 5), MOONS.X, MOONS.y, epochs=30, optimizer=bp.SGD(0.1))
    relu = train(moons_network("relu", 5), MOONS.X, MOONS.y, epochs=30, optimizer=bp.SGD(0.1))
    assert codes(sigmoid) == ["vanishing_gradients"]
    assert "vanishing_gradients" not in codes(relu)
    assert sigmoid.mean_abs_delta[-1, 0] < 1e-2 * sigmoid.mean_abs_delta[-1, -1]
    assert relu.mean_abs_delta[-1, 0] > 0.5 * relu.mean_abs_delta[-1, -1]


def test_overfitting():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(40, 10)), rng.integers(0, 2, 40)
    net = bp.Network(
        [10, 128, 128, 2], hidden="relu", output="softmax", loss="cross_entropy", seed=0
    )
    history = train(
        net, X[:30], y[:30], epochs=300, optimizer="adam", lr=0.01, validation_data=(X[30:], y[30:])
    )
    assert "overfitting" in codes(history)


def test_flat_loss():
    history = train(moons_network(), MOONS.X * 1000, MOONS.y, epochs=30, optimizer=bp.SGD(1e-6))
    assert codes(history) == ["flat_loss"]


def test_a_healthy_run_has_no_findings():
    history = train(moons_network("relu", 5), MOONS.X, MOONS.y, epochs=30, optimizer=bp.SGD(0.1))
    assert codes(history) == []


def test_fit_warns_when_training_did_not_converge():
    with pytest.warns(bp.ConvergenceWarning, match="more epochs"):
        moons_network().fit(MOONS.X, MOONS.y, epochs=15, batch_size=32, optimizer=bp.SGD(0.05))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        moons_network().fit(
            MOONS.X, MOONS.y, epochs=15, batch_size=32, optimizer=bp.SGD(0.05), warn=False
        )


def test_short_histories_say_nothing():
    history = train(moons_network(), MOONS.X, MOONS.y, epochs=2)
    assert codes(history) == []
