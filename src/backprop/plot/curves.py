"""Curves of training and the error signal per layer.

* ``history``: training and validation loss per epoch (validation metrics on a second axis),
  every curve in its own colour, and the best epoch early stopping found marked on them.
* ``fold_histories``: the same for each network of a cross-validated ensemble, one colour per
  fold, the validation loss on the fold it left out.
* ``gradient_norms``: each layer's mean |δ| (or ‖∂E/∂W‖) per epoch on a log scale.
* ``layer_deltas``: each layer's mean |δ| in one backward pass, as bars, one group of bars per
  network, so a deep sigmoid network's vanishing deltas stand beside a ReLU network's.

>>> import matplotlib; matplotlib.use("Agg")
>>> import backprop as bp
>>> from backprop.plot import layer_deltas
>>> net = bp.Network([2, 4, 4, 1], seed=0)
>>> layer_deltas({"sigmoid": net.backprop([[1.0, 0.0]], [1.0])}).axes[0].get_xlabel()
'layer'
"""

from __future__ import annotations

from itertools import cycle

import numpy as np
from matplotlib.ticker import MaxNLocator

from .style import CURVE_COLOURS, figure, plt

LAYER_RECORDS = {"mean_abs_delta": "mean |δ|", "grad_norm": "‖∂E/∂W‖"}


def history(history, title: str | None = None):
    """Training and validation loss per epoch, the validation metrics on a second axis, and
    early stopping's best epoch (``history.best_epoch``) marked on every curve."""
    if len(history) == 0:
        raise ValueError("history has no epochs to draw")
    fig, ax = figure()
    epochs = np.arange(1, len(history) + 1)
    colours = iter(CURVE_COLOURS)
    losses = [("loss", "training loss")] + (
        [("val_loss", "validation loss")] if "val_loss" in history else []
    )
    curves = [(ax, key, name, next(colours), "-") for key, name in losses]
    metrics = [k for k in history.records if k.startswith("val_") and k != "val_loss"]
    right = ax.twinx() if metrics else None
    curves += [(right, key, f"validation {key[4:]}", next(colours), "--") for key in metrics]
    for axes, key, name, colour, style in curves:
        axes.plot(epochs, history[key], color=colour, linestyle=style, label=name)
    _loss_axes(ax, all(min(history[key]) > 0 for key, _ in losses))
    if right is not None:
        right.set_ylabel(", ".join(key[4:] for key in metrics))
    best = history.best_epoch
    if best is not None and 0 <= best < len(history):
        ax.axvline(
            best + 1, color="grey", linestyle=":", label=f"best epoch {best + 1} (early stopping)"
        )
        for axes, key, _, colour, _ in curves:
            axes.plot(
                [best + 1],
                [history[key][best]],
                marker="o",
                markersize=8,
                color=colour,
                markeredgecolor="black",
                linestyle="",
                gid="best epoch",
            )
    handles = [h for axes in (ax, right) if axes is not None for h in axes.get_lines()]
    handles = [h for h in handles if not h.get_label().startswith("_") and h.get_gid() is None]
    ax.legend(
        handles,
        [h.get_label() for h in handles],
        loc="upper center",
        fontsize=8,
        bbox_to_anchor=(0.5, -0.14),
        ncol=min(len(handles), 3),
    )
    stopped = ", stopped early" if history.stopped_early else ""
    ax.set_title(title or f"Training history: {len(history)} epochs{stopped}")
    return fig


def fold_histories(histories, title: str | None = None):
    """Each fold network's training loss (solid) and validation loss on its own left-out fold
    (dashed), one colour per fold, the epoch whose weights it kept marked on the dashed curve.

    >>> import matplotlib; matplotlib.use("Agg")
    >>> import backprop as bp
    >>> from backprop.training.cross_validation import fit_cross_validated
    >>> from backprop.training.recipes import default_recipe
    >>> X, y = bp.datasets.two_moons(100, seed=0)[:2]
    >>> result = fit_cross_validated(default_recipe(100, 2, 2, max_epochs=5), X, y, 2, folds=3)
    >>> fold_histories(result.histories).axes[0].get_title()
    'Learning curves of the 3 fold networks'
    """
    histories = list(histories)
    if not histories or any(len(h) == 0 for h in histories):
        raise ValueError("fold_histories needs at least one history, each with epochs to draw")
    fig, ax = figure()
    positive = True
    for k, (history, colour) in enumerate(zip(histories, cycle(CURVE_COLOURS)), start=1):
        epochs = np.arange(1, len(history) + 1)
        ax.plot(epochs, history["loss"], color=colour, linestyle="-", label=f"fold {k}")
        positive &= min(history["loss"]) > 0
        if "val_loss" not in history:
            continue
        ax.plot(epochs, history["val_loss"], color=colour, linestyle="--", label="_val")
        positive &= min(history["val_loss"]) > 0
        best = history.best_epoch
        if best is not None and 0 <= best < len(history):
            ax.plot(
                [best + 1],
                [history["val_loss"][best]],
                marker="o",
                color=colour,
                markeredgecolor="black",
                linestyle="",
                label="_best",
                gid="epoch kept",
            )
    ax.plot([], [], color="grey", linestyle="-", label="training loss")
    ax.plot([], [], color="grey", linestyle="--", label="validation loss (its own fold)")
    ax.plot(
        [], [], color="grey", marker="o", markeredgecolor="black", linestyle="", label="epoch kept"
    )
    _loss_axes(ax, positive)
    ax.legend(loc="upper center", fontsize=8, bbox_to_anchor=(0.5, -0.14), ncol=4)
    ax.set_title(title or f"Learning curves of the {len(histories)} fold networks")
    return fig


def _loss_axes(ax, positive: bool) -> None:
    """Epochs along, loss up: on a log scale when every loss drawn is positive."""
    ax.set_yscale("log" if positive else "linear")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss" + (" (log scale)" if positive else ""))
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, steps=[1, 2, 5, 10]))


def gradient_norms(history, which: str = "mean_abs_delta", title: str | None = None):
    """Each layer's mean |δ| (or ``"grad_norm"``: ‖∂E/∂W‖) per epoch, log scale.

    Zeros have no place on a log scale: a layer whose values are all zero is named in the key
    and not drawn, and if every value is zero the axis is linear and says so.
    """
    if which not in LAYER_RECORDS:
        raise ValueError(f"which must be one of {', '.join(LAYER_RECORDS)}, got {which!r}")
    values = np.asarray(getattr(history, which), dtype=float)
    if values.ndim != 2 or values.shape[0] == 0:
        raise ValueError(f"history has no per-layer {which} to draw")
    fig, ax = figure(7.5, 4.5)
    epochs = np.arange(1, values.shape[0] + 1)
    shown = np.isfinite(values) & (values > 0)
    n_layers = values.shape[1]
    colourmap = plt.get_cmap("viridis")
    for l in range(n_layers):
        name = f"layer {l + 1}" + (" (output)" if l == n_layers - 1 else "")
        if shown.any() and not shown[:, l].any():
            name += ": all zero, not drawn"
        line = np.where(shown[:, l], values[:, l], np.nan) if shown.any() else values[:, l]
        colour = colourmap(0.85 * l / max(n_layers - 1, 1))
        ax.plot(epochs, line, color=colour, label=name)
    if shown.any():
        ax.set_yscale("log")
    else:
        ax.set_ylim(-1.0, 1.0)
        ax.text(
            0.5,
            0.75,
            f"every {LAYER_RECORDS[which]} is 0: no error signal reached any layer",
            transform=ax.transAxes,
            ha="center",
            fontsize=10,
        )
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, steps=[1, 2, 5, 10]))
    ax.set_ylabel(LAYER_RECORDS[which] + (" (log scale)" if shown.any() else ""))
    ax.set_title(title or f"Error signal reaching each layer: {LAYER_RECORDS[which]} per epoch")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    return fig


def layer_deltas(traces, title: str | None = None):
    """Each layer's mean |δ| in one backward pass, as bars on a log scale.

    ``traces`` is one ``Trace`` or ``{name: trace}`` to compare networks side by side; the
    key gives each network's ratio of its first layer's mean |δ| to its output layer's.
    """
    if not isinstance(traces, dict):
        traces = {_hidden_activations(traces): traces}
    if not traces:
        raise ValueError("layer_deltas needs at least one trace")
    means = {name: _mean_abs_deltas(trace) for name, trace in traces.items()}
    n_layers = max(len(m) for m in means.values())
    fig, ax = figure(7.5, 4.5)
    width = 0.8 / len(means)
    for k, (name, values) in enumerate(means.items()):
        layers = np.arange(1, len(values) + 1) + (k - (len(means) - 1) / 2) * width
        ratio = values[0] / values[-1] if values[-1] > 0 else float("nan")
        label = f"{name}: layer 1 gets {ratio:.1e} of the output layer's"
        ax.bar(
            layers,
            np.where(values > 0, values, np.nan),
            width,
            label=label,
            color=CURVE_COLOURS[k % len(CURVE_COLOURS)],
            edgecolor="black",
        )
        for x, value in zip(layers, values, strict=True):
            ax.annotate(
                f"{value:.1e}",
                (x, value if value > 0 else 1.0),
                ha="center",
                va="bottom",
                fontsize=7,
                rotation=90,
                xytext=(0, 2),
                textcoords="offset points",
            )
    ax.set_yscale("log")
    ax.set_xticks(np.arange(1, n_layers + 1))
    ax.set_xticklabels(
        [f"{l}" if l < n_layers else f"{l}\n(output)" for l in range(1, n_layers + 1)]
    )
    ax.set_xlabel("layer")
    ax.set_ylabel("mean |δ| (log scale)")
    ax.margins(y=0.25)
    ax.set_title(title or "Error signal reaching each layer in one backward pass")
    ax.legend(loc="upper left", fontsize=8)
    return fig


def _mean_abs_deltas(trace) -> np.ndarray:
    host = trace.network.backend.to_host
    return np.array(
        [float(np.abs(np.asarray(host(d), dtype=float)).mean()) for d in trace.delta[1:]]
    )


def _hidden_activations(trace) -> str:
    hidden = dict.fromkeys(trace.activations[1:-1]) or [trace.activations[-1]]
    return "/".join(hidden) + " network"
