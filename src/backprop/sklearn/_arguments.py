"""Arguments the estimators take per hidden layer or per sample, checked as scikit-learn does."""

from __future__ import annotations

from numbers import Number

import numpy as np
from sklearn.utils.validation import check_array


def hidden_setting(value, n_hidden: int, name: str) -> list:
    """One value per hidden layer from a scalar or a list of that length."""
    if isinstance(value, (list, tuple)):
        if len(value) != n_hidden:
            raise ValueError(
                f"{name} has {len(value)} entries but there are {n_hidden} hidden layers"
            )
        return list(value)
    return [value] * n_hidden


def checked_sample_weight(sample_weight, n_samples: int) -> np.ndarray:
    """``sample_weight`` as float64 of shape (n_samples,); a scalar weighs every sample."""
    if isinstance(sample_weight, Number):
        return np.full(n_samples, sample_weight, dtype=np.float64)
    weights = check_array(
        sample_weight,
        accept_sparse=False,
        ensure_2d=False,
        dtype=np.float64,
        order="C",
        input_name="sample_weight",
    )
    if weights.ndim != 1:
        raise ValueError(f"Sample weights must be 1D array or scalar, got {weights.ndim}D array")
    if weights.shape != (n_samples,):
        raise ValueError(f"sample_weight.shape == {weights.shape}, expected {(n_samples,)}!")
    if not weights.any():
        raise ValueError("Sample weights must contain at least one non-zero number.")
    return weights
