"""Checks for data entering the library: clear messages that say what is wrong and where.

Every check either returns a clean array in the network's dtype or raises ValueError/TypeError
before anything is changed.

>>> import numpy as np
>>> check_X([[0, 1], [1, 0]], n_features=2, dtype=np.float32).dtype
dtype('float32')
>>> check_X([[0, float("nan")]], n_features=2, dtype=np.float32)
Traceback (most recent call last):
...
ValueError: X contains NaN at row 0, column 1
"""

from __future__ import annotations

import math
import numbers
import operator

import numpy as np


def _as_numeric_2d(data, name: str) -> np.ndarray:
    if data is None:
        raise TypeError(f"{name} is None; pass an array of shape (n_samples, n_features)")
    if isinstance(data, (str, bytes)):
        raise TypeError(f"{name} must be a numeric array, got a string")
    if hasattr(data, "toarray") and hasattr(data, "nnz"):  # scipy.sparse
        data = data.toarray()
    try:
        array = np.asarray(data)
    except ValueError as error:  # ragged nested lists
        raise ValueError(f"{name} has rows of different lengths ({error})") from None
    if array.dtype.kind in "OUSV":
        array = _object_to_float(array, name)
    if array.dtype.kind == "c":
        raise ValueError(f"{name} holds complex numbers; complex data is not supported")
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be numeric, got dtype {array.dtype}")
    return array


def _object_to_float(array: np.ndarray, name: str) -> np.ndarray:
    try:
        return array.astype(np.float64)
    except (TypeError, ValueError):
        pass
    flat = array.reshape(-1) if array.ndim else array.reshape(1)
    for position, value in enumerate(flat):
        try:
            float(value)
        except (TypeError, ValueError):
            where = np.unravel_index(position, array.shape) if array.ndim else ()
            place = _place(where)
            raise TypeError(f"{name} must be numeric; {name}{place} = {_show(value)}") from None
    raise TypeError(f"{name} must be numeric, got dtype {array.dtype}")


def _show(value) -> str:
    """A value for a message, without numpy's type wrapper."""
    return repr(value.item() if isinstance(value, np.generic) else value)


def _place(index) -> str:
    return "[" + ", ".join(str(int(i)) for i in index) + "]"


def check_finite(array: np.ndarray, name: str) -> None:
    """Raise ValueError naming the first row and column holding NaN or ±inf."""
    if array.dtype.kind != "f":
        return
    with np.errstate(over="ignore", invalid="ignore"):
        total = np.add.reduce(array, axis=None)  # one pass, no temporary: NaN or inf shows up
    if np.isfinite(total) or np.isfinite(array).all():  # (a finite sum can overflow: look again)
        return
    kind = "NaN" if np.isnan(array).any() else "infinity"
    if array.ndim == 0:
        raise ValueError(f"{name} is {kind}")
    bad = np.argwhere(~np.isfinite(array))[0]
    kind = "NaN" if np.isnan(array[tuple(bad)]) else "infinity"
    if array.ndim == 2:
        raise ValueError(f"{name} contains {kind} at row {bad[0]}, column {bad[1]}")
    raise ValueError(f"{name} contains {kind} at index {bad[0]}")


def check_X(X, n_features: int, dtype, name: str = "X") -> np.ndarray:
    """Return X as a C-contiguous (n_samples, n_features) array of ``dtype``, or raise."""
    array = _as_numeric_2d(X, name)
    if array.ndim != 2:
        shape = array.shape
        hint = (
            f" Reshape your data: {name}.reshape(-1, 1) for one feature, "
            f"{name}.reshape(1, -1) for one sample."
            if array.ndim == 1
            else ""
        )
        raise ValueError(f"{name} must be 2-D (n_samples, n_features), got shape {shape}.{hint}")
    if array.shape[0] == 0:
        raise ValueError(f"{name} is empty: 0 samples (shape {array.shape})")
    if array.shape[1] != n_features:
        raise ValueError(
            f"{name} has {array.shape[1]} features, but the network expects {n_features} "
            f"(the size of layer 0)"
        )
    check_finite(array, name)
    with np.errstate(over="ignore"):  # reported below, naming the cell
        converted = np.ascontiguousarray(array, dtype=dtype)
    if converted.dtype != array.dtype:  # float64 beyond float32's range becomes inf
        check_finite(converted, name + f" (as {np.dtype(dtype).name})")
    return converted


def check_Y(Y, n_samples: int, n_outputs: int, loss, dtype, name: str = "Y") -> np.ndarray:
    """Return targets as a (n_samples, n_outputs) array of ``dtype``, or raise.

    A 1-D Y is a column when the network has one output; with ``cross_entropy`` and several
    outputs, integer class labels 0..K−1 (1-D, or one column) become one-hot rows.
    """
    array = _as_numeric_2d(Y, name)
    if array.ndim == 0 or array.ndim > 2:
        raise ValueError(f"{name} must be 1-D or 2-D, got shape {array.shape}")
    if array.shape[0] != n_samples:
        raise ValueError(
            f"X and {name} have different numbers of samples: {n_samples} and {array.shape[0]}"
        )
    check_finite(array, name)
    is_label_column = array.ndim == 1 or array.shape[1] == 1
    if loss.name == "cross_entropy" and n_outputs > 1 and is_label_column:
        array = one_hot(array.reshape(-1), n_outputs, dtype, name)
    elif array.ndim == 1:
        if n_outputs != 1:
            raise ValueError(
                f"{name} is 1-D but the network has {n_outputs} outputs; "
                f"pass {name} of shape (n_samples, {n_outputs})"
            )
        array = array.reshape(-1, 1)
    if array.shape[1] != n_outputs:
        raise ValueError(
            f"{name} has {array.shape[1]} columns, but the network has {n_outputs} outputs"
        )
    with np.errstate(over="ignore"):  # reported below, naming the cell
        converted = np.ascontiguousarray(array, dtype=dtype)
    if converted.dtype != array.dtype:  # float64 beyond float32's range becomes inf
        check_finite(converted, name + f" (as {np.dtype(dtype).name})")
    array = converted
    if loss.check_targets is not None:
        loss.check_targets(array)
    return array


def one_hot(labels: np.ndarray, n_classes: int, dtype, name: str = "Y") -> np.ndarray:
    """Integer class labels 0..n_classes−1 as one-hot rows."""
    if labels.dtype.kind == "f" and not np.all(labels == np.round(labels)):
        row = int(np.flatnonzero(labels != np.round(labels))[0])
        raise ValueError(
            f"{name} holds one value per row, so it must be integer class labels; "
            f"{name}[{row}] = {_show(labels[row])}"
        )
    outside = (labels < 0) | (labels >= n_classes)
    if outside.any():
        row = int(np.flatnonzero(outside)[0])
        raise ValueError(
            f"class label {_show(labels[row])} at row {row} is outside 0..{n_classes - 1} "
            f"(the network has {n_classes} outputs)"
        )
    encoded = np.zeros((labels.shape[0], n_classes), dtype=dtype)
    encoded[np.arange(labels.shape[0]), labels.astype(np.intp)] = 1
    return encoded


def check_sample_weight(sample_weight, n_samples: int, dtype) -> np.ndarray | None:
    """Return non-negative finite weights of shape (n_samples,) in ``dtype``, or None; raise
    otherwise, also for weights beyond ``dtype``'s range and for a total that overflows it or
    underflows below its smallest normal number (the weights' shares wₙ/Σw would be lost)."""
    if sample_weight is None:
        return None
    weights = _as_numeric_2d(sample_weight, "sample_weight")
    if weights.ndim != 1 or weights.shape[0] != n_samples:
        raise ValueError(f"sample_weight must have shape ({n_samples},), got {weights.shape}")
    check_finite(weights, "sample_weight")
    if np.any(weights < 0):
        raise ValueError(
            f"sample_weight must be >= 0; sample_weight[{int(np.argmax(weights < 0))}] is negative"
        )
    if not weights.any():
        raise ValueError("sample_weight are all zero; at least one weight must be positive")
    with np.errstate(over="ignore"):  # reported below
        converted = np.ascontiguousarray(weights, dtype=dtype)
        total = float(converted.sum())
    check_finite(converted, f"sample_weight (as {np.dtype(dtype).name})")
    if total == 0:  # positive weights, every one below the dtype's smallest number
        raise ValueError(
            f"sample_weight: every weight underflows to 0 in {np.dtype(dtype).name} (the "
            f"largest is {weights.max():.6g}); scale the weights up"
        )
    check_weight_total(total, dtype)
    return converted


def check_weight_total(total: float, dtype, what: str = "the weights") -> None:
    """Refuse a total sample weight Σw that is 0, subnormal or infinite in ``dtype``.

    >>> check_weight_total(1e-40, np.float32)
    Traceback (most recent call last):
    ...
    ValueError: sample_weight: the total of the weights, 1e-40, underflows float32 (its \
smallest normal number is 1.17549e-38); scale the weights up
    """
    info = np.finfo(dtype)
    if total == 0:
        raise ValueError(
            f"sample_weight: {what} are all zero; at least one training sample needs a "
            "positive weight"
        )
    if total < info.tiny:
        raise ValueError(
            f"sample_weight: the total of {what}, {total:.6g}, underflows {info.dtype.name} "
            f"(its smallest normal number is {float(info.tiny):.6g}); scale the weights up"
        )
    if not math.isfinite(total):
        raise ValueError(
            f"sample_weight: the total of {what} overflows {info.dtype.name} (its largest "
            f"number is {float(info.max):.6g}); scale the weights down"
        )


# --- hyperparameter checks: a clear error naming the argument ----------------------------


def real_number(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    return float(value)


def positive_number(name: str, value: object) -> float:
    value = real_number(name, value)
    if not (value > 0.0 and math.isfinite(value)):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return value


def fraction(name: str, value: object) -> float:
    value = real_number(name, value)
    if not 0.0 <= value < 1.0:
        raise ValueError(f"{name} must satisfy 0 <= {name} < 1, got {value!r}")
    return value


def non_negative_number(name: str, value: object) -> float:
    value = real_number(name, value)
    if not (value >= 0.0 and math.isfinite(value)):
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return value


def integer_at_least(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    try:
        value = operator.index(value)
    except TypeError as error:
        raise TypeError(f"{name} must be an integer, got {value!r}") from error
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


def decay_factor(name: str, value: object, *, allow_one: bool) -> float:
    value = real_number(name, value)
    if not (0.0 < value < 1.0 or (allow_one and value == 1.0)):
        bound = "<=" if allow_one else "<"
        raise ValueError(f"{name} must satisfy 0 < {name} {bound} 1, got {value!r}")
    return value


def look_up(kind: str, spec: object, cls: type, table: dict, aliases: dict):
    """The entry of ``table`` named ``spec`` (any case, aliases allowed), or a ``cls`` as is.

    >>> look_up("colour", "RED", str, {"red": "#f00"}, {})
    'RED'
    >>> look_up("colour", "Crimson", int, {"red": "#f00"}, {"crimson": "red"})
    '#f00'
    """
    if isinstance(spec, cls):
        return spec
    if not isinstance(spec, str):
        article = "an" if cls.__name__[0] in "AEIOU" else "a"
        raise TypeError(
            f"{kind} must be a name or {article} {cls.__name__}, got {type(spec).__name__}"
        )
    name = aliases.get(spec.lower(), spec.lower())
    if name not in table:
        raise ValueError(f"unknown {kind} {spec!r}; known: {', '.join(sorted(table))}")
    return table[name]
