"""``backprop train``'s recipe options: what the user set, checked before any data is read.

Options left out are chosen by ``backprop.recipes.default_recipe`` from the data once the
training rows are known; the model file stores every choice, set or chosen.

>>> [parse_duration("--search", text) for text in ("5m", "90", "1.5h")]
[300.0, 90.0, 5400.0]
"""

from __future__ import annotations

import argparse
import math
import re

from ..training.optimizers import get_optimizer
from ..training.recipes import Recipe, default_recipe
from .errors import UsageError

_DURATION = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*([smh]?)\s*$", re.IGNORECASE)
_SECONDS = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(option: str, text: str) -> float:
    """Seconds from ``90``, ``90s``, ``5m`` or ``1.5h``; anything else, or 0, is refused."""
    match = _DURATION.match(str(text))
    seconds = float(match.group(1)) * _SECONDS[match.group(2).lower()] if match else math.nan
    if not (seconds > 0 and math.isfinite(seconds)):
        raise UsageError(f"{option} must be a duration such as 90s, 5m or 1h, got {text!r}")
    return seconds


def parse_hidden_sizes(text: str) -> tuple[int, ...]:
    text = text.strip()
    if text.lower() in ("", "none", "0"):
        return ()
    try:
        sizes = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise UsageError(f"--hidden must be comma-separated layer sizes, got {text!r}") from None
    if any(size < 1 for size in sizes):
        raise UsageError(f"--hidden sizes must be >= 1, got {text!r}")
    return sizes


def _positive_int(option: str, value: int | None, minimum: int = 1) -> None:
    if value is not None and value < minimum:
        raise UsageError(f"{option} must be >= {minimum}, got {value}")


def recipe_overrides(args: argparse.Namespace) -> dict:
    """The recipe fields the options set (each checked), for ``default_recipe``."""
    overrides: dict = {}
    if args.hidden is not None:
        overrides["hidden"] = parse_hidden_sizes(args.hidden)
    for option, value, field, minimum in (
        ("--epochs", args.epochs, "max_epochs", 1),
        ("--batch-size", args.batch_size, "batch_size", 1),
        ("--patience", args.patience, "patience", 0),
    ):
        _positive_int(option, value, minimum)
        if value is not None:
            overrides[field] = value
    if args.dropout is not None:
        if not 0 <= args.dropout < 1:
            raise UsageError(f"--dropout must be in [0, 1), got {args.dropout:g}")
        overrides["dropout"] = args.dropout
    if args.weight_decay is not None:
        if not (args.weight_decay >= 0 and math.isfinite(args.weight_decay)):
            raise UsageError(
                f"--weight-decay must be a finite number >= 0, got {args.weight_decay:g}"
            )
        overrides["weight_decay"] = args.weight_decay
    if args.lr is not None and not (args.lr > 0 and math.isfinite(args.lr)):
        raise UsageError(f"--lr must be a finite number > 0, got {args.lr:g}")
    optimizer = args.optimizer.strip().lower()
    if args.lr is not None or optimizer != "adam":
        overrides["lr"] = get_optimizer(optimizer, args.lr).lr  # the optimiser's own default
    overrides["optimizer"] = optimizer
    overrides["activation"] = args.activation
    overrides["time_limit"] = parse_duration("--time-limit", args.time_limit)
    overrides["class_weight"] = args.class_weight
    return overrides


def build_recipe(overrides: dict, n_train: int, n_features: int, n_outputs: int, task: str):
    """The recipe for this data: the defaults for its size with the user's options on top."""
    return default_recipe(n_train, n_features, n_outputs, task, **overrides)


def recipe_settings(recipe: Recipe) -> dict:
    """What ``train`` keeps of the recipe under the names older model files used, plus the
    recipe itself (every choice) under ``"recipe"``."""
    optimizer = get_optimizer(recipe.optimizer, recipe.lr)
    return {
        "hidden": list(recipe.hidden),
        "activation": recipe.activation,
        "epochs": recipe.max_epochs,
        "batch_size": recipe.batch_size,
        "optimizer": recipe.optimizer,
        "lr": optimizer.lr,
        "optimizer_settings": optimizer.hyperparameters(),
        "recipe": recipe.settings(),
    }
