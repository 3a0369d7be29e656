"""``backprop train --search BUDGET``: a time-budgeted hyperparameter search with Optuna.

Each trial trains a network with the recipe (``backprop.recipes``) on the training rows, with
its width, depth, learning rate, decoupled weight decay, dropout and batch size drawn by
Optuna's TPE sampler, and is scored on the held-out rows: accuracy for classification, the
mean squared error of the standardised target for regression. The first trial is the default
recipe, so the search never does worse than it on those rows; trials that fall behind the
median of earlier ones at the same epoch are pruned. The best network is kept in memory as
trials finish, so stopping the search (Ctrl-C) keeps the best model found so far, and every
trial is written to a CSV table beside the model file.
"""

from __future__ import annotations

import math
import os
import sys
import time
from dataclasses import dataclass, replace

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
    "stopped",
    "seconds",
)
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
            return handle.readline().strip() == ",".join(TRIAL_COLUMNS)
    except (OSError, UnicodeDecodeError):
        return False


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
    in the score (accuracy on a few rows often ties) go to the lower held-out loss."""

    score: float = -math.inf
    rank: tuple = (-math.inf, -math.inf)
    recipe: Recipe | None = None
    params: object = None
    outcome: dict | None = None
    history: object = None
    trial: int | None = None


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


def search(
    make_network,
    base: Recipe,
    train_data: tuple,
    validation_data: tuple,
    score,
    budget: float,
    seed: int,
    verbose: bool,
) -> tuple[Best, list, bool]:
    """Run trials for ``budget`` seconds; returns the best, the study's trials and whether the
    search was interrupted.

    ``make_network(recipe)`` builds a fresh network, ``score(net)`` rates it on the held-out
    rows (greater is better). A KeyboardInterrupt ends the search with what has finished; a
    trial whose training diverges is recorded as failed and the search goes on.
    """
    optuna = _optuna()
    sampler = optuna.samplers.TPESampler(seed=seed)
    pruner = optuna.pruners.MedianPruner(n_startup_trials=4, n_warmup_steps=10)
    study = optuna.create_study(direction="maximize", sampler=sampler, pruner=pruner)
    study.enqueue_trial(_first_trial(base))
    best = Best()
    deadline = time.perf_counter() + budget

    def objective(trial) -> float:
        remaining = deadline - time.perf_counter()
        recipe = _suggest(trial, base)
        limit = remaining if recipe.time_limit is None else min(recipe.time_limit, remaining)
        recipe = replace(recipe, time_limit=max(round(limit, 1), 0.1))
        net = make_network(recipe)

        def report(net, epoch, logs) -> bool:
            trial.report(-logs["val_loss"], epoch)
            if trial.should_prune():
                raise optuna.TrialPruned()
            return False

        history, outcome = recipe.fit(
            net, *train_data, validation_data=validation_data, callbacks=[report]
        )
        value = float(score(net))
        trial.set_user_attr("outcome", outcome)
        trial.set_user_attr("hidden", list(recipe.hidden))
        rank = (value, -min(history["val_loss"]))
        if rank > best.rank:
            best.score, best.rank, best.recipe, best.outcome = value, rank, recipe, outcome
            best.params, best.history, best.trial = net.params.copy(), history, trial.number
        return value

    def show(study, trial) -> None:
        if verbose:
            print(_progress_line(best, trial, deadline), file=sys.stderr, flush=True)

    try:
        study.optimize(objective, timeout=budget, callbacks=[show], catch=(TrainingDiverged,))
    except KeyboardInterrupt:
        return best, study.trials, True
    return best, study.trials, False


def _progress_line(best: Best, trial, deadline: float) -> str:
    left = max(deadline - time.perf_counter(), 0.0)
    state = trial.state.name.lower()
    value = "" if trial.value is None else f" score {trial.value:.4f}"
    kept = "" if best.trial is None else f", best {best.score:.4f} (trial {best.trial})"
    params = " ".join(f"{name}={_short(value)}" for name, value in trial.params.items())
    return f"search: trial {trial.number} {state}{value}{kept}; {params}; {left:.0f}s left"


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
        "" if trial.value is None else f"{trial.value:.6g}",
        "-".join(map(str, hidden or [])),
        params.get("dropout", ""),
        params.get("lr", ""),
        params.get("weight_decay", ""),
        params.get("batch_size", ""),
        outcome.get("epochs_run", ""),
        outcome.get("best_epoch", ""),
        outcome.get("stopped", ""),
        outcome.get("seconds", ""),
    ]
    return [f"{cell:.6g}" if isinstance(cell, float) else str(cell) for cell in cells]
