"""``backprop predict``, ``evaluate`` and ``info``: a model file from ``train`` at work.

The features are scaled with the training part's mean and scale kept in the model file (see
``trained_model``); ``predict`` writes only a new file or a prediction file (see ``files``).
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys

import numpy as np

from ..io import tabular
from ..io.csv_reader import read_blocks
from ..io.csv_writer import atomic_csv
from ..io.tabular import CLASSIFICATION
from .errors import UsageError
from .files import check_prediction_out
from .pictures import check_picture_out, save_figures
from .reports import (
    class_report,
    classification_report,
    confusion_counts,
    regression_report,
    require_numeric,
    residual_summary,
)
from .trained_model import TrainedModel, describe_file_format, load_trained_model, read_model_file

FLOAT32_MAX = float(np.finfo(np.float32).max)


def _features_of(model: TrainedModel, table: tabular.Table) -> np.ndarray:
    missing = table.missing(model.features)
    if missing:
        raise UsageError(
            f"{table.path}: missing the feature column(s) {', '.join(map(repr, missing))} that "
            f"the model {model.path} was trained on"
        )
    X = table.numeric(model.features)
    Xs = model.standardize(X)
    beyond = ~(np.abs(Xs) <= FLOAT32_MAX)
    if beyond.any():
        row, column = np.argwhere(beyond)[0]
        name = model.features[column]
        cell = table.column(name)[row]
        shown = repr(cell.strip()) if isinstance(cell, str) else f"{cell!r}"
        raise UsageError(
            f"{table.where(row, name)}: {shown} is too far "
            f"outside the training data's range to scale (mean {model.feature_mean[column]:.6g}, "
            f"scale {model.feature_scale[column]:.6g})"
        )
    return Xs


def predict(args: argparse.Namespace) -> str:
    """Write ``args.data`` with a prediction column (and class probabilities) to ``args.out``."""
    out = check_prediction_out(args.out, {"model file": args.model, "input data": args.data})
    model = load_trained_model(args.model)
    if args.proba and model.task != CLASSIFICATION:
        raise UsageError(f"--proba needs a classification model; {model.path} is a regression one")
    data = tabular.check_regular_file(args.data, "CSV file")  # a FIFO would never end
    header, blocks = read_blocks(data, progress=sys.stderr.isatty())
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
    with atomic_csv(out.real, header + added) as write:
        # read a block, predict, write: memory does not grow with the file
        for block in itertools.chain([first], blocks):
            extra = _prediction_cells(model, model.outputs(_features_of(model, block)), args.proba)
            write([*block.columns, *map(list, zip(*extra, strict=True))])
            n_rows += len(block)
    return f"wrote {n_rows} predictions to {args.out}"


def _prediction_cells(model: TrainedModel, outputs: np.ndarray, proba: bool) -> list[list[str]]:
    if model.task != CLASSIFICATION:
        return [[tabular.format_number(v)] for v in model.values(outputs)]
    cells = [[model.classes[i]] for i in outputs.argmax(axis=1)]
    if proba:
        for row, probabilities in zip(cells, outputs, strict=True):
            row.extend(tabular.format_number(p) for p in probabilities)
    return cells


def evaluate(args: argparse.Namespace) -> str:
    """Accuracy, per-class precision, recall and F1 and the confusion matrix (``--plot`` draws
    it), or R², MAE and the residuals, of the model on the labelled rows of ``args.data``."""
    picture = None
    if args.plot is not None:
        inputs = {"model file": args.model, "input data": args.data}
        picture = check_picture_out("--plot", args.plot, inputs)
    model = load_trained_model(args.model)
    if picture is not None and model.task != CLASSIFICATION:
        raise UsageError(
            f"evaluate --plot draws a confusion matrix; {model.path} is a regression model"
        )
    table = tabular.read_csv(args.data, progress=sys.stderr.isatty())
    Xs = _features_of(model, table)
    target_name = args.target or model.meta["target"]
    if target_name not in table.header:
        raise UsageError(
            f"{table.path}: no column {target_name!r} for --target "
            f"(columns: {', '.join(table.header)})"
        )
    target = tabular.read_target(table, target_name)
    outputs = model.outputs(Xs)
    if model.task == CLASSIFICATION:
        codes = tabular.encode_labels(
            table, target_name, target, model.classes, model.meta["label_type"]
        )
        predicted = outputs.argmax(axis=1)
        shown, _ = classification_report(predicted, codes)
        unseen = int((codes < 0).sum())
        if unseen:
            shown += f"; {unseen} rows have labels the model never saw"
        counts = confusion_counts(predicted, codes, len(model.classes))
        details = class_report(counts, model.classes)
        if picture is not None:
            save_figures({picture: ("confusion_matrix", (counts, model.classes))})
    else:
        require_numeric(table, target_name, target)
        shown, _ = regression_report(model.values(outputs), target.numbers)
        details = residual_summary(model.values(outputs), target.numbers)
    lines = [f"{shown} on the {len(table)} rows of {table.path} (target {target_name!r})", details]
    if picture is not None:
        lines.append(f"confusion matrix saved to {args.plot}")
    return "\n".join(lines)


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
        search = training.get("search")
        kept = training.get("kept", search.get("kept") if isinstance(search, dict) else None)
        if isinstance(kept, str):
            lines.append(f"kept: {kept}")
        shown = " ".join(
            f"{key}={json.dumps(value, ensure_ascii=False)}" for key, value in training.items()
        )
        lines.append(f"training: {shown}")
    return lines
