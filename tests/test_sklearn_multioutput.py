"""Multi-output regression side by side with scikit-learn's MLPRegressor (3 outputs).

Both estimators start from the same weights (ours drawn, then copied into scikit-learn's,
which continues them with ``warm_start``), so every difference comes from the training
itself. scikit-learn reports the squared loss averaged over the outputs but steps along the
gradient of its sum; ``MLPRegressor._reported_loss`` says how ours does the same.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn import neural_network as sk
from sklearn.exceptions import ConvergenceWarning

from backprop import sklearn as bp

K = 3  # outputs


def _data(n: int = 60):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, 4))
    Y = np.c_[X[:, 0], 2 * X[:, 1], X[:, 2] - X[:, 3]] + 0.1 * rng.normal(size=(n, K))
    return X, Y


def _from_the_same_weights(fit_ours, fit_theirs=None, **params):
    """Ours and scikit-learn's, fitted by ``fit_ours(est)`` / ``fit_theirs(est)`` from equal
    initial weights (float64), ``params`` shared."""
    X, Y = _data()
    settings = {"hidden_layer_sizes": (8,), "random_state": 0, "shuffle": False, **params}
    ours = bp.MLPRegressor(**settings)
    ours._reset_state(X, Y)
    ours._publish_weights()
    start = [W.copy() for W in ours.coefs_], [b.copy() for b in ours.intercepts_]
    theirs = sk.MLPRegressor(**{**settings, "max_iter": 1})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        theirs.fit(X, Y)  # to build it; the weights are replaced next
        theirs.coefs_, theirs.intercepts_ = [W.copy() for W in start[0]], start[1]
        theirs.set_params(warm_start=True, max_iter=settings.get("max_iter", 200))
        ours.set_params(warm_start=True)
        (fit_theirs or fit_ours)(theirs, X, Y)
        fit_ours(ours, X, Y)
    return ours, theirs, (X, Y)


def _fit(est, X, Y):
    est.fit(X, Y)


@pytest.mark.parametrize("alpha", [0.0, 0.1])
def test_sgd_steps_and_losses_are_scikit_learns(alpha):
    ours, theirs, _ = _from_the_same_weights(
        _fit, solver="sgd", alpha=alpha, batch_size=16, learning_rate_init=0.01, max_iter=5
    )
    for W_ours, W_theirs in zip(ours.coefs_, theirs.coefs_, strict=True):
        np.testing.assert_allclose(W_ours, W_theirs, rtol=0, atol=1e-12)
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_[1:], rtol=1e-9)
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=1e-9)
    assert ours.best_loss_ == pytest.approx(theirs.best_loss_, rel=1e-9)


def test_tol_stops_sgd_at_scikit_learns_epoch():
    # the stopping test compares the averaged loss with tol; on the summed loss (3x larger
    # improvements) this run would go on longer
    ours, theirs, _ = _from_the_same_weights(
        _fit, solver="sgd", alpha=0.01, batch_size=16, learning_rate_init=0.01, tol=1e-3
    )
    assert ours.n_iter_ == theirs.n_iter_ < 200
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=1e-9)


def test_adam_loss_curve_and_score_are_scikit_learns():
    ours, theirs, (X, Y) = _from_the_same_weights(
        _fit, solver="adam", alpha=0.01, batch_size=16, learning_rate_init=0.01, tol=1e-3
    )
    # the weights agree to ~1e-6 (the two Adams round differently), the losses to 1e-6
    assert ours.n_iter_ == theirs.n_iter_
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_[1:], rtol=1e-6)
    assert ours.score(X, Y) == pytest.approx(theirs.score(X, Y), abs=1e-6)


def test_lbfgs_is_given_scikit_learns_objective():
    ours, theirs, (X, Y) = _from_the_same_weights(_fit, solver="lbfgs", alpha=0.01, max_iter=30)
    # L-BFGS-B takes the same steps from the same (value, gradient) pairs: equal to rounding
    assert ours.n_iter_ == theirs.n_iter_
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=1e-6)
    for W_ours, W_theirs in zip(ours.coefs_, theirs.coefs_, strict=True):
        np.testing.assert_allclose(W_ours, W_theirs, rtol=0, atol=1e-6)


def test_lbfgs_run_to_convergence_ends_where_scikit_learns_does():
    ours, theirs, (X, Y) = _from_the_same_weights(_fit, solver="lbfgs", alpha=0.01, tol=1e-6)
    # over hundreds of iterations rounding lets the paths part a little: stated tolerance
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=1e-2)
    assert ours.score(X, Y) == pytest.approx(theirs.score(X, Y), abs=1e-3)


def test_partial_fit_continues_as_scikit_learns():
    def one_epoch_then_two_partial_fits(est, X, Y):
        est.set_params(max_iter=1).fit(X, Y)
        est.partial_fit(X, Y)
        est.partial_fit(X, Y)

    ours, theirs, _ = _from_the_same_weights(
        one_epoch_then_two_partial_fits, solver="sgd", alpha=0.1, batch_size=16
    )
    assert ours.t_ == theirs.t_ - 60  # scikit-learn's first fit built it
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_[1:], rtol=1e-9)


def test_early_stopping_keeps_scikit_learns_record():
    ours, theirs, (X, Y) = _from_the_same_weights(
        _fit, solver="sgd", early_stopping=True, alpha=0.01, batch_size=16, max_iter=40
    )
    assert ours.n_iter_ == theirs.n_iter_
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_[1:], rtol=1e-9)
    np.testing.assert_allclose(ours.validation_scores_, theirs.validation_scores_[1:], atol=1e-9)
    assert ours.score(X, Y) == pytest.approx(theirs.score(X, Y), abs=1e-9)


def test_one_output_and_the_other_losses_report_the_summed_loss():
    X, Y = _data()
    for loss, y in (("squared", Y[:, 0]), ("absolute", Y), ("huber", Y)):
        est = bp.MLPRegressor((4,), solver="sgd", loss=loss, max_iter=2, random_state=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            est.fit(X, y)
        assert est._reported_loss(1.5, 0.25) == 1.5
    squared = bp.MLPRegressor((4,), max_iter=2, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        squared.fit(X, Y)
    assert squared._reported_loss(1.5, 0.25) == pytest.approx((1.5 - 0.25) / K + 0.25)
