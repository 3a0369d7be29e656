"""Pictures of backpropagation (needs matplotlib: ``pip install "backprop[plot]"``).

* ``network(trace)``: the network as in the textbook figures, activations on the nodes, and the
  error signal flowing back: each node's delta in red or blue, each edge coloured and sized by
  its contribution wᵢⱼ·δᵢ to the delta rule's sum.
* ``history(history)``: training and validation loss (and metrics) per epoch.
* ``decision_regions(net, X, y)``: what a 2-D classifier predicts over the plane.
* ``gradient_norms(history)``: each layer's mean |δ| per epoch on a log scale, where vanishing
  gradients show as early layers lying decades below the output layer.

Every function returns a matplotlib ``Figure``; ``fig.savefig("name.png")`` (or ``.svg``)
writes it.

>>> import matplotlib; matplotlib.use("Agg")
>>> import backprop as bp
>>> from backprop import plot
>>> trace = bp.Network([2, 3, 1], seed=0).backprop([[1.0, 0.0]], [1.0])
>>> plot.network(trace).axes[0].get_title()
'Forward activations and backward deltas (sample 1)'
"""

from __future__ import annotations

import numpy as np

try:
    import matplotlib.pyplot as plt
    from matplotlib.colors import TwoSlopeNorm
except ImportError as error:  # pragma: no cover - exercised only without the extra
    raise ImportError('backprop.plot needs matplotlib: pip install "backprop[plot]"') from error


def _figure(width: float = 7.0, height: float = 4.5):
    fig, ax = plt.subplots(figsize=(width, height), layout="constrained")
    return fig, ax


def network(trace, sample: int = 0, max_units: int = 12):
    """The network with a⁽ˡ⁾ on the nodes and the error signal δ flowing backwards.

    Node colour: the node's delta (red positive, blue negative), the input nodes grey. Edge
    colour and width: the edge's share wᵢⱼ·δᵢ of the delta sent back to unit j.
    """
    layer_sizes = [a.shape[1] for a in trace.a]
    if max(layer_sizes) > max_units:
        raise ValueError(
            f"a layer has {max(layer_sizes)} units; network() draws up to {max_units} per layer"
        )
    fig, ax = _figure(2.2 * len(layer_sizes) + 1, 1.0 * max(layer_sizes) + 2)
    positions = [
        [(l, (size - 1) / 2 - i) for i in range(size)] for l, size in enumerate(layer_sizes)
    ]
    deltas = [np.zeros(layer_sizes[0])] + [d[sample] for d in trace.delta[1:]]
    contributions = [trace.W[l] * trace.delta[l][sample][:, None] for l in range(1, len(trace.a))]
    largest = max(float(np.abs(c).max()) for c in contributions) or 1.0
    colormap = plt.get_cmap("coolwarm")
    delta_scale = max(float(np.abs(np.concatenate(deltas)).max()), 1e-12)
    norm = TwoSlopeNorm(vcenter=0.0, vmin=-delta_scale, vmax=delta_scale)
    for l in range(1, len(trace.a)):
        for i, (x1, y1) in enumerate(positions[l]):
            for j, (x0, y0) in enumerate(positions[l - 1]):
                share = contributions[l - 1][i, j]
                ax.plot(
                    [x0, x1],
                    [y0, y1],
                    color=colormap(0.5 + 0.5 * share / largest),
                    linewidth=0.5 + 4.0 * abs(share) / largest,
                    zorder=1,
                )
    for l, layer in enumerate(positions):
        for i, (x, y) in enumerate(layer):
            colour = "lightgrey" if l == 0 else colormap(norm(deltas[l][i]))
            ax.scatter([x], [y], s=900, color=colour, edgecolors="black", zorder=2)
            ax.annotate(
                f"{trace.a[l][sample, i]:.3g}",
                (x, y),
                ha="center",
                va="center",
                fontsize=8,
                zorder=3,
            )
            if l > 0:
                ax.annotate(f"δ={deltas[l][i]:.2g}", (x, y - 0.38), ha="center", fontsize=7)
        label = "input" if l == 0 else f"layer {l}\n{trace.activations[l]}"
        ax.annotate(label, (l, (max(layer_sizes) - 1) / 2 + 0.8), ha="center", fontsize=9)
    fig.colorbar(plt.cm.ScalarMappable(norm=norm, cmap=colormap), ax=ax, label="δ")
    ax.set_title(f"Forward activations and backward deltas (sample {sample + 1})")
    ax.set_xlim(-0.5, len(layer_sizes) - 0.5)
    ax.set_ylim(-(max(layer_sizes) - 1) / 2 - 0.8, (max(layer_sizes) - 1) / 2 + 1.3)
    ax.axis("off")
    return fig


def history(history):
    """Training and validation loss per epoch, with the validation metrics on a second axis."""
    fig, ax = _figure()
    epochs = np.arange(1, len(history) + 1)
    ax.plot(epochs, history["loss"], label="training loss")
    if "val_loss" in history:
        ax.plot(epochs, history["val_loss"], label="validation loss")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.set_yscale("log" if min(history["loss"]) > 0 else "linear")
    metrics = [k for k in history.records if k.startswith("val_") and k != "val_loss"]
    if metrics:
        right = ax.twinx()
        for key in metrics:
            right.plot(epochs, history[key], linestyle="--", label=key)
        right.set_ylabel("metric")
        right.legend(loc="center right")
    ax.legend(loc="upper right")
    ax.set_title("Training history")
    return fig


def decision_regions(net, X, y, resolution: int = 200):
    """The class the network predicts at each point of the plane, with the samples on top."""
    X, y = np.asarray(X, dtype=float), np.asarray(y)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"decision_regions needs 2-D inputs, got X of shape {X.shape}")
    margin = 0.1 * (X.max(axis=0) - X.min(axis=0) + 1e-9)
    low, high = X.min(axis=0) - margin, X.max(axis=0) + margin
    grid_x, grid_y = np.meshgrid(
        np.linspace(low[0], high[0], resolution), np.linspace(low[1], high[1], resolution)
    )
    classes = net.predict_classes(np.column_stack([grid_x.ravel(), grid_y.ravel()]))
    fig, ax = _figure(5.5, 5.0)
    ax.contourf(grid_x, grid_y, classes.reshape(grid_x.shape), alpha=0.3, cmap="coolwarm")
    labels = y.argmax(axis=1) if y.ndim == 2 else y
    ax.scatter(X[:, 0], X[:, 1], c=labels, cmap="coolwarm", edgecolors="black", s=30)
    ax.set_xlabel("x₁")
    ax.set_ylabel("x₂")
    ax.set_title("Decision regions")
    return fig


def gradient_norms(history, which: str = "mean_abs_delta"):
    """Each layer's mean |δ| (or ``"grad_norm"``: ‖∂E/∂W‖) per epoch, log scale."""
    values = getattr(history, which)
    fig, ax = _figure()
    epochs = np.arange(1, values.shape[0] + 1)
    for l in range(values.shape[1]):
        ax.plot(epochs, np.maximum(values[:, l], 1e-300), label=f"layer {l + 1}")
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("mean |δ|" if which == "mean_abs_delta" else "‖∂E/∂W‖")
    ax.set_title("Error signal reaching each layer")
    ax.legend()
    return fig
