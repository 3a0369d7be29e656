"""``backprop explain``: one backpropagation iteration written out with the numbers substituted.

The network comes from a JSON file ``{"loss": ..., "layers": [{"activation", "W", "b"}]}``;
``--chain L,I,J`` adds the chain rule for the weight wᴸᵢⱼ, ``--nudge L,I,J`` a check of its
gradient by changing it by ``--eps``, ``--steps N`` the error over N more steps. ``--html
PAGE.html`` also writes the iteration as a page to step through (``--steps N`` iterations, at
least one); it replaces only a page backprop wrote.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np

from ..engine.network import Layer, Network
from ..explain import chain_rule_section, error_curve_section, nudge_section, sections, write
from ..io.tabular import check_regular_file
from ..page import MAX_ITERATIONS, is_backprop_page, to_html
from .errors import UsageError
from .files import Output, check_own_output
from .pictures import check_picture_out, save_figures


def load_network_spec(path: str | Path) -> Network:
    """A float64 network from a JSON file ``{"loss": ..., "layers": [{"activation", "W", "b"}]}``.

    W of layer l has shape (n_out, n_in), rows in the order of the units; n_in of the first
    layer is the number of inputs. A layer may also give ``"inputs"`` (the earlier layers it
    reads, 0 being the input) with ``"combine"`` (``"concat"`` or ``"sum"``), and
    ``"train_weights": false`` or ``"train_bias": false`` to hold its W or b fixed.
    """
    path = Path(path)
    spec = _read_json(path)
    layers = spec.get("layers") if isinstance(spec, dict) else None
    if not isinstance(layers, list) or not layers:
        raise UsageError(f'{path}: needs a non-empty "layers" list')
    parsed = [_layer_spec(path, l, layer) for l, layer in enumerate(layers, start=1)]
    sizes = [parsed[0][0].shape[1]] + [W.shape[0] for W, _, _ in parsed]
    for l, (W, _, options) in enumerate(parsed, start=1):
        expected = _input_width(sizes, l, options)
        if expected is not None and W.shape[1] != expected:
            below = "its inputs have" if options.get("inputs") else f"layer {l - 1} has"
            raise UsageError(
                f"{path}: layer {l} has {W.shape[1]} inputs but {below} {expected} units"
            )
    try:
        net = Network(
            [sizes[0], *(Layer(W.shape[0], **options) for W, _, options in parsed)],
            loss=spec.get("loss", "squared"),
            dtype="float64",
        )
        for l, (W, b, _) in enumerate(parsed, start=1):
            net.layers[l].W, net.layers[l].b = W, b
    except (TypeError, ValueError) as error:
        raise UsageError(f"{path}: {error}") from None
    return net


def _input_width(sizes: list[int], l: int, options: dict) -> int | None:
    """The width of layer l's input u, or None where the sources do not say (the network
    constructor then names what is wrong)."""
    sources = options.get("inputs") or [l - 1]
    if not all(isinstance(s, int) and 0 <= s < l for s in sources):
        return None
    widths = [sizes[s] for s in sources]
    return widths[0] if options.get("combine") == "sum" else sum(widths)


def _read_json(path: Path):
    check_regular_file(path, "JSON network file")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise UsageError(f"{path}: not a readable JSON network file ({error})") from None
    except RecursionError:
        raise UsageError(f"{path}: the JSON is nested too deeply for a network file") from None


_LAYER_OPTIONS = ("activation", "inputs", "combine", "train_weights", "train_bias")


def _layer_spec(path: Path, l: int, layer) -> tuple[np.ndarray, np.ndarray, dict]:
    """(W, b, the Layer's options) of layer ``l``, W of shape (n_out, n_in), b of (n_out,)."""
    try:
        W = np.asarray(layer["W"], dtype=float)
        b = np.asarray(layer["b"], dtype=float)
    except (KeyError, TypeError, ValueError) as error:
        raise UsageError(f"{path}: layer {l} needs numeric W and b ({error})") from None
    if W.ndim != 2 or b.shape != (W.shape[0],):
        raise UsageError(f"{path}: layer {l}: W must be (n_out, n_in) and b (n_out,)")
    unknown = sorted(set(layer) - {"W", "b", *_LAYER_OPTIONS})
    if unknown:
        raise UsageError(
            f"{path}: layer {l}: unknown keys {unknown}; known: W, b, {', '.join(_LAYER_OPTIONS)}"
        )
    return W, b, {key: layer[key] for key in _LAYER_OPTIONS if key in layer}


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
    if args.html is not None and args.lr is None:
        raise UsageError("--html needs --lr (the page steps through the update)")
    if args.html is not None and args.steps > MAX_ITERATIONS:
        raise UsageError(
            f"--html shows at most {MAX_ITERATIONS} iterations; --steps is {args.steps}"
        )


def check_page_out(path: str, inputs: dict[str, str]) -> Output:
    """``--html``: an .html file in an existing directory, new or a page backprop wrote."""
    return check_own_output(
        "--html", path, inputs, is_backprop_page, "a page backprop wrote", (".html", ".htm")
    )


def _weight(text: str, option: str, net: Network) -> tuple[int, int, int]:
    """LAYER,I,J as the solution writes wˡᵢⱼ (units from 1) → (l, i, j) indexing W[i, j]."""
    parts = text.split(",")
    if len(parts) != 3 or not all(part.strip().isdigit() for part in parts):
        raise UsageError(f"{option} must be LAYER,I,J (whole numbers, units from 1), got {text!r}")
    l, i, j = (int(part) for part in parts)
    if not 1 <= l <= net.n_layers:
        raise UsageError(f"{option}: layer must be in 1..{net.n_layers}, got {l}")
    n_out, n_in = net.layers[l].W.shape
    if not (1 <= i <= n_out and 1 <= j <= n_in):
        raise UsageError(
            f"{option}: w{l}_ij of layer {l} has i in 1..{n_out} and j in 1..{n_in}, got {i},{j}"
        )
    return l, i - 1, j - 1


def explain_command(args: argparse.Namespace) -> str:
    """The worked iteration in ``args.format``; then, as asked, one weight's chain rule, a
    nudge of it, and the error over ``--steps`` more steps. LaTeX is a complete document."""
    _check_options(args)
    picture = None
    if args.plot is not None:
        picture = check_picture_out("--plot", args.plot, {"network file": args.network})
    page = None
    if args.html is not None:
        others = {"network file": args.network, **({"--plot": args.plot} if args.plot else {})}
        page = check_page_out(args.html, others)
    net = load_network_spec(args.network)
    X, Y = [_numbers(args.input, "--input")], [_numbers(args.target, "--target")]
    chain = _weight(args.chain, "--chain", net) if args.chain else None
    nudged = _weight(args.nudge, "--nudge", net) if args.nudge else None
    if not (math.isfinite(args.eps) and args.eps != 0):
        raise UsageError(f"--eps must be a finite non-zero number, got {args.eps}")
    trace = net.backprop(X, Y)
    parts = sections(trace, lr=args.lr)
    if chain is not None:
        parts.append(chain_rule_section(trace, *chain))
    if nudged is not None:
        parts.append(nudge_section(trace, *nudged, eps=args.eps))
    if args.steps:
        parts.append(error_curve_section(trace, args.lr, args.steps))
    text = write(trace, parts, args.format, args.precision, standalone=args.format == "latex")
    if page is not None:
        to_html(trace, page.real, args.lr, max(1, args.steps), min(args.precision, 16))
    if picture is not None:
        save_figures({picture: ("network", (trace,))})
    return text
