"""Pictures of backpropagation (needs matplotlib: ``pip install "backprop[plot]"``).

* ``network(trace)``: the network as in the textbook figures, with one pass's numbers on it —
  a, δ, b on the nodes, the targets and the error, every connection (skip connections
  included) with its weight w and the share w·δ it sends back; colours on one symmetric-log
  scale of δ and w·δ.
* ``decision_regions(model, X, y)``: the class a network, perceptron or delta-rule unit
  predicts over the plane, each class in its own colour with a key; a single unit's line.
* ``history(history)``: training and validation loss and metrics per epoch, early stopping's
  best epoch marked; ``fold_histories(histories)`` the same for each network of a
  cross-validated ensemble.
* ``gradient_norms(history)``: each layer's mean |δ| per epoch on a log scale, where vanishing
  gradients show as early layers lying decades below the output layer.
* ``layer_deltas(traces)``: each layer's mean |δ| in one backward pass, as bars, for one
  network or several side by side.

Every function returns a matplotlib ``Figure``; ``fig.savefig("name.png")`` (or ``.svg``)
writes it.

>>> import matplotlib; matplotlib.use("Agg")
>>> import backprop as bp
>>> from backprop import plot
>>> trace = bp.Network([2, 3, 1], seed=0).backprop([[1.0, 0.0]], [1.0])
>>> plot.network(trace).axes[0].get_title()
'One backpropagation pass: error E = 0.08329 (squared loss)'
"""

from __future__ import annotations

from .curves import fold_histories, gradient_norms, history, layer_deltas
from .evaluation import confusion_matrix
from .network_figure import network
from .regions import decision_regions

__all__ = [
    "network",
    "decision_regions",
    "history",
    "fold_histories",
    "gradient_norms",
    "layer_deltas",
    "confusion_matrix",
]
