"""Small built-in datasets for demos, documentation and tests.

Every generator returns a :class:`Dataset`, a named tuple ``(X, y, name, task, description)``,
so both ``X, y = xor()[:2]`` and ``ds.X`` work. ``X`` is always a float64 array of shape
``(n_samples, n_features)``; ``y`` is a 1-D int64 array of class labels for classification
or a 1-D float64 array of targets for regression.

Examples
--------
>>> from backprop.datasets import load, names
>>> ds = load("two_moons", n_samples=10, seed=0)
>>> ds.X.shape, ds.y.dtype.name, ds.task
((10, 2), 'int64', 'classification')
>>> "xor" in names()
True
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from typing import Any

import numpy as np

from .generators import (
    CLASSIFICATION,
    REGRESSION,
    SKLEARN_HINT,
    Dataset,
    and_gate,
    circles,
    or_gate,
    sin,
    spirals,
    two_moons,
    xor,
)

__all__ = [
    "DATASETS",
    "SKLEARN_DATASETS",
    "Dataset",
    "and_gate",
    "circles",
    "load",
    "names",
    "or_gate",
    "sin",
    "spirals",
    "two_moons",
    "xor",
]

DATASETS: dict[str, Callable[..., Dataset]] = {
    "xor": xor,
    "and": and_gate,
    "or": or_gate,
    "two_moons": two_moons,
    "circles": circles,
    "spirals": spirals,
    "sin": sin,
}
"""Built-in generators by name; :func:`load` looks names up here first."""

# name -> (scikit-learn loader, task, description)
SKLEARN_DATASETS: dict[str, tuple[str, str, str]] = {
    "iris": (
        "load_iris",
        CLASSIFICATION,
        "Fisher's iris flowers: 150 samples, 4 measurements, 3 species.",
    ),
    "digits": (
        "load_digits",
        CLASSIFICATION,
        "Handwritten digits: 1797 8x8 grey-level images flattened to 64 features, 10 classes.",
    ),
    "wine": (
        "load_wine",
        CLASSIFICATION,
        "Wine recognition: 178 samples, 13 chemical measurements, 3 cultivars.",
    ),
    "breast_cancer": (
        "load_breast_cancer",
        CLASSIFICATION,
        "Wisconsin breast cancer: 569 samples, 30 features, malignant (0) or benign (1).",
    ),
    "diabetes": (
        "load_diabetes",
        REGRESSION,
        "Diabetes progression: 442 patients, 10 standardised features, a continuous target.",
    ),
}
"""Datasets bundled with scikit-learn that :func:`load` can return when it is installed."""


def _sklearn_available() -> bool:
    try:
        return importlib.util.find_spec("sklearn") is not None
    except (ImportError, ValueError):
        return False


def names() -> list[str]:
    """Names that :func:`load` accepts in this environment.

    The built-in generators always; scikit-learn's bundled datasets only when scikit-learn
    is installed.

    Returns
    -------
    list of str
        Built-in names in registry order, then the scikit-learn ones.

    Examples
    --------
    >>> names()[:3]
    ['xor', 'and', 'or']
    """
    result = list(DATASETS)
    if _sklearn_available():
        result.extend(name for name in SKLEARN_DATASETS if name not in DATASETS)
    return result


def _load_sklearn(name: str, kwargs: dict[str, Any]) -> Dataset:
    loader_name, task, description = SKLEARN_DATASETS[name]
    try:
        from sklearn import datasets as sk_datasets
    except ImportError as exc:
        raise ImportError(
            f"dataset {name!r} comes from scikit-learn, which is not installed; "
            f"install it with: {SKLEARN_HINT}"
        ) from exc
    X, y = getattr(sk_datasets, loader_name)(return_X_y=True, **kwargs)
    y_dtype = np.int64 if task == CLASSIFICATION else np.float64
    return Dataset(
        np.ascontiguousarray(np.asarray(X), dtype=np.float64),
        np.ascontiguousarray(np.asarray(y).ravel(), dtype=y_dtype),
        name,
        task,
        description,
    )


def load(name: str, **kwargs: Any) -> Dataset:
    """Load a dataset by name.

    Parameters
    ----------
    name : str
        One of :func:`names` (case-insensitive; ``-`` may stand for ``_``).
    **kwargs
        Passed to the generator, e.g. ``n_samples`` and ``seed`` (for scikit-learn
        datasets, to its ``load_*`` function).

    Returns
    -------
    Dataset

    Raises
    ------
    ValueError
        If the name is unknown; the message lists the available names.
    ImportError
        If the name is a scikit-learn dataset and scikit-learn is not installed.

    Examples
    --------
    >>> load("xor").y.tolist()
    [0, 1, 1, 0]
    >>> load("spirals", n_samples=12, n_classes=3, seed=1).X.shape
    (12, 2)
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a string, got {name!r}")
    key = name.strip().lower().replace("-", "_")
    if key in DATASETS:
        return DATASETS[key](**kwargs)
    if key in SKLEARN_DATASETS:
        return _load_sklearn(key, kwargs)
    available = ", ".join(names())
    hint = "" if _sklearn_available() else f" (for {', '.join(SKLEARN_DATASETS)}: {SKLEARN_HINT})"
    raise ValueError(f"unknown dataset {name!r}; available: {available}{hint}")
