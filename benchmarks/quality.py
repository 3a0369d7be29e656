"""Model quality: ``backprop train`` (its defaults, and ``--search``) against scikit-learn's MLP
(its defaults, and a randomised search given the same time), on held-out test rows.

    python benchmarks/quality.py                         # every data set, --search 2m
    python benchmarks/quality.py --sets wine,digits --search 20s --rows 20000

Data sets: scikit-learn's digits, breast_cancer, wine and diabetes (a stratified 75/25 split,
random_state 0, or K with ``--split K``), MNIST-1D from the ``mnist1d`` package (its standard
4,000/1,000 split, made with the package's own generator ``make_dataset(get_dataset_args())``,
as its downloader needs GitHub), and ``classification100k`` (``make_classification`` with
100,000 rows, 20 features, 10 informative, random_state 0). ``--rows`` keeps at most that many
training rows (a subset for a quick run on a loaded machine). The scores are test accuracy, or
R² for diabetes. ``--one-network`` adds backprop's defaults with ``--folds 0`` (one network
where the defaults train a cross-validated ensemble, below 10,000 rows). ``--seeds N`` runs both
sets of defaults with seeds 0..N-1 (backprop's ``--seed``, which also chooses its validation
rows; scikit-learn's ``random_state``) and reports the mean and range; the searches run with
seed 0 (``--search-seed``), or with ``--search-seeds N`` seeds from there.

backprop is run as a user runs it: the training rows are written to a CSV file and
``backprop train DATA.csv --target y`` is called (in this process, through ``backprop.cli.main``);
the saved model then predicts the test rows. scikit-learn gets the features standardised
(``StandardScaler``) in a pipeline; its randomised search draws settings with
``ParameterSampler`` and scores each with 3-fold ``cross_val_score`` until the time is spent,
then refits the best on all training rows.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import math
import os
import sys
import tempfile
import time
import warnings

import numpy as np

from backprop.cli import main as backprop_main
from backprop.cli.recipe_options import parse_duration
from backprop.cli.trained_model import load_trained_model

SETS = ("digits", "breast_cancer", "wine", "diabetes", "mnist1d", "classification100k")


def load(name: str, split: int = 0):
    """(X_train, X_test, y_train, y_test, task) of a data set; ``split`` is the
    ``random_state`` of the 75/25 split of scikit-learn's data sets."""
    from sklearn import datasets
    from sklearn.model_selection import train_test_split

    if name == "mnist1d":
        from mnist1d.data import get_dataset_args, make_dataset

        data = make_dataset(get_dataset_args())
        return data["x"], data["x_test"], data["y"], data["y_test"], "classification"
    if name == "classification100k":
        X, y = datasets.make_classification(
            n_samples=100_000, n_features=20, n_informative=10, random_state=0
        )
    else:
        X, y = getattr(datasets, f"load_{name}")(return_X_y=True)
    task = "regression" if name == "diabetes" else "classification"
    stratify = y if task == "classification" else None
    parts = train_test_split(X, y, test_size=0.25, random_state=split, stratify=stratify)
    return (*parts, task)


def _write_csv(path: str, X: np.ndarray, y: np.ndarray) -> None:
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([f"x{i}" for i in range(X.shape[1])] + ["y"])
        writer.writerows(
            [*map(repr, map(float, row)), repr(target)]
            for row, target in zip(X, y.tolist(), strict=True)
        )


def _score(task: str, y_true, y_pred) -> float:
    from sklearn.metrics import accuracy_score, r2_score

    return float(
        accuracy_score(y_true, y_pred) if task == "classification" else r2_score(y_true, y_pred)
    )


def run_backprop(data, folder: str, search: str | None, seed: int = 0, options=()) -> dict:
    X_train, X_test, y_train, y_test, task = data
    train_csv = os.path.join(folder, "train.csv")
    _write_csv(train_csv, X_train, y_train)
    model_path = os.path.join(folder, "search.st" if search else "defaults.st")
    argv = ["train", train_csv, "--target", "y", "--out", model_path, "--quiet"]
    argv += ["--seed", str(seed), *options]
    if search:
        argv += ["--search", search]
    started = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        status = backprop_main(argv)
    seconds = time.perf_counter() - started
    if status != 0:
        raise RuntimeError(f"backprop train exited with {status}")
    model = load_trained_model(model_path)
    outputs = model.outputs(model.standardize(np.asarray(X_test, dtype=np.float64)))
    if task == "classification":
        predicted = np.array([float(model.classes[i]) for i in outputs.argmax(axis=1)])
    else:
        predicted = model.values(outputs)
    training = model.meta["training"]
    return {
        "score": _score(task, y_test, predicted),
        "seconds": seconds,
        "hidden": training["hidden"],
        "stopped": training["outcome"]["stopped"],
        "trials": training.get("search", {}).get("trials"),
        "folds": training.get("search", {}).get("folds", training.get("folds", 0)),
        "kept": training.get("search", {}).get("kept", training.get("kept")),
    }


def run_one_network(data, folder: str, search: str | None, seed: int = 0) -> dict:
    """The defaults with ``--folds 0``: one network stopped by 10% held-out rows, as the
    recipe trains from 10,000 rows on, where below it trains a cross-validated ensemble."""
    return run_backprop(data, folder, search, seed, options=("--folds", "0"))


def _sklearn_model(task: str, seed: int = 0, **params):
    from sklearn.neural_network import MLPClassifier, MLPRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    estimator = MLPClassifier if task == "classification" else MLPRegressor
    return make_pipeline(StandardScaler(), estimator(random_state=seed, **params))


SEARCH_SPACE = {
    "hidden_layer_sizes": [
        (64,),
        (128,),
        (256,),
        (64, 64),
        (128, 128),
        (256, 256),
        (128, 128, 128),
    ],
    "alpha": [1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0],
    "learning_rate_init": [1e-4, 3e-4, 1e-3, 3e-3, 1e-2],
    "batch_size": [32, 64, 128, 256],
    "early_stopping": [False, True],
}


def run_sklearn(data, budget: float | None, seed: int = 0) -> dict:
    from sklearn.model_selection import ParameterSampler, cross_val_score

    X_train, X_test, y_train, y_test, task = data
    started = time.perf_counter()
    best, tried = {}, 0
    if budget:
        best_score = -math.inf
        for params in ParameterSampler(SEARCH_SPACE, n_iter=10_000, random_state=seed):
            if time.perf_counter() - started > budget:
                break
            model = _sklearn_model(task, seed)
            step = model.steps[-1][0]
            model.set_params(**{f"{step}__{key}": value for key, value in params.items()})
            score = cross_val_score(model, X_train, y_train, cv=3).mean()
            tried += 1
            if score > best_score:
                best_score, best = score, params
    model = _sklearn_model(task, seed, **best).fit(X_train, y_train)
    return {
        "score": _score(task, y_test, model.predict(X_test)),
        "seconds": time.perf_counter() - started,
        "settings": {k: list(v) if isinstance(v, tuple) else v for k, v in best.items()},
        "trials": tried if budget else None,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default=",".join(SETS), help="comma-separated data sets")
    parser.add_argument("--search", default="2m", help="the search budget for both (e.g. 2m)")
    parser.add_argument("--no-search", action="store_true", help="defaults only")
    parser.add_argument("--no-defaults", action="store_true", help="the searches only")
    parser.add_argument("--rows", type=int, default=None, help="at most this many training rows")
    parser.add_argument(
        "--split",
        type=int,
        default=0,
        help="the random_state of the 75/25 split of scikit-learn's data sets (default 0)",
    )
    parser.add_argument(
        "--seeds", type=int, default=1, help="run the defaults with seeds 0..N-1 (mean, range)"
    )
    parser.add_argument("--search-seed", type=int, default=0, help="the searches' first seed")
    parser.add_argument(
        "--search-seeds", type=int, default=1, help="run the searches with N seeds (mean, range)"
    )
    parser.add_argument(
        "--one-network",
        action="store_true",
        help="also run backprop's defaults with --folds 0 (one network, not the ensemble)",
    )
    parser.add_argument("--json", default=None, help="also write the results here")
    args = parser.parse_args(argv)
    budget = None if args.no_search else parse_duration("--search", args.search)
    warnings.filterwarnings("ignore")  # scikit-learn's ConvergenceWarning at its defaults
    results = {}
    for name in args.sets.split(","):
        X_train, X_test, y_train, y_test, task = load(name, args.split)
        if args.rows is not None and len(X_train) > args.rows:
            X_train, y_train = X_train[: args.rows], y_train[: args.rows]
        data = (X_train, X_test, y_train, y_test, task)
        row = {"task": task, "n_train": len(X_train), "n_test": len(X_test), "split": args.split}
        with tempfile.TemporaryDirectory() as folder:
            if not args.no_defaults:
                seeds = range(args.seeds)
                row["backprop defaults"] = _seeds(run_backprop, data, folder, None, n=seeds)
                if args.one_network:
                    row["backprop one network"] = _seeds(
                        run_one_network, data, folder, None, n=seeds
                    )
                row["sklearn defaults"] = _seeds(run_sklearn, data, None, n=seeds)
            if budget:
                seeds = range(args.search_seed, args.search_seed + args.search_seeds)
                row["backprop --search"] = _seeds(run_backprop, data, folder, args.search, n=seeds)
                row["sklearn search"] = _seeds(run_sklearn, data, budget, n=seeds)
        results[name] = row
        print(_line(name, row), flush=True)
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(results, handle, indent=1, default=str)
    return 0


def _seeds(run, *args, n: range) -> dict:
    """``run`` with each seed of ``n``: the first seed's record, with every seed's score and
    record and their mean."""
    runs = [run(*args, seed=seed) for seed in n]
    scores = [result["score"] for result in runs]
    return {
        **runs[0],
        "seed_scores": scores,
        "seed_runs": runs[1:],
        "mean": float(np.mean(scores)),
        "seconds": float(np.mean([result["seconds"] for result in runs])),
    }


def _line(name: str, row: dict) -> str:
    metric = "accuracy" if row["task"] == "classification" else "R²"
    cells = [f"{name} ({row['n_train']} train / {row['n_test']} test, {metric})"]
    methods = ("backprop defaults", "backprop one network", "sklearn defaults")
    for method in (*methods, "backprop --search", "sklearn search"):
        if method in row:
            result = row[method]
            scores = result.get("seed_scores", [result["score"]])
            spread = (
                f" (mean of {len(scores)} seeds, {min(scores):.4f}-{max(scores):.4f})"
                if len(scores) > 1
                else ""
            )
            score = result.get("mean", result["score"])
            cells.append(f"{method}: {score:.4f}{spread} in {result['seconds']:.1f} s")
    return " | ".join(cells)


if __name__ == "__main__":
    sys.exit(main())
