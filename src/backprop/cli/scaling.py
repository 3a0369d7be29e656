"""Feature and target scaling and the regression scores, without overflow for any finite data.

Each column is divided by a power of two beyond its largest value before summing: that changes
no digit of a result (scaling by a power of two is exact) but keeps sums of values near the float
limit, and of their squares, finite.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

__all__ = [
    "mean_absolute_error",
    "r2_score",
    "standardization",
    "standardization_of_rows",
    "standardization_over_parts",
    "standardize",
    "standardized_rows",
]


def _largest_finite(*arrays: np.ndarray) -> np.ndarray:
    """Per column, the largest finite |value| of the arrays (0 for none)."""
    largest = np.zeros(arrays[0].shape[1:], dtype=np.float64)
    for array in arrays:
        finite = np.where(np.isfinite(array), np.abs(array), 0.0)
        if finite.size:
            largest = np.maximum(largest, finite.max(axis=0))
    return largest


def _binary_exponents(*arrays: np.ndarray) -> np.ndarray:
    """Per column, the e with every finite |value| < 2**e: dividing by 2**e is exact, and the
    quotients lie in (-1, 1), so sums of them and of their squares cannot overflow."""
    return np.frexp(_largest_finite(*arrays))[1]


def standardization(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Column means and standard deviations (a zero deviation becomes 1), finite for any finite X.

    The columns are divided by a power of two beyond their largest value first, which changes no
    digit of the result but keeps the sums from overflowing (values near 1.7e308 included).

    >>> mean, scale = standardization(np.array([[1e300, 1.0], [-1e300, 3.0]]))
    >>> mean.tolist(), scale.tolist()
    ([0.0, 2.0], [1e+300, 1.0])
    """
    X = np.asarray(X, dtype=np.float64)
    exponents = _binary_exponents(X)
    unit = np.ldexp(X, -exponents)
    mean = np.ldexp(unit.mean(axis=0), exponents)
    scale = np.ldexp(unit.std(axis=0), exponents)
    scale[~(scale > 0)] = 1.0
    return mean, scale


def standardize(X: np.ndarray, mean: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """(X - mean) / scale, computed without overflow where the result itself is finite.

    >>> X = np.array([[1.7e308], [-1.7e308]])
    >>> standardize(X, np.array([-1e308]), np.array([1e308])).ravel().round(6).tolist()
    [2.7, -0.7]
    """
    exponents = _binary_exponents(np.atleast_2d(mean), np.atleast_2d(scale))
    with np.errstate(over="ignore", invalid="ignore"):
        return (np.ldexp(X, -exponents) - np.ldexp(mean, -exponents)) / np.ldexp(scale, -exponents)


def standardization_over_parts(
    X: np.ndarray, sum_over_parts: Callable, max_over_parts: Callable
) -> tuple[np.ndarray, np.ndarray]:
    """``standardization`` of a data set whose rows are split among processes, from this
    part's rows ``X``: ``sum_over_parts`` and ``max_over_parts`` combine an array over every
    part (MPI all-reduces). The same division by a power of two keeps the sums finite.

    >>> X = np.array([[1e300], [-1e300], [3e300]])
    >>> mean, scale = standardization_over_parts(X, lambda a: a, lambda a: a)
    >>> np.allclose(mean, standardization(X)[0]), np.allclose(scale, standardization(X)[1])
    (True, True)
    """
    X = np.asarray(X, dtype=np.float64)
    exponents = np.frexp(max_over_parts(_largest_finite(X)))[1].astype(int)
    unit = np.ldexp(X, -exponents)
    sums = sum_over_parts(np.concatenate([[X.shape[0]], unit.sum(axis=0)]))
    unit_mean = sums[1:] / sums[0]
    squares = sum_over_parts(((unit - unit_mean) ** 2).sum(axis=0))
    mean = np.ldexp(unit_mean, exponents)
    scale = np.ldexp(np.sqrt(squares / sums[0]), exponents)
    scale[~(scale > 0)] = 1.0
    return mean, scale


def standardization_of_rows(X: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``standardization(X[rows])``, one column at a time: no copy of the whole matrix is made.

    >>> X = np.array([[1.0, 10.0], [3.0, 10.0], [100.0, -5.0]])
    >>> [values.tolist() for values in standardization_of_rows(X, np.array([0, 1]))]
    [[2.0, 10.0], [1.0, 1.0]]
    """
    mean, scale = np.empty(X.shape[1]), np.empty(X.shape[1])
    for j in range(X.shape[1]):
        column_mean, column_scale = standardization(X[rows, j : j + 1])
        mean[j], scale[j] = column_mean[0], column_scale[0]
    return mean, scale


def standardized_rows(
    X: np.ndarray, rows: np.ndarray, mean: np.ndarray, scale: np.ndarray, dtype=np.float32
) -> np.ndarray:
    """``standardize(X[rows], mean, scale)`` as a new ``dtype`` array, filled column by column.

    A value that ``dtype`` cannot hold becomes ±inf; the caller names it.

    >>> X = np.array([[1.0, 10.0], [3.0, 10.0], [100.0, -5.0]])
    >>> standardized_rows(X, np.array([2, 0]), np.array([2.0, 10.0]), np.ones(2)).tolist()
    [[98.0, -15.0], [-1.0, 0.0]]
    """
    out = np.empty((len(rows), X.shape[1]), dtype=dtype)
    with np.errstate(over="ignore"):
        for j in range(X.shape[1]):
            out[:, j] = standardize(X[rows, j], mean[j : j + 1], scale[j : j + 1])
    return out


def r2_score(y: np.ndarray, predicted: np.ndarray) -> float:
    """1 - SS_res / SS_tot, computed without overflow; NaN when the targets are all equal.

    >>> r2_score(np.array([1e300, -1e300]), np.array([1e300, 0.0]))
    0.5
    """
    exponent = _binary_exponents(y.reshape(-1, 1), predicted.reshape(-1, 1))
    y, predicted = np.ldexp(y, -exponent), np.ldexp(predicted, -exponent)
    total = float(((y - y.mean()) ** 2).sum())
    if total == 0:
        return math.nan
    with np.errstate(over="ignore", invalid="ignore"):
        return 1.0 - float(((y - predicted) ** 2).sum()) / total


def mean_absolute_error(y: np.ndarray, predicted: np.ndarray) -> float:
    """mean |y - predicted|, infinite only when the mean itself is beyond the float range.

    >>> mean_absolute_error(np.array([1.5e308, -1.5e308]), np.array([1.5e308, 0.0]))
    7.5e+307
    """
    exponent = _binary_exponents(y.reshape(-1, 1), predicted.reshape(-1, 1))
    with np.errstate(over="ignore", invalid="ignore"):
        errors = np.abs(np.ldexp(y, -exponent) - np.ldexp(predicted, -exponent))
        return float(np.ldexp(errors.mean(), exponent)[0])
