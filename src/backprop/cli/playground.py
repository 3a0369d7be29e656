"""``backprop playground DATA --out PAGE.html``: the training view of a run, as one HTML page.

DATA is a built-in dataset (``xor``, ``moons``, ``circles``, ``spirals``) or a CSV file with one
or two numeric feature columns and a label or target column (``--target``, default the last
column). The run is trained by the Python engine and recorded (see
``backprop.page.playground_data``); the page replays it epoch by epoch and shows the command
that replays the run, seed included. ``--out`` replaces only a page that backprop wrote.
"""

from __future__ import annotations

import argparse
import math
import shlex

import numpy as np

from .. import datasets
from ..engine.activations import get_activation
from ..io import tabular
from ..io.tabular import CLASSIFICATION, REGRESSION
from ..page.html import is_backprop_page
from ..page.playground import write_playground
from ..page.playground_data import MAX_EPOCHS, Settings, check_size, record_run
from ..training.optimizers import get_optimizer
from .errors import UsageError
from .files import Output, check_own_output
from .recipe_options import parse_hidden_sizes

BUILT_IN = ("xor", "moons", "circles", "spirals")
_XOR_CORNERS = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])


def add_playground_command(commands) -> argparse.ArgumentParser:
    parser = commands.add_parser(
        "playground", help="write a page that replays a training run epoch by epoch"
    )
    parser.add_argument("data", help=f"{', '.join(BUILT_IN)}, or a CSV file with 1 or 2 features")
    parser.add_argument("--out", default="playground.html", help="the page to write (.html)")
    parser.add_argument("--target", default=None, help="CSV: the column to predict (default last)")
    parser.add_argument("--task", choices=[CLASSIFICATION, REGRESSION], default=None)
    parser.add_argument("--hidden", default="8,8", help="hidden layer sizes (default 8,8)")
    parser.add_argument("--activation", default="tanh", help="hidden activation (default tanh)")
    parser.add_argument("--optimizer", default="sgd", help="sgd, adam, rmsprop or adagrad")
    parser.add_argument("--lr", type=float, default=0.1, help="learning rate (default 0.1)")
    parser.add_argument("--batch-size", type=int, default=16, help="default 16")
    parser.add_argument("--epochs", type=int, default=200, help=f"at most {MAX_EPOCHS}")
    parser.add_argument("--validation", type=float, default=0.2, help="fraction held out")
    parser.add_argument("--seed", type=int, default=0, help="seed for data, split and network")
    parser.add_argument("--samples", type=int, default=200, help="built-in data: sample count")
    parser.add_argument("--noise", type=float, default=None, help="built-in data: noise level")
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    """Every option checked before any data is read or generated."""
    if not 0 <= args.validation < 1:
        raise UsageError(f"--validation must be in [0, 1), got {args.validation:g}")
    if not 1 <= args.epochs <= MAX_EPOCHS:
        raise UsageError(f"--epochs must be between 1 and {MAX_EPOCHS}, got {args.epochs}")
    if args.batch_size < 1:
        raise UsageError(f"--batch-size must be >= 1, got {args.batch_size}")
    if not (args.lr > 0 and math.isfinite(args.lr)):
        raise UsageError(f"--lr must be a finite number > 0, got {args.lr:g}")
    if args.seed < 0:
        raise UsageError(f"--seed must be >= 0, got {args.seed}")
    if args.samples < 8:
        raise UsageError(f"--samples must be >= 8, got {args.samples}")
    if args.noise is not None and not (args.noise >= 0 and math.isfinite(args.noise)):
        raise UsageError(f"--noise must be a finite number >= 0, got {args.noise:g}")
    activation = get_activation(args.activation)
    if not activation.elementwise:
        raise UsageError(f"--activation {args.activation!r} is for output layers, not hidden ones")
    get_optimizer(args.optimizer, args.lr)
    hidden = parse_hidden_sizes(args.hidden)
    check_size([2, *hidden, 2])
    return Settings(
        hidden=hidden,
        activation=activation.name,
        optimizer=args.optimizer.strip().lower(),
        lr=args.lr,
        batch_size=args.batch_size,
        epochs=args.epochs,
        validation=args.validation,
        seed=args.seed,
    )


def check_page_out(path: str, inputs: dict[str, str]) -> Output:
    """``--out``: an .html file in an existing directory, new or a page backprop wrote."""
    return check_own_output(
        "--out", path, inputs, is_backprop_page, "a page backprop wrote", (".html", ".htm")
    )


def built_in(name: str, samples: int, noise: float | None, seed: int) -> datasets.Dataset:
    """A built-in dataset for the playground; ``xor`` is a noisy cloud about the four corners
    of the XOR truth table."""
    if name == "xor":
        truth = datasets.xor()
        corner = np.random.default_rng(seed).integers(0, 4, samples)
        spread = np.random.default_rng(seed + 1).normal(
            0, 0.15 if noise is None else noise, (samples, 2)
        )
        return truth._replace(X=truth.X[corner] + spread, y=truth.y[corner])
    extra = {} if noise is None else {"noise": noise}
    maker = {"moons": datasets.two_moons, "circles": datasets.circles, "spirals": datasets.spirals}
    if name == "moons" and noise is None:
        extra["noise"] = 0.15
    return maker[name](n_samples=samples, seed=seed, **extra)


def _from_csv(args: argparse.Namespace) -> tuple[np.ndarray, np.ndarray, str, list | None, dict]:
    table = tabular.read_csv(args.data)
    target_name = args.target if args.target is not None else table.header[-1]
    if target_name not in table.header:
        raise UsageError(
            f"{args.data}: no column {target_name!r} for --target "
            f"(columns: {', '.join(table.header)})"
        )
    features = [name for name in table.header if name != target_name]
    if not 1 <= len(features) <= 2:
        raise UsageError(
            f"{args.data}: the training view draws one or two feature columns, this table has "
            f"{len(features)} besides {target_name!r} ({', '.join(features) or 'none'}); "
            "'backprop train' trains on wider tables"
        )
    X = table.numeric(features)
    target = tabular.read_target(table, target_name)
    task = args.task or tabular.infer_task(target)
    if task == REGRESSION:
        if not target.is_numeric:
            raise UsageError(f"{args.data}: regression needs a numeric target {target_name!r}")
        return X, target.numbers, task, None, {"features": features, "target": target_name}
    labels, label_type = tabular.label_strings(target)
    classes = tabular.sort_classes(labels, label_type)
    if len(classes) < 2:
        raise UsageError(f"{args.data}: the target {target_name!r} has a single class")
    codes = tabular.encode_labels(table, target_name, target, classes, label_type)
    return X, codes, task, classes, {"features": features, "target": target_name}


def _replay_command(args: argparse.Namespace, settings: Settings) -> str:
    words = ["backprop", "playground", args.data]
    if args.data not in BUILT_IN:
        words += ["--target", args.target] if args.target else []
        words += ["--task", args.task] if args.task else []
    else:
        words += ["--samples", str(args.samples)]
        words += ["--noise", f"{args.noise:g}"] if args.noise is not None else []
    words += ["--hidden", ",".join(map(str, settings.hidden)) or "0"]
    words += ["--activation", settings.activation, "--optimizer", settings.optimizer]
    words += ["--lr", f"{settings.lr:g}", "--batch-size", str(settings.batch_size)]
    words += ["--epochs", str(settings.epochs), "--validation", f"{settings.validation:g}"]
    words += ["--seed", str(settings.seed), "--out", args.out]
    return shlex.join(words)


def playground(args: argparse.Namespace) -> str:
    """Train, record and write the page; returns what to print."""
    settings = _settings(args)
    is_built_in = args.data in BUILT_IN
    inputs = {} if is_built_in else {"data": args.data}
    output = check_page_out(args.out, inputs)
    if is_built_in:
        data = built_in(args.data, args.samples, args.noise, args.seed)
        X, y, task, classes, names = data.X, data.y, CLASSIFICATION, None, {}
    else:
        X, y, task, classes, names = _from_csv(args)
    names.update(dataset=args.data, command=_replay_command(args, settings))
    run = record_run(X, y, settings, task=task, classes=classes, names=names)
    check_page_out(args.out, inputs)  # again: the file may have changed while training ran
    write_playground(run.data, output.real)
    last = f"training loss {run.history.loss[-1]:.4g}"
    if "val_loss" in run.history:
        last += f", validation loss {run.history['val_loss'][-1]:.4g}"
    frames = len(run.data["frames"])
    return f"Wrote {output.shown}: {frames} frames of {settings.epochs} epochs; {last}"
