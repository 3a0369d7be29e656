"""What ``backprop train`` trained: one recipe's network, a cross-validated ensemble of them,
or the best of a ``--search``.

Without ``--search``, below ``ENSEMBLE_BELOW_ROWS`` rows the recipe trains ``ENSEMBLE_FOLDS``
networks by k-fold cross-validation over the training rows and keeps their ensemble
(``backprop.training.cross_validation``); from there on, or with ``--folds 0``, one network.

With folds, the search leaves the best trial's k networks, each trained on (k − 1)/k of the
training rows, all from the same initial weights. The best settings are then trained once more
on all the training rows, stopped by the held-out rows (the refit). What is kept (``--keep``):

``ensemble`` (the default)
    the k fold networks and the refit side by side as one network (``backprop.ensemble``) whose
    output layer averages theirs: zᴸ = (z₁ᴸ + … + zₖᴸ + z_refitᴸ) / (k + 1). Each member's
    errors are partly its own, so their mean is steadier than any one of them: on a small set
    the refit's early stopping listens to a few dozen held-out rows, and one unlucky choice of
    epoch there costs several test rows; on a larger one the fold networks add what the refit
    alone misses. It predicts k + 1 networks' worth of work per row. BENCHMARKS.md has the
    figures.
``average``
    the average of their weights, θ = (θ₁ + … + θₖ + θ_refit) / (k + 1): a network of the
    trial's own size. Networks that start from the same weights and see mostly the same rows
    stay in one basin of the loss, and their average predicts about as their ensemble would;
    should it leave that basin, its loss on the held-out rows rises above every network in it,
    and the refit is kept instead. It suits 5 folds or more, where each fold network sees at
    least 4/5 of the rows.
``refit``
    the refit alone.

Interrupting the refit keeps the same choice made from the fold networks alone (for ``refit``,
the best fold's network).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field, replace

import numpy as np

from ..engine.ensemble import ensemble
from ..training import TrainingDiverged
from ..training.cross_validation import CrossValidated, fit_cross_validated, stratified_folds
from ..training.evaluation import evaluate
from ..training.recipes import Recipe
from .errors import Interrupted, UsageError
from .search import default_folds, search


@dataclass
class Trained:
    """The network kept, with its recipe, history and outcome, and the search's record; for a
    cross-validated ensemble its members' histories and outcomes and the out-of-fold outputs."""

    recipe: Recipe
    net: object = None
    history: object = None
    outcome: dict = field(default_factory=dict)
    search: dict | None = None
    trials: list = field(default_factory=list)
    interrupted: bool = False
    cross_validated: CrossValidated | None = None


ENSEMBLE_FOLDS = 5
"""Folds of the cross-validated ensemble the recipe trains on a smaller table: each network
trains on 4/5 of the rows and stops on the other fifth, 5 times the work of one network."""
ENSEMBLE_BELOW_ROWS = 10_000
"""From this many rows on, one network: there the held-out rows are plenty to stop on, and a
tenth of them training no network costs little. BENCHMARKS.md has the figures either side."""


def ensemble_folds(args: argparse.Namespace, n_rows: int) -> int:
    """The folds of the recipe's cross-validated ensemble for a table of ``n_rows``: ``--folds``
    when given, else ``ENSEMBLE_FOLDS`` below ``ENSEMBLE_BELOW_ROWS`` rows unless a checkpoint
    (which holds one network's training) is asked for; 0 for one network, and with --search
    (whose folds score trials)."""
    if args.search is not None:
        return 0
    if args.folds is not None:
        return args.folds
    if args.checkpoint is not None or n_rows >= ENSEMBLE_BELOW_ROWS:
        return 0
    return ENSEMBLE_FOLDS


HELD_OUT = 0.1
"""The share of rows held out when ``--validation`` is not given and no folds take its place."""


def held_out_fraction(args: argparse.Namespace, folds: int) -> float:
    """``--validation`` when given; else none for a cross-validated ensemble, whose folds hold
    every row out in turn, and ``HELD_OUT`` otherwise."""
    if args.validation is not None:
        return args.validation
    return 0.0 if folds else HELD_OUT


def run_cross_validated(
    args: argparse.Namespace, recipe: Recipe, n_out: int, task: str, train_data: tuple, folds: int
) -> Trained:
    """The recipe's cross-validated ensemble of ``folds`` networks over the training rows."""
    X, Y = train_data
    if folds > len(Y):
        raise UsageError(f"--folds {folds} needs at least {folds} training rows, not {len(Y)}")
    try:
        result = fit_cross_validated(
            recipe, X, Y, n_out, task, folds, args.seed, args.backend, verbose=not args.quiet
        )
    except TrainingDiverged as error:
        raise UsageError(f"{args.data}: {error} Try a smaller --lr.") from None
    except KeyboardInterrupt:
        raise Interrupted(
            f"before the {folds} fold networks were trained; nothing was saved"
        ) from None
    outcome = {
        "epochs_run": [o["epochs_run"] for o in result.outcomes],
        "best_epoch": [o["best_epoch"] for o in result.outcomes],
        "stopped": [o["stopped"] for o in result.outcomes],
        "seconds": round(sum(o["seconds"] for o in result.outcomes), 3),
    }
    return Trained(recipe, result.net, result.histories, outcome, cross_validated=result)


KEEP_CHOICES = ("ensemble", "average", "refit")
"""What a search with folds may keep (``--keep``), the default first."""


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

    With folds (``--folds``, or ``default_folds`` of the training rows) the model kept is made
    from the best trial's fold networks and a refit as ``args.keep`` says (see the module's
    documentation); without, the best trial's network.
    """
    train_data, validation = data
    n_train = len(train_data[1])
    n_folds = default_folds(n_train) if args.folds is None else args.folds
    if n_folds > n_train:
        raise UsageError(f"--folds {n_folds} needs at least {n_folds} training rows, not {n_train}")
    if args.keep is not None and not n_folds:
        raise UsageError(
            f"--keep {args.keep} chooses among fold networks: the search scores on the held-out "
            "rows here (give --folds K, K >= 2)"
        )
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
        net, history, outcome, kept, interrupted = _refit_and_keep(
            make_network, recipe, best, data, interrupted, args.keep or KEEP_CHOICES[0]
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


def _refit_and_keep(make_network, recipe: Recipe, best, data: tuple, interrupted, keep: str):
    """The refit on all training rows (none when the search was interrupted), and the model
    ``keep`` makes of it and the best trial's fold networks."""
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
    if keep == "ensemble":
        net = ensemble(members)
        kept = f"the ensemble of the {k} fold networks{and_refit}, their outputs averaged"
    else:
        net, averaged = average_or_fallback(make_network(recipe), members, validation, fallback)
        if averaged:
            kept = f"the weight average of the {k} fold networks{and_refit}"
        else:
            kept += " (the weight average's held-out loss was above each network's in it)"
    return net, history, outcome, kept, interrupted
