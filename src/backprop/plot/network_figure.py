"""The network as the textbook figures draw it, with every number of one pass on it.

Each node shows its activation a (inside), its delta δ and bias b (below); each output node
its target y. Every connection of the topology is an edge — skip connections arc over the
layers they jump, and a layer summing several inputs (``combine="sum"``) gets an edge from each
— labelled with its weight w and the share w·δ it sends back to the unit below. Node colour is
δ and edge colour and width are w·δ, on one symmetric-log colour scale, so deltas decades
smaller than the output layer's still show.

>>> import matplotlib; matplotlib.use("Agg")
>>> import backprop as bp
>>> from backprop.plot import network
>>> trace = bp.Network([2, 3, 1], seed=0).backprop([[1.0, 0.0]], [1.0])
>>> len([line for line in network(trace).axes[0].lines if line.get_gid().startswith("edge")])
9
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from matplotlib.colors import SymLogNorm

from ..engine.losses import per_sample_loss
from .style import figure, plt, text_colour_on

LABELLED_EDGES = 16  # beyond this many edges, labels on every edge would bury the picture
DECADES = 3  # the colour scale spans this many decades below the largest |δ| or |w·δ|
SUPERSCRIPTS = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")
SUBSCRIPTS = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")


class Edge(NamedTuple):
    """A connection from unit j of layer ``source`` to unit i of layer ``target``."""

    source: int
    j: int
    target: int
    i: int
    weight: float
    share: float  # w·δ: what the edge sends back to unit j in the delta rule's sum


def network(trace, sample: int = 0, max_units: int = 12):
    """The network of ``trace`` with a, δ, b, the targets and every w and w·δ of one sample.

    Refuses (``ValueError``) a layer wider than ``max_units`` or a sample not in the batch.
    """
    net = trace.network
    sizes = [layer.size for layer in net.layers]
    batch = trace.a[0].shape[0]
    if not 0 <= sample < batch:
        raise ValueError(f"sample must be in 0..{batch - 1} (the trace's batch), got {sample}")
    if max(sizes) > max_units:
        raise ValueError(
            f"layer {int(np.argmax(sizes))} has {max(sizes)} units; "
            f"network() draws up to max_units={max_units} per layer"
        )
    host = net.backend.to_host
    a = [np.asarray(host(x), dtype=float)[sample] for x in trace.a]
    delta = [None, *(np.asarray(host(d), dtype=float)[sample] for d in trace.delta[1:])]
    edges = list(_connections(net, delta))
    norm = _colour_scale([d for d in delta[1:]], [e.share for e in edges])
    fig, ax = figure(2.6 * len(sizes) + 2.0, 1.0 * max(sizes) + 2.6)
    positions = [[(l, (size - 1) / 2 - i) for i in range(size)] for l, size in enumerate(sizes)]
    node_top = (max(sizes) - 1) / 2
    skips = any(e.target - e.source > 1 for e in edges)
    top = node_top + (0.7 + 0.12 * max(sizes) if skips else 0.3)
    labelled = len(edges) <= LABELLED_EDGES
    for edge in edges:
        _draw_edge(ax, edge, positions, node_top, norm, labelled)
    _draw_nodes(ax, net, positions, a, delta, norm)
    _draw_targets(ax, trace, sample, positions[-1])
    for l in range(len(sizes)):
        ax.text(l, top + 0.35, _header(net, l), ha="center", va="bottom", fontsize=9)
    _explain_colours(fig, ax, norm, labelled)
    ax.set_title(_error_line(trace, sample, batch))
    ax.set_xlim(-0.45, len(sizes) - 0.4)
    ax.set_ylim(-top - 0.2, top + 1.0)
    ax.axis("off")
    return fig


def _explain_colours(fig, ax, norm, labelled: bool) -> None:
    """The colour bar, and a line under the picture saying what each mark means."""
    colourbar = fig.colorbar(plt.cm.ScalarMappable(norm=norm, cmap="coolwarm"), ax=ax)
    colourbar.set_ticks(_ticks(norm))
    colourbar.set_label("δ on the nodes, w·δ on the edges (symmetric log scale)")
    edges = (
        "edge: weight w, and w·δ sent back to the unit below"
        if labelled
        else f"edge colour and width: w·δ sent back (labelled up to {LABELLED_EDGES} edges)"
    )
    ax.text(
        0.5,
        0.0,
        f"node: a inside, δ and b below    {edges}",
        transform=ax.transAxes,
        ha="center",
        va="top",
        fontsize=8,
        color="dimgrey",
    )


def _connections(net, delta):
    """Every edge of the topology: each source block of each layer's W, with its own columns."""
    host = net.backend.to_host
    for layer in net.layers[1:]:
        weights = np.asarray(host(layer.W), dtype=float)
        for source, columns in layer.sources:
            block = weights[:, columns]
            for i in range(layer.size):
                for j in range(block.shape[1]):
                    w = float(block[i, j])
                    yield Edge(source, j, layer.index, i, w, w * float(delta[layer.index][i]))


def _colour_scale(deltas, shares) -> SymLogNorm:
    """One symmetric-log scale for δ and w·δ, linear only within 10⁻³ of the largest value."""
    values = np.concatenate([np.abs(np.ravel(d)) for d in deltas] + [np.abs(shares)])
    largest = float(values.max()) if values.size and values.max() > 0 else 1.0
    return SymLogNorm(
        linthresh=largest * 10.0**-DECADES, linscale=0.2, vmin=-largest, vmax=largest, base=10
    )


def _ticks(norm: SymLogNorm) -> list[float]:
    """0 and ± each power of ten in the scale's log range (none in the linear band by 0)."""
    lowest = int(np.ceil(np.log10(norm.linthresh) + 0.3))
    decades = [10.0**k for k in range(lowest, int(np.floor(np.log10(norm.vmax))) + 1)]
    return sorted([0.0, *decades, *(-d for d in decades)])


def _path(edge: Edge, positions, node_top: float, points: int = 30):
    """The edge's points: a straight line to the next layer, an arc over any layer between.

    Arcs go over the top of the network (under the bottom for units in its lower half), each
    target unit's arcs at their own height so that they do not lie on top of each other.
    """
    (x0, y0), (x1, y1) = positions[edge.source][edge.j], positions[edge.target][edge.i]
    t = np.linspace(0.0, 1.0, points)[:, None]
    if edge.target - edge.source == 1:
        return (1 - t) * np.array([x0, y0]) + t * np.array([x1, y1])
    side = 1.0 if y0 + y1 >= 0 else -1.0
    rank = edge.i if side > 0 else len(positions[edge.target]) - 1 - edge.i
    peak = side * (node_top + 0.6 + 0.12 * rank)  # clear of every node it passes
    control = np.array([(x0 + x1) / 2, 2 * peak - (y0 + y1) / 2])
    return (1 - t) ** 2 * np.array([x0, y0]) + 2 * (1 - t) * t * control + t**2 * np.array([x1, y1])


def _draw_edge(ax, edge: Edge, positions, node_top: float, norm, labelled: bool) -> None:
    points = _path(edge, positions, node_top)
    strength = min(1.0, abs(float(norm(edge.share)) - 0.5) * 2)
    name = f"{edge.source}.{edge.j}->{edge.target}.{edge.i}"
    ax.plot(
        points[:, 0],
        points[:, 1],
        color=plt.get_cmap("coolwarm")(float(norm(edge.share))),
        linewidth=0.6 + 3.4 * strength,
        zorder=1,
        gid=f"edge {name}",
        solid_capstyle="round",
    )
    if labelled:
        box = {"boxstyle": "round,pad=0.15", "facecolor": "white", "alpha": 0.85, "linewidth": 0}
        last = len(points) - 1
        at_source, at_target = points[round(0.22 * last)], points[round(0.68 * last)]
        ax.text(
            *at_source,
            f"w={edge.weight:.3g}",
            fontsize=8,
            ha="center",
            va="center",
            bbox=box,
            zorder=3,
            gid=f"weight {name}",
        )
        ax.text(
            *at_target,
            f"w·δ={edge.share:.2g}",
            fontsize=7.5,
            ha="center",
            va="center",
            bbox=box,
            zorder=3,
            color="#444444",
            gid=f"share {name}",
        )


def _draw_nodes(ax, net, positions, a, delta, norm) -> None:
    host = net.backend.to_host
    colourmap = plt.get_cmap("coolwarm")
    for l, layer in enumerate(positions):
        biases = None if l == 0 else np.asarray(host(net.layers[l].b), dtype=float)
        for i, (x, y) in enumerate(layer):
            face = "lightgrey" if l == 0 else colourmap(float(norm(delta[l][i])))
            ax.scatter(
                [x], [y], s=1100, color=face, edgecolors="black", zorder=2, gid=f"node {l}.{i}"
            )
            ax.text(
                x,
                y,
                f"{a[l][i]:.3g}",
                ha="center",
                va="center",
                fontsize=8,
                color=text_colour_on(face),
                zorder=4,
                gid=f"a {l}.{i}",
            )
            below = (
                f"x{str(i + 1).translate(SUBSCRIPTS)}"
                if l == 0
                else f"δ={delta[l][i]:.3g}\nb={biases[i]:.3g}"
            )
            ax.text(
                x,
                y - 0.24,
                below,
                ha="center",
                va="top",
                fontsize=7.5,
                zorder=4,
                linespacing=1.1,
                gid=f"below {l}.{i}",
            )


def _draw_targets(ax, trace, sample: int, outputs) -> None:
    targets = np.asarray(trace.network.backend.to_host(trace.Y), dtype=float)[sample]
    for i, (x, y) in enumerate(outputs):
        ax.text(
            x + 0.2,
            y,
            f"y={targets[i]:.3g}",
            ha="left",
            va="center",
            fontsize=8,
            color="darkgreen",
            zorder=4,
            gid=f"target {i}",
        )


def _header(net, l: int) -> str:
    if l == 0:
        return "input"
    layer = net.layers[l]
    text = f"layer {l}\n{layer.activation.name}"
    sources = [s for s, _ in layer.sources]
    if sources != [l - 1]:
        names = [f"a{str(s).translate(SUPERSCRIPTS)}" for s in sources]
        text += "\n" + (" + ".join(names) if layer.combine == "sum" else f"[{', '.join(names)}]")
    return text


def _error_line(trace, sample: int, batch: int) -> str:
    """The sample's error J (the batch's E when the batch is the one sample)."""
    net = trace.network
    per_sample = per_sample_loss(
        net.xp, net.loss, net.output_activation.name, trace.z[-1], trace.a[-1], trace.Y
    )
    J = float(np.asarray(net.backend.to_host(per_sample), dtype=float)[sample])
    if batch == 1:
        return f"One backpropagation pass: error E = {J:.4g} ({net.loss.name} loss)"
    return (
        f"Sample {sample + 1} of {batch}: its error J = {J:.4g} "
        f"({net.loss.name} loss; batch E = {trace.loss:.4g})"
    )
