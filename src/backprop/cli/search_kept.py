"""The model a ``--search`` with folds (below 10,000 training rows, unless ``--folds`` says
otherwise) keeps, as ``--keep`` chooses (``train_search.run_search`` calls these):

``ensemble`` (the default)
    nothing is held out (unless ``--validation`` asks): the folds cover every training row,
    fold network m of every trial starts from seed s + m, as the recipe's own cross-validated
    ensemble does, and the fold networks of the best ``search.TOP_TRIALS`` trials are kept side by
    side as one network (``backprop.ensemble``) whose output layer averages theirs: zᴸ is the
    mean of their zᴸ. Trials' scores on a few hundred rows differ by less than a row, so which
    trial comes first is partly chance; averaging the best few hedges that choice. A trial
    clearly behind the best (``tied_with_best``) is left out. After the budget, each kept
    trial's settings train once more, from seed s, on every training row (the refit), for as
    many epochs as the trial was scored at (``Ranked.shared_epoch``): no rows are left to stop
    on, and each fold network saw only (k − 1)/k of them. The refits join the ensemble,
    one beside each trial's k fold networks. The report scores each training row by the kept
    fold networks that did not train on it (out-of-fold; the refits trained on every row). It
    predicts with up to ``search.TOP_TRIALS`` · (k + 1) networks' work per row. BENCHMARKS.md
    has the figures.
``average``
    10% of the rows are held out; every fold network starts from the same initial weights, and
    the best trial's settings are trained once more on all training rows, stopped by the
    held-out rows (the refit). Kept: the average of their weights,
    θ = (θ₁ + … + θₖ + θ_refit) / (k + 1), a network of the trial's own size. Networks that
    start from the same weights and see mostly the same rows stay in one basin of the loss,
    and their average predicts about as their ensemble would; should it leave that basin, its
    loss on the held-out rows rises above every network in it, and the refit is kept instead.
    It suits 5 folds or more, where each fold network sees at least 4/5 of the rows.
``refit``
    as for ``average``, the refit alone.

Interrupting the search keeps what ``--keep`` makes of the trials finished so far, without
refits; interrupting a refit keeps the same choice made from the fold networks alone (for
``refit``, the best fold's network).
"""

from __future__ import annotations

import sys
from dataclasses import replace

import numpy as np

from ..engine.ensemble import ensemble
from ..training import TrainingDiverged
from ..training.evaluation import evaluate
from ..training.recipes import Recipe


def average_or_fallback(average, members: list, validation: tuple, fallback) -> tuple:
    """``(average, True)`` with ``average``'s weights set to the mean of the ``members``' (θ =
    Σ θᵢ / n), unless its loss on the ``validation`` rows is above every member's: then
    ``(fallback, False)``."""
    average.params[...] = sum(member.params for member in members) / len(members)
    worst = max(evaluate(member, *validation)["val_loss"] for member in members)
    if evaluate(average, *validation)["val_loss"] > worst:
        return fallback, False
    return average, True


TIED_WITHIN = 4.0
"""A trial among the best few joins the kept ensemble unless its out-of-fold errors are more than
this many standard errors (paired over the rows) above the best trial's: with few trials
finished, the third best can be far behind, and averaging it in costs more than it hedges."""


def tied_with_best(row_errors: list) -> list[bool]:
    """For each trial's error on every row (the best trial's first; 0/1 for classification, the
    squared error for regression): whether its mean error is within ``TIED_WITHIN`` standard
    errors of the best's, d̄ ≤ TIED_WITHIN · s_d / √n for the differences d = e − e_best.

    >>> best = np.array([0.0, 0.0, 1.0, 0.0] * 25)
    >>> tied_with_best([best, np.roll(best, 1), np.ones(100)])
    [True, True, False]
    """
    best = np.asarray(row_errors[0], dtype=np.float64)
    tied = []
    for errors in row_errors:
        difference = np.asarray(errors, dtype=np.float64) - best
        margin = TIED_WITHIN * difference.std() / np.sqrt(len(difference))
        tied.append(bool(difference.mean() <= margin))
    return tied


def _row_errors(outputs: np.ndarray, Y: np.ndarray, task: str) -> np.ndarray:
    """Each row's error: 1 where the class is wrong, or the squared (standardised) error."""
    if task == "classification":
        return (outputs.argmax(axis=1) != Y).astype(np.float64)
    return (outputs[:, 0] - Y) ** 2


def top_trials_fold_networks(
    make_network, top: list, train_data: tuple, folds: list, task: str
) -> tuple:
    """The fold networks of the ``top`` trials tied with the best (``tied_with_best``), trial by
    trial; each training row's outputs from the ensemble of those that did not train on it
    (float64); the words for any trial left out; and the kept trials (``Ranked``)."""
    X, Y = train_data
    by_fold = [
        [make_network(ranked.recipe, ranked.fold_params[m]) for ranked in top]
        for m in range(len(folds))
    ]
    trial_outputs = np.empty((len(top), len(X), by_fold[0][0].n_outputs))
    for networks, (_, scored_rows) in zip(by_fold, folds, strict=True):
        for t, net in enumerate(networks):
            trial_outputs[t, scored_rows] = net.predict(X[scored_rows])
    tied = tied_with_best([_row_errors(outputs, Y, task) for outputs in trial_outputs])
    kept_indices = [t for t in range(len(top)) if tied[t]]
    out_of_fold = np.empty_like(trial_outputs[0])
    for networks, (_, scored_rows) in zip(by_fold, folds, strict=True):
        members = [networks[t] for t in kept_indices]
        out_of_fold[scored_rows] = ensemble(members).predict(X[scored_rows])
    fold_networks = [by_fold[m][t] for t in kept_indices for m in range(len(folds))]
    left_out = [top[t].trial for t in range(len(top)) if not tied[t]]
    words = ""
    if left_out:
        which = ", ".join(map(str, left_out))
        words = (
            f" (trial{'s' if len(left_out) > 1 else ''} {which} left out: out-of-fold errors more "
            f"than {TIED_WITHIN:g} standard errors above the best trial's)"
        )
    return fold_networks, out_of_fold, words, [top[t] for t in kept_indices]


def ensemble_words(n_trials: int, n_folds: int, refitted: bool, left_out: str) -> str:
    """What the ensemble of ``n_trials`` trials' fold networks (and their refits) is."""
    trials = "the best trial's" if n_trials == 1 else f"the {n_trials} best trials'"
    networks = n_trials * (n_folds + refitted)
    refits = ""
    if refitted:
        refits = " and its refit" if n_trials == 1 else " and their refits"
        refits += " on every training row"
    return (
        f"the ensemble of {trials} {n_folds} fold networks each{refits} ({networks} networks), "
        f"their outputs averaged{left_out}"
    )


def refits_on_every_row(
    make_network, kept_top: list, train_data: tuple, base: Recipe, interrupted: bool, verbose
) -> tuple[list, bool, str]:
    """Each kept trial's settings trained once more on every training row, for the epochs it
    was scored at (``Ranked.shared_epoch``), whether the search or these trainings were
    interrupted, and why there are no refits (then ``refits`` is empty)."""
    if interrupted:
        return [], True, " (no refits: the search was interrupted)"
    refits = []
    try:
        for ranked in kept_top:
            recipe = replace(ranked.recipe, time_limit=base.time_limit)
            if verbose:
                print(
                    f"search: trial {ranked.trial}'s settings trained on all "
                    f"{len(train_data[1])} training rows for {ranked.shared_epoch} epochs",
                    file=sys.stderr,
                    flush=True,
                )
            refit = make_network(recipe)
            recipe.fit(refit, *train_data, epochs=ranked.shared_epoch)
            refits.append(refit)
    except KeyboardInterrupt:
        return [], True, " (no refits: they were interrupted)"
    except TrainingDiverged as error:
        return [], False, f" (no refits: trial {ranked.trial}'s diverged: {error})"
    return refits, False, ""


def refit_and_keep(make_network, recipe: Recipe, best, data: tuple, interrupted, keep: str):
    """The refit on all training rows, stopped by the held-out rows (none when the search was
    interrupted), and the model ``keep`` (``average`` or ``refit``) makes of it and the best
    trial's fold networks."""
    train_data, validation = data
    k = len(best.fold_params)
    history, outcome, refit = best.history, best.outcome, None
    if not interrupted:
        try:
            refit = make_network(recipe)
            history, outcome = recipe.fit(refit, *train_data, validation_data=validation)
        except KeyboardInterrupt:
            interrupted, refit = True, None
    if refit is None:
        fallback, kept = make_network(recipe, best.params), f"the best of the {k} fold networks"
    else:
        fallback, kept = refit, "the refit"
    if keep == "refit":
        return fallback, history, outcome, kept, interrupted
    members = [make_network(recipe, params) for params in best.fold_params]
    members += [refit] if refit is not None else []
    and_refit = " and the refit" if refit is not None else ""
    net, averaged = average_or_fallback(make_network(recipe), members, validation, fallback)
    if averaged:
        kept = f"the weight average of the {k} fold networks{and_refit}"
    else:
        kept += " (the weight average's held-out loss was above each network's in it)"
    return net, history, outcome, kept, interrupted
