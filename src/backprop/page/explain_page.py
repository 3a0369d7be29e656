"""One backpropagation iteration as a page: ``backprop explain --html`` and ``trace.to_html``.

The page draws the network (units with z and a, edges with their weights, biases) and steps
through the iterations as ``backprop.explain.steps`` writes them: forward pass unit by unit, the
error, the output deltas, each hidden delta by the delta rule, each ∂E/∂w and ∂E/∂b, each
update; then the next iteration, and after the last one the forward pass and error of the
network it leaves. Each step highlights the units and edges it involves and shows its formula
with the numbers substituted; any unit, edge or bias shows its own formulas. Inputs, targets,
weights, biases and η can be changed on the page, which recomputes every number at once in
float64 (``assets/backprop.js``), the arithmetic of a float64 network in the engine.

The page holds the network's parameters and the sample as JSON, with the activations'
symbols and the loss's formula as ``Activation`` and ``Loss`` write them. It draws chains of up
to ``MAX_LAYERS`` layers of at most ``MAX_UNITS`` units each, for one sample; larger networks,
other topologies and functions the page does not compute are refused with a ValueError.

>>> import backprop as bp
>>> net = bp.Network([2, 2, 2], dtype="float64")
>>> net.layers[1].W = [[0.15, 0.20], [0.25, 0.30]]; net.layers[1].b = [0.35, 0.35]
>>> net.layers[2].W = [[0.40, 0.45], [0.50, 0.55]]; net.layers[2].b = [0.60, 0.60]
>>> trace = net.backprop([[0.05, 0.10]], [[0.01, 0.99]])
>>> data = page_data(trace, lr=0.5, iterations=2)
>>> data["network"]["layers"][0]["W"], data["iterations"]
([[0.15, 0.2], [0.25, 0.3]], 2)
>>> bp.Network([2, 7, 1]).backprop([[0.0, 1.0]], [[1.0]]).to_html("net.html", lr=0.1)
Traceback (most recent call last):
    ...
ValueError: the page draws at most 6 units per layer; layer 1 has 7 (backprop explain without ...
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from ..io.atomic import atomic_write
from .html import asset, inline_page

ACTIVATIONS = ("identity", "sigmoid", "tanh", "relu", "softplus", "softmax")
LOSSES = ("squared", "log_loss", "cross_entropy", "absolute")
MAX_UNITS = 6
MAX_LAYERS = 4
MAX_ITERATIONS = 100
FLOAT64_DIGITS = 16  # the page computes in float64, whatever the trace's dtype


def check_drawable(trace) -> None:
    """A ValueError naming what stops ``trace`` from being shown on a page, if anything."""
    net = trace.network
    if trace.a[0].shape[0] != 1:
        raise ValueError(
            f"the page shows one sample; this trace has a batch of {trace.a[0].shape[0]}"
        )
    if net.n_layers > MAX_LAYERS:
        raise ValueError(
            f"the page draws at most {MAX_LAYERS} layers; this network has {net.n_layers}"
        )
    widths = [trace.a[0].shape[1]] + [layer.W.shape[0] for layer in net.layers[1:]]
    for l, width in enumerate(widths):
        if width > MAX_UNITS:
            where = "the input" if l == 0 else f"layer {l}"
            raise ValueError(
                f"the page draws at most {MAX_UNITS} units per layer; {where} has {width} "
                "(backprop explain without --html writes larger networks out, summarised)"
            )
    for layer in net.layers[1:]:
        if layer.inputs is not None and layer.inputs != (layer.index - 1,):
            raise ValueError(
                f"the page draws chains of layers; layer {layer.index} reads {layer.inputs}"
            )
        name = layer.activation.name
        if name not in ACTIVATIONS or (name == "softmax" and layer.index != net.n_layers):
            raise ValueError(
                f"layer {layer.index}: the page computes {', '.join(ACTIVATIONS)} (softmax on "
                f"the output layer only), not {name}"
            )
    if net.loss.name not in LOSSES:
        raise ValueError(f"the page computes the losses {', '.join(LOSSES)}, not {net.loss.name}")
    if not np.allclose(trace.scale, 1.0):
        raise ValueError("the page shows a sample of weight 1; this trace has a sample weight")


def _check_settings(lr: float, iterations: int, precision: int) -> None:
    if not (isinstance(lr, (int, float)) and math.isfinite(lr) and lr > 0):
        raise ValueError(f"lr must be a finite number > 0, got {lr!r}")
    if not (isinstance(iterations, int) and 1 <= iterations <= MAX_ITERATIONS):
        raise ValueError(
            f"iterations must be a whole number in 1..{MAX_ITERATIONS}, got {iterations!r}"
        )
    if not (isinstance(precision, int) and 1 <= precision <= FLOAT64_DIGITS):
        raise ValueError(
            f"precision must be a whole number of digits in 1..{FLOAT64_DIGITS}, got {precision!r}"
        )


def _vector(values) -> str:
    return "(" + ", ".join(f"{float(value):g}" for value in values) + ")"


def page_data(trace, lr: float, iterations: int = 1, precision: int = 6) -> dict:
    """The JSON the page reads: the network, the sample, η, the number of iterations."""
    check_drawable(trace)
    _check_settings(lr, iterations, precision)
    trace = trace.to_host()
    net = trace.network
    layers = []
    for l, layer in enumerate(net.layers[1:], start=1):
        layers.append(
            {
                "activation": layer.activation.name,
                "symbol": layer.activation.symbol,
                "derivative_text": layer.activation.derivative_text,
                "W": np.asarray(trace.W[l], dtype=float).tolist(),
                "b": np.asarray(trace.b[l], dtype=float).tolist(),
                "train_weights": layer.trains("W"),
                "train_bias": layer.trains("b"),
            }
        )
    loss = net.loss
    text = loss.text.partition("=")[2].strip() if loss.text.startswith("E =") else loss.text
    sizes = "-".join(str(width) for width in [trace.a[0].shape[1], *(len(x["b"]) for x in layers)])
    x, y = trace.a[0][0], trace.Y[0]
    plural = "s" if iterations > 1 else ""
    summary = (
        f"A {sizes} network ({', '.join(x['activation'] for x in layers)}; {loss.name} loss), "
        f"input x = {_vector(x)}, target y = {_vector(y)}, learning rate η = {lr:g}: "
        f"{iterations} iteration{plural}, then the forward pass with the new weights."
    )
    return {
        "network": {
            "layers": layers,
            "loss": {
                "name": loss.name,
                "canonical": loss.canonical,
                "text": text,
                "gradient_text": loss.gradient_text,
            },
        },
        "input": np.asarray(x, dtype=float).tolist(),
        "target": np.asarray(y, dtype=float).tolist(),
        "lr": float(lr),
        "iterations": iterations,
        "precision": precision,
        "max_precision": FLOAT64_DIGITS,
        "summary": summary,
    }


def explain_html(trace, lr: float, iterations: int = 1, precision: int = 6) -> str:
    """The page's HTML, one self-contained file; see the module docstring."""
    data = page_data(trace, lr, iterations, precision)
    scripts = ["backprop.js", "network.js", "explain.js", "explain_view.js"]
    title = "Backpropagation, step by step"
    return inline_page(title, asset("explain.html"), ["network.css", "explain.css"], scripts, data)


def to_html(
    trace, path: str | os.PathLike, lr: float, iterations: int = 1, precision: int = 6
) -> Path:
    """Write the page of ``trace`` to ``path`` (atomically) and return the path."""
    page = explain_html(trace, lr, iterations, precision)
    atomic_write(os.fspath(path), page.encode("utf-8"))
    return Path(path)
