"""What ``backprop train`` trained: one recipe's network, or the best of a ``--search``."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field, replace

import numpy as np

from ..training.recipes import Recipe
from .errors import Interrupted, UsageError
from .search import default_folds, search, stratified_folds


@dataclass
class Trained:
    """The network kept, with its recipe, history and outcome, and the search's record."""

    recipe: Recipe
    net: object = None
    history: object = None
    outcome: dict = field(default_factory=dict)
    search: dict | None = None
    trials: list = field(default_factory=list)
    interrupted: bool = False


def _scorer(task: str):
    """Greater is better: accuracy, or minus the mean squared (standardised) error."""
    if task == "classification":
        return lambda net, X, Y: float((net.predict_classes(X) == Y).mean())
    return lambda net, X, Y: -float(np.mean((net.predict(X)[:, 0] - Y) ** 2))


def run_search(
    args: argparse.Namespace, base: Recipe, n_features: int, n_out: int, task: str, data: tuple
) -> Trained:
    """``--search``: the best network found in ``args.search_seconds``.

    With folds (``--folds``, or ``default_folds`` of the training rows) the best settings are
    trained once more on the training rows, stopped by the held-out rows; if that is
    interrupted, or the search is, the best trial's own network is kept.
    """
    train_data, validation = data
    n_train = len(train_data[1])
    n_folds = default_folds(n_train) if args.folds is None else args.folds
    if n_folds > n_train:
        raise UsageError(f"--folds {n_folds} needs at least {n_folds} training rows, not {n_train}")
    folds = stratified_folds(train_data[1], n_folds, args.seed) if n_folds else None

    def make_network(recipe: Recipe):
        return recipe.network(n_features, n_out, task, seed=args.seed)

    best, trials, interrupted = search(
        make_network,
        base,
        train_data,
        validation,
        _scorer(task),
        args.search_seconds,
        args.seed,
        verbose=not args.quiet,
        folds=folds,
    )
    if best.recipe is None:
        raise Interrupted("before the first trial finished; nothing was saved")
    recipe = replace(best.recipe, time_limit=base.time_limit)
    net = make_network(recipe)
    net.params[...] = best.params
    history, outcome = best.history, best.outcome
    if folds and not interrupted:
        refit = make_network(recipe)
        try:
            history, outcome = recipe.fit(refit, *train_data, validation_data=validation)
            net = refit
        except KeyboardInterrupt:
            interrupted = True
    states = [trial.state.name.lower() for trial in trials]
    metric = "accuracy" if task == "classification" else "minus MSE"
    record = {
        "budget_seconds": args.search_seconds,
        "trials": len(trials),
        "complete": states.count("complete"),
        "pruned": states.count("pruned"),
        "failed": states.count("fail"),
        "best_trial": best.trial,
        "best_score": best.score,
        "folds": n_folds,
        "score": f"{n_folds}-fold cross-validated {metric}" if folds else f"validation {metric}",
        "library": "optuna",
        "interrupted": interrupted,
    }
    return Trained(recipe, net, history, outcome, record, trials, interrupted)
