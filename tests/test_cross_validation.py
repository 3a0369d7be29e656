"""``fit_cross_validated``: k networks, each trained on k − 1 folds and stopped by the one it
leaves out, kept as their ensemble, with each row's out-of-fold prediction."""

from dataclasses import replace

import numpy as np
import pytest

import backprop as bp
from backprop.training.cross_validation import fit_cross_validated, stratified_folds
from backprop.training.recipes import Recipe

RECIPE = Recipe(hidden=(8,), lr=1e-2, batch_size=16, patience=5, max_epochs=30, time_limit=None)


@pytest.fixture(scope="module")
def blobs():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 150)
    X = (rng.normal(size=(150, 4)) + np.eye(3, 4)[y] * 2.0).astype(np.float32)
    return X, y


@pytest.fixture(scope="module")
def result(blobs):
    return fit_cross_validated(RECIPE, *blobs, n_outputs=3, folds=4, seed=7)


def test_every_row_is_left_out_by_exactly_one_network(blobs, result):
    assert len(result.members) == len(result.folds) == len(result.histories) == 4
    scored = np.concatenate([rows for _, rows in result.folds])
    assert sorted(scored.tolist()) == list(range(150))
    for trained, rows in result.folds:
        assert not set(trained.tolist()) & set(rows.tolist())
        assert len(trained) + len(rows) == 150


def test_each_member_is_the_recipe_trained_on_its_folds_and_stopped_by_the_other(blobs, result):
    X, y = blobs
    for m, (member, (trained, scored), outcome) in enumerate(
        zip(result.members, result.folds, result.outcomes, strict=True)
    ):
        again = RECIPE.network(4, 3, seed=7 + m)  # each network its own start
        _, expected = RECIPE.fit(
            again, X[trained], y[trained], validation_data=(X[scored], y[scored])
        )
        np.testing.assert_array_equal(member.params, again.params)
        assert outcome["best_epoch"] == expected["best_epoch"]


def test_out_of_fold_outputs_come_from_the_network_that_left_the_row_out(blobs, result):
    X, _ = blobs
    for member, (_, scored) in zip(result.members, result.folds, strict=True):
        np.testing.assert_array_equal(result.out_of_fold[scored], member.predict(X[scored]))
    assert result.out_of_fold.dtype == np.float64


def test_the_kept_network_is_the_members_ensemble(blobs, result):
    X, _ = blobs
    np.testing.assert_allclose(
        result.net.params, bp.ensemble(result.members).params, rtol=0, atol=0
    )
    assert result.net.sizes == [4, 8, 8, 8, 8, 3]
    accuracy = (result.net.predict_classes(X) == blobs[1]).mean()
    assert accuracy > 0.8  # chance: 1/3


def test_regression_targets_are_dealt_at_random():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(60, 2)).astype(np.float32)
    y = (X[:, 0] - X[:, 1]).astype(np.float32)
    result = fit_cross_validated(RECIPE, X, y, 1, task="regression", folds=3, seed=0)
    assert result.out_of_fold.shape == (60, 1) and result.net.output_activation.name == "identity"
    assert [len(rows) for _, rows in result.folds] == [20, 20, 20]
    assert np.corrcoef(result.out_of_fold[:, 0], y)[0, 1] > 0.8


def test_the_time_limit_is_shared_between_the_networks(blobs):
    result = fit_cross_validated(replace(RECIPE, time_limit=1e-6), *blobs, 3, folds=3, seed=0)
    assert [o["stopped"] for o in result.outcomes] == ["time limit"] * 3
    assert [o["epochs_run"] for o in result.outcomes] == [1, 1, 1]


@pytest.mark.parametrize(
    "folds, error, message",
    [
        (1, ValueError, "folds must be an integer >= 2"),
        (True, ValueError, "folds must be an integer >= 2"),
        (2.5, ValueError, "folds must be an integer >= 2"),
        (200, ValueError, "200 folds need at least 200 rows, got 150"),
    ],
)
def test_bad_folds_are_refused(blobs, folds, error, message):
    with pytest.raises(error, match=message):
        fit_cross_validated(RECIPE, *blobs, 3, folds=folds)


def test_folds_keep_each_classes_share():
    y = np.repeat([0, 1], [40, 10])
    for _, rows in stratified_folds(y, 5, seed=3):
        assert np.bincount(y[rows]).tolist() == [8, 2]


def test_one_hot_rows_are_dealt_as_their_classes(blobs):
    X, y = blobs
    coded = fit_cross_validated(replace(RECIPE, max_epochs=1), X, y, 3, folds=3, seed=2)
    one_hot = fit_cross_validated(
        replace(RECIPE, max_epochs=1), X, np.eye(3)[y], 3, folds=3, seed=2
    )
    for (_, a), (_, b) in zip(coded.folds, one_hot.folds, strict=True):
        np.testing.assert_array_equal(a, b)
