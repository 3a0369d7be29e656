"""The ``backprop`` command line.

    backprop demo [xor|sin|moons]    train on a built-in dataset and show what was learned
    backprop explain NETWORK.json --input 0.05,0.10 --target 0.01,0.99 --lr 0.5
                                     one backpropagation iteration written out with numbers
    backprop train DATA.csv --target COL --out MODEL   train a network on a CSV table
    backprop predict MODEL DATA.csv --out PRED.csv [--proba]   add a prediction column
    backprop evaluate MODEL DATA.csv [--target COL]    accuracy, or R² and MAE, on labelled data
    backprop info MODEL                                what a model file holds

A CSV file has a header row; feature columns must be numeric, the target may be text or numbers.
Features (and a regression target) are standardised with the training part's mean and standard
deviation, which the model file keeps (tensors ``feature_mean``, ``feature_scale``) together with
the column names, the classes and the training settings (see ``backprop.io`` for the format).

Bad usage exits with status 2 and a one-line message on stderr.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import datasets
from ..engine.activations import get_activation
from ..engine.network import Layer, Network
from ..io import model_file as model_io
from ..io import tabular
from ..io.tabular import CLASSIFICATION, LABEL_TYPES, REGRESSION
from ..single_layer import Perceptron
from ..training import TrainingDiverged, fit
from ..training.optimizers import SGD, Adam, get_optimizer


class UsageError(Exception):
    """A mistake in what the user asked for: reported in one line, exit status 2."""


def _single_layer_story(seed: int) -> list[str]:
    lines = ["A single threshold unit (Rosenblatt's perceptron rule, at most 100 epochs):", ""]
    for name, data in (
        ("AND", datasets.and_gate()),
        ("OR", datasets.or_gate()),
        ("XOR", datasets.xor()),
    ):
        perceptron = Perceptron(seed=seed).fit(data.X, data.y, epochs=100)
        correct = int((perceptron.predict(data.X) == data.y).sum())
        verdict = (
            f"learned in {len(perceptron.errors)} epochs"
            if perceptron.converged
            else "never converges: no straight line separates XOR's classes"
        )
        lines.append(f"  {name:<4} {correct} of 4 correct, {verdict}")
    lines += ["", "Two layers, trained by backpropagation, do what one cannot:", ""]
    return lines


def _demo_xor(seed: int, plots: str | None = None) -> str:
    data = datasets.xor()
    net = Network([2, 4, 1], hidden="sigmoid", output="sigmoid", loss="squared", seed=seed)
    history = fit(
        net, data.X, data.y, epochs=5000, batch_size=None, optimizer=SGD(lr=2.0), warn=False
    )
    pictures = _xor_pictures(plots, seed, net, history, data) if plots else None
    outputs = net.predict(data.X)[:, 0]
    lines = _single_layer_story(seed) + [
        "XOR, learned by a 2-4-1 sigmoid network with batch gradient descent"
        " (lr 2.0, squared loss)",
        "",
        f"  {'x1':>3} {'x2':>3}   target   output",
    ]
    for (x1, x2), target, output in zip(data.X, data.y, outputs, strict=True):
        lines.append(f"  {x1:>3.0f} {x2:>3.0f}   {target:>6d}   {output:.4f}")
    lines += ["", _loss_line(history.loss), _accuracy_line(net.predict_classes(data.X), data.y)]
    if pictures:
        lines.append(pictures)
    return "\n".join(lines)


def _xor_pictures(folder: str, seed: int, net, history, data) -> str:
    """Save the decision regions of the perceptron and of the two-layer network."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return 'For the pictures: pip install "backprop[plot]"'
    perceptron = Perceptron(seed=seed).fit(data.X, data.y, epochs=100)
    figures = {
        "xor_two_layers.png": ("decision_regions", (net, data.X, data.y)),
        "xor_perceptron.png": ("decision_regions", (_ThresholdView(perceptron), data.X, data.y)),
        "xor_history.png": ("history", (history,)),
    }
    _save_figures(folder, figures)
    return f"Pictures: {', '.join(str(Path(folder) / name) for name in figures)}"


class _ThresholdView:
    """A perceptron seen through the one method ``plot.decision_regions`` calls."""

    def __init__(self, perceptron):
        self.predict_classes = perceptron.predict


def _save_figures(folder: str, figures: dict) -> None:
    """Draw ``{file name: (plot function, arguments)}`` into ``folder`` (PNG or SVG by suffix)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        from .. import plot
    except ImportError:
        raise UsageError('pictures need matplotlib: pip install "backprop[plot]"') from None
    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    for name, (function, arguments) in figures.items():
        figure = getattr(plot, function)(*arguments)
        figure.savefig(target / name)
        matplotlib.pyplot.close(figure)


def _demo_sin(seed: int, plots: str | None = None) -> str:
    data = datasets.sin(n_samples=200)
    net = Network([1, 16, 1], hidden="tanh", output="identity", loss="squared", seed=seed)
    history = fit(net, data.X, data.y, epochs=300, batch_size=16, optimizer=Adam(lr=0.01))
    probe = np.linspace(-np.pi, np.pi, 9).reshape(-1, 1)
    fitted = net.predict(probe)[:, 0]
    lines = [
        "sin(x) on [-pi, pi], fitted by a 1-16-1 tanh network (Adam, mini-batches of 16)",
        "",
        f"  {'x':>6}   {'sin x':>7}   {'network':>7}",
    ]
    for x, y in zip(probe[:, 0], fitted, strict=True):
        lines.append(f"  {x:>6.3f}   {np.sin(x):>7.4f}   {y:>7.4f}")
    lines += ["", _loss_line(history.loss)]
    return "\n".join(lines)


def _demo_moons(seed: int, plots: str | None = None) -> str:
    data = datasets.two_moons(n_samples=400, noise=0.15, seed=seed)
    net = Network([2, 16, 16, 2], hidden="relu", output="softmax", loss="cross_entropy", seed=seed)
    history = fit(
        net,
        data.X,
        data.y,
        epochs=200,
        batch_size=32,
        optimizer=Adam(lr=0.01),
        validation_split=0.25,
    )
    lines = [
        "two moons, learned by a 2-16-16-2 ReLU network with softmax + cross-entropy (Adam)",
        "",
        _loss_line(history.loss),
        f"validation accuracy: {history.val_accuracy[-1]:.1%} of {round(0.25 * 400)} held-out"
        " points",
    ]
    return "\n".join(lines)


DEMOS = {"xor": _demo_xor, "sin": _demo_sin, "moons": _demo_moons}


def _loss_line(losses: list[float]) -> str:
    marks = sorted({0, len(losses) // 10, len(losses) // 2, len(losses) - 1})
    shown = ", ".join(f"epoch {i + 1}: {losses[i]:.5f}" for i in marks)
    return f"training loss  {shown}"


def _accuracy_line(predicted, target) -> str:
    correct = int((np.asarray(predicted) == np.asarray(target)).sum())
    return f"correct: {correct} of {len(target)}"


def load_network_spec(path: str | Path) -> Network:
    """A float64 network from a JSON file ``{"loss": ..., "layers": [{"activation", "W", "b"}]}``.

    W of layer l has shape (n_out, n_in), rows in the order of the units; n_in of the first
    layer is the number of inputs.
    """
    path = Path(path)
    try:
        spec = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise UsageError(f"{path}: not a readable JSON network file ({error})") from None
    layers = spec.get("layers") if isinstance(spec, dict) else None
    if not isinstance(layers, list) or not layers:
        raise UsageError(f'{path}: needs a non-empty "layers" list')
    shapes = []
    for l, layer in enumerate(layers, start=1):
        try:
            W = np.asarray(layer["W"], dtype=float)
            b = np.asarray(layer["b"], dtype=float)
            activation = layer.get("activation", "sigmoid")
        except (KeyError, TypeError, ValueError) as error:
            raise UsageError(f"{path}: layer {l} needs numeric W and b ({error})") from None
        if W.ndim != 2 or b.shape != (W.shape[0],):
            raise UsageError(f"{path}: layer {l}: W must be (n_out, n_in) and b (n_out,)")
        if shapes and W.shape[1] != shapes[-1][0]:
            raise UsageError(
                f"{path}: layer {l} has {W.shape[1]} inputs but layer {l - 1} has "
                f"{shapes[-1][0]} units"
            )
        shapes.append((W.shape[0], W, b, activation))
    try:
        net = Network(
            [shapes[0][1].shape[1], *(Layer(n, act) for n, _, _, act in shapes)],
            loss=spec.get("loss", "squared"),
            dtype="float64",
        )
        for l, (_, W, b, _) in enumerate(shapes, start=1):
            net.layers[l].W, net.layers[l].b = W, b
    except (TypeError, ValueError) as error:
        raise UsageError(f"{path}: {error}") from None
    return net


def _numbers(text: str, option: str) -> list[float]:
    try:
        return [float(part) for part in text.split(",")]
    except ValueError:
        raise UsageError(f"{option} must be comma-separated numbers, got {text!r}") from None


def _explain(args) -> str:
    net = load_network_spec(args.network)
    X, Y = [_numbers(args.input, "--input")], [_numbers(args.target, "--target")]
    if args.lr is not None and not args.lr > 0:
        raise UsageError(f"--lr must be > 0, got {args.lr}")
    trace = net.backprop(X, Y)
    text = trace.explain(args.format, precision=args.precision, lr=args.lr)
    if args.plot is not None:
        picture = Path(args.plot)
        if picture.suffix.lower() not in (".png", ".svg"):
            raise UsageError(f"--plot must name a .png or .svg file, got {args.plot!r}")
        _save_figures(str(picture.parent), {picture.name: ("network", (trace,))})
    if args.steps:
        if args.lr is None:
            raise UsageError("--steps needs --lr")
        losses = [trace.loss]
        for _ in range(args.steps):
            fit(net, X, Y, epochs=1, batch_size=None, optimizer=SGD(lr=args.lr))
            losses.append(net.backprop(X, Y).loss)
        rows = "\n".join(
            f"  {step:>5}   {loss:.{args.precision}g}" for step, loss in enumerate(losses)
        )
        text += f"\nError over {args.steps} iterations (η = {args.lr:g}):\n   step   E\n{rows}\n"
    return text


# -- CSV commands: train, predict, evaluate, info ---------------------------------------------

METADATA_VERSION = 1
_SCALING_TENSORS = ("feature_mean", "feature_scale")


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


def _check_train_options(args) -> dict:
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


def _train(args) -> str:
    settings = _check_train_options(args)
    out = tabular.check_output_path(args.out)
    table = tabular.read_csv(args.data)
    path = table.path
    if args.target not in table.header:
        raise UsageError(
            f"{path}: no column {args.target!r} for --target (columns: {', '.join(table.header)})"
        )
    features = [name for name in table.header if name != args.target]
    if not features:
        raise UsageError(f"{path}: no feature columns besides the target {args.target!r}")
    X = table.numeric(features)
    target = tabular.read_target(table, args.target)
    task = args.task or tabular.infer_task(target)
    if task == REGRESSION and not target.is_numeric:
        row = next(i for i, text in enumerate(target.texts) if not tabular._is_number(text))
        raise UsageError(
            f"{table.where(row, args.target)}: {target.texts[row]!r} is not a number "
            "(a regression target must be numeric)"
        )
    train_rows, val_rows = _split(len(table), args.validation, args.seed, path)
    feature_mean, feature_scale = tabular.standardization(X[train_rows])
    Xs = (X - feature_mean) / feature_scale
    metadata = {"metadata_version": METADATA_VERSION, "task": task, "target": args.target}
    metadata["features"] = features
    if task == CLASSIFICATION:
        labels, label_type = tabular.label_strings(target)
        classes = tabular.sort_classes(labels, label_type)
        if len(classes) < 2:
            raise UsageError(
                f"{path}: the target {args.target!r} has a single class ({classes[0]!r}); "
                "classification needs at least 2"
            )
        metadata.update(classes=classes, label_type=label_type)
        Y = tabular.encode_labels(table, args.target, target, classes, label_type)
        n_out, output, loss = len(classes), "softmax", "cross_entropy"
    else:
        y_mean, y_scale = tabular.standardization(target.numbers.reshape(-1, 1)[train_rows])
        metadata.update(target_mean=float(y_mean[0]), target_scale=float(y_scale[0]))
        Y = (target.numbers - y_mean[0]) / y_scale[0]
        n_out, output, loss = 1, "identity", "squared"
    net = Network(
        [len(features), *settings["hidden"], n_out],
        hidden=settings["activation"],
        output=output,
        loss=loss,
        dtype=settings["dtype"],
        seed=args.seed,
    )
    validation_data = (Xs[val_rows], Y[val_rows]) if len(val_rows) else None
    try:
        history = fit(
            net,
            Xs[train_rows],
            Y[train_rows],
            epochs=settings["epochs"],
            batch_size=settings["batch_size"],
            optimizer=settings["optimizer"],
            lr=args.lr,
            validation_data=validation_data,
            verbose=not args.quiet,
            warn=False,
            checkpoint=args.checkpoint,
            resume=args.resume,
        )
    except TrainingDiverged as error:
        raise UsageError(f"{path}: {error} Try a smaller --lr.") from None
    report_rows = val_rows if len(val_rows) else train_rows
    outputs = net.predict(Xs[report_rows]).astype(np.float64)
    if task == CLASSIFICATION:
        shown, scores = _classification_report(outputs.argmax(axis=1), Y[report_rows])
    else:
        predicted = outputs[:, 0] * metadata["target_scale"] + metadata["target_mean"]
        shown, scores = _regression_report(predicted, target.numbers[report_rows])
    part = "validation" if len(val_rows) else "training"
    settings.update(
        data=os.path.basename(path),
        n_samples=len(table),
        n_train=int(len(train_rows)),
        n_validation=int(len(val_rows)),
        final_loss=float(history.loss[-1]),
        scores={"part": part, **scores},
    )
    metadata["training"] = settings

    try:
        model_io.save(
            net,
            out,
            metadata=metadata,
            tensors={"feature_mean": feature_mean, "feature_scale": feature_scale},
        )
    except OSError as error:
        raise UsageError(f"{out}: cannot write the model ({error.strerror or error})") from None
    if len(val_rows):
        where = f"on the {len(val_rows)} validation rows held out of {len(table)}"
    else:
        where = f"on the {len(table)} training rows (--validation 0: nothing held out)"
    what = f"{len(classes)} classes" if task == CLASSIFICATION else "numeric target"
    return "\n".join(
        [
            f"trained {net!r}",
            f"task: {task} of {args.target!r} ({what}), {_count(len(features), 'feature')}, "
            f"{_count(len(train_rows), 'training row')}, {_count(settings['epochs'], 'epoch')}",
            f"{part} {shown} {where}",
            f"model saved to {out}",
        ]
    )


@dataclass
class _Model:
    """A model file written by ``backprop train``, its metadata checked."""

    path: str
    net: Network
    meta: dict
    feature_mean: np.ndarray
    feature_scale: np.ndarray

    @property
    def task(self) -> str:
        return self.meta["task"]

    @property
    def features(self) -> list[str]:
        return self.meta["features"]

    @property
    def classes(self) -> list[str]:
        return self.meta.get("classes", [])

    def outputs(self, X: np.ndarray) -> np.ndarray:
        Xs = (X - self.feature_mean) / self.feature_scale
        return self.net.predict(Xs).astype(np.float64)

    def values(self, outputs: np.ndarray) -> np.ndarray:
        """Regression outputs in the target's own units."""
        return outputs[:, 0] * self.meta["target_scale"] + self.meta["target_mean"]


def _read_model_file(path: str):

    if not os.path.exists(path):
        raise UsageError(f"{path}: no such file")
    if os.path.isdir(path):
        raise UsageError(f"{path}: is a directory, not a model file")
    try:
        return model_io.load_with_metadata(path)
    except OSError as error:
        raise UsageError(f"{path}: cannot read ({error.strerror or error})") from None


def _load_model(path: str) -> _Model:
    net, meta, tensors = _read_model_file(path)
    if "task" not in meta or "features" not in meta:
        raise UsageError(
            f"{path}: a backprop model, but not one written by 'backprop train' "
            "(it has no task and feature columns)"
        )

    def corrupt(problem: str) -> UsageError:
        return UsageError(f"{path}: corrupt model metadata: {problem}")

    task, features = meta.get("task"), meta.get("features")
    if task not in (CLASSIFICATION, REGRESSION):
        raise corrupt(f"unknown task {task!r}")
    if not isinstance(meta.get("target"), str):
        raise corrupt("the target column name is missing")
    if (
        not isinstance(features, list)
        or not all(isinstance(name, str) for name in features)
        or len(set(features)) != len(features)
        or len(features) != net.n_inputs
    ):
        raise corrupt(f"features must be {net.n_inputs} distinct column names")
    scaling = []
    for name in _SCALING_TENSORS:
        array = tensors.get(name)
        if array is None:
            raise corrupt(f"the tensor {name!r} is missing")
        array = np.asarray(array, dtype=np.float64)
        if array.shape != (len(features),) or not np.isfinite(array).all():
            raise corrupt(f"the tensor {name!r} must hold {len(features)} finite numbers")
        scaling.append(array)
    if not (scaling[1] > 0).all():
        raise corrupt("feature_scale must be > 0")
    if task == CLASSIFICATION:
        classes = meta.get("classes")
        if (
            not isinstance(classes, list)
            or not all(isinstance(label, str) for label in classes)
            or len(classes) != net.n_outputs
            or len(classes) < 2
        ):
            raise corrupt(f"classes must be {net.n_outputs} labels, one per output")
        if meta.get("label_type") not in LABEL_TYPES:
            raise corrupt(f"label_type must be one of {', '.join(LABEL_TYPES)}")
    else:
        if net.n_outputs != 1:
            raise corrupt("a regression model must have one output")
        for key in ("target_mean", "target_scale"):
            value = meta.get(key)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise corrupt(f"{key} must be a number")
            if not math.isfinite(value) or (key == "target_scale" and value <= 0):
                raise corrupt(f"{key} is out of range ({value!r})")
    return _Model(path, net, meta, scaling[0], scaling[1])


def _features_of(model: _Model, table: tabular.Table) -> np.ndarray:
    missing = table.missing(model.features)
    if missing:
        raise UsageError(
            f"{table.path}: missing the feature column(s) {', '.join(map(repr, missing))} that "
            f"the model {model.path} was trained on"
        )
    return table.numeric(model.features)


def _predict(args) -> str:
    out = tabular.check_output_path(args.out)
    model = _load_model(args.model)
    if args.proba and model.task != CLASSIFICATION:
        raise UsageError(f"--proba needs a classification model; {model.path} is a regression one")
    table = tabular.read_csv(args.data)
    X = _features_of(model, table)
    added = ["prediction"]
    if args.proba:
        added += [f"proba_{label}" for label in model.classes]
    clashes = [name for name in added if name in table.header]
    if clashes:
        raise UsageError(
            f"{table.path}: already has the column(s) {', '.join(map(repr, clashes))} that "
            "predict would add"
        )
    outputs = model.outputs(X)
    if model.task == CLASSIFICATION:
        labels = [model.classes[i] for i in outputs.argmax(axis=1)]
        extra = [[label] for label in labels]
        if args.proba:
            for row, probabilities in zip(extra, outputs, strict=True):
                row.extend(tabular.format_number(p) for p in probabilities)
    else:
        extra = [[tabular.format_number(v)] for v in model.values(outputs)]
    rows = (row + more for row, more in zip(table.rows, extra, strict=True))
    tabular.write_csv_atomic(out, table.header + added, rows)
    return f"wrote {len(table)} predictions to {out}"


def _evaluate(args) -> str:
    model = _load_model(args.model)
    table = tabular.read_csv(args.data)
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
        if not target.is_numeric:
            row = next(i for i, text in enumerate(target.texts) if not tabular._is_number(text))
            raise UsageError(
                f"{table.where(row, target_name)}: {target.texts[row]!r} is not a number "
                "(a regression target must be numeric)"
            )
        shown, _ = _regression_report(model.values(outputs), target.numbers)
    return f"{shown} on the {len(table)} rows of {table.path} (target {target_name!r})"


def _file_format(path: str) -> str:

    try:
        import safetensors

        with safetensors.safe_open(path, framework="numpy") as handle:
            header = handle.metadata() or {}
    except Exception:  # the file loaded a moment ago; describe what the module reads instead
        header = {}
    version = header.get("format_version", str(model_io.FORMAT_VERSION))
    written = header.get("backprop_version", "unknown")
    return f"safetensors, backprop format version {version} (written by backprop {written})"


def _info(args) -> str:
    net, meta, _ = _read_model_file(args.model)
    lines = [f"model: {args.model}", f"architecture: {net!r}"]
    if "task" not in meta:
        lines.append("not written by 'backprop train': no task, features or classes stored")
    else:
        model = _load_model(args.model)
        lines += [
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
    lines.append(f"file format: {_file_format(args.model)}")
    return "\n".join(lines)


CSV_COMMANDS = {"train": _train, "predict": _predict, "evaluate": _evaluate, "info": _info}


def _report_errors_in_one_line(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Make this (sub)parser report bad usage in one stderr line, exit status 2."""
    command = parser.prog.split()[-1]

    def error(message: str):
        parser.exit(2, f"backprop: error: {command}: {message}\n")

    parser.error = error
    return parser


def _add_csv_commands(commands) -> None:
    train = commands.add_parser("train", help="train a network on a CSV table")
    train.add_argument("data", help="CSV file with a header row")
    train.add_argument("--target", required=True, help="the column to predict")
    train.add_argument("--out", required=True, help="the model file to write (safetensors)")
    train.add_argument("--hidden", default="64,32", help="hidden layer sizes (default 64,32)")
    train.add_argument("--activation", default="relu", help="hidden activation (default relu)")
    train.add_argument("--epochs", type=int, default=100, help="default 100")
    train.add_argument("--batch-size", type=int, default=32, help="default 32")
    train.add_argument("--optimizer", default="adam", help="sgd, adam, rmsprop or adagrad")
    train.add_argument("--lr", type=float, default=None, help="learning rate (optimizer default)")
    train.add_argument(
        "--validation", type=float, default=0.1, help="fraction held out at random (default 0.1)"
    )
    train.add_argument("--seed", type=int, default=0, help="seed for the split and the network")
    train.add_argument(
        "--task", choices=[CLASSIFICATION, REGRESSION], default=None, help="default: inferred"
    )
    train.add_argument("--quiet", action="store_true", help="no progress output")
    train.add_argument(
        "--checkpoint", default=None, help="save the training state here after every epoch"
    )
    train.add_argument(
        "--resume", action="store_true", help="continue from --checkpoint if it exists"
    )
    predict = commands.add_parser("predict", help="write the CSV with a prediction column added")
    predict.add_argument("model", help="model file written by 'backprop train'")
    predict.add_argument("data", help="CSV file with the model's feature columns")
    predict.add_argument("--out", required=True, help="CSV file to write")
    predict.add_argument("--proba", action="store_true", help="add proba_<class> columns")
    evaluate = commands.add_parser("evaluate", help="accuracy or R² and MAE on a labelled CSV")
    evaluate.add_argument("model", help="model file written by 'backprop train'")
    evaluate.add_argument("data", help="CSV file with the features and the target")
    evaluate.add_argument("--target", default=None, help="default: the model's target column")
    info = commands.add_parser("info", help="show what a model file holds")
    info.add_argument("model", help="model file")
    for parser in (train, predict, evaluate, info):
        _report_errors_in_one_line(parser)


class _Version(argparse.Action):
    """``--version``: versions and the optimiser kernels in use (numba is imported only here)."""

    def __init__(self, option_strings, dest, **kwargs) -> None:
        kwargs.update(nargs=0, default=argparse.SUPPRESS)
        super().__init__(option_strings, dest, help="show the versions and exit", **kwargs)

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        from .._version import __version__
        from ..engine.backend import fused

        print(f"backprop {__version__} (numpy {np.__version__}; updates: {fused.describe()})")
        parser.exit(0)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="backprop", description="Backpropagation written out, and made fast."
    )
    parser.add_argument("--version", action=_Version)
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="train on a built-in dataset and show the result")
    demo.add_argument("dataset", nargs="?", default="xor", choices=sorted(DEMOS))
    demo.add_argument("--seed", type=int, default=0, help="seed for initialisation and data")
    demo.add_argument(
        "--plots",
        default="backprop_demo",
        help="folder for the xor pictures (default backprop_demo; '' for none)",
    )
    explain = commands.add_parser(
        "explain", help="write one backpropagation iteration out with the numbers substituted"
    )
    explain.add_argument(
        "network", help='JSON file: {"loss": ..., "layers": [{"activation", "W", "b"}]}'
    )
    explain.add_argument("--input", required=True, help="one input vector, e.g. 0.05,0.10")
    explain.add_argument("--target", required=True, help="its target, e.g. 0.01,0.99")
    explain.add_argument("--lr", type=float, default=None, help="learning rate for the update step")
    explain.add_argument("--format", choices=["text", "markdown", "latex"], default="text")
    explain.add_argument("--precision", type=int, default=6, help="significant digits shown")
    explain.add_argument("--steps", type=int, default=0, help="continue N iterations, tabulate E")
    explain.add_argument("--plot", default=None, help="save the network picture (.png or .svg)")
    _add_csv_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = _parser()
    args, extras = parser.parse_known_args(argv)
    if extras:
        if args.command in CSV_COMMANDS:
            parser.exit(2, f"backprop: error: unrecognized arguments: {' '.join(extras)}\n")
        args = parser.parse_args(argv)  # reports them as it always has
    try:
        if args.command == "demo":
            print(DEMOS[args.dataset](args.seed, args.plots))
        elif args.command == "explain":
            print(_explain(args), end="")
        else:
            print(CSV_COMMANDS[args.command](args))
    except (UsageError, ValueError, TypeError, OSError, ImportError) as error:
        message = " ".join(str(error).splitlines())
        print(f"backprop: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        saved = getattr(args, "checkpoint", None)
        hint = f"; the last finished epoch is in {saved}, continue with --resume" if saved else ""
        print(f"backprop: interrupted{hint}", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
