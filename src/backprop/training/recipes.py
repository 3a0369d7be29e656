"""Recipes: a whole training setup chosen from the data, so a good network needs no tricks.

``default_recipe(n_rows, n_features, n_outputs)`` picks every setting from the size of the
data; ``Recipe.network`` builds the network and ``Recipe.fit`` trains it:

* the network: ReLU layers whose width follows the features, the outputs and the rows
  (``hidden_sizes``), two of them from 2,000 training rows on, with dropout 0.2 on each for
  classification (none for regression, where it blurs the output);
* Adam with decoupled weight decay (``transforms.DecoupledWeightDecay``, AdamW's);
* a learning rate cut by ``plateau_factor`` whenever the monitored loss stalls for
  ``plateau_patience`` epochs (``schedules.ReduceOnPlateau``);
* epochs decided by convergence: early stopping on the held-out loss after ``patience`` epochs
  without improvement, the best epoch's weights restored, ``max_epochs`` and a ``time_limit``
  in seconds as the outer bounds;
* optionally ``class_weight="balanced"``: each class weighted by n / (k · n_class), as
  scikit-learn's ``compute_class_weight("balanced")``.

Every choice is a field, ``Recipe.settings()`` lists them all (``backprop train`` stores them in
the model file), and any of them can be overridden: ``default_recipe(..., lr=1e-2)``.

>>> import numpy as np
>>> import backprop as bp
>>> recipe = bp.recipes.default_recipe(n_rows=200, n_features=2, n_outputs=2)
>>> recipe.hidden, recipe.batch_size
((64,), 32)
>>> X = np.random.default_rng(0).normal(size=(200, 2))
>>> y = (X[:, 0] * X[:, 1] > 0).astype(int)
>>> net = recipe.network(2, 2, seed=0)
>>> history, outcome = recipe.fit(net, X[:150], y[:150], validation_data=(X[150:], y[150:]))
>>> bool((net.predict_classes(X[150:]) == y[150:]).mean() > 0.85)
True
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass

import numpy as np

from ..engine.layer import Layer
from ..engine.network import Network
from .history import History
from .loop import fit
from .schedules import ReduceOnPlateau
from .stopping import EarlyStopping

CLASS_WEIGHTS = (None, "balanced")
STOPPED_EARLY, TIME_LIMIT, MAX_EPOCHS = "early stopping", "time limit", "max epochs"


TWO_LAYERS_FROM = 2000


def _power_of_two(value: float) -> int:
    return 2 ** round(math.log2(max(value, 1.0)))


def hidden_sizes(n_rows: int, n_features: int, n_outputs: int) -> tuple[int, ...]:
    """Hidden layer widths for ``n_rows`` training rows of ``n_features`` features.

    The width is the power of two nearest 2 × (features + outputs) or √rows, whichever is
    larger, kept within [64, 512] (at most 256 below 10,000 rows); from 2,000 rows on there are
    two such layers, below that one.

    >>> hidden_sizes(4000, 40, 10), hidden_sizes(500, 30, 2), hidden_sizes(100_000, 20, 2)
    ((128, 128), (64,), (256, 256))
    """
    width = _power_of_two(max(2 * (n_features + n_outputs), math.sqrt(n_rows)))
    width = min(max(width, 64), 512 if n_rows >= 10_000 else 256)
    return (width, width) if n_rows >= TWO_LAYERS_FROM else (width,)


def default_batch_size(n_rows: int) -> int:
    """About 1/100 of the rows as a power of two, within [32, 512].

    >>> default_batch_size(500), default_batch_size(4000), default_batch_size(100_000)
    (32, 32, 512)
    """
    return min(max(_power_of_two(n_rows / 100), 32), 512)


@dataclass(frozen=True)
class Recipe:
    """A complete training setup; see the module's documentation for what each field does."""

    hidden: tuple[int, ...]
    activation: str = "relu"
    dropout: float = 0.0
    optimizer: str = "adam"
    lr: float = 2e-3
    batch_size: int = 32
    weight_decay: float = 1e-2
    plateau_factor: float = 0.3
    plateau_patience: int = 10
    patience: int = 30
    max_epochs: int = 1000
    time_limit: float | None = 600.0
    class_weight: str | None = None

    def __post_init__(self):
        if self.class_weight not in CLASS_WEIGHTS:
            raise ValueError(f"class_weight must be None or 'balanced', got {self.class_weight!r}")
        if self.time_limit is not None and not self.time_limit > 0:
            raise ValueError(f"time_limit must be None or seconds > 0, got {self.time_limit!r}")
        object.__setattr__(self, "hidden", tuple(int(size) for size in self.hidden))

    def settings(self) -> dict:
        """Every choice, as JSON-ready values (the hidden sizes as a list)."""
        settings = dataclasses.asdict(self)
        settings["hidden"] = list(self.hidden)
        return settings

    def describe(self) -> str:
        """One line naming every choice.

        >>> Recipe(hidden=(8,)).describe()[:60]
        'hidden 8 relu, adam lr 0.002 (x0.3 after 10 stalled epochs),'
        """
        limit = "none" if self.time_limit is None else f"{self.time_limit:g}s"
        parts = [
            _describe_hidden(self.hidden, self.activation, self.dropout),
            f"{self.optimizer} lr {self.lr:g} (x{self.plateau_factor:g} after "
            f"{self.plateau_patience} stalled epochs)",
            f"weight decay {self.weight_decay:g} (decoupled)",
            f"batch {self.batch_size}",
            f"early stopping after {self.patience} epochs without improvement, best weights kept",
            f"at most {self.max_epochs} epochs and {limit}",
        ]
        if self.class_weight:
            parts.append(f"class weights {self.class_weight}")
        return ", ".join(parts)

    def network(self, n_inputs: int, n_outputs: int, task: str = "classification", seed=None):
        """The network: softmax and cross-entropy for classification, else a linear output."""
        layers = [Layer(size, self.activation, dropout=self.dropout) for size in self.hidden]
        if task == "classification":
            return Network(
                [n_inputs, *layers, n_outputs], "relu", "softmax", "cross_entropy", seed=seed
            )
        return Network([n_inputs, *layers, n_outputs], "relu", "identity", "squared", seed=seed)

    def fit(
        self,
        net: Network,
        X,
        Y,
        *,
        validation_data: tuple | None = None,
        epochs: int | None = None,
        verbose: bool = False,
        callbacks=(),
        **fit_options,
    ) -> tuple[History, dict]:
        """Train ``net`` with this recipe; returns the history and what ended training.

        ``epochs`` trains exactly that many epochs (within the time limit) without early
        stopping, and keeps the last epoch's weights: a refit on every row, with no rows left
        to stop on, runs as many epochs as networks stopped on held-out rows chose.
        The outcome dict holds ``epochs_run``, ``best_epoch`` (whose weights were kept, from
        1), ``stopped`` (early stopping, time limit or max epochs) and ``seconds``. Further
        keyword arguments (checkpoint, resume, reduce_gradients, …) go to ``fit``.
        """
        if epochs is not None and (isinstance(epochs, bool) or not int(epochs) == epochs >= 1):
            raise ValueError(f"epochs must be a whole number >= 1, got {epochs!r}")
        monitor = "val_loss" if validation_data is not None else "loss"
        started = time.perf_counter()
        timed_out = []

        def time_limit(net, epoch, logs) -> bool:
            if self.time_limit is not None and time.perf_counter() - started > self.time_limit:
                timed_out.append(epoch)
            return bool(timed_out)

        weights = None
        if self.class_weight == "balanced":
            weights = balanced_sample_weights(np.asarray(Y))
        history = fit(
            net,
            X,
            Y,
            epochs=self.max_epochs if epochs is None else int(epochs),
            batch_size=self.batch_size,
            optimizer=self.optimizer,
            lr=self.lr,
            sample_weight=weights,
            validation_data=validation_data,
            weight_decay=self.weight_decay,
            schedule=ReduceOnPlateau(
                monitor=monitor, factor=self.plateau_factor, patience=self.plateau_patience
            ),
            early_stopping=(
                EarlyStopping(patience=self.patience, monitor=monitor) if epochs is None else False
            ),
            callbacks=[*callbacks, time_limit],
            verbose=verbose,
            warn=False,
            **fit_options,
        )
        if history.stopped_early:
            stopped = STOPPED_EARLY
        else:
            stopped = TIME_LIMIT if timed_out else MAX_EPOCHS
        best = history.best_epoch if history.best_epoch is not None else len(history) - 1
        outcome = {
            "epochs_run": len(history),
            "best_epoch": int(best) + 1,
            "stopped": stopped,
            "seconds": round(time.perf_counter() - started, 3),
        }
        return history, outcome


def _describe_hidden(hidden: tuple[int, ...], activation: str, dropout: float) -> str:
    """``hidden 64-64 relu dropout 0.2``, or ``no hidden layer`` (the output layer reads the
    inputs: softmax or linear regression)."""
    if not hidden:
        return "no hidden layer"
    text = f"hidden {'-'.join(map(str, hidden))} {activation}"
    return text + (f" dropout {dropout:g}" if dropout else "")


def default_recipe(
    n_rows: int, n_features: int, n_outputs: int, task: str = "classification", **overrides
) -> Recipe:
    """The recipe ``backprop train`` uses for ``n_rows`` training rows; ``overrides`` replace
    any field (``hidden``, ``lr``, ``time_limit``, ``class_weight``, …).

    >>> default_recipe(4000, 40, 10).hidden
    (128, 128)
    >>> default_recipe(4000, 40, 10, lr=0.01, time_limit=None).lr
    0.01
    """
    chosen = {
        "hidden": hidden_sizes(n_rows, n_features, n_outputs),
        "dropout": 0.2 if task == "classification" else 0.0,
        "batch_size": default_batch_size(n_rows),
    }
    chosen.update(overrides)
    return Recipe(**chosen)


def balanced_sample_weights(codes: np.ndarray) -> np.ndarray:
    """Each sample's weight n / (k · n_class): every class weighs the same in total.

    ``codes`` are class indices (or one-hot rows). The same numbers as scikit-learn's
    ``compute_class_weight("balanced", ...)`` taken per sample.

    >>> balanced_sample_weights(np.array([0, 0, 0, 1])).tolist()
    [0.6666666666666666, 0.6666666666666666, 0.6666666666666666, 2.0]
    """
    codes = np.asarray(codes)
    if codes.ndim == 2:
        codes = codes.argmax(axis=1)
    classes, index, counts = np.unique(codes, return_inverse=True, return_counts=True)
    return (len(codes) / (len(classes) * counts))[index.reshape(-1)]
