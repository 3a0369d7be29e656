"""Cross-validated ensembles: k networks, each trained on k − 1 folds of the rows and stopped by
the fold left out, kept side by side as one network whose output layer averages theirs.

On a small data set one network's early stopping listens to a few dozen held-out rows, and which
rows those are moves its score by several test rows. With k folds every row trains k − 1 of the
networks and stops the other one, and the ensemble (``backprop.ensemble``) averages away much of
what each network got by chance. Each row's prediction by the network that did not train on it
(the out-of-fold prediction) scores the whole without holding any row back.

>>> import numpy as np, backprop as bp
>>> from backprop.training.cross_validation import fit_cross_validated
>>> from backprop.training.recipes import default_recipe
>>> X, y = bp.datasets.two_moons(200, noise=0.2, seed=0)[:2]
>>> recipe = default_recipe(len(y), 2, 2, hidden=(16,), max_epochs=50)
>>> result = fit_cross_validated(recipe, X, y, n_outputs=2, folds=5, seed=0)
>>> len(result.members), result.net.sizes
(5, [2, 16, 16, 16, 16, 16, 2])
>>> bool((result.out_of_fold.argmax(axis=1) == y).mean() > 0.8)
True
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, replace

import numpy as np

from ..engine.backend import Backend
from ..engine.ensemble import ensemble
from ..engine.network import Network
from .history import History
from .recipes import Recipe


def stratified_folds(targets, k: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """``k`` (training rows, scoring rows) pairs that split the rows into ``k`` parts.

    For class codes each class is dealt round the parts in a seeded random order, so every part
    holds its share of each class; numeric targets (float) are dealt in one random order.

    >>> folds = stratified_folds(np.array([0, 0, 0, 1, 1, 1]), 3, seed=0)
    >>> [sorted(np.array([0, 0, 0, 1, 1, 1])[scored].tolist()) for _, scored in folds]
    [[0, 1], [0, 1], [0, 1]]
    """
    targets = np.asarray(targets)
    rng = np.random.default_rng(seed)
    groups = [np.arange(len(targets))]
    if targets.dtype.kind in "iub":
        groups = [np.flatnonzero(targets == code) for code in np.unique(targets)]
    part = np.empty(len(targets), dtype=np.int64)
    offset = 0
    for rows in groups:
        part[rng.permutation(rows)] = (offset + np.arange(len(rows))) % k
        offset += len(rows)
    every = np.arange(len(targets))
    return [(every[part != fold], every[part == fold]) for fold in range(k)]


@dataclass
class CrossValidated:
    """What ``fit_cross_validated`` trained.

    ``net`` is the ensemble of the ``members`` (one per fold, in fold order), ``histories`` and
    ``outcomes`` are theirs (``Recipe.fit``'s), ``folds`` the (training rows, scoring rows)
    pairs, and ``out_of_fold`` each row's outputs (float64) from the member that did not train
    on it.
    """

    net: Network
    members: list[Network]
    histories: list[History]
    outcomes: list[dict]
    folds: list[tuple[np.ndarray, np.ndarray]]
    out_of_fold: np.ndarray


def fit_cross_validated(
    recipe: Recipe,
    X,
    Y,
    n_outputs: int,
    task: str = "classification",
    folds: int = 5,
    seed: int | None = None,
    backend: str | Backend | None = None,
    verbose: bool = False,
) -> CrossValidated:
    """Train ``folds`` networks with ``recipe``, network m on every fold but the m-th and stopped
    by the m-th, and keep their ensemble. Network m's initial weights are drawn with ``seed`` + m
    (m from 0): different starts add to what the folds vary, and the ensemble gains from both.

    ``Y`` holds class codes or one-hot rows (classification: the folds then keep each class's
    share) or targets. ``verbose`` shows each network's progress under a line naming its fold. The
    recipe's time limit is shared: each network gets an equal part of what is
    left when it starts.
    """
    if isinstance(folds, bool) or not isinstance(folds, (int, np.integer)) or folds < 2:
        raise ValueError(f"folds must be an integer >= 2, got {folds!r}")
    if len(Y) < folds:
        raise ValueError(f"{folds} folds need at least {folds} rows, got {len(Y)}")
    X, Y = np.asarray(X), np.asarray(Y)
    started = time.perf_counter()
    if task == "classification":
        strata = Y.argmax(axis=1) if Y.ndim == 2 else Y  # one-hot rows: their classes
    else:
        strata = np.zeros(len(Y), dtype=np.float64)  # targets: one random order
    pairs = stratified_folds(strata, folds, seed)
    members, histories, outcomes = [], [], []
    out_of_fold = np.empty((len(Y), n_outputs))
    for m, (trained, scored) in enumerate(pairs):
        share = recipe
        if recipe.time_limit is not None:
            left = recipe.time_limit - (time.perf_counter() - started)
            share = replace(recipe, time_limit=max(left / (folds - m), 1e-6))  # > 0: one epoch
        if verbose:
            print(
                f"fold {m + 1} of {folds}: {len(trained)} rows to train on, {len(scored)} to stop",
                file=sys.stderr,
            )
        net = recipe.network(X.shape[1], n_outputs, task, seed=None if seed is None else seed + m)
        net = net.to(backend) if backend is not None else net
        history, outcome = share.fit(
            net,
            X[trained],
            Y[trained],
            validation_data=(X[scored], Y[scored]),
            verbose=verbose,
        )
        out_of_fold[scored] = net.xp.to_host(net.predict(X[scored]))
        members.append(net)
        histories.append(history)
        outcomes.append(outcome)
    return CrossValidated(ensemble(members), members, histories, outcomes, pairs, out_of_fold)
