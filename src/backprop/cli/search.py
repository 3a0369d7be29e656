"""``backprop train --search BUDGET``: a time-budgeted hyperparameter search with Optuna.

Each trial trains a network with the recipe (``backprop.recipes``), with its width, depth (1 to
3 hidden layers), learning rate, decoupled weight decay, dropout and batch size drawn by
Optuna's TPE sampler, and is scored by accuracy for classification, or minus the mean squared
error of the standardised target for regression. On a small training set (below 10,000 rows,
``default_folds``) a trial is scored by 5-fold cross-validation over the training rows, as a
few hundred held-out rows cannot tell good settings from lucky ones. Each fold network stops
on its scored rows, but the trial is scored at one epoch its fold networks share
(``shared_epoch``), where their mean loss on the scored rows is lowest: a fold network scored
at the epoch those same rows chose flatters settings whose held-out curve jumps about, and the
refit on every row needs one number of epochs anyway. The best trials' fold networks are kept
(what ``search_kept`` makes of them is described there). On a larger set
each trial trains on the training rows and is scored on the held-out rows. The first trial is
the default recipe; trials that fall behind the median of earlier ones at the same epoch (or
fold) are pruned. The best trials' networks are kept in memory as trials finish, so stopping
the search (Ctrl-C) keeps the best model found so far, and every trial is written to a CSV
table beside the model file.
"""

from __future__ import annotations

import math
import os
import sys
import time
from dataclasses import dataclass, field, replace

import numpy as np

from ..io.csv_writer import atomic_csv
from ..training import TrainingDiverged
from ..training.recipes import Recipe
from .errors import UsageError
from .files import Output, check_own_output

TRIAL_COLUMNS = (
    "trial",
    "state",
    "score",
    "hidden",
    "dropout",
    "lr",
    "weight_decay",
    "batch_size",
    "epochs",
    "best_epoch",
    "scored_epoch",
    "stopped",
    "seconds",
)
"""A trial's row: its settings, its score, the epoch its weights were scored at, and how
training went (for a trial with folds, that of its fold network with the lowest held-out
loss)."""
EARLIER_TRIAL_COLUMNS = tuple(name for name in TRIAL_COLUMNS if name != "scored_epoch")
"""The columns of a trials table written before ``scored_epoch``: still backprop's own."""
WIDTHS = (32, 64, 128, 256, 512)
BATCH_SIZES = (16, 32, 64, 128, 256, 512)


def _optuna():
    try:
        import optuna
    except ImportError:
        raise UsageError('--search needs Optuna: pip install "backprop[search]"') from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


def trials_path(model_path: str) -> str:
    """The trials table beside the model: ``model.safetensors`` → ``model.trials.csv``."""
    root, _ = os.path.splitext(model_path)
    return root + ".trials.csv"


def _is_trials_table(path: str) -> bool:
    try:
        with open(path, encoding="utf-8") as handle:
            header = tuple(handle.readline().strip().split(","))
    except (OSError, UnicodeDecodeError):
        return False
    return header in (TRIAL_COLUMNS, EARLIER_TRIAL_COLUMNS)


def check_trials_out(model_path: str, inputs: dict[str, str]) -> Output:
    """The trials table's path: new, or a trials table an earlier search wrote."""
    return check_own_output(
        "--search's trials table",
        trials_path(model_path),
        inputs,
        _is_trials_table,
        "a trials table backprop wrote",
        instead="--out",
    )


@dataclass
class Best:
    """The best trial so far: its score (greater is better), recipe, weights and outcome; ties
    in the score (accuracy on a few rows often ties) go to the lower held-out loss. With folds,
    ``params`` are those of the fold network with the lowest loss on its scoring rows,
    ``fold_params`` those of every fold's network, and ``top`` the best few trials'."""

    score: float = -math.inf
    rank: tuple = (-math.inf, -math.inf)
    recipe: Recipe | None = None
    params: object = None
    outcome: dict | None = None
    history: object = None
    trial: int | None = None
    top: list = field(default_factory=list)
    """With folds, the best ``TOP_TRIALS`` trials so far, best first: ``Ranked`` entries."""

    @property
    def fold_params(self) -> list | None:
        """With folds, the best trial's fold networks' weights (``top[0]``'s)."""
        return self.top[0].fold_params if self.top else None


@dataclass
class Ranked:
    """A trial with folds: its rank, number, recipe, each fold network's weights, and the epoch
    (from 1) it was scored at (``shared_epoch``), which a refit on every training row trains
    for."""

    rank: tuple
    trial: int
    recipe: Recipe
    fold_params: list
    shared_epoch: int = 1


TOP_TRIALS = 3
"""How many of the best trials' fold networks a search with folds keeps (``Best.top``)."""
FOLDS = 5
"""Folds scoring each trial on a smaller table: each fold network trains on 4/5 of the rows,
as the recipe's own cross-validated ensemble does, so the first trial (the default recipe)
is that ensemble. 3 folds run more trials in the budget, but their networks see 2/3 of the
rows, and on MNIST-1D and digits the search kept worse models (BENCHMARKS.md)."""
FOLDS_BELOW_ROWS = 10_000
"""From this many training rows on, a trial is scored on the held-out rows instead."""


def _suggest(trial, base: Recipe) -> Recipe:
    width = trial.suggest_categorical("width", WIDTHS)
    depth = trial.suggest_int("depth", 1, 3)
    return replace(
        base,
        hidden=(width,) * depth,
        lr=trial.suggest_float("lr", 1e-4, 3e-2, log=True),
        weight_decay=trial.suggest_float("weight_decay", 1e-5, 0.3, log=True),
        dropout=trial.suggest_float("dropout", 0.0, 0.5),
        batch_size=trial.suggest_categorical("batch_size", BATCH_SIZES),
    )


def _first_trial(base: Recipe) -> dict:
    width = base.hidden[0] if base.hidden else 64
    return {
        "width": width if width in WIDTHS else 64,
        "depth": min(max(len(base.hidden), 1), 3),
        "lr": base.lr,
        "weight_decay": min(max(base.weight_decay, 1e-5), 0.3),
        "dropout": base.dropout,
        "batch_size": base.batch_size if base.batch_size in BATCH_SIZES else 32,
    }


def default_folds(n_train: int) -> int:
    """Folds for scoring trials: ``FOLDS`` below ``FOLDS_BELOW_ROWS`` training rows, else none
    (the held-out rows score them, and are plenty).

    >>> default_folds(133), default_folds(3600), default_folds(67_500)
    (5, 5, 0)
    """
    return FOLDS if n_train < FOLDS_BELOW_ROWS else 0


def shared_epoch(val_losses: list, n_rows: list) -> tuple[int, float]:
    """The epoch (from 0) a trial with folds is scored at, and the loss there: where the fold
    networks' held-out loss averaged over all their scored rows, J̄ₑ = Σₘ nₘ Jₘ,ₑ / Σₘ nₘ, is
    lowest, among the epochs every fold network ran. ``val_losses[m]`` is fold network m's loss
    on its ``n_rows[m]`` scored rows after each epoch.

    >>> shared_epoch([[0.2, 0.9], [0.8, 0.3, 0.1]], [10, 30])  # epoch 2: not run by fold 0
    (1, 0.45)
    >>> shared_epoch([[0.2, 0.9], [0.8, 0.3]], [30, 10])
    (0, 0.35)
    """
    epochs = min(len(losses) for losses in val_losses)
    curves = np.array([losses[:epochs] for losses in val_losses], dtype=np.float64)
    mean = np.asarray(n_rows, dtype=np.float64) @ curves / sum(n_rows)
    epoch = int(np.argmin(mean))
    return epoch, float(mean[epoch])


def search(
    make_network,
    base: Recipe,
    train_data: tuple,
    validation_data: tuple,
    score,
    budget: float,
    seed: int,
    verbose: bool,
    folds: list | None = None,
) -> tuple[Best, list, bool]:
    """Run trials for ``budget`` seconds; returns the best, the study's trials and whether the
    search was interrupted.

    ``make_network(recipe, fold=m)`` builds a fresh network (seeded: the same initial weights
    every time for the same recipe and fold; ``fold`` is 0 without folds), ``score(net, X, Y)``
    rates it on rows (greater is better).
    Without ``folds`` each trial trains on ``train_data`` and is scored on ``validation_data``;
    with ``folds`` (pairs of row indices into ``train_data``, from ``stratified_folds``) it
    trains once per fold and is scored on every training row, each predicted by the network
    that did not train on it, after the ``shared_epoch``. A KeyboardInterrupt ends the search
    with what has finished; a trial whose training diverges is recorded as failed and the
    search goes on.
    """
    optuna = _optuna()
    sampler = optuna.samplers.TPESampler(seed=seed)
    warmup = 0 if folds else 10  # folds report after each fold, held-out rows after each epoch
    pruner = optuna.pruners.MedianPruner(n_startup_trials=4, n_warmup_steps=warmup)
    study = optuna.create_study(direction="maximize", sampler=sampler, pruner=pruner)
    study.enqueue_trial(_first_trial(base))
    best = Best()
    deadline = time.perf_counter() + budget

    def limited(recipe: Recipe) -> Recipe:
        """``recipe`` with its time limit cut to what is left of the budget."""
        remaining = deadline - time.perf_counter()
        limit = remaining if recipe.time_limit is None else min(recipe.time_limit, remaining)
        return replace(recipe, time_limit=max(round(limit, 1), 0.1))

    def held_out(trial) -> float:
        recipe = limited(_suggest(trial, base))
        net = make_network(recipe)

        def report(net, epoch, logs) -> bool:
            trial.report(-logs["val_loss"], epoch)
            if trial.should_prune():
                raise optuna.TrialPruned()
            return False

        history, outcome = recipe.fit(
            net, *train_data, validation_data=validation_data, callbacks=[report]
        )
        value = float(score(net, *validation_data))
        outcome = {**outcome, "scored_epoch": outcome["best_epoch"]}  # the weights it keeps
        keep(trial, recipe, (value, -min(history["val_loss"])), net, history, outcome)
        return value

    def cross_validated(trial) -> float:
        X, Y = train_data
        chosen = _suggest(trial, base)
        total, losses, kept, fold_params, curves, epoch_totals = 0.0, [], None, [], [], []
        started = time.perf_counter()
        for fold, (trained_rows, scored_rows) in enumerate(folds):
            recipe = limited(chosen)
            net = make_network(recipe, fold=fold)
            scored = (X[scored_rows], Y[scored_rows])
            totals = []  # the fold network's score on its scored rows after each epoch, summed

            def score_epoch(net, epoch, logs, scored=scored, totals=totals) -> bool:
                totals.append(float(score(net, *scored)) * len(scored[1]))
                return False

            history, outcome = recipe.fit(
                net,
                X[trained_rows],
                Y[trained_rows],
                validation_data=scored,
                callbacks=[score_epoch],
            )
            # the pruner hears each fold network scored at its own best epoch (the weights it
            # keeps, whose score the callback took then), fold by fold
            total += totals[outcome["best_epoch"] - 1]
            curves.append(history["val_loss"])
            epoch_totals.append(totals)
            losses.append(min(history["val_loss"]))
            fold_params.append(net.params)
            if kept is None or losses[-1] <= min(losses):
                kept = (net, history, outcome)
            done = sum(len(rows) for _, rows in folds[: fold + 1])
            trial.report(total / done, fold)
            if trial.should_prune():
                raise optuna.TrialPruned()
        epoch, loss = shared_epoch(curves, [len(rows) for _, rows in folds])
        value = sum(totals[epoch] for totals in epoch_totals) / len(Y)
        net, history, outcome = kept
        seconds = round(time.perf_counter() - started, 3)
        outcome = {**outcome, "scored_epoch": epoch + 1, "seconds": seconds}
        keep(trial, recipe, (value, -loss), net, history, outcome, (fold_params, epoch + 1))
        return value

    def keep(trial, recipe, rank, net, history, outcome, folded=None) -> None:
        trial.set_user_attr("outcome", outcome)
        trial.set_user_attr("hidden", list(recipe.hidden))
        if folded is not None:  # ranked among the best few; sorted() keeps earlier first
            ranked = [*best.top, Ranked(rank, trial.number, recipe, *folded)]
            best.top = sorted(ranked, key=lambda entry: entry.rank, reverse=True)[:TOP_TRIALS]
        if rank > best.rank:
            best.score, best.rank, best.recipe, best.outcome = rank[0], rank, recipe, outcome
            best.params, best.history, best.trial = net.params.copy(), history, trial.number

    def show(study, trial) -> None:
        if verbose:
            print(_progress_line(best, trial, deadline), file=sys.stderr, flush=True)

    objective = cross_validated if folds else held_out
    try:
        study.optimize(objective, timeout=budget, callbacks=[show], catch=(TrainingDiverged,))
    except KeyboardInterrupt:
        return best, study.trials, True
    return best, study.trials, False


def _progress_line(best: Best, trial, deadline: float) -> str:
    left = max(deadline - time.perf_counter(), 0.0)
    state = trial.state.name.lower()
    score = _score_of(trial)
    value = "" if score is None else f" score {score:.4f}"
    kept = "" if best.trial is None else f", best {best.score:.4f} (trial {best.trial})"
    params = " ".join(f"{name}={_short(value)}" for name, value in trial.params.items())
    return f"search: trial {trial.number} {state}{value}{kept}; {params}; {left:.0f}s left"


def _score_of(trial) -> float | None:
    """A finished trial's score; a pruned one has none (Optuna keeps its last partial one)."""
    return trial.value if trial.state.name.lower() == "complete" else None


def _short(value) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def write_trials(output: Output, trials: list) -> None:
    """The table of every trial, one row each, atomically."""
    rows = [_trial_row(trial) for trial in trials]
    columns = [[row[i] for row in rows] for i in range(len(TRIAL_COLUMNS))]
    with atomic_csv(output.real, list(TRIAL_COLUMNS)) as write:
        if rows:
            write(columns)


def _trial_row(trial) -> list[str]:
    params, outcome = trial.params, trial.user_attrs.get("outcome", {})
    hidden = trial.user_attrs.get("hidden")
    if hidden is None and "width" in params:
        hidden = [params["width"]] * params["depth"]
    cells = [
        trial.number,
        trial.state.name.lower(),
        "" if (score := _score_of(trial)) is None else f"{score:.6g}",
        "-".join(map(str, hidden or [])),
        params.get("dropout", ""),
        params.get("lr", ""),
        params.get("weight_decay", ""),
        params.get("batch_size", ""),
        outcome.get("epochs_run", ""),
        outcome.get("best_epoch", ""),
        outcome.get("scored_epoch", ""),
        outcome.get("stopped", ""),
        outcome.get("seconds", ""),
    ]
    return [f"{cell:.6g}" if isinstance(cell, float) else str(cell) for cell in cells]
