"""``backprop explain``: one backpropagation iteration written out with the numbers substituted.

The network comes from a JSON file ``{"loss": ..., "layers": [{"activation", "W", "b"}]}``.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np

from ..engine.network import Layer, Network
from ..io.tabular import check_regular_file
from ..training import fit
from ..training.optimizers import SGD
from .errors import UsageError
from .pictures import save_figures


def load_network_spec(path: str | Path) -> Network:
    """A float64 network from a JSON file ``{"loss": ..., "layers": [{"activation", "W", "b"}]}``.

    W of layer l has shape (n_out, n_in), rows in the order of the units; n_in of the first
    layer is the number of inputs.
    """
    path = Path(path)
    spec = _read_json(path)
    layers = spec.get("layers") if isinstance(spec, dict) else None
    if not isinstance(layers, list) or not layers:
        raise UsageError(f'{path}: needs a non-empty "layers" list')
    shapes = []
    for l, layer in enumerate(layers, start=1):
        W, b, activation = _layer_spec(path, l, layer)
        if shapes and W.shape[1] != shapes[-1][0]:
            raise UsageError(
                f"{path}: layer {l} has {W.shape[1]} inputs but layer {l - 1} has "
                f"{shapes[-1][0]} units"
            )
        shapes.append((W.shape[0], W, b, activation))
    try:
        net = Network(
            [shapes[0][1].shape[1], *(Layer(n, act) for n, _, _, act in shapes)],
            loss=spec.get("loss", "squared"),
            dtype="float64",
        )
        for l, (_, W, b, _) in enumerate(shapes, start=1):
            net.layers[l].W, net.layers[l].b = W, b
    except (TypeError, ValueError) as error:
        raise UsageError(f"{path}: {error}") from None
    return net


def _read_json(path: Path):
    check_regular_file(path, "JSON network file")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise UsageError(f"{path}: not a readable JSON network file ({error})") from None
    except RecursionError:
        raise UsageError(f"{path}: the JSON is nested too deeply for a network file") from None


def _layer_spec(path: Path, l: int, layer) -> tuple[np.ndarray, np.ndarray, str]:
    """(W, b, activation) of layer ``l``, W of shape (n_out, n_in) and b of shape (n_out,)."""
    try:
        W = np.asarray(layer["W"], dtype=float)
        b = np.asarray(layer["b"], dtype=float)
        activation = layer.get("activation", "sigmoid")
    except (KeyError, TypeError, ValueError) as error:
        raise UsageError(f"{path}: layer {l} needs numeric W and b ({error})") from None
    if W.ndim != 2 or b.shape != (W.shape[0],):
        raise UsageError(f"{path}: layer {l}: W must be (n_out, n_in) and b (n_out,)")
    return W, b, activation


def _numbers(text: str, option: str) -> list[float]:
    try:
        return [float(part) for part in text.split(",")]
    except ValueError:
        raise UsageError(f"{option} must be comma-separated numbers, got {text!r}") from None


def _check_options(args: argparse.Namespace) -> None:
    if args.lr is not None and not (args.lr > 0 and math.isfinite(args.lr)):
        raise UsageError(f"--lr must be a finite number > 0, got {args.lr}")
    if args.precision < 1:
        raise UsageError(f"--precision must be >= 1 significant digit, got {args.precision}")
    if args.steps < 0:
        raise UsageError(f"--steps must be >= 0, got {args.steps}")
    if args.steps and args.lr is None:
        raise UsageError("--steps needs --lr")


def explain_command(args: argparse.Namespace) -> str:
    """The worked iteration in ``args.format``, then the error over ``--steps`` more."""
    _check_options(args)
    net = load_network_spec(args.network)
    X, Y = [_numbers(args.input, "--input")], [_numbers(args.target, "--target")]
    trace = net.backprop(X, Y)
    text = trace.explain(args.format, precision=args.precision, lr=args.lr)
    if args.plot is not None:
        picture = Path(args.plot)
        if picture.suffix.lower() not in (".png", ".svg"):
            raise UsageError(f"--plot must name a .png or .svg file, got {args.plot!r}")
        save_figures(str(picture.parent), {picture.name: ("network", (trace,))})
    if args.steps:
        text += _error_table(net, X, Y, trace.loss, args)
    return text


def _error_table(net: Network, X, Y, first_loss: float, args: argparse.Namespace) -> str:
    """``args.steps`` more gradient steps at ``args.lr``, the error E after each."""
    losses = [first_loss]
    for _ in range(args.steps):
        fit(net, X, Y, epochs=1, batch_size=None, optimizer=SGD(lr=args.lr))
        losses.append(net.backprop(X, Y).loss)
    rows = "\n".join(f"  {step:>5}   {loss:.{args.precision}g}" for step, loss in enumerate(losses))
    return f"\nError over {args.steps} iterations (η = {args.lr:g}):\n   step   E\n{rows}\n"
