"""The single-layer story: what one unit can learn, and what it cannot."""

import numpy as np
import pytest

import backprop as bp


@pytest.mark.parametrize("gate", [bp.datasets.and_gate, bp.datasets.or_gate])
@pytest.mark.parametrize("seed", range(10))
def test_perceptron_learns_and_and_or(gate, seed):
    X, y = gate()[:2]
    perceptron = bp.Perceptron(seed=seed).fit(X, y, epochs=100)
    assert perceptron.converged and perceptron.errors[-1] == 0
    np.testing.assert_array_equal(perceptron.predict(X), y)


@pytest.mark.parametrize("seed", range(20))
def test_perceptron_never_reaches_100_percent_on_xor(seed):
    X, y = bp.datasets.xor()[:2]
    perceptron = bp.Perceptron(seed=seed).fit(X, y, epochs=500)
    assert not perceptron.converged
    assert min(perceptron.errors) >= 1  # every epoch makes a mistake
    assert (perceptron.predict(X) == y).mean() < 1


def test_two_layer_network_learns_xor_where_the_perceptron_cannot():
    X, y = bp.datasets.xor()[:2]
    net = bp.Network([2, 4, 1], seed=0)
    net.fit(X, y, epochs=4000, batch_size=None, optimizer=bp.SGD(lr=2.0))
    np.testing.assert_array_equal(net.predict_classes(X), y)


def test_perceptron_rule_updates_by_hand():
    perceptron = bp.Perceptron(lr=0.5, seed=0)
    X, t = np.array([[1.0, 2.0]]), np.array([0.0])
    perceptron.fit(X, t, epochs=1)
    w0 = np.random.default_rng(0).uniform(-0.5, 0.5, 2)
    y = float(X[0] @ w0 >= 0)
    np.testing.assert_allclose(perceptron.w, w0 + 0.5 * (0 - y) * X[0])


def test_linear_delta_rule_converges_to_least_squares():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 3))
    t = X @ np.array([1.5, -2.0, 0.5]) + 0.3 + 0.01 * rng.normal(size=50)
    unit = bp.DeltaRuleUnit("identity", lr=0.02, seed=0).fit(X, t, epochs=300)
    coef, *_ = np.linalg.lstsq(np.hstack([X, np.ones((50, 1))]), t, rcond=None)
    np.testing.assert_allclose(np.append(unit.w, unit.b), coef, atol=5e-3)
    assert unit.errors[-1] < unit.errors[0]


def test_sigmoid_delta_rule_learns_and_but_not_xor():
    X, y = bp.datasets.and_gate()[:2]
    unit = bp.DeltaRuleUnit("sigmoid", lr=1.0, seed=0).fit(X, y, epochs=2000)
    np.testing.assert_array_equal(unit.predict(X), y)
    X, y = bp.datasets.xor()[:2]
    unit = bp.DeltaRuleUnit("sigmoid", lr=1.0, seed=0).fit(X, y, epochs=2000)
    assert (unit.predict(X) == y).mean() < 1


def test_bad_input():
    with pytest.raises(ValueError, match="not trained"):
        bp.Perceptron().predict([[0, 1]])
    with pytest.raises(ValueError, match="different numbers of samples"):
        bp.Perceptron().fit([[0, 1], [1, 0]], [1])
    with pytest.raises(ValueError, match="activation"):
        bp.DeltaRuleUnit("relu")
    with pytest.raises(ValueError, match="lr"):
        bp.Perceptron(lr=0)
    with pytest.raises(ValueError, match="NaN"):
        bp.Perceptron().fit([[0, float("nan")]], [1])
