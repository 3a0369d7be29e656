"""``backprop train``, ``predict``, ``evaluate`` and ``info``: networks for CSV tables.

Features (and a regression target) are standardised with the training part's mean and standard
deviation, which the model file keeps with the column names, the classes and the training
settings (see ``trained_model``).
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import sys

import numpy as np

from ..engine.activations import get_activation
from ..engine.network import Network
from ..io import save, tabular
from ..io.csv_reader import read_blocks
from ..io.csv_writer import atomic_csv
from ..io.tabular import CLASSIFICATION, REGRESSION
from ..training import History, TrainingDiverged, fit
from ..training.optimizers import get_optimizer
from .errors import UsageError
from .trained_model import (
    METADATA_VERSION,
    TrainedModel,
    describe_file_format,
    load_trained_model,
    read_model_file,
)

# -- train ------------------------------------------------------------------------------------


def _hidden_sizes(text: str) -> list[int]:
    text = text.strip()
    if text.lower() in ("", "none", "0"):
        return []
    try:
        sizes = [int(part) for part in text.split(",")]
    except ValueError:
        raise UsageError(f"--hidden must be comma-separated layer sizes, got {text!r}") from None
    if any(size < 1 for size in sizes):
        raise UsageError(f"--hidden sizes must be >= 1, got {text!r}")
    return sizes


def _check_train_options(args: argparse.Namespace) -> dict:
    """Every option checked before any data is read; returns the settings to train with."""
    if not 0 <= args.validation < 1:
        raise UsageError(f"--validation must be in [0, 1), got {args.validation:g}")
    if args.epochs < 1:
        raise UsageError(f"--epochs must be >= 1, got {args.epochs}")
    if args.batch_size < 1:
        raise UsageError(f"--batch-size must be >= 1, got {args.batch_size}")
    if args.lr is not None and not (args.lr > 0 and math.isfinite(args.lr)):
        raise UsageError(f"--lr must be a finite number > 0, got {args.lr:g}")
    if args.seed < 0:
        raise UsageError(f"--seed must be >= 0, got {args.seed}")
    activation = get_activation(args.activation)
    if not activation.elementwise:
        raise UsageError(f"--activation {args.activation!r} is for output layers, not hidden ones")
    optimizer = get_optimizer(args.optimizer, args.lr)
    return {
        "hidden": _hidden_sizes(args.hidden),
        "activation": activation.name,
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "optimizer": args.optimizer.strip().lower(),
        "lr": optimizer.lr,
        "optimizer_settings": optimizer.hyperparameters(),
        "validation": args.validation,
        "seed": args.seed,
        "dtype": "float32",
    }


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


def _require_numeric(table: tabular.Table, name: str, target: tabular.Target) -> None:
    """Refuse a regression target with a non-number, naming the first one."""
    if target.is_numeric:
        return
    row = next(i for i, text in enumerate(target.texts) if not tabular._is_number(text))
    raise UsageError(
        f"{table.where(row, name)}: {target.texts[row]!r} is not a number "
        "(a regression target must be numeric)"
    )


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


def _standardize_target(y: np.ndarray, train_rows: np.ndarray) -> tuple[dict, np.ndarray]:
    """(the target's mean and scale over the training rows, the standardised target)."""
    y_mean, y_scale = tabular.standardization(y.reshape(-1, 1)[train_rows])
    scaling = {"target_mean": float(y_mean[0]), "target_scale": float(y_scale[0])}
    return scaling, (y - y_mean[0]) / y_scale[0]


def _fit(
    net: Network,
    args: argparse.Namespace,
    settings: dict,
    training: tuple[np.ndarray, np.ndarray],
    validation: tuple[np.ndarray, np.ndarray] | None,
    path: str,
) -> History:
    try:
        return fit(
            net,
            *training,
            epochs=settings["epochs"],
            batch_size=settings["batch_size"],
            optimizer=settings["optimizer"],
            lr=args.lr,
            validation_data=validation,
            verbose=not args.quiet,
            warn=False,
            checkpoint=args.checkpoint,
            resume=args.resume,
        )
    except TrainingDiverged as error:
        raise UsageError(f"{path}: {error} Try a smaller --lr.") from None


def _score(net: Network, Xs: np.ndarray, truth: np.ndarray, encoding: dict) -> tuple[str, dict]:
    """The report on rows ``Xs``: ``truth`` is class indices, or targets in their own units."""
    outputs = net.predict(Xs).astype(np.float64)
    if "classes" in encoding:
        return _classification_report(outputs.argmax(axis=1), truth)
    predicted = outputs[:, 0] * encoding["target_scale"] + encoding["target_mean"]
    return _regression_report(predicted, truth)


def _classification_report(predicted: np.ndarray, codes: np.ndarray) -> tuple[str, dict]:
    correct = int((predicted == codes).sum())
    accuracy = correct / len(codes)
    return f"accuracy {accuracy:.2%} ({correct} of {len(codes)} correct)", {"accuracy": accuracy}


def _regression_report(predicted: np.ndarray, y: np.ndarray) -> tuple[str, dict]:
    r2 = tabular.r2_score(y, predicted)
    mae = float(np.abs(y - predicted).mean())
    shown = "undefined (the targets are all equal)" if math.isnan(r2) else f"{r2:.4f}"
    return f"R² {shown}, MAE {mae:.6g}", {"r2": None if math.isnan(r2) else r2, "mae": mae}


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def train(args: argparse.Namespace) -> str:
    """Train a network on ``args.data`` and save it to ``args.out``; returns the summary."""
    settings = _check_train_options(args)
    out = tabular.check_output_path(args.out)
    table = tabular.read_csv(args.data, progress=not args.quiet, text_columns=[args.target])
    features = _feature_columns(table, args.target)
    X = table.numeric(features)
    target = tabular.read_target(table, args.target)
    task = args.task or tabular.infer_task(target)
    if task == REGRESSION:
        _require_numeric(table, args.target, target)
    train_rows, val_rows = _split(len(table), args.validation, args.seed, table.path)
    feature_mean, feature_scale = tabular.standardization(X[train_rows])
    Xs = (X - feature_mean) / feature_scale
    if task == CLASSIFICATION:
        encoding, Y = _encode_classes(table, args.target, target)
        n_out, output, loss, truth = len(encoding["classes"]), "softmax", "cross_entropy", Y
    else:
        encoding, Y = _standardize_target(target.numbers, train_rows)
        n_out, output, loss, truth = 1, "identity", "squared", target.numbers
    net = Network(
        [len(features), *settings["hidden"], n_out],
        hidden=settings["activation"],
        output=output,
        loss=loss,
        dtype=settings["dtype"],
        seed=args.seed,
    )
    validation = (Xs[val_rows], Y[val_rows]) if len(val_rows) else None
    history = _fit(net, args, settings, (Xs[train_rows], Y[train_rows]), validation, table.path)
    report_rows = val_rows if len(val_rows) else train_rows
    shown, scores = _score(net, Xs[report_rows], truth[report_rows], encoding)
    part = "validation" if len(val_rows) else "training"
    settings.update(
        _training_record(table, train_rows, val_rows, history), scores={"part": part, **scores}
    )
    metadata = {"metadata_version": METADATA_VERSION, "task": task, "target": args.target}
    metadata.update(features=features, **encoding, training=settings)
    _save_model(net, out, metadata, feature_mean, feature_scale)
    if len(val_rows):
        where = f"on the {len(val_rows)} validation rows held out of {len(table)}"
    else:
        where = f"on the {len(table)} training rows (--validation 0: nothing held out)"
    what = _labels_read(target, encoding) if task == CLASSIFICATION else "numeric target"
    return "\n".join(
        [
            f"trained {net!r}",
            f"task: {task} of {args.target!r} ({what}), {_count(len(features), 'feature')}, "
            f"{_count(len(train_rows), 'training row')}, {_count(settings['epochs'], 'epoch')}",
            f"{part} {shown} {where}",
            f"model saved to {out}",
        ]
    )


def _training_record(table: tabular.Table, train_rows, val_rows, history: History) -> dict:
    return {
        "data": os.path.basename(table.path),
        "n_samples": len(table),
        "n_train": int(len(train_rows)),
        "n_validation": int(len(val_rows)),
        "final_loss": float(history.loss[-1]),
    }


def _save_model(net: Network, out: str, metadata: dict, feature_mean, feature_scale) -> None:
    try:
        save(
            net,
            out,
            metadata=metadata,
            tensors={"feature_mean": feature_mean, "feature_scale": feature_scale},
        )
    except OSError as error:
        raise UsageError(f"{out}: cannot write the model ({error.strerror or error})") from None


# -- predict, evaluate, info ------------------------------------------------------------------


def _features_of(model: TrainedModel, table: tabular.Table) -> np.ndarray:
    missing = table.missing(model.features)
    if missing:
        raise UsageError(
            f"{table.path}: missing the feature column(s) {', '.join(map(repr, missing))} that "
            f"the model {model.path} was trained on"
        )
    return table.numeric(model.features)


def predict(args: argparse.Namespace) -> str:
    """Write ``args.data`` with a prediction column (and class probabilities) to ``args.out``."""
    out = tabular.check_output_path(args.out)
    model = load_trained_model(args.model)
    if args.proba and model.task != CLASSIFICATION:
        raise UsageError(f"--proba needs a classification model; {model.path} is a regression one")
    header, blocks = read_blocks(args.data, progress=sys.stderr.isatty())
    first = next(blocks)
    _features_of(model, first)  # the first block's problems come first, as for a small file
    added = ["prediction"]
    if args.proba:
        added += [f"proba_{label}" for label in model.classes]
    clashes = [name for name in added if name in header]
    if clashes:
        raise UsageError(
            f"{args.data}: already has the column(s) {', '.join(map(repr, clashes))} that "
            "predict would add"
        )
    n_rows = 0
    with atomic_csv(out, header + added) as write:
        for block in itertools.chain(
            [first], blocks
        ):  # read a block, predict, write: memory does not grow with the file
            extra = _prediction_cells(model, model.outputs(_features_of(model, block)), args.proba)
            write([*block.columns, *map(list, zip(*extra, strict=True))])
            n_rows += len(block)
    return f"wrote {n_rows} predictions to {out}"


def _prediction_cells(model: TrainedModel, outputs: np.ndarray, proba: bool) -> list[list[str]]:
    if model.task != CLASSIFICATION:
        return [[tabular.format_number(v)] for v in model.values(outputs)]
    cells = [[model.classes[i]] for i in outputs.argmax(axis=1)]
    if proba:
        for row, probabilities in zip(cells, outputs, strict=True):
            row.extend(tabular.format_number(p) for p in probabilities)
    return cells


def evaluate(args: argparse.Namespace) -> str:
    """Accuracy, or R² and MAE, of the model on the labelled rows of ``args.data``."""
    model = load_trained_model(args.model)
    table = tabular.read_csv(args.data, progress=sys.stderr.isatty())
    X = _features_of(model, table)
    target_name = args.target or model.meta["target"]
    if target_name not in table.header:
        raise UsageError(
            f"{table.path}: no column {target_name!r} for --target "
            f"(columns: {', '.join(table.header)})"
        )
    target = tabular.read_target(table, target_name)
    outputs = model.outputs(X)
    if model.task == CLASSIFICATION:
        codes = tabular.encode_labels(
            table, target_name, target, model.classes, model.meta["label_type"]
        )
        shown, _ = _classification_report(outputs.argmax(axis=1), codes)
        unseen = int((codes < 0).sum())
        if unseen:
            shown += f"; {unseen} rows have labels the model never saw"
    else:
        _require_numeric(table, target_name, target)
        shown, _ = _regression_report(model.values(outputs), target.numbers)
    return f"{shown} on the {len(table)} rows of {table.path} (target {target_name!r})"


def info(args: argparse.Namespace) -> str:
    """What the model file holds: architecture, task, columns, classes, training settings."""
    net, meta, _ = read_model_file(args.model)
    lines = [f"model: {args.model}", f"architecture: {net!r}"]
    if "task" not in meta:
        lines.append("not written by 'backprop train': no task, features or classes stored")
    else:
        lines += _trained_model_lines(load_trained_model(args.model))
    lines.append(f"file format: {describe_file_format(args.model)}")
    return "\n".join(lines)


def _trained_model_lines(model: TrainedModel) -> list[str]:
    meta = model.meta
    lines = [
        f"task: {model.task}",
        f"target: {meta['target']}",
        f"features ({len(model.features)}): {', '.join(model.features)}",
    ]
    if model.task == CLASSIFICATION:
        lines.append(
            f"classes ({len(model.classes)}, {meta['label_type']} labels): "
            f"{', '.join(model.classes)}"
        )
    else:
        lines.append(
            f"target scaling: mean {meta['target_mean']:.6g}, scale {meta['target_scale']:.6g}"
        )
    training = meta.get("training")
    if isinstance(training, dict):
        shown = " ".join(
            f"{key}={json.dumps(value, ensure_ascii=False)}" for key, value in training.items()
        )
        lines.append(f"training: {shown}")
    return lines


CSV_COMMANDS = {"train": train, "predict": predict, "evaluate": evaluate, "info": info}
