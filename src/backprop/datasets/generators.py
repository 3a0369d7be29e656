"""The built-in generators: logic gates, moons, circles, spirals and a sine curve.

>>> from backprop.datasets.generators import xor
>>> xor().y.tolist()
[0, 1, 1, 0]
"""

from __future__ import annotations

import math
import numbers
from typing import Any, NamedTuple

import numpy as np

CLASSIFICATION = "classification"
REGRESSION = "regression"

SKLEARN_HINT = "pip install 'backprop[sklearn]'"


class Dataset(NamedTuple):
    """A dataset: inputs, targets and a little metadata.

    Attributes
    ----------
    X : numpy.ndarray
        Inputs, float64, shape ``(n_samples, n_features)``.
    y : numpy.ndarray
        Targets, shape ``(n_samples,)``: int64 class labels or float64 values.
    name : str
        The name under which :func:`load` finds it.
    task : str
        ``"classification"`` or ``"regression"``.
    description : str
        One sentence saying what the data is.

    Examples
    --------
    >>> ds = xor()
    >>> X, y = ds[:2]
    >>> X.shape, y.tolist(), ds.task
    ((4, 2), [0, 1, 1, 0], 'classification')
    """

    X: np.ndarray
    y: np.ndarray
    name: str
    task: str
    description: str


# ---------------------------------------------------------------------------
# argument checks


def _check_count(value: Any, arg: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{arg} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{arg} must be >= {minimum}, got {value!r}")
    return int(value)


def _check_noise(noise: Any) -> float:
    try:
        value = float(noise)
    except (TypeError, ValueError):
        raise TypeError(f"noise must be a real number, got {noise!r}") from None
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"noise must be finite and >= 0, got {noise!r}")
    return value


def _check_factor(factor: Any) -> float:
    try:
        value = float(factor)
    except (TypeError, ValueError):
        raise TypeError(f"factor must be a real number, got {factor!r}") from None
    if not 0.0 < value < 1.0:
        raise ValueError(f"factor must satisfy 0 < factor < 1, got {factor!r}")
    return value


def _finish(
    X: np.ndarray,
    y: np.ndarray,
    rng: np.random.Generator,
    shuffle: bool,
    name: str,
    description: str,
) -> Dataset:
    if shuffle:
        order = rng.permutation(len(y))
        X, y = X[order], y[order]
    return Dataset(
        np.ascontiguousarray(X, dtype=np.float64),
        np.ascontiguousarray(y, dtype=np.int64),
        name,
        CLASSIFICATION,
        description,
    )


# ---------------------------------------------------------------------------
# logic gates

_GATE_INPUTS = ((0.0, 0.0), (0.0, 1.0), (1.0, 0.0), (1.0, 1.0))


def _gate(labels: tuple[int, int, int, int], name: str, description: str) -> Dataset:
    X = np.array(_GATE_INPUTS, dtype=np.float64)
    y = np.array(labels, dtype=np.int64)
    return Dataset(X, y, name, CLASSIFICATION, description)


def xor() -> Dataset:
    """The XOR truth table: (0,0)->0, (0,1)->1, (1,0)->1, (1,1)->0.

    Returns
    -------
    Dataset
        4 samples, 2 features, labels ``[0, 1, 1, 0]``.

    Examples
    --------
    >>> X, y = xor()[:2]
    >>> X.tolist(), y.tolist()
    ([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]], [0, 1, 1, 0])
    """
    return _gate(
        (0, 1, 1, 0), "xor", "The XOR truth table, the classic problem a single layer cannot solve."
    )


def and_gate() -> Dataset:
    """The AND truth table on the inputs (0,0), (0,1), (1,0), (1,1).

    Returns
    -------
    Dataset
        4 samples, 2 features, labels ``[0, 0, 0, 1]``.

    Examples
    --------
    >>> and_gate().y.tolist()
    [0, 0, 0, 1]
    """
    return _gate((0, 0, 0, 1), "and", "The AND truth table, a linearly separable toy problem.")


def or_gate() -> Dataset:
    """The OR truth table on the inputs (0,0), (0,1), (1,0), (1,1).

    Returns
    -------
    Dataset
        4 samples, 2 features, labels ``[0, 1, 1, 1]``.

    Examples
    --------
    >>> or_gate().y.tolist()
    [0, 1, 1, 1]
    """
    return _gate((0, 1, 1, 1), "or", "The OR truth table, a linearly separable toy problem.")


# ---------------------------------------------------------------------------
# random 2-D classification problems


def two_moons(
    n_samples: int = 200, noise: float = 0.1, seed: int | None = None, *, shuffle: bool = True
) -> Dataset:
    """Two interleaving half circles.

    Class 0 is the upper unit half circle centred at (0, 0); class 1 is the lower one centred
    at (1, 0.5). Classes are balanced (for odd ``n_samples`` class 0 gets the extra point).

    Parameters
    ----------
    n_samples : int
        Total number of points, >= 1.
    noise : float
        Standard deviation of Gaussian noise added to each coordinate, >= 0.
    seed : int or None
        Seed for ``numpy.random.default_rng``; the same seed gives identical arrays.
    shuffle : bool
        Shuffle the rows (otherwise class 0 comes first).

    Returns
    -------
    Dataset
        ``X`` of shape ``(n_samples, 2)``, labels 0 and 1.

    Examples
    --------
    >>> ds = two_moons(n_samples=7, seed=0)
    >>> ds.X.shape, ds.y.tolist().count(0), ds.y.tolist().count(1)
    ((7, 2), 4, 3)
    """
    n = _check_count(n_samples, "n_samples", 1)
    sd = _check_noise(noise)
    rng = np.random.default_rng(seed)
    n0, n1 = (n + 1) // 2, n // 2
    t0 = np.linspace(0.0, np.pi, n0)
    t1 = np.linspace(0.0, np.pi, n1)
    upper = np.column_stack([np.cos(t0), np.sin(t0)])
    lower = np.column_stack([1.0 - np.cos(t1), 0.5 - np.sin(t1)])
    X = np.vstack([upper, lower])
    if sd > 0:
        X = X + rng.normal(0.0, sd, size=X.shape)
    y = np.repeat(np.array([0, 1], dtype=np.int64), [n0, n1])
    return _finish(X, y, rng, shuffle, "two_moons", "Two interleaving half circles in 2-D.")


def circles(
    n_samples: int = 200,
    noise: float = 0.05,
    factor: float = 0.5,
    seed: int | None = None,
    *,
    shuffle: bool = True,
) -> Dataset:
    """A big circle (class 0) around a small concentric one (class 1).

    Points are evenly spaced in angle on circles of radius 1 and ``factor`` about the origin;
    classes are balanced (for odd ``n_samples`` class 0 gets the extra point).

    Parameters
    ----------
    n_samples : int
        Total number of points, >= 1.
    noise : float
        Standard deviation of Gaussian noise added to each coordinate, >= 0.
    factor : float
        Radius of the inner circle, ``0 < factor < 1``.
    seed : int or None
        Seed for ``numpy.random.default_rng``; the same seed gives identical arrays.
    shuffle : bool
        Shuffle the rows (otherwise class 0 comes first).

    Returns
    -------
    Dataset
        ``X`` of shape ``(n_samples, 2)``, labels 0 and 1.

    Examples
    --------
    >>> ds = circles(n_samples=8, noise=0.0, factor=0.25)
    >>> sorted(set(np.round(np.hypot(*ds.X.T), 6).tolist()))
    [0.25, 1.0]
    """
    n = _check_count(n_samples, "n_samples", 1)
    sd = _check_noise(noise)
    r_inner = _check_factor(factor)
    rng = np.random.default_rng(seed)
    n0, n1 = (n + 1) // 2, n // 2
    t0 = np.linspace(0.0, 2.0 * np.pi, n0, endpoint=False)
    t1 = np.linspace(0.0, 2.0 * np.pi, n1, endpoint=False)
    outer = np.column_stack([np.cos(t0), np.sin(t0)])
    inner = r_inner * np.column_stack([np.cos(t1), np.sin(t1)])
    X = np.vstack([outer, inner])
    if sd > 0:
        X = X + rng.normal(0.0, sd, size=X.shape)
    y = np.repeat(np.array([0, 1], dtype=np.int64), [n0, n1])
    return _finish(X, y, rng, shuffle, "circles", "A large circle around a small concentric one.")


def spirals(
    n_samples: int = 300,
    n_classes: int = 2,
    noise: float = 0.2,
    seed: int | None = None,
    *,
    shuffle: bool = True,
) -> Dataset:
    """Interleaved spiral arms, one per class (the CS231n-style spiral).

    Along arm ``k`` the radius grows linearly from near 0 to 1 while the angle sweeps
    4 radians, starting at ``2*pi*k/n_classes``. Classes are balanced; when ``n_samples`` is
    not a multiple of ``n_classes`` the lowest labels get one extra point each.

    Parameters
    ----------
    n_samples : int
        Total number of points, >= 1.
    n_classes : int
        Number of arms (classes), >= 2.
    noise : float
        Standard deviation of Gaussian noise added to the angle (radians), >= 0.
    seed : int or None
        Seed for ``numpy.random.default_rng``; the same seed gives identical arrays.
    shuffle : bool
        Shuffle the rows (otherwise ordered by class).

    Returns
    -------
    Dataset
        ``X`` of shape ``(n_samples, 2)``, labels ``0 .. n_classes - 1``.

    Examples
    --------
    >>> ds = spirals(n_samples=30, n_classes=3, seed=0)
    >>> ds.X.shape, np.bincount(ds.y).tolist()
    ((30, 2), [10, 10, 10])
    """
    n = _check_count(n_samples, "n_samples", 1)
    k = _check_count(n_classes, "n_classes", 2)
    sd = _check_noise(noise)
    rng = np.random.default_rng(seed)
    counts = [n // k + (1 if c < n % k else 0) for c in range(k)]
    parts = []
    for c, m in enumerate(counts):
        radius = np.linspace(0.0, 1.0, m + 1)[1:]  # skip r=0, where every arm would meet
        angle = 4.0 * radius + 2.0 * np.pi * c / k
        if sd > 0:
            angle = angle + rng.normal(0.0, sd, size=m)
        parts.append(np.column_stack([radius * np.sin(angle), radius * np.cos(angle)]))
    X = np.vstack(parts)
    y = np.repeat(np.arange(k, dtype=np.int64), counts)
    return _finish(
        X, y, rng, shuffle, "spirals", f"{k} interleaved spiral arms in 2-D, one per class."
    )


# ---------------------------------------------------------------------------
# regression


def sin(n_samples: int = 200, noise: float = 0.0, seed: int | None = None) -> Dataset:
    """Samples of the sine curve: ``y = sin(x) + noise`` on evenly spaced ``x`` in [-pi, pi].

    Parameters
    ----------
    n_samples : int
        Number of points, >= 1 (a single point lies at ``-pi``).
    noise : float
        Standard deviation of Gaussian noise added to ``y``, >= 0.
    seed : int or None
        Seed for ``numpy.random.default_rng``; the same seed gives identical arrays.

    Returns
    -------
    Dataset
        ``X`` of shape ``(n_samples, 1)``, float64 targets, task ``"regression"``.

    Examples
    --------
    >>> ds = sin(n_samples=3)
    >>> ds.X.ravel().round(4).tolist(), ds.y.round(4).tolist(), ds.task
    ([-3.1416, 0.0, 3.1416], [-0.0, 0.0, 0.0], 'regression')
    """
    n = _check_count(n_samples, "n_samples", 1)
    sd = _check_noise(noise)
    rng = np.random.default_rng(seed)
    x = np.linspace(-np.pi, np.pi, n)
    y = np.sin(x)
    if sd > 0:
        y = y + rng.normal(0.0, sd, size=n)
    return Dataset(
        np.ascontiguousarray(x.reshape(-1, 1), dtype=np.float64),
        np.ascontiguousarray(y, dtype=np.float64),
        "sin",
        REGRESSION,
        "The sine function sampled on [-pi, pi], a one-dimensional regression problem.",
    )


# ---------------------------------------------------------------------------
# registry and loading
