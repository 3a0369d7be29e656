"""What a classifier of two inputs predicts over the plane.

Each class has its own colour, the same in every picture (class 0 blue, class 1 red, class 2
green, …): the region where the model predicts class k is tinted with class k's colour, the
samples of class k are dots of that colour, and the key names every class, including one the
model predicts nowhere. For a single unit (``Perceptron``, ``DeltaRuleUnit``) the picture also
draws its one straight line, w·x + b = threshold, widening the view if the line lies just
outside the data.

>>> import matplotlib; matplotlib.use("Agg")
>>> import backprop as bp
>>> from backprop.plot import decision_regions
>>> X, y = bp.datasets.xor()[:2]
>>> fig = decision_regions(bp.Perceptron(seed=0).fit(X, y), X, y)
>>> [text.get_text() for text in fig.axes[0].get_legend().get_texts()][:2]
['class 0', 'class 1']
"""

from __future__ import annotations

import numpy as np
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from ..engine.network import Network
from ..single_layer import DeltaRuleUnit, Perceptron
from .style import CLASS_COLOURS, class_colour, figure, region_colour

CLASSIFIER_LOSSES = ("log_loss", "cross_entropy")
PROBABILITY_OUTPUTS = ("sigmoid", "softmax")


def decision_regions(model, X, y, resolution: int = 200, title: str | None = None):
    """The class ``model`` predicts at each point of the plane, with the samples (X, y) on top.

    ``model`` is a classifying ``Network`` (softmax or sigmoid outputs, or a classification
    loss) or a trained ``Perceptron`` / ``DeltaRuleUnit``; ``y`` holds class labels 0, 1, …
    (or one-hot rows). A regression network, continuous targets or inputs that are not 2-D
    are refused with a ``ValueError`` saying which.
    """
    X = np.asarray(X, dtype=float)
    if X.ndim != 2 or X.shape[1] != 2 or len(X) == 0:
        raise ValueError(f"decision_regions needs 2-D inputs, got X of shape {X.shape}")
    if not np.isfinite(X).all():
        raise ValueError("decision_regions: X holds NaN or infinite values")
    if isinstance(resolution, bool) or not isinstance(resolution, int) or resolution < 2:
        raise ValueError(f"resolution must be an integer >= 2, got {resolution!r}")
    labels = _class_labels(y, len(X))
    predict, n_classes, line = _classifier(model)
    n_classes = max(n_classes, int(labels.max()) + 1)
    if n_classes > len(CLASS_COLOURS):
        raise ValueError(
            f"decision_regions colours up to {len(CLASS_COLOURS)} classes, got {n_classes}"
        )
    low, high = _view(X, line)
    grid_x, grid_y = np.meshgrid(
        np.linspace(low[0], high[0], resolution), np.linspace(low[1], high[1], resolution)
    )
    grid = np.column_stack([grid_x.ravel(), grid_y.ravel()])
    predicted = np.asarray(predict(grid), dtype=np.int64).reshape(grid_x.shape)
    palette = np.array([region_colour(k) for k in range(n_classes)])
    fig, ax = figure(5.6, 6.0)
    extent = (low[0], high[0], low[1], high[1])
    ax.imshow(palette[predicted], origin="lower", extent=extent, aspect="auto", zorder=0)
    for k in range(n_classes):
        members = X[labels == k]
        ax.scatter(
            members[:, 0],
            members[:, 1],
            color=class_colour(k),
            edgecolors="black",
            s=45,
            zorder=3,
            label=f"samples of class {k}",
        )
    handles, names = _key(n_classes, set(np.unique(predicted).tolist()))
    if line is not None:
        handles.append(_draw_line(ax, *line, low, high))
        names.append(handles[-1].get_label())
    ax.legend(
        handles,
        names,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.12),
        fontsize=8,
        ncol=1 if line is not None else min(len(names), 3),
    )
    ax.set_xlim(low[0], high[0])
    ax.set_ylim(low[1], high[1])
    ax.set_xlabel("x₁")
    ax.set_ylabel("x₂")
    correct = int((np.asarray(predict(X), dtype=np.int64) == labels).sum())
    ax.set_title(
        f"{title or 'Decision regions'}\n{correct} of {len(X)} samples classified correctly",
        fontsize=11,
    )
    return fig


def _class_labels(y, n: int) -> np.ndarray:
    """Integer labels from labels or one-hot rows; continuous targets refused."""
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] > 1:
        y = y.argmax(axis=1)
    y = y.reshape(-1) if y.ndim == 2 else y
    if y.ndim != 1 or len(y) != n:
        raise ValueError(f"decision_regions needs one class label per sample: {n}, got {y.shape}")
    if not np.issubdtype(y.dtype, np.number):
        raise TypeError(f"decision_regions needs numeric class labels 0, 1, …, got {y.dtype}")
    values = y.astype(float)
    bad = np.flatnonzero(~np.isfinite(values) | (values < 0) | (values != np.round(values)))
    if bad.size:
        raise ValueError(
            f"decision_regions needs class labels 0, 1, …; y[{bad[0]}] = {y[bad[0]].item()!r} "
            "(a regression target has no decision regions)"
        )
    return values.astype(np.int64)


def _classifier(model):
    """(predict, number of classes, the unit's line (w, b, threshold) or None)."""
    if isinstance(model, (Perceptron, DeltaRuleUnit)):
        if model.w is None:
            raise ValueError(f"the {type(model).__name__} is not trained yet; call fit first")
        if model.w.shape[0] != 2:
            raise ValueError(f"decision_regions needs a unit of 2 inputs, got {model.w.shape[0]}")
        linear = isinstance(model, DeltaRuleUnit) and model.activation == "identity"
        return model.predict, 2, (model.w, model.b, 0.5 if linear else 0.0)
    if not isinstance(model, Network):
        raise TypeError(
            "decision_regions draws a backprop Network, Perceptron or DeltaRuleUnit, "
            f"got {type(model).__name__}"
        )
    output, loss = model.output_activation.name, model.loss.name
    if model.n_inputs != 2:
        raise ValueError(f"decision_regions needs a network of 2 inputs, got {model.n_inputs}")
    if loss not in CLASSIFIER_LOSSES and output not in PROBABILITY_OUTPUTS:
        raise ValueError(
            f"decision_regions draws classifiers; a network with {output} outputs and "
            f"{loss} loss is a regression network, which predicts numbers, not classes"
        )
    if output == "sigmoid" and loss == "log_loss" and model.n_outputs > 1:
        raise ValueError(
            f"decision_regions draws one class per point; this network's {model.n_outputs} "
            "sigmoid outputs are independent yes/no labels (multi-label)"
        )
    return model.predict_classes, max(2, model.n_outputs), None


def _view(X, line) -> tuple[np.ndarray, np.ndarray]:
    """The data's box with a margin, widened to show a unit's line if it passes close by."""
    low, high = X.min(axis=0), X.max(axis=0)
    span = np.maximum(high - low, 1e-9)
    low, high = low - 0.1 * span, high + 0.1 * span
    if line is None:
        return low, high
    w, b, threshold = line
    if not np.any(w):
        return low, high
    centre = (low + high) / 2
    nearest = centre - (w @ centre + b - threshold) * w / (w @ w)  # the line's closest point
    if np.all(np.abs(nearest - centre) <= 2 * span):
        low, high = np.minimum(low, nearest - 0.15 * span), np.maximum(high, nearest + 0.15 * span)
    return low, high


def _key(n_classes: int, predicted: set[int]):
    """One entry per class: its region's tint and its samples' dot."""
    handles, names = [], []
    for k in range(n_classes):
        patch = Patch(facecolor=region_colour(k), edgecolor=class_colour(k))
        dot = Line2D([], [], marker="o", linestyle="", color=class_colour(k), markeredgecolor="k")
        handles.append((patch, dot))
        names.append(f"class {k}" if k in predicted else f"class {k} (predicted nowhere here)")
    return handles, names


def _draw_line(ax, w, b, threshold: float, low, high) -> Line2D:
    """The unit's boundary w·x + b = threshold, clipped to the view."""
    if not np.any(w):
        return Line2D([], [], color="black", label="w = 0: the unit draws no line")
    label = f"the unit's line {w[0]:.2f}·x₁ + {w[1]:.2f}·x₂ + {b:.2f} = {threshold:g}"
    if not _crosses(w, b - threshold, low, high):
        label += " (outside this view)"
    direction = np.array([-w[1], w[0]]) / np.linalg.norm(w)
    anchor = (threshold - b) * w / (w @ w)  # the line's point nearest the origin
    reach = 4 * float(np.max(high - low)) + float(np.linalg.norm(anchor))
    ends = np.array([anchor - reach * direction, anchor + reach * direction])
    (drawn,) = ax.plot(ends[:, 0], ends[:, 1], color="black", linewidth=2, zorder=2, label=label)
    return drawn


def _crosses(w, offset: float, low, high) -> bool:
    """Whether w·x + offset = 0 passes through the box [low, high]."""
    corners = np.array([[low[0], low[1]], [low[0], high[1]], [high[0], low[1]], [high[0], high[1]]])
    signs = np.sign(corners @ w + offset)
    return bool(signs.min() <= 0 <= signs.max())
