"""The scikit-learn-style estimators against scikit-learn's own, setting by setting, fit to the end.

``run.py`` measures one epoch of one architecture with Adam. A user of the estimator API gets
scikit-learn's defaults instead (one hidden layer of 100 ReLU units, Adam, lr 1e-3, batch
min(200, n), alpha 1e-4, up to 200 epochs with its stopping rule) and changes one or two of
them. This script fits ``backprop.sklearn.MLPClassifier`` / ``MLPRegressor`` and
``sklearn.neural_network``'s classes with the same hyperparameters, setting by setting, on the
same synthetic data, in one process, alternating the two and repeating. It prints the median
time of the whole ``fit``, and of ``predict`` on the training set (the median of three calls
after each fit), their ratios (scikit-learn's time / backprop's), the epochs each ran before
its stopping rule (or ``max_iter``) ended it, and the final training loss and held-out score
of each: the time to a model of the same quality, not only the time per epoch. Both draw
their initial weights from the same distribution, from different random streams, so their
epochs and losses differ by the draw. Last, it times one pass of ``partial_fit`` calls on 32
rows each, per call: what streaming a data set through an estimator costs.

Data: Gaussian X (float64, as a data frame would give it, or float32 with ``--float32``),
7 classes from a noisy random linear teacher, or the teacher's first output for regression,
and a held-out quarter as many samples for the score. Both libraries train in the dtype of X.
Before the timed fits, one short fit of each loads what the first call loads (numba's
compiled kernels for backprop), once per process.

Usage::

    PYTHONPATH=src python benchmarks/estimators.py [--samples 10000] [--max-iter 200]
        [--repeats 3] [--float32] [--settings default,tanh,...]
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings
from typing import NamedTuple

import numpy as np
from run import print_machine

N_FEATURES, N_CLASSES = 54, 7

# name: (hyperparameters besides the defaults, regression?, sample weights?)
SETTINGS = {
    "default": ({}, False, False),
    "tanh": ({"activation": "tanh"}, False, False),
    "logistic": ({"activation": "logistic"}, False, False),
    "two layers": ({"hidden_layer_sizes": (256, 256)}, False, False),
    "batch 32": ({"batch_size": 32}, False, False),
    "sgd": ({"solver": "sgd", "learning_rate_init": 0.01}, False, False),
    "early stopping": ({"early_stopping": True}, False, False),
    "sample weights": ({}, False, True),
    "lbfgs": ({"solver": "lbfgs"}, False, False),
    "regressor": ({}, True, False),
}


class Data(NamedTuple):
    X: np.ndarray
    labels: np.ndarray
    target: np.ndarray
    weights: np.ndarray


def make_data(n_train: int, n_test: int, dtype, seed: int = 0) -> tuple[Data, Data]:
    """Training and held-out sets from one teacher: Gaussian X, 7-class labels from a noisy
    linear teacher, a regression target (the teacher's first output), sample weights."""
    rng = np.random.default_rng(seed)
    n = n_train + n_test
    X = rng.standard_normal((n, N_FEATURES)).astype(dtype)
    teacher = rng.standard_normal((N_FEATURES, N_CLASSES))
    labels = np.argmax(X @ teacher + rng.standard_normal((n, N_CLASSES)), axis=1)
    target = (X @ teacher[:, 0] / np.sqrt(N_FEATURES)).astype(dtype)
    weights = rng.uniform(0.5, 2.0, n)
    everything = Data(X, labels, target, weights)
    return (
        Data(*(array[:n_train] for array in everything)),
        Data(*(array[n_train:] for array in everything)),
    )


def fit_once(module, setting: str, train: Data, test: Data, max_iter: int) -> dict:
    """Fit and predict once with ``module``'s estimator; times in seconds."""
    params, regression, weighted = SETTINGS[setting]
    pick = "target" if regression else "labels"
    estimator_class = module.MLPRegressor if regression else module.MLPClassifier
    options = {"hidden_layer_sizes": (100,), "max_iter": max_iter, "random_state": 0, **params}
    estimator = estimator_class(**options)
    extra = {"sample_weight": train.weights} if weighted else {}
    start = time.perf_counter()
    estimator.fit(train.X, getattr(train, pick), **extra)
    fit_seconds = time.perf_counter() - start
    predict_seconds = []
    for _ in range(3):
        start = time.perf_counter()
        estimator.predict(train.X)
        predict_seconds.append(time.perf_counter() - start)
    return {
        "fit": fit_seconds,
        "predict": statistics.median(predict_seconds),
        "iterations": estimator.n_iter_,
        "loss": float(estimator.loss_),
        "score": float(estimator.score(test.X, getattr(test, pick))),
    }


def warm_up(train: Data, test: Data) -> None:
    """One short fit of each library, so that no timed fit pays for a first call."""
    import sklearn.neural_network as scikit

    import backprop.sklearn as ours

    for module in (ours, scikit):
        fit_once(module, "default", train, test, max_iter=1)


def partial_fit_call(module, train: Data, rows: int = 32) -> float:
    """Median seconds of one ``partial_fit`` call on ``rows`` samples, over one pass."""
    estimator = module.MLPClassifier(hidden_layer_sizes=(100,), random_state=0)
    estimator.partial_fit(train.X[:rows], train.labels[:rows], classes=np.arange(N_CLASSES))
    seconds = []
    for first in range(rows, train.X.shape[0] - rows + 1, rows):
        batch = slice(first, first + rows)
        start = time.perf_counter()
        estimator.partial_fit(train.X[batch], train.labels[batch])
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds)


def compare_partial_fit(train: Data, repeats: int) -> tuple[float, float]:
    """Medians of ``partial_fit_call`` for backprop and scikit-learn, alternating."""
    import sklearn.neural_network as scikit

    import backprop.sklearn as ours

    calls = {ours: [], scikit: []}
    for _ in range(repeats):
        for module in calls:
            calls[module].append(partial_fit_call(module, train))
    return statistics.median(calls[ours]), statistics.median(calls[scikit])


def compare(setting: str, train: Data, test: Data, max_iter: int, repeats: int) -> dict:
    """Alternate the two libraries ``repeats`` times; medians of every measurement."""
    import sklearn.neural_network as scikit

    import backprop.sklearn as ours

    runs = {"backprop": [], "sklearn": []}
    for repeat in range(repeats):
        order = [("backprop", ours), ("sklearn", scikit)]
        for name, module in order if repeat % 2 == 0 else order[::-1]:
            runs[name].append(fit_once(module, setting, train, test, max_iter))
    return {
        name: {key: statistics.median(run[key] for run in results) for key in results[0]}
        for name, results in runs.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=10_000, help="training samples")
    parser.add_argument("--max-iter", type=int, default=200, help="max_iter of every fit")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--float32", action="store_true", help="float32 X (default float64)")
    parser.add_argument("--settings", default=",".join(SETTINGS))
    args = parser.parse_args()
    settings = [name.strip() for name in args.settings.split(",")]
    unknown = [name for name in settings if name not in SETTINGS]
    if unknown:
        parser.error(f"unknown settings {unknown}; choose from {list(SETTINGS)}")
    warnings.filterwarnings("ignore")  # ConvergenceWarning where max_iter ends a fit
    dtype = np.float32 if args.float32 else np.float64
    train, test = make_data(args.samples, args.samples // 4, dtype)
    print_machine()
    print(
        f"# {args.samples:,} training samples x {N_FEATURES} features, {np.dtype(dtype).name}, "
        f"max_iter {args.max_iter}, medians of {args.repeats} (times in ms; ratio = "
        "scikit-learn's time / backprop's; score on held-out data)\n"
    )
    warm_up(train, test)
    print(
        "| setting | fit backprop | fit sklearn | ratio | predict backprop | predict sklearn "
        "| ratio | epochs | loss backprop / sklearn | score backprop / sklearn |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for setting in settings:
        result = compare(setting, train, test, args.max_iter, args.repeats)
        ours, theirs = result["backprop"], result["sklearn"]
        print(
            f"| {setting} | {ours['fit'] * 1e3:,.1f} | {theirs['fit'] * 1e3:,.1f} "
            f"| {theirs['fit'] / ours['fit']:.2f}x | {ours['predict'] * 1e3:,.1f} "
            f"| {theirs['predict'] * 1e3:,.1f} | {theirs['predict'] / ours['predict']:.2f}x "
            f"| {ours['iterations']:g} / {theirs['iterations']:g} "
            f"| {ours['loss']:.4f} / {theirs['loss']:.4f} "
            f"| {ours['score']:.4f} / {theirs['score']:.4f} |",
            flush=True,
        )
    ours, theirs = (seconds * 1e6 for seconds in compare_partial_fit(train, args.repeats))
    print(
        f"\npartial_fit on 32 rows, median per call: backprop {ours:,.0f} µs, "
        f"scikit-learn {theirs:,.0f} µs ({theirs / ours:.2f}x)"
    )


if __name__ == "__main__":
    main()
