"""``backprop train``: a network trained on a CSV table, saved with its scaling and columns.

Features (and a regression target) are standardised with the training part's mean and standard
deviation, which the model file keeps with the column names, the classes and the training
settings (see ``trained_model``). Every option and every output path is checked before the data
is read, the memory training needs before the network is built, and the model file is read back
and compared before the command reports success.
"""

from __future__ import annotations

import argparse
import os

import numpy as np

from ..engine.activations import get_activation
from ..engine.backend import Backend, DeviceUnavailable, device_backend
from ..engine.network import Network
from ..io import tabular
from ..io.tabular import CLASSIFICATION, REGRESSION
from ..training import History, TrainingDiverged
from ..training import checkpoint as checkpoints
from ..training.recipes import Recipe
from . import distributed_train, scaling
from .errors import Interrupted, UsageError
from .files import Output, check_train_outputs
from .lock import checkpoint_lock
from .memory import check_training_memory
from .pictures import check_picture_out, save_figures
from .recipe_options import build_recipe, parse_duration, recipe_overrides, recipe_settings
from .reports import (
    folds_training_line,
    kept_trials_training_line,
    require_numeric,
    search_line,
    trained_scores,
    training_line,
)
from .search import check_trials_out, write_trials
from .train_search import (
    Trained,
    ensemble_folds,
    held_out_fraction,
    run_cross_validated,
    run_search,
)
from .trained_model import METADATA_VERSION, save_trained_model


def _check_train_options(args: argparse.Namespace) -> dict:
    """Every option checked before any data is read; returns the recipe fields they set."""
    if args.validation is not None and not 0 <= args.validation < 1:
        raise UsageError(f"--validation must be in [0, 1), got {args.validation:g}")
    if args.seed < 0:
        raise UsageError(f"--seed must be >= 0, got {args.seed}")
    if args.resume and args.checkpoint is None:
        raise UsageError("--resume needs --checkpoint FILE")
    activation = get_activation(args.activation)
    if not activation.elementwise:
        raise UsageError(f"--activation {args.activation!r} is for output layers, not hidden ones")
    args.activation = activation.name
    overrides = recipe_overrides(args)
    if args.search is not None:
        if args.validation == 0 and (args.folds == 0 or args.keep in ("average", "refit")):
            needs = "--folds 0 scores trials" if args.folds == 0 else f"--keep {args.keep} stops"
            raise UsageError(f"--search {needs} on held-out rows: --validation must be > 0")
        if args.checkpoint is not None:
            raise UsageError(
                "--search trains many networks: it cannot be combined with --checkpoint"
            )
        args.search_seconds = parse_duration("--search", args.search)
    if args.folds is not None:
        if args.folds == 1 or args.folds < 0:
            raise UsageError(f"--folds must be 0 (no folds) or >= 2, got {args.folds}")
        if args.folds and args.checkpoint is not None:
            raise UsageError(
                f"--checkpoint holds one network's training: it cannot be combined with "
                f"--folds {args.folds} (--folds 0 trains one network)"
            )
    if args.keep is not None and args.search is None:
        raise UsageError("--keep chooses what --search keeps: give --search BUDGET too")
    return overrides


def _check_device(args: argparse.Namespace) -> Backend:
    """The backend ``--device`` names, before anything is read (one line when it cannot be
    used here)."""
    try:
        backend = device_backend(args.device)
    except (DeviceUnavailable, ValueError, TypeError) as error:
        raise UsageError(f"--device {args.device}: {error}") from None
    if backend.device != "cpu":
        for option, given in (("--search", args.search), ("--distributed", args.distributed)):
            if given:
                raise UsageError(f"{option} trains on the CPU: it cannot be combined with --device")
    return backend


def _feature_columns(table: tabular.Table, target_name: str) -> list[str]:
    if target_name not in table.header:
        raise UsageError(
            f"{table.path}: no column {target_name!r} for --target "
            f"(columns: {', '.join(table.header)})"
        )
    features = [name for name in table.header if name != target_name]
    if not features:
        raise UsageError(f"{table.path}: no feature columns besides the target {target_name!r}")
    return features


def _split(n: int, fraction: float, seed: int, path: str) -> tuple[np.ndarray, np.ndarray]:
    """Row indices (training, validation): a seeded random ``fraction`` is held out."""
    if fraction == 0:
        return np.arange(n), np.arange(0)
    n_val = int(round(fraction * n))
    if not 1 <= n_val < n:
        raise UsageError(
            f"{path}: --validation {fraction:g} of {n} rows leaves no validation or no training "
            "rows"
        )
    order = np.random.default_rng(seed).permutation(n)
    return np.sort(order[n_val:]), np.sort(order[:n_val])


def _encode_classes(
    table: tabular.Table, name: str, target: tabular.Target
) -> tuple[dict, np.ndarray]:
    """(the classes and label type for the metadata, each row's class index)."""
    labels, label_type = tabular.label_strings(target)
    classes = tabular.sort_classes(labels, label_type)
    if len(classes) < 2:
        raise UsageError(
            f"{table.path}: the target {name!r} has a single class ({classes[0]!r}); "
            "classification needs at least 2"
        )
    codes = tabular.encode_labels(table, name, target, classes, label_type)
    return {"classes": classes, "label_type": label_type}, codes


def _standardize_target(y: np.ndarray, train_rows: np.ndarray) -> tuple[dict, np.ndarray]:
    """(the target's mean and scale over the training rows, the standardised target)."""
    column = y.reshape(-1, 1)
    y_mean, y_scale = scaling.standardization(column[train_rows])
    scaled = {"target_mean": float(y_mean[0]), "target_scale": float(y_scale[0])}
    return scaled, scaling.standardize(column, y_mean, y_scale)[:, 0]


def _check_resume_seed(net: Network, checkpoint: Output, seed: int) -> None:
    """Refuse to resume a run whose --seed differed: the split would not be the same.

    The checkpoint keeps the generator's state from before the split, which a network of the
    same architecture built with the same seed reproduces exactly.
    """
    try:
        saved = checkpoints.read(checkpoint.real)
    except ValueError:
        return  # fit names the unreadable file
    if saved is None or saved.meta.get("setup", {}).get("network") != repr(net):
        return  # nothing to resume, or fit lists the changed architecture
    if saved.meta.get("split_rng") != net.xp.rng_state(net.rng):
        raise UsageError(
            f"--resume: {checkpoint.shown} was written by a run with another --seed than {seed}; "
            "the seed chooses the validation split and the initial weights, so resume with the "
            "seed that run had"
        )


def _fit(
    net: Network,
    args: argparse.Namespace,
    recipe: Recipe,
    data: tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray] | None],
    checkpoint: Output | None,
    path: str,
) -> tuple[History, dict]:
    (X, Y), validation = data
    try:
        return recipe.fit(
            net,
            X,
            Y,
            validation_data=validation,
            verbose=not args.quiet,
            checkpoint=checkpoint.real if checkpoint else None,
            resume=args.resume,
        )
    except TrainingDiverged as error:
        raise UsageError(f"{path}: {error} Try a smaller --lr.") from None


def _file_state(path: str) -> tuple | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return (info.st_ino, info.st_mtime_ns, info.st_size)


def _interrupted(checkpoint: Output | None, before: tuple | None, resumed: bool) -> Interrupted:
    """Name the checkpoint only when it holds this run's last finished epoch."""
    state = _file_state(checkpoint.real) if checkpoint else None
    if state is not None and (state != before or resumed):
        return Interrupted(
            f"the last finished epoch is in {checkpoint.shown}, continue with --resume"
        )
    if checkpoint is not None:
        return Interrupted("before the first epoch finished; no checkpoint was written")
    return Interrupted("")


def _labels_read(target: tabular.Target, encoding: dict) -> str:
    """How many classes, and whether their names were read as numbers or kept as text."""
    classes = f"{len(encoding['classes'])} classes"
    if encoding["label_type"] != "str":
        return f"{classes}, labels read as numbers"
    example = tabular.first_non_canonical(target)
    if example is None:
        return f"{classes}, labels read as text"
    number = tabular.canonical_text(float(example))
    return f"{classes}, labels read as text: {example!r} would print as {number} as a number"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def train(args: argparse.Namespace) -> str:
    """Train a network on ``args.data`` and save it to ``args.out``; returns the summary."""
    args.backend = _check_device(args)
    if distributed_train.wanted(args):  # under mpiexec: each rank reads its own rows
        return distributed_train.train(args)
    overrides = _check_train_options(args)
    out, checkpoint = check_train_outputs(args)
    outputs = {"model": out, "curves": None, "trials": None}
    if args.plot is not None:
        outputs["curves"] = check_picture_out("--plot", args.plot, {"training data": args.data})
    if args.search is not None:
        outputs["trials"] = check_trials_out(args.out, {"training data": args.data})
    if checkpoint is None:
        return _train(args, overrides, outputs, None)
    with checkpoint_lock(checkpoint.real, checkpoint.shown):
        return _train(args, overrides, outputs, checkpoint)


def _read(args: argparse.Namespace) -> tuple[tabular.Table, list[str], np.ndarray]:
    """(the table of the target column, the feature names, the features as float64)."""
    table = tabular.read_csv(args.data, progress=not args.quiet, text_columns=[args.target])
    features = _feature_columns(table, args.target)
    X = table.numeric(features)
    target_only = table.select([args.target])
    del table  # the parsed feature cells: X holds them now
    tabular.release_freed_memory()
    return target_only, features, X


def _scaled_rows(X, rows, mean, scale, table, features) -> np.ndarray:
    """The standardised rows as float32, the network's dtype; a value beyond its range is named."""
    Xs = scaling.standardized_rows(X, rows, mean, scale, np.float32)
    if not np.isfinite(Xs).all():
        row, column = np.argwhere(~np.isfinite(Xs))[0]
        raise UsageError(
            f"{table.where(int(rows[row]), features[column])}: the value is so far from the "
            "training rows' mean, in standard deviations, that float32 cannot hold it"
        )
    return Xs


def _train(args: argparse.Namespace, overrides: dict, outputs: dict, checkpoint) -> str:
    table, features, X = _read(args)
    target = tabular.read_target(table, args.target)
    task = args.task or tabular.infer_task(target)
    if task == REGRESSION:
        require_numeric(table, args.target, target)
    folds = ensemble_folds(args, len(table))
    fraction = held_out_fraction(args, folds, len(table))
    train_rows, val_rows = _split(len(table), fraction, args.seed, table.path)
    feature_mean, feature_scale = scaling.standardization_of_rows(X, train_rows)
    X_train = _scaled_rows(X, train_rows, feature_mean, feature_scale, table, features)
    X_val = _scaled_rows(X, val_rows, feature_mean, feature_scale, table, features)
    del X  # training holds the float32 rows only
    if task == CLASSIFICATION:
        encoding, Y = _encode_classes(table, args.target, target)
        n_out, truth = len(encoding["classes"]), Y
    else:
        encoding, Y = _standardize_target(target.numbers, train_rows)
        n_out, truth = 1, target.numbers
    recipe = build_recipe(overrides, len(train_rows), len(features), n_out, task)
    settings = recipe_settings(recipe)
    sizes = [len(features), *recipe.hidden, n_out]
    check_training_memory(
        sizes, settings, len(train_rows), len(val_rows), checkpoint is not None, max(folds, 1)
    )
    validation = (X_val, Y[val_rows]) if len(val_rows) else None
    data = ((X_train, Y[train_rows]), validation)
    trained = Trained(recipe)
    if args.search is not None:
        trained = run_search(args, recipe, len(features), n_out, task, data)
    elif folds:
        trained = run_cross_validated(args, recipe, n_out, task, data[0], folds)
    else:
        trained.net = recipe.network(len(features), n_out, task, seed=args.seed).to(args.backend)
        if checkpoint is not None and args.resume:
            _check_resume_seed(trained.net, checkpoint, args.seed)
        before = _file_state(checkpoint.real) if checkpoint else None
        try:
            trained.history, trained.outcome = _fit(
                trained.net, args, recipe, data, checkpoint, table.path
            )
        except KeyboardInterrupt:
            raise _interrupted(checkpoint, before, args.resume) from None
    net, cv = trained.net, trained.cross_validated
    out_of_fold = cv.out_of_fold if cv is not None else trained.out_of_fold
    rows, scaled = (train_rows, val_rows), (X_train, X_val)
    searched = trained.search is not None
    part, shown, scores, where = trained_scores(
        net, out_of_fold, searched, encoding, truth, rows, scaled, len(table)
    )
    settings = recipe_settings(trained.recipe)
    settings.update(validation=fraction, seed=args.seed, dtype="float32")
    settings.update(
        _training_record(table, train_rows, val_rows, trained.history),
        outcome={key: value for key, value in trained.outcome.items() if key != "seconds"},
        scores={"part": part, **scores},
    )
    if cv is not None:
        settings.update(folds=folds, kept=_ENSEMBLE_KEPT.format(k=folds))
    if trained.search is not None:
        settings["search"] = trained.search
    metadata = {"metadata_version": METADATA_VERSION, "task": task, "target": args.target}
    metadata.update(features=features, **encoding, training=settings)
    save_trained_model(net, outputs["model"], metadata, feature_mean, feature_scale)
    written = [f"model saved to {args.out}"]
    if outputs["trials"] is not None:
        write_trials(outputs["trials"], trained.trials)
        written.append(f"trials written to {outputs['trials'].shown}")
    if outputs["curves"] is not None:
        curves = ("fold_histories" if cv else "history", (trained.history,))
        save_figures({outputs["curves"]: (*curves, {"title": f"learning curves: {args.target}"})})
        written.append(f"learning curves saved to {args.plot}")
    if trained.interrupted:
        raise Interrupted(
            f"the search stopped after {trained.search['trials']} trials; the best model so far "
            f"was saved to {args.out}, the trials to {outputs['trials'].shown}"
        )
    what = _labels_read(target, encoding) if task == CLASSIFICATION else "numeric target"
    if trained.ensemble_size:
        lines = [
            f"trained {trained.ensemble_size} networks, kept side by side as one network "
            f"({net.params.size:,} parameters; `backprop info` lists its layers)",
            kept_trials_training_line(trained.search),
        ]
    elif cv is None:
        lines = [f"trained {net!r}", training_line(trained.outcome)]
    else:
        lines = [
            f"trained {cv.members[0]!r} on each of {folds} folds; kept "
            + _ENSEMBLE_KEPT.format(k=folds),
            folds_training_line(trained.outcome),
        ]
    return "\n".join(
        [
            lines[0],
            f"task: {task} of {args.target!r} ({what}), {_count(len(features), 'feature')}, "
            f"{_count(len(train_rows), 'training row')}",
            f"recipe: {trained.recipe.describe()}",
            lines[1],
            *([search_line(trained.search)] if trained.search is not None else []),
            f"{part} {shown} {where}",
            *written,
        ]
    )


_ENSEMBLE_KEPT = "the ensemble of the {k} fold networks, their outputs averaged (one network)"


def _training_record(table: tabular.Table, train_rows, val_rows, history) -> dict:
    """The rows, and the last epoch's training loss (each fold network's, for an ensemble)."""
    histories = history if isinstance(history, list) else None
    return {
        "data": os.path.basename(table.path),
        "n_samples": len(table),
        "n_train": int(len(train_rows)),
        "n_validation": int(len(val_rows)),
        "final_loss": (
            [float(h.loss[-1]) for h in histories] if histories else float(history.loss[-1])
        ),
    }
