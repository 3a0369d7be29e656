"""The ``backprop`` command line.

    backprop demo [xor|sin|moons]    train on a built-in dataset and show what was learned
    backprop explain NETWORK.json --input 0.05,0.10 --target 0.01,0.99 --lr 0.5
                                     one backpropagation iteration written out with numbers
                                     (--chain L,I,J, --nudge L,I,J, --steps N, --format latex)
    backprop train DATA.csv --target COL --out MODEL   train a network on a CSV table
                                     (a recipe chosen from the data; --search 5m tunes it)
    backprop predict MODEL DATA.csv --out PRED.csv [--proba]   add a prediction column
    backprop evaluate MODEL DATA.csv [--target COL]    accuracy, per-class scores and the
                                     confusion matrix, or R², MAE and residuals
    backprop info MODEL                                what a model file holds
    backprop export MODEL --onnx OUT.onnx              the model as an ONNX model ([onnx] extra)
    backprop playground DATA --out PAGE.html           a page replaying a training run

A CSV file has a header row; feature columns must be numeric, the target may be text or numbers.
Features (and a regression target) are standardised with the training part's mean and standard
deviation, which the model file keeps (tensors ``feature_mean``, ``feature_scale``) together with
the column names, the classes and the training settings (see ``backprop.io`` for the format).

Bad usage exits with status 2 and a one-line message on stderr. The commands replace only files of
their own kind and never one of their inputs (see ``files``); ``train`` checks the memory it will
need before building the network and reads its model file back before reporting success.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import numpy as np

from .._version import __version__
from ..engine.backend import fused
from ..io.tabular import CLASSIFICATION, REGRESSION
from .csv_commands import evaluate, info, predict
from .demo import DEMOS
from .errors import Interrupted, UsageError
from .explain import explain_command, load_network_spec
from .export import add_export_parser, export
from .playground import add_playground_command, playground
from .train_command import train
from .train_search import KEEP_CHOICES

CSV_COMMANDS = {
    "train": train,
    "predict": predict,
    "evaluate": evaluate,
    "info": info,
    "export": export,
    "playground": playground,
}

__all__ = ["UsageError", "load_network_spec", "main"]


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
    train.add_argument(
        "--hidden", default=None, help="hidden layer sizes, e.g. 64,32 (default: from the data)"
    )
    train.add_argument("--activation", default="relu", help="hidden activation (default relu)")
    train.add_argument("--epochs", type=int, default=None, help="at most this many (default 1000)")
    train.add_argument("--batch-size", type=int, default=None, help="default: from the data")
    train.add_argument("--optimizer", default="adam", help="sgd, adam, rmsprop or adagrad")
    train.add_argument("--lr", type=float, default=None, help="learning rate (adam: 0.002)")
    train.add_argument(
        "--weight-decay", type=float, default=None, help="decoupled weight decay (default 0.01)"
    )
    train.add_argument(
        "--dropout", type=float, default=None, help="default 0.2 (classification), 0 (regression)"
    )
    train.add_argument(
        "--patience", type=int, default=None, help="epochs without improvement before stopping"
    )
    train.add_argument(
        "--time-limit", default="10m", help="stop training after this long (default 10m)"
    )
    train.add_argument(
        "--class-weight", choices=["balanced"], default=None, help="weight classes n/(k·n_class)"
    )
    train.add_argument(
        "--search",
        default=None,
        metavar="BUDGET",
        help="search the hyperparameters for this long, e.g. 5m (Optuna)",
    )
    train.add_argument(
        "--folds",
        type=int,
        default=None,
        metavar="K",
        help="K-fold cross-validation over the training rows, 0 for none. Without --search: "
        "train K networks, each stopped by the fold it leaves out, and keep their ensemble "
        "(default 5 below 10,000 rows, else 0: one network). With --search: score the trials "
        "(default 5 below 10,000 training rows, else 0: the held-out rows)",
    )
    train.add_argument(
        "--keep",
        choices=KEEP_CHOICES,
        default=None,
        help="with folds, the model --search keeps: 'ensemble' (default) the 3 best trials' "
        "fold networks side by side, less any trial clearly behind the best, with each "
        "trial's settings trained once more on every training row for the epochs the trial "
        "was scored at, their outputs averaged (folds over every training row, "
        "nothing held out); 'average' the average of the best trial's fold networks' and a "
        "refit's weights, a network of the trial's size (the refit kept if it does worse); "
        "'refit' the best settings trained on all training rows, stopped by 10%% held out",
    )
    train.add_argument("--plot", default=None, help="save the learning curves (.png or .svg)")
    train.add_argument(
        "--validation",
        type=float,
        default=None,
        help="fraction held out at random (default 0.1; none when a cross-validated ensemble is "
        "kept, by the defaults or --search, whose folds hold each row out in turn)",
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
    train.add_argument(
        "--distributed", action="store_true", help="train across the ranks of mpiexec"
    )
    train.add_argument(
        "--device",
        default="cpu",
        help="where to train: cpu (default), cuda or cuda:N (an NVIDIA GPU; backprop[gpu])",
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
    evaluate.add_argument("--plot", default=None, help="save the confusion matrix (.png or .svg)")
    info = commands.add_parser("info", help="show what a model file holds")
    info.add_argument("model", help="model file")
    for parser in (train, predict, evaluate, info, add_export_parser(commands)):
        _report_errors_in_one_line(parser)


class _Version(argparse.Action):
    """``--version``: versions and the optimiser kernels in use (numba is imported only here)."""

    def __init__(self, option_strings, dest, **kwargs) -> None:
        kwargs.update(nargs=0, default=argparse.SUPPRESS)
        super().__init__(option_strings, dest, help="show the versions and exit", **kwargs)

    def __call__(self, parser, namespace, values, option_string=None) -> None:
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
    explain.add_argument(
        "--precision", type=int, default=6, help="significant digits shown (at most the dtype's)"
    )
    explain.add_argument(
        "--steps", type=int, default=0, help="continue N steps and tabulate E (long runs shortened)"
    )
    explain.add_argument(
        "--chain", default=None, metavar="L,I,J", help="the chain rule for weight wL_IJ (from 1)"
    )
    explain.add_argument(
        "--nudge", default=None, metavar="L,I,J", help="change wL_IJ by --eps and compare ΔE"
    )
    explain.add_argument("--eps", type=float, default=1e-4, help="the nudge (default 1e-4)")
    explain.add_argument("--plot", default=None, help="save the network picture (.png or .svg)")
    explain.add_argument(
        "--html",
        default=None,
        metavar="PAGE.html",
        help="also write the iterations as one self-contained page to step through (needs --lr)",
    )
    _add_csv_commands(commands)
    _report_errors_in_one_line(add_playground_command(commands))
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
            print(explain_command(args), end="")
        else:
            print(CSV_COMMANDS[args.command](args))
    except (UsageError, ValueError, TypeError, OSError, ImportError) as error:
        return _error(" ".join(str(error).splitlines()))
    except MemoryError:
        return _error(f"{args.command}: out of memory")
    except RecursionError:
        return _error(f"{args.command}: the input is nested too deeply to read")
    except Interrupted as interrupted:
        print(
            f"backprop: interrupted{'; ' if str(interrupted) else ''}{interrupted}", file=sys.stderr
        )
        return 130
    except KeyboardInterrupt:
        print("backprop: interrupted", file=sys.stderr)
        return 130
    return 0


def _error(message: str) -> int:
    print(f"backprop: error: {message}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
