"""What ``train`` and ``evaluate`` report: accuracy, or R² and the mean absolute error."""

from __future__ import annotations

import math

import numpy as np

from ..io import tabular
from .errors import UsageError
from .scaling import mean_absolute_error, r2_score


def require_numeric(table: tabular.Table, name: str, target: tabular.Target) -> None:
    """Refuse a regression target with a non-number, naming the first one."""
    if target.is_numeric:
        return
    row = next(i for i, text in enumerate(target.texts) if not tabular._is_number(text))
    raise UsageError(
        f"{table.where(row, name)}: {target.texts[row]!r} is not a number "
        "(a regression target must be numeric)"
    )


def classification_report(predicted: np.ndarray, codes: np.ndarray) -> tuple[str, dict]:
    """(the text, the scores): the share of ``predicted`` class indices equal to ``codes``.

    >>> classification_report(np.array([0, 1, 1]), np.array([0, 1, 0]))[0]
    'accuracy 66.67% (2 of 3 correct)'
    """
    correct = int((predicted == codes).sum())
    accuracy = correct / len(codes)
    return f"accuracy {accuracy:.2%} ({correct} of {len(codes)} correct)", {"accuracy": accuracy}


def _finite_or_none(value: float) -> float | None:
    return value if math.isfinite(value) else None


def regression_report(predicted: np.ndarray, y: np.ndarray) -> tuple[str, dict]:
    """(the text, the scores): R² and MAE, each None in the scores where it is not finite.

    >>> regression_report(np.array([1e300, 0.0]), np.array([1e300, -1e300]))[0]
    'R² 0.5000, MAE 5e+299'
    """
    r2 = r2_score(y, predicted)
    mae = mean_absolute_error(y, predicted)
    shown = "undefined (the targets are all equal)" if math.isnan(r2) else f"{r2:.4f}"
    scores = {"r2": _finite_or_none(r2), "mae": _finite_or_none(mae)}
    return f"R² {shown}, MAE {mae:.6g}", scores


Z_95 = 1.959963984540054  # the standard normal's 97.5% quantile


def wilson_interval(correct: int, n: int, z: float = Z_95) -> tuple[float, float]:
    """The Wilson score interval for a proportion ``correct / n`` (95% by default).

    >>> [round(bound, 4) for bound in wilson_interval(274, 400)]
    [0.638, 0.7278]
    """
    if n == 0:
        return (math.nan, math.nan)
    p = correct / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return (max(centre - half, 0.0), min(centre + half, 1.0))


def bootstrap_r2_interval(
    predicted: np.ndarray, y: np.ndarray, resamples: int = 200, seed: int = 0
) -> tuple[float, float]:
    """The 2.5% and 97.5% percentiles of R² over ``resamples`` bootstrap resamples of the rows."""
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(resamples):
        rows = rng.integers(0, len(y), len(y))
        values.append(r2_score(y[rows], predicted[rows]))
    values = np.asarray(values)
    values = values[np.isfinite(values)]
    if not len(values):
        return (math.nan, math.nan)
    low, high = np.percentile(values, [2.5, 97.5])
    return (float(low), float(high))


def held_out_report(predicted: np.ndarray, truth: np.ndarray, classification: bool):
    """The report with a 95% confidence interval: Wilson's for accuracy, a bootstrap one for R².

    >>> held_out_report(np.array([0, 1, 1, 1]), np.array([0, 1, 1, 0]), True)[0]
    'accuracy 75.00% (95% CI 30.06%-95.44%; 3 of 4 correct)'
    """
    if classification:
        correct = int((predicted == truth).sum())
        low, high = wilson_interval(correct, len(truth))
        shown = (
            f"accuracy {correct / len(truth):.2%} (95% CI {low:.2%}-{high:.2%}; "
            f"{correct} of {len(truth)} correct)"
        )
        return shown, {"accuracy": correct / len(truth), "accuracy_ci95": [low, high]}
    shown, scores = regression_report(predicted, truth)
    low, high = bootstrap_r2_interval(predicted, truth)
    if math.isfinite(low):
        shown = shown.replace(", MAE", f" (95% CI {low:.4f} to {high:.4f}, bootstrap), MAE", 1)
        scores["r2_ci95"] = [low, high]
    return shown, scores


def training_line(outcome: dict) -> str:
    """How training ended, from a recipe's outcome.

    >>> training_line({"epochs": 60, "best_epoch": 45, "stopped": "early stopping",
    ...                "seconds": 3.2})
    'training: 60 epochs, ended by early stopping; the weights of epoch 45 kept (3.2 s)'
    """
    return (
        f"training: {outcome['epochs']} epochs, ended by {outcome['stopped']}; "
        f"the weights of epoch {outcome['best_epoch']} kept ({outcome['seconds']:.1f} s)"
    )


def search_line(search: dict) -> str:
    """What ``--search`` did."""
    return (
        f"search: {search['trials']} trials in {search['budget_seconds']:g} s with "
        f"{search['library']} ({search['complete']} complete, {search['pruned']} pruned, "
        f"{search['failed']} failed); best trial {search['best_trial']}, "
        f"{search['score']} {search['best_score']:.4f}"
    )
