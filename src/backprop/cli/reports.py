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
