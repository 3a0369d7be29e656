"""What ``backprop train`` trained: one recipe's network, or the best of a ``--search``.

With folds, the search leaves the best trial's k networks, each trained on (k − 1)/k of the
training rows, all from the same initial weights. The best settings are then trained once more
on all the training rows, stopped by the held-out rows (the refit). With 5 folds or more
(``AVERAGED_FROM_FOLDS``; the default below 1,000 training rows) the model kept is the average
of the weights of the k fold networks and the refit:

    θ = (θ₁ + … + θₖ + θ_refit) / (k + 1)

Networks that start from the same weights and see mostly the same rows stay in one basin of
the loss, so their average is a network of the same shape that predicts about as their
ensemble would. It is steadier than the refit alone: on a small set the refit's early stopping
listens to a few dozen held-out rows, and one unlucky choice of epoch there costs several test
rows (BENCHMARKS.md compares the two). Should the average leave that basin, its loss on the
held-out rows rises above every network in it; it is then set aside and the refit kept. With
fewer folds the refit is kept. Interrupting the refit keeps the average of the fold networks
instead (5 folds or more, under the same test), or the best fold's network.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field, replace

import numpy as np

from ..training.evaluation import evaluate
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


AVERAGED_FROM_FOLDS = 5
"""The fewest folds whose networks are averaged with the refit: with 5 or more each fold network
trains on at least 4/5 of the training rows, nearly what the refit sees. With 3, on 2/3: where
more rows still help, they fall short of the refit, and their average with it fell below the
refit alone; the refit is kept. The default folds apply it below 1,000 training rows only: on a
larger set that still gains from every row, even 5 folds' networks can fall short of the refit
(MNIST-1D with ``--folds 5``; BENCHMARKS.md has the figures)."""


def _scorer(task: str):
    """Greater is better: accuracy, or minus the mean squared (standardised) error."""
    if task == "classification":
        return lambda net, X, Y: float((net.predict_classes(X) == Y).mean())
    return lambda net, X, Y: -float(np.mean((net.predict(X)[:, 0] - Y) ** 2))


def average_or_fallback(average, members: list, validation: tuple, fallback) -> tuple:
    """``(average, True)`` with ``average``'s weights set to the mean of the ``members``' (θ =
    Σ θᵢ / n), unless its loss on the ``validation`` rows is above every member's: then
    ``(fallback, False)``."""
    average.params[...] = sum(member.params for member in members) / len(members)
    worst = max(evaluate(member, *validation)["val_loss"] for member in members)
    if evaluate(average, *validation)["val_loss"] > worst:
        return fallback, False
    return average, True


def run_search(
    args: argparse.Namespace, base: Recipe, n_features: int, n_out: int, task: str, data: tuple
) -> Trained:
    """``--search``: the best network found in ``args.search_seconds``.

    With folds (``--folds``, or ``default_folds`` of the training rows) the model kept is the
    weight average of the best trial's fold networks and a refit (see the module's
    documentation); without, the best trial's network.
    """
    train_data, validation = data
    n_train = len(train_data[1])
    n_folds = default_folds(n_train) if args.folds is None else args.folds
    if n_folds > n_train:
        raise UsageError(f"--folds {n_folds} needs at least {n_folds} training rows, not {n_train}")
    folds = stratified_folds(train_data[1], n_folds, args.seed) if n_folds else None

    def make_network(recipe: Recipe, params=None):
        net = recipe.network(n_features, n_out, task, seed=args.seed)
        if params is not None:
            net.params[...] = params
        return net

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
    if folds:
        net, history, outcome, kept, interrupted = _refit_and_average(
            make_network, recipe, best, data, interrupted
        )
    else:
        net, history, outcome = make_network(recipe, best.params), best.history, best.outcome
        kept = "the best trial's network"
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
        "kept": kept,
        "library": "optuna",
        "interrupted": interrupted,
    }
    return Trained(recipe, net, history, outcome, record, trials, interrupted)


def _refit_and_average(make_network, recipe: Recipe, best, data: tuple, interrupted):
    """The refit on all training rows (none when the search was interrupted) and, with at least
    ``AVERAGED_FROM_FOLDS`` folds, the weight average of it and the best trial's fold networks,
    unless the average fails ``average_or_fallback``'s test; without the refit (interrupted),
    the best fold network stands in for it."""
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
        net, kept = make_network(recipe, best.params), f"the best of the {k} fold networks"
    else:
        net, kept = refit, "the refit"
    if k < AVERAGED_FROM_FOLDS:
        return net, history, outcome, kept, interrupted
    members = [make_network(recipe, params) for params in best.fold_params]
    members += [refit] if refit is not None else []
    net, averaged = average_or_fallback(make_network(recipe), members, validation, net)
    if averaged:
        kept = f"the weight average of the {k} fold networks"
        kept += " and the refit" if refit is not None else ""
    else:
        kept += " (the weight average's held-out loss was above each network's in it)"
    return net, history, outcome, kept, interrupted
