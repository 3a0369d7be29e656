"""history.diagnose() names the problem planted in a training run, with its numbers, and advice
that fits the network."""

import math
import warnings

import numpy as np
import pytest

import backprop as bp
from backprop.training.history import History

MOONS = bp.datasets.two_moons(n_samples=300, noise=0.2, seed=0)
DEMO_MOONS = bp.datasets.two_moons(n_samples=400, noise=0.15, seed=0)  # backprop demo moons


def moons_network(hidden="tanh", depth=1, output="softmax"):
    return bp.Network(
        [2, *[16] * depth, 2], hidden=hidden, output=output, loss="cross_entropy", seed=0
    )


def codes(history):
    return [finding.code for finding in history.diagnose()]


def message(history, code):
    return next(str(finding) for finding in history.diagnose() if finding.code == code)


def suggests_relu(history):
    return any("use relu" in str(finding).lower() for finding in history.diagnose())


def train(net, X, y, **options):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bp.ConvergenceWarning)
        return net.fit(X, y, **{"batch_size": 32, **options})


def test_too_few_epochs():
    history = train(moons_network(), MOONS.X, MOONS.y, epochs=15, optimizer=bp.SGD(0.05))
    assert codes(history) == ["more_epochs"]
    assert "more epochs" in str(history.diagnose()[0])


def test_learning_rate_too_high_shows_in_the_curve_and_in_the_update_ratio():
    # far above the edge: at 40 the median ratio of seed 0 lands near 0.1 (0.08 with one BLAS
    # kernel's rounding, above with another); at 200 it is 0.19-0.33 over seeds 0-4
    history = train(moons_network(), MOONS.X, MOONS.y, epochs=40, optimizer=bp.SGD(200.0))
    assert {"lower_learning_rate", "large_updates"} <= set(codes(history))
    assert np.median(history.update_ratio, axis=0).max() > 0.1  # ~1e-3 is healthy
    assert "‖ΔW‖/‖W‖" in message(history, "large_updates")
    assert "lower the learning rate" in message(history, "large_updates")


def test_inputs_scaled_by_1000_stuck_at_chance_level():
    net = moons_network("relu", 2)
    history = train(
        net,
        DEMO_MOONS.X * 1000,
        DEMO_MOONS.y,
        epochs=100,
        optimizer=bp.SGD(0.1),
        validation_split=0.25,
    )
    assert history.val_accuracy[-1] <= 0.6
    assert abs(history.loss[-1] - math.log(2)) < 0.01
    assert codes(history)[:2] == ["chance_level", "high_initial_loss"]
    assert "ln 2 = 0.6931" in message(history, "chance_level")
    assert "learned nothing" in message(history, "chance_level")
    initial = message(history, "high_initial_loss")
    assert "standardise the inputs" in initial and "root mean square is 8" in initial
    assert not suggests_relu(history)


def test_a_run_at_chance_level_warns():
    with pytest.warns(bp.ConvergenceWarning, match="learned nothing"):
        moons_network("relu", 2).fit(
            DEMO_MOONS.X * 1000, DEMO_MOONS.y, epochs=30, batch_size=32, optimizer=bp.SGD(0.1)
        )


def test_dead_relu_units_from_a_huge_learning_rate_are_not_told_to_use_relu():
    history = train(
        moons_network("relu", 2), DEMO_MOONS.X, DEMO_MOONS.y, epochs=100, optimizer=bp.SGD(5.0)
    )
    assert (history.dead_fraction[-10:, 1] == 1.0).all()
    assert "dead_units" in codes(history)
    dead = message(history, "dead_units")
    assert "16 of 16 relu units in hidden layer 2" in dead
    assert "Lower the learning rate (the first epoch's loss was" in dead
    assert "leaky_relu" in dead
    assert "vanishing_gradients" not in codes(history)  # the dead units explain the deltas
    assert not suggests_relu(history)


def test_saturated_sigmoid_units_from_unscaled_inputs():
    history = train(
        moons_network("sigmoid"), MOONS.X * 1000, MOONS.y, epochs=30, optimizer=bp.SGD(0.1)
    )
    assert "saturated_units" in codes(history)
    saturated = message(history, "saturated_units")
    assert "sigmoid units in hidden layer 1 were within 0.01 of 0 or 1" in saturated
    assert "Standardise the inputs" in saturated


def test_saturated_sigmoid_units_from_large_weights():
    net = moons_network("sigmoid")
    net.layers[1].W = net.layers[1].W * 100
    history = train(net, MOONS.X, MOONS.y, epochs=30, optimizer=bp.SGD(0.1))
    assert history.saturated_fraction[-3:, 0].max() >= 0.5
    assert codes(history) == ["saturated_units"]
    assert 'start from smaller weights (init="glorot"' in message(history, "saturated_units")


def test_updates_too_small():
    history = train(
        moons_network("relu", 2), DEMO_MOONS.X, DEMO_MOONS.y, epochs=50, optimizer=bp.SGD(1e-4)
    )
    assert history.update_ratio[:5].max() < 1e-4
    assert "small_updates" in codes(history)
    assert "raise the learning rate" in message(history, "small_updates")


def test_deep_sigmoid_network_has_vanishing_gradients_and_relu_does_not():
    sigmoid = train(moons_network("sigmoid", 5), MOONS.X, MOONS.y, epochs=30, optimizer=bp.SGD(0.1))
    relu = train(moons_network("relu", 5), MOONS.X, MOONS.y, epochs=30, optimizer=bp.SGD(0.1))
    # thirty epochs leave the sigmoid network at ln 2: the vanishing deltas are why
    assert codes(sigmoid) == ["chance_level", "vanishing_gradients"]
    assert "use ReLU hidden units" in message(sigmoid, "vanishing_gradients")
    assert "vanishing_gradients" not in codes(relu)
    assert sigmoid.mean_abs_delta[-1, 0] < 1e-2 * sigmoid.mean_abs_delta[-1, -1]
    assert relu.mean_abs_delta[-1, 0] > 0.5 * relu.mean_abs_delta[-1, -1]


def test_vanishing_gradients_in_a_relu_like_network_get_advice_for_it():
    net = moons_network("leaky_relu", 5)
    for layer in net.layers[1:]:
        layer.W = layer.W * 0.3  # far below He's scale: each layer shrinks the deltas
    history = train(net, MOONS.X, MOONS.y, epochs=30, optimizer=bp.SGD(0.1))
    assert "vanishing_gradients" in codes(history)
    advice = message(history, "vanishing_gradients")
    assert "(leaky_relu) do not saturate" in advice and 'init="he"' in advice
    assert not suggests_relu(history)


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


def test_flat_loss_from_unscaled_inputs_and_a_tiny_learning_rate():
    history = train(moons_network(), MOONS.X * 1000, MOONS.y, epochs=30, optimizer=bp.SGD(1e-6))
    found = codes(history)
    assert "flat_loss" in found and "more_epochs" not in found
    # each cause with its own evidence: the inputs' scale, the saturated units, the tiny steps
    assert {"high_initial_loss", "saturated_units", "small_updates"} <= set(found)
    assert "root mean square is 8" in message(history, "flat_loss")


def test_flat_loss_with_standardised_inputs_says_raise_the_learning_rate():
    history = train(moons_network(), MOONS.X, MOONS.y, epochs=30, optimizer=bp.SGD(1e-6))
    assert "flat_loss" in codes(history)
    assert "raise the learning rate" in message(history, "flat_loss")


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


def test_overfitting_alone_does_not_warn():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(40, 10)), rng.integers(0, 2, 40)
    net = bp.Network(
        [10, 128, 128, 2], hidden="relu", output="softmax", loss="cross_entropy", seed=0
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = net.fit(
            X[:30],
            y[:30],
            epochs=300,
            optimizer="adam",
            lr=0.01,
            validation_data=(X[30:], y[30:]),
        )
    assert codes(history) == ["overfitting"]
    assert not history.diagnose()[0].about_training
    assert not [w for w in caught if issubclass(w.category, bp.ConvergenceWarning)]


def test_short_histories_say_nothing():
    history = train(moons_network(), MOONS.X, MOONS.y, epochs=2)
    assert codes(history) == []


def test_a_history_without_layer_statistics_still_reads_its_curves():
    history = History()  # as built by hand, or restored from an older checkpoint
    for loss in np.linspace(1.0, 0.5, 20):
        history.append({"loss": float(loss)}, {})
    assert codes(history) == ["more_epochs"]
