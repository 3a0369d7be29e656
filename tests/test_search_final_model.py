"""The model ``--search`` keeps with folds (``--keep``): the ensemble of the best trials' fold
networks and their refits on every training row (the default), or, from the best trial's fold
networks and a refit, their weight average (set aside when it does worse on the held-out rows
than each network in it) or the refit."""

import argparse
from dataclasses import replace

import numpy as np
import pytest

import backprop.cli.train_search as train_search
from backprop import ensemble
from backprop.cli.errors import UsageError
from backprop.cli.search import TOP_TRIALS, Ranked, shared_epoch
from backprop.cli.search_kept import average_or_fallback, ensemble_words, top_trials_fold_networks
from backprop.cli.train_search import run_search
from backprop.training import TrainingDiverged
from backprop.training.cross_validation import fit_cross_validated, stratified_folds
from backprop.training.evaluation import evaluate
from backprop.training.recipes import Recipe, default_recipe

pytest.importorskip("optuna")

RECIPE = Recipe(hidden=(16,), lr=1e-2, batch_size=16, patience=5, max_epochs=40)
BASE = default_recipe(240, 4, 3, hidden=(32,), max_epochs=40, patience=5)
"""The recipe ``_run``'s searches start from (their first trial), inside the search space."""


@pytest.fixture(scope="module")
def blobs():
    """Three classes in four features: 240 training rows and 60 held out."""
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 300)
    X = (rng.normal(size=(300, 4)) + np.eye(3, 4)[y] * 2.0).astype(np.float32)
    return (X[:240], y[:240]), (X[240:], y[240:])


def trained(blobs, rows, seed=0):
    (X, y), validation = blobs
    net = RECIPE.network(4, 3, seed=seed)
    RECIPE.fit(net, X[rows], y[rows], validation_data=validation)
    return net


def test_the_average_of_networks_from_one_start_is_kept(blobs):
    members = [trained(blobs, slice(0, 160)), trained(blobs, slice(80, 240))]
    average, averaged = average_or_fallback(RECIPE.network(4, 3), members, blobs[1], members[0])
    assert averaged
    np.testing.assert_allclose(average.params, (members[0].params + members[1].params) / 2)
    worst = max(evaluate(member, *blobs[1])["val_loss"] for member in members)
    assert evaluate(average, *blobs[1])["val_loss"] <= worst


def test_an_average_that_leaves_the_basin_gives_way_to_the_fallback(blobs):
    first = trained(blobs, slice(0, 240))
    shuffled = RECIPE.network(4, 3)  # the same function with its hidden units reordered
    order = np.random.default_rng(1).permutation(16)
    hidden, output = shuffled.layers[1], shuffled.layers[2]
    hidden.W, hidden.b = first.layers[1].W[order], first.layers[1].b[order]
    output.W, output.b = first.layers[2].W[:, order], first.layers[2].b
    losses = [evaluate(net, *blobs[1])["val_loss"] for net in (first, shuffled)]
    assert losses[0] == pytest.approx(losses[1], rel=1e-5)
    kept, averaged = average_or_fallback(RECIPE.network(4, 3), [first, shuffled], blobs[1], first)
    assert not averaged and kept is first


def _run(blobs, monkeypatch, folds=5, refit_interrupted=False, keep=None, seconds=2.0):
    """``run_search`` on the blobs with ``folds`` folds for ``seconds``, and the search's best
    trial."""
    captured = {}
    real_search = train_search.search

    def spy(*args, **kwargs):
        captured["best"], *rest = real_search(*args, **kwargs)
        return (captured["best"], *rest)

    monkeypatch.setattr(train_search, "search", spy)
    if refit_interrupted:
        real_fit = Recipe.fit

        def fit(recipe, net, X, *args, **kwargs):
            if len(X) == len(blobs[0][0]):  # the refit trains on every training row
                raise KeyboardInterrupt
            return real_fit(recipe, net, X, *args, **kwargs)

        monkeypatch.setattr(Recipe, "fit", fit)
    args = argparse.Namespace(folds=folds, seed=0, search_seconds=seconds, quiet=True, keep=keep)
    base = BASE
    return run_search(args, base, 4, 3, "classification", blobs), captured["best"]


def _refit(result, blobs):
    refit = result.recipe.network(4, 3, seed=0)
    result.recipe.fit(refit, *blobs[0], validation_data=blobs[1])
    return refit


def _fold_networks(result, best):
    networks = [result.recipe.network(4, 3, seed=0) for _ in best.fold_params]
    for net, params in zip(networks, best.fold_params, strict=True):
        net.params[...] = params
    return networks


def _kept_words(trials: int, folds: int, refits: bool = True) -> str:
    """What the record says the search kept (followed by the trials left out, if any)."""
    return ensemble_words(trials, folds, refits, left_out="")


@pytest.mark.parametrize(
    "trials, refits, words",
    [
        (
            3,
            True,
            "the ensemble of the 3 best trials' 5 fold networks each and their refits on every "
            "training row (18 networks), their outputs averaged",
        ),
        (
            1,
            True,
            "the ensemble of the best trial's 5 fold networks each and its refit on every "
            "training row (6 networks), their outputs averaged",
        ),
        (
            2,
            False,
            "the ensemble of the 2 best trials' 5 fold networks each (10 networks), their outputs "
            "averaged",
        ),
    ],
)
def test_the_kept_ensemble_is_described_in_words(trials, refits, words):
    assert ensemble_words(trials, 5, refits, left_out="") == words
    assert ensemble_words(trials, 5, refits, left_out=" (x)") == words + " (x)"


def _kept_top(result, best):
    kept = [ranked for ranked in best.top if ranked.trial in result.search["kept_trials"]]
    assert kept and kept[0] is best.top[0]  # the best trial is always kept
    return kept


def _refits(result, best, blobs):
    """Each kept trial's settings trained on every training row, from seed 0, for the epochs
    it was scored at (with the base recipe's time limit, not the search's)."""
    refits = []
    for ranked in _kept_top(result, best):
        recipe = replace(ranked.recipe, time_limit=BASE.time_limit)
        refit = recipe.network(4, 3, seed=0)
        recipe.fit(refit, *blobs[0], epochs=ranked.shared_epoch)
        refits.append(refit)
    return refits


def _top_trials_networks(result, best, fold=None):
    """The kept trials' fold networks, trial by trial (only fold ``fold``'s, when given)."""
    networks = []
    kept = _kept_top(result, best)
    for ranked in kept:
        for m, params in enumerate(ranked.fold_params):
            if fold is None or m == fold:
                net = ranked.recipe.network(4, 3)
                net.params[...] = params
                networks.append(net)
    return networks


@pytest.mark.parametrize("folds", [5, 3])
def test_the_default_keeps_the_ensemble_of_the_best_trials_fold_networks(blobs, monkeypatch, folds):
    seeds = []
    real_network = Recipe.network

    def network(recipe, *args, seed=None, **kwargs):
        seeds.append(seed)
        return real_network(recipe, *args, seed=seed, **kwargs)

    monkeypatch.setattr(Recipe, "network", network)
    result, best = _run(blobs, monkeypatch, folds=folds)
    top = len(best.top)
    assert top == min(TOP_TRIALS, result.search["complete"]) and top >= 2
    assert [ranked.rank for ranked in best.top] == sorted(
        (ranked.rank for ranked in best.top), reverse=True
    )
    assert best.top[0].trial == best.trial and best.top[0].fold_params is best.fold_params
    assert result.search["folds"] == folds and all(
        len(ranked.fold_params) == folds for ranked in best.top
    )
    kept = len(result.search["kept_trials"])
    assert result.search["kept"].startswith(_kept_words(kept, folds))
    assert (kept < top) == ("left out" in result.search["kept"])
    assert set(seeds) == set(range(folds))  # fold network m of every trial starts from seed m
    kept_top = _kept_top(result, best)
    assert result.search["refit_epochs"] == [ranked.shared_epoch for ranked in kept_top]
    assert all(ranked.shared_epoch >= 1 for ranked in kept_top)
    expected = ensemble(_top_trials_networks(result, best) + _refits(result, best, blobs))
    assert result.net.sizes == expected.sizes
    np.testing.assert_allclose(result.net.params, expected.params, rtol=1e-6, atol=1e-7)
    assert not result.interrupted


def test_the_default_scores_each_row_by_the_kept_networks_that_did_not_train_on_it(
    blobs, monkeypatch
):
    result, best = _run(blobs, monkeypatch, folds=3)
    (X, y), _ = blobs
    scored_rows = stratified_folds(y, 3, seed=0)
    assert result.out_of_fold.shape == (len(y), 3)
    for fold, (_, rows) in enumerate(scored_rows):
        fold_networks = ensemble(_top_trials_networks(result, best, fold))
        np.testing.assert_allclose(
            result.out_of_fold[rows], fold_networks.predict(X[rows]), rtol=1e-5, atol=1e-6
        )


def _assert_fold_networks_alone(result, best, why: str) -> None:
    """The kept model is the kept trials' fold networks without refits, and says ``why``."""
    kept = len(result.search["kept_trials"])
    assert result.search["kept"].startswith(_kept_words(kept, 5, refits=False))
    assert result.search["kept"].endswith(f" (no refits: {why})")
    assert result.search["refit_epochs"] == []
    expected = ensemble(_top_trials_networks(result, best))
    np.testing.assert_allclose(result.net.params, expected.params, rtol=1e-6, atol=1e-7)


def test_an_interrupted_search_keeps_the_best_trials_so_far(blobs, monkeypatch):
    fits = []
    real_fit = Recipe.fit

    def fit(recipe, *args, **kwargs):
        fits.append(1)
        if len(fits) > 10:  # two trials of 5 folds, then Ctrl-C
            raise KeyboardInterrupt
        return real_fit(recipe, *args, **kwargs)

    monkeypatch.setattr(Recipe, "fit", fit)
    # a budget no machine spends on two trials, so Ctrl-C comes in the third, not a refit
    result, best = _run(blobs, monkeypatch, seconds=600.0)
    assert result.interrupted and result.search["interrupted"]
    assert [ranked.trial for ranked in best.top] in ([0, 1], [1, 0])
    _assert_fold_networks_alone(result, best, "the search was interrupted")


def test_interrupted_refits_leave_the_ensemble_of_the_fold_networks(blobs, monkeypatch):
    result, best = _run(blobs, monkeypatch, refit_interrupted=True)
    assert result.interrupted and result.search["interrupted"]
    _assert_fold_networks_alone(result, best, "they were interrupted")


def test_a_diverging_refit_leaves_the_ensemble_of_the_fold_networks(blobs, monkeypatch):
    real_fit = Recipe.fit

    def fit(recipe, net, X, *args, epochs=None, **kwargs):
        if epochs is not None:  # a refit
            raise TrainingDiverged("the loss became nan in epoch 3, batch 2.")
        return real_fit(recipe, net, X, *args, **kwargs)

    monkeypatch.setattr(Recipe, "fit", fit)
    result, best = _run(blobs, monkeypatch)
    assert not result.interrupted and not result.search["interrupted"]
    why = f"trial {best.trial}'s diverged: the loss became nan in epoch 3, batch 2."
    _assert_fold_networks_alone(result, best, why)


def test_a_trial_clearly_behind_the_best_is_left_out_of_the_ensemble(blobs):
    (X, y), _ = blobs
    folds = stratified_folds(y, 3, seed=0)
    trained_params = [
        trained(blobs, rows, seed=m).params.copy() for m, (rows, _) in enumerate(folds)
    ]
    untrained = [RECIPE.network(4, 3, seed=9).params.copy() for _ in folds]  # near chance

    def make_network(recipe, params=None, fold=0):
        net = recipe.network(4, 3, seed=fold)
        if params is not None:
            net.params[...] = params
        return net

    top = [
        Ranked((0.9, 0.0), 7, RECIPE, trained_params),
        Ranked((0.9, -0.1), 2, RECIPE, [params.copy() for params in trained_params]),
        Ranked((0.3, -1.0), 5, RECIPE, untrained),
    ]
    networks, out_of_fold, left_out, kept = top_trials_fold_networks(
        make_network, top, (X, y), folds, "classification"
    )
    assert kept == top[:2]
    assert left_out == (
        " (trial 5 left out: out-of-fold errors more than 4 standard errors above the best trial's)"
    )
    members = [make_network(RECIPE, top[t].fold_params[m]) for t in (0, 1) for m in range(3)]
    assert len(networks) == len(members)
    for net, member in zip(networks, members, strict=True):
        np.testing.assert_array_equal(net.params, member.params)
    for m, (_, rows) in enumerate(folds):
        expected = make_network(RECIPE, trained_params[m]).predict(X[rows])
        np.testing.assert_allclose(out_of_fold[rows], expected, rtol=1e-5, atol=1e-6)


def test_the_first_trial_is_the_defaults_cross_validated_ensemble(blobs, monkeypatch):
    (X, y), _ = blobs
    defaults = fit_cross_validated(BASE, X, y, 3, folds=5, seed=0)
    fits = []
    real_fit = Recipe.fit

    def fit(recipe, *args, **kwargs):
        fits.append(1)
        if len(fits) > 5:  # the first trial's 5 fold networks, then Ctrl-C
            raise KeyboardInterrupt
        return real_fit(recipe, *args, **kwargs)

    monkeypatch.setattr(Recipe, "fit", fit)
    result, best = _run(blobs, monkeypatch, seconds=60.0)
    assert [ranked.trial for ranked in best.top] == [0] and result.interrupted
    for member, params in zip(defaults.members, best.top[0].fold_params, strict=True):
        np.testing.assert_array_equal(params, member.params)
    np.testing.assert_array_equal(result.out_of_fold, defaults.out_of_fold)
    np.testing.assert_array_equal(result.net.predict(X), defaults.net.predict(X))
    monkeypatch.undo()  # the real Recipe.fit, to retrain the fold networks
    _assert_scored_at_the_shared_epoch(best.top[0], defaults, X, y)


def _assert_scored_at_the_shared_epoch(ranked, defaults, X, y) -> None:
    """The trial's score is its out-of-fold accuracy with each fold network's weights after
    the epoch where the fold networks' mean held-out loss is lowest (each retrained to it)."""
    curves = [history["val_loss"] for history in defaults.histories]
    sizes = [len(rows) for _, rows in defaults.folds]
    epoch, loss = shared_epoch(curves, sizes)
    assert ranked.shared_epoch == epoch + 1 and ranked.rank[1] == pytest.approx(-loss)
    own_best = [outcome["best_epoch"] for outcome in defaults.outcomes]
    assert any(best != epoch + 1 for best in own_best)  # the shared epoch is not each one's own
    right = 0
    for m, (trained_rows, scored_rows) in enumerate(defaults.folds):
        net = BASE.network(4, 3, seed=m)
        BASE.fit(
            net,
            X[trained_rows],
            y[trained_rows],
            validation_data=(X[scored_rows], y[scored_rows]),
            epochs=epoch + 1,
        )
        right += int((net.predict_classes(X[scored_rows]) == y[scored_rows]).sum())
    assert ranked.rank[0] == right / len(y)


def test_keep_average_keeps_the_weight_average_of_the_fold_networks_and_the_refit(
    blobs, monkeypatch
):
    result, best = _run(blobs, monkeypatch, keep="average")
    refit = _refit(result, blobs)
    expected = (sum(best.fold_params) + refit.params) / 6
    if result.search["kept"] == "the weight average of the 5 fold networks and the refit":
        np.testing.assert_allclose(result.net.params, expected, rtol=1e-6)
    else:  # the test of the average failed: then the refit itself is kept
        assert result.search["kept"].startswith("the refit (")
        np.testing.assert_array_equal(result.net.params, refit.params)
    assert not result.interrupted


def test_keep_average_interrupted_keeps_the_average_of_the_fold_networks(blobs, monkeypatch):
    result, best = _run(blobs, monkeypatch, refit_interrupted=True, keep="average")
    assert result.interrupted and result.search["interrupted"]
    assert result.search["kept"].startswith(
        ("the weight average of the 5 fold networks", "the best of the 5 fold networks (")
    )
    if result.search["kept"] == "the weight average of the 5 fold networks":
        np.testing.assert_allclose(result.net.params, sum(best.fold_params) / 5, rtol=1e-6)
    else:
        np.testing.assert_array_equal(result.net.params, best.params)


def test_keep_refit_keeps_the_refit(blobs, monkeypatch):
    result, best = _run(blobs, monkeypatch, folds=3, keep="refit")
    assert len(best.fold_params) == 3 and result.search["kept"] == "the refit"
    np.testing.assert_array_equal(result.net.params, _refit(result, blobs).params)


def test_keep_refit_interrupted_keeps_the_best_fold(blobs, monkeypatch):
    result, best = _run(blobs, monkeypatch, folds=3, refit_interrupted=True, keep="refit")
    assert result.search["kept"] == "the best of the 3 fold networks"
    np.testing.assert_array_equal(result.net.params, best.params)


def test_keep_without_folds_is_refused_before_searching(blobs, monkeypatch):
    def no_search(*args, **kwargs):
        raise AssertionError("the search ran")

    monkeypatch.setattr(train_search, "search", no_search)
    args = argparse.Namespace(folds=0, seed=0, search_seconds=2.0, quiet=True, keep="ensemble")
    base = default_recipe(240, 4, 3, hidden=(16,))
    with pytest.raises(UsageError, match="--keep ensemble chooses among fold networks"):
        run_search(args, base, 4, 3, "classification", blobs)


def test_a_search_without_folds_or_held_out_rows_is_refused(monkeypatch):
    def no_search(*args, **kwargs):
        raise AssertionError("the search ran")

    monkeypatch.setattr(train_search, "search", no_search)
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(10_000, 4)).astype(np.float32), rng.integers(0, 3, 10_000)
    args = argparse.Namespace(folds=None, seed=0, search_seconds=2.0, quiet=True, keep=None)
    base = default_recipe(10_000, 4, 3)
    with pytest.raises(UsageError, match="--search without folds .* --validation must be > 0"):
        run_search(args, base, 4, 3, "classification", ((X, y), None))
