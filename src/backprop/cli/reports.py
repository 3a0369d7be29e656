"""What ``train`` and ``evaluate`` report: accuracy, or R² and the mean absolute error."""

from __future__ import annotations

import math
from collections import Counter

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
    [0.6379, 0.7286]
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
        shown += f" (R² 95% CI {low:.4f} to {high:.4f}, bootstrap over the rows)"
        scores["r2_ci95"] = [low, high]
    return shown, scores


def outputs_report(outputs: np.ndarray, truth: np.ndarray, encoding: dict) -> tuple[str, dict]:
    """The report on a network's ``outputs`` for rows whose ``truth`` is given: class indices,
    or targets in their own units (``encoding`` holds the classes or the target's scaling)."""
    outputs = np.asarray(outputs, dtype=np.float64)
    if "classes" in encoding:
        return held_out_report(outputs.argmax(axis=1), truth, classification=True)
    with np.errstate(over="ignore"):
        predicted = outputs[:, 0] * encoding["target_scale"] + encoding["target_mean"]
    return held_out_report(predicted, truth, classification=False)


def trained_scores(
    net, out_of_fold, searched: bool, encoding: dict, truth, rows, X, n_rows: int
) -> tuple:
    """``(part, shown, scores, where)``: the held-out rows' report when there are any, else the
    out-of-fold outputs' (a cross-validated ensemble, or a search's fold networks: ``searched``),
    else the training rows'."""
    (train_rows, val_rows), (X_train, X_val) = rows, X

    def report(Xs, truth):
        return outputs_report(net.xp.to_host(net.predict(Xs)), truth, encoding)

    if len(val_rows):
        shown, scores = report(X_val, truth[val_rows])
        where = f"on the {len(val_rows)} validation rows held out of {n_rows}"
        if out_of_fold is not None:
            return "validation", shown, scores, where + " (no network trained or stopped on them)"
        return "validation", shown, scores, where + " (they also chose when to stop)"
    if out_of_fold is not None:
        shown, scores = outputs_report(out_of_fold, truth[train_rows], encoding)
        if searched:
            where = (
                f"over the {len(train_rows)} training rows, each predicted by the kept fold "
                "networks that did not train on it (not by any refit, which trained on every "
                "row; the search chose its settings by these rows, so the figure flatters it "
                "a little)"
            )
        else:
            where = (
                f"over the {len(train_rows)} training rows, each predicted by the fold network "
                "that did not train on it (its fold chose when that network stopped)"
            )
        return "cross-validated", shown, scores, where
    shown, scores = report(X_train, truth[train_rows])
    return (
        "training",
        shown,
        scores,
        f"on the {n_rows} training rows (--validation 0: nothing held out)",
    )


def training_line(outcome: dict) -> str:
    """How training ended, from a recipe's outcome.

    >>> training_line({"epochs_run": 60, "best_epoch": 45, "stopped": "early stopping",
    ...                "seconds": 3.2})
    'training: 60 epochs, ended by early stopping; the weights of epoch 45 kept (3.2 s)'
    """
    return (
        f"training: {outcome['epochs_run']} epochs, ended by {outcome['stopped']}; "
        f"the weights of epoch {outcome['best_epoch']} kept ({outcome['seconds']:.1f} s)"
    )


def folds_training_line(outcome: dict) -> str:
    """How the fold networks' training ended, from their outcomes gathered in lists.

    >>> outcome = {"epochs_run": [60, 41], "best_epoch": [30, 11],
    ...            "stopped": ["early stopping"] * 2, "seconds": 3.2}
    >>> print(folds_training_line(outcome).replace("; ", ";\\n"))
    training: 2 fold networks, 41-60 epochs, each ended by early stopping;
    the weights of epochs 11-30 kept (3.2 s)
    """
    reasons = Counter(outcome["stopped"])
    if len(reasons) == 1:
        ended = f"each ended by {next(iter(reasons))}"
    else:
        ended = "ended by " + ", ".join(f"{reason} ({n})" for reason, n in reasons.items())
    return (
        f"training: {len(outcome['stopped'])} fold networks, {_span(outcome['epochs_run'])} "
        f"epochs, {ended}; the weights of epochs {_span(outcome['best_epoch'])} kept "
        f"({outcome['seconds']:.1f} s)"
    )


def _span(values: list[int]) -> str:
    low, high = min(values), max(values)
    return str(low) if low == high else f"{low}-{high}"


def kept_trials_training_line(search: dict) -> str:
    """How the trials whose networks a search kept side by side trained.

    >>> line = kept_trials_training_line({"folds": 5, "kept_trials": [4, 0],
    ...                                   "scored_epochs": [78, 122], "refit_epochs": [78, 122]})
    >>> print(line.replace(", where", ",\\nwhere").replace(" (", "\\n(").replace("; ", ";\\n"))
    training: trials 4 and 0 scored at epochs 78 and 122,
    where their 5 fold networks' mean held-out loss was lowest
    (each fold network keeps its own best epoch's weights);
    their refits trained that many epochs on every training row
    >>> line = kept_trials_training_line({"folds": 3, "kept_trials": [2], "scored_epochs": [9],
    ...                                   "refit_epochs": []})  # interrupted: no refits
    >>> line.startswith("training: trial 2 scored at epoch 9, where its 3 fold"), "refit" in line
    (True, False)
    """
    trials, epochs = search["kept_trials"], search["scored_epochs"]
    line = (
        f"training: {_count_words('trial', trials)} scored at {_count_words('epoch', epochs)}, "
        "where "
        f"{'its' if len(trials) == 1 else 'their'} {search['folds']} fold networks' mean "
        "held-out loss was lowest (each fold network keeps its own best epoch's weights)"
    )
    if search["refit_epochs"]:
        refits = "its refit" if len(trials) == 1 else "their refits"
        line += f"; {refits} trained that many epochs on every training row"
    return line


def _count_words(noun: str, values: list[int]) -> str:
    """``trial 4``, ``trials 4 and 0``, ``trials 4, 0 and 2``."""
    if len(values) == 1:
        return f"{noun} {values[0]}"
    return f"{noun}s {', '.join(map(str, values[:-1]))} and {values[-1]}"


def search_line(search: dict) -> str:
    """What ``--search`` did."""
    return (
        f"search: {search['trials']} trials in {search['budget_seconds']:g} s with "
        f"{search['library']} ({search['complete']} complete, {search['pruned']} pruned, "
        f"{search['failed']} failed); best trial {search['best_trial']}, "
        f"{search['score']} {search['best_score']:.4f}"
        + (f"; kept {search['kept']}" if "kept" in search else "")
    )


def confusion_counts(predicted: np.ndarray, codes: np.ndarray, k: int) -> np.ndarray:
    """counts[i, j]: rows of true class i predicted as class j (rows with code < 0 left out).

    >>> confusion_counts(np.array([0, 1, 1]), np.array([0, 1, 0]), 2).tolist()
    [[1, 1], [0, 1]]
    """
    known = codes >= 0
    pairs = codes[known].astype(np.int64) * k + predicted[known].astype(np.int64)
    return np.bincount(pairs, minlength=k * k).reshape(k, k)


def per_class_scores(counts: np.ndarray) -> dict[str, np.ndarray]:
    """Precision, recall, F1 and support of each class from confusion counts (0 where a
    denominator is 0, as scikit-learn's ``zero_division=0``)."""
    true_positive = np.diag(counts).astype(np.float64)
    predicted = counts.sum(axis=0)
    support = counts.sum(axis=1)
    precision = np.divide(true_positive, predicted, out=np.zeros(len(counts)), where=predicted > 0)
    recall = np.divide(true_positive, support, out=np.zeros(len(counts)), where=support > 0)
    total = precision + recall
    f1 = np.divide(2 * precision * recall, total, out=np.zeros(len(counts)), where=total > 0)
    return {"precision": precision, "recall": recall, "f1": f1, "support": support}


def class_report(counts: np.ndarray, classes: list[str]) -> str:
    """The per-class table (precision, recall, F1, support, macro and weighted averages) and
    the confusion matrix, as text."""
    scores = per_class_scores(counts)
    width = max(12, *(len(c) for c in classes))
    lines = [f"{'class':<{width}} precision    recall        f1   support"]
    for i, label in enumerate(classes):
        lines.append(
            f"{label:<{width}} {scores['precision'][i]:9.4f} {scores['recall'][i]:9.4f} "
            f"{scores['f1'][i]:9.4f} {scores['support'][i]:9d}"
        )
    support = scores["support"]
    for name, weights in (("macro avg", None), ("weighted avg", support)):
        if weights is not None and weights.sum() == 0:
            continue
        averages = [
            np.average(scores[key], weights=weights) for key in ("precision", "recall", "f1")
        ]
        lines.append(
            f"{name:<{width}} {averages[0]:9.4f} {averages[1]:9.4f} {averages[2]:9.4f} "
            f"{int(support.sum()):9d}"
        )
    cell = max(5, *(len(c) for c in classes), len(str(int(counts.max(initial=0)))))
    lines.append("confusion matrix (rows: true class, columns: predicted class)")
    lines.append(" " * width + " " + " ".join(f"{c:>{cell}}" for c in classes))
    for label, row in zip(classes, counts, strict=True):
        lines.append(f"{label:<{width}} " + " ".join(f"{n:>{cell}d}" for n in row))
    return "\n".join(lines)


def residual_summary(predicted: np.ndarray, y: np.ndarray) -> str:
    """The residuals y − ŷ: RMSE, mean, standard deviation and quantiles.

    >>> print(residual_summary(np.array([1.0, 2.0, 3.0]), np.array([1.5, 2.0, 2.0])))
    residuals (target - prediction): RMSE 0.6455, mean -0.1667, std 0.6236
      min -1, 25% -0.5, median 0, 75% 0.25, max 0.5
    """
    with np.errstate(over="ignore", invalid="ignore"):
        residuals = y - predicted
        rmse = float(np.sqrt(np.mean(residuals**2)))
    quantiles = np.percentile(residuals, [0, 25, 50, 75, 100])
    names = ("min", "25%", "median", "75%", "max")
    return (
        f"residuals (target - prediction): RMSE {rmse:.4g}, mean {residuals.mean():.4g}, "
        f"std {residuals.std():.4g}\n  "
        + ", ".join(f"{name} {value:.4g}" for name, value in zip(names, quantiles, strict=True))
    )
