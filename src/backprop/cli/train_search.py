"""What ``backprop train`` trained: one recipe's network, a cross-validated ensemble of them,
or the best of a ``--search``.

Without ``--search``, below ``ENSEMBLE_BELOW_ROWS`` rows the recipe trains ``ENSEMBLE_FOLDS``
networks by k-fold cross-validation over the training rows and keeps their ensemble
(``backprop.training.cross_validation``); from there on, or with ``--folds 0``, one network.

With folds (below 10,000 training rows, unless ``--folds`` says otherwise) what is kept is
chosen by ``--keep`` (``search_kept``).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field, replace

import numpy as np

from ..engine.ensemble import ensemble
from ..training import TrainingDiverged
from ..training.cross_validation import CrossValidated, fit_cross_validated, stratified_folds
from ..training.recipes import Recipe
from .errors import Interrupted, UsageError
from .search import default_folds, search
from .search_kept import (
    ensemble_words,
    refit_and_keep,
    refits_on_every_row,
    top_trials_fold_networks,
)


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
    out_of_fold: np.ndarray | None = None
    ensemble_size: int = 0
    """How many networks a search's kept ensemble holds side by side (0: no such ensemble)."""


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


def held_out_fraction(args: argparse.Namespace, folds: int, n_rows: int) -> float:
    """``--validation`` when given; else none for a cross-validated ensemble (``folds``, or a
    search keeping its fold networks), whose folds hold every row out in turn, and
    ``HELD_OUT`` otherwise."""
    if args.validation is not None:
        return args.validation
    return 0.0 if folds or search_keeps_fold_networks(args, n_rows) else HELD_OUT


def search_keeps_fold_networks(args: argparse.Namespace, n_rows: int) -> bool:
    """Whether ``--search`` keeps its fold networks (``--keep ensemble``, the default) on a
    table of ``n_rows``: with ``--folds K``, or where ``default_folds`` scores trials by
    folds."""
    if args.search is None or (args.keep or KEEP_CHOICES[0]) != "ensemble":
        return False
    return bool(args.folds if args.folds is not None else default_folds(n_rows))


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


def run_search(
    args: argparse.Namespace, base: Recipe, n_features: int, n_out: int, task: str, data: tuple
) -> Trained:
    """``--search``: the best network found in ``args.search_seconds``.

    With folds (``--folds``, or ``default_folds`` of the training rows) the model kept is made
    as ``args.keep`` says (see the module's documentation): from the best trials' fold networks,
    or from the best trial's and a refit; without, the best trial's network.
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
    if not n_folds and validation is None:
        raise UsageError(
            "--search without folds scores its trials on held-out rows: --validation must be > 0"
        )
    folds = stratified_folds(train_data[1], n_folds, args.seed) if n_folds else None
    keep = args.keep or KEEP_CHOICES[0]
    distinct_starts = keep == "ensemble"

    def make_network(recipe: Recipe, params=None, fold: int = 0):
        seed = args.seed + fold if distinct_starts else args.seed
        net = recipe.network(n_features, n_out, task, seed=seed)
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
    out_of_fold, ensemble_trials, refit_epochs, ensemble_size = None, [best.trial], [], 0
    scored_epochs = [best.outcome["scored_epoch"]]
    if folds and keep == "ensemble":
        fold_networks, out_of_fold, kept, kept_top = top_trials_fold_networks(
            make_network, best.top, train_data, folds, task
        )
        ensemble_trials = [ranked.trial for ranked in kept_top]
        refits, interrupted, no_refits = refits_on_every_row(
            make_network, kept_top, train_data, base, interrupted, verbose=not args.quiet
        )
        net = ensemble(fold_networks + refits)
        ensemble_size = len(fold_networks) + len(refits)
        scored_epochs = [ranked.shared_epoch for ranked in kept_top]
        refit_epochs = scored_epochs if refits else []
        kept = ensemble_words(len(kept_top), len(folds), bool(refits), kept) + no_refits
        history, outcome = best.history, best.outcome
    elif folds:
        net, history, outcome, kept, interrupted = refit_and_keep(
            make_network, recipe, best, data, interrupted, keep
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
        "kept_trials": ensemble_trials,
        "scored_epochs": scored_epochs,
        "refit_epochs": refit_epochs,
        "library": "optuna",
        "interrupted": interrupted,
    }
    return Trained(
        recipe,
        net,
        history,
        outcome,
        record,
        trials,
        interrupted,
        out_of_fold=out_of_fold,
        ensemble_size=ensemble_size,
    )
