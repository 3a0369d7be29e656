"""What ``backprop train`` trained: one recipe's network, or the best of a ``--search``."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field

import numpy as np

from ..training.recipes import Recipe
from .errors import Interrupted
from .search import search


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


def _scorer(validation: tuple, task: str):
    """Greater is better: held-out accuracy, or minus the mean squared (standardised) error."""
    X_val, Y_val = validation
    if task == "classification":
        return lambda net: float((net.predict_classes(X_val) == Y_val).mean())
    return lambda net: -float(np.mean((net.predict(X_val)[:, 0] - Y_val) ** 2))


def run_search(
    args: argparse.Namespace, base: Recipe, n_features: int, n_out: int, task: str, data: tuple
) -> Trained:
    """``--search``: the best network found in ``args.search_seconds``, scored on held-out rows."""
    train_data, validation = data

    def make_network(recipe: Recipe):
        return recipe.network(n_features, n_out, task, seed=args.seed)

    best, trials, interrupted = search(
        make_network,
        base,
        train_data,
        validation,
        _scorer(validation, task),
        args.search_seconds,
        args.seed,
        verbose=not args.quiet,
    )
    if best.recipe is None:
        raise Interrupted("before the first trial finished; nothing was saved")
    net = make_network(best.recipe)
    net.params[...] = best.params
    states = [trial.state.name.lower() for trial in trials]
    record = {
        "budget_seconds": args.search_seconds,
        "trials": len(trials),
        "complete": states.count("complete"),
        "pruned": states.count("pruned"),
        "failed": states.count("fail"),
        "best_trial": best.trial,
        "best_score": best.score,
        "score": "validation accuracy" if task == "classification" else "minus validation MSE",
        "library": "optuna",
        "interrupted": interrupted,
    }
    return Trained(best.recipe, net, best.history, best.outcome, record, trials, interrupted)
