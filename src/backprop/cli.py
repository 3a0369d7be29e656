"""The ``backprop`` command line.

    backprop demo [xor|sin|moons]    train on a built-in dataset and show what was learned
    backprop explain NETWORK.json --input 0.05,0.10 --target 0.01,0.99 --lr 0.5
                                     one backpropagation iteration written out with numbers

Bad usage exits with status 2 and a one-line message on stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from . import datasets
from .network import Layer, Network
from .optimizers import SGD, Adam
from .single_layer import Perceptron
from .training import fit


class UsageError(Exception):
    """A mistake in what the user asked for: reported in one line, exit status 2."""


def _single_layer_story(seed: int) -> list[str]:
    lines = ["A single threshold unit (Rosenblatt's perceptron rule, at most 100 epochs):", ""]
    for name, data in (
        ("AND", datasets.and_gate()),
        ("OR", datasets.or_gate()),
        ("XOR", datasets.xor()),
    ):
        perceptron = Perceptron(seed=seed).fit(data.X, data.y, epochs=100)
        correct = int((perceptron.predict(data.X) == data.y).sum())
        verdict = (
            f"learned in {len(perceptron.errors)} epochs"
            if perceptron.converged
            else "never converges: no straight line separates XOR's classes"
        )
        lines.append(f"  {name:<4} {correct} of 4 correct, {verdict}")
    lines += ["", "Two layers, trained by backpropagation, do what one cannot:", ""]
    return lines


def _demo_xor(seed: int) -> str:
    data = datasets.xor()
    net = Network([2, 4, 1], hidden="sigmoid", output="sigmoid", loss="squared", seed=seed)
    history = fit(net, data.X, data.y, epochs=5000, batch_size=None, optimizer=SGD(lr=2.0))
    outputs = net.predict(data.X)[:, 0]
    lines = _single_layer_story(seed) + [
        "XOR, learned by a 2-4-1 sigmoid network with batch gradient descent"
        " (lr 2.0, squared loss)",
        "",
        f"  {'x1':>3} {'x2':>3}   target   output",
    ]
    for (x1, x2), target, output in zip(data.X, data.y, outputs, strict=True):
        lines.append(f"  {x1:>3.0f} {x2:>3.0f}   {target:>6d}   {output:.4f}")
    lines += ["", _loss_line(history.loss), _accuracy_line(net.predict_classes(data.X), data.y)]
    return "\n".join(lines)


def _demo_sin(seed: int) -> str:
    data = datasets.sin(n_samples=200)
    net = Network([1, 16, 1], hidden="tanh", output="identity", loss="squared", seed=seed)
    history = fit(net, data.X, data.y, epochs=300, batch_size=16, optimizer=Adam(lr=0.01))
    probe = np.linspace(-np.pi, np.pi, 9).reshape(-1, 1)
    fitted = net.predict(probe)[:, 0]
    lines = [
        "sin(x) on [-pi, pi], fitted by a 1-16-1 tanh network (Adam, mini-batches of 16)",
        "",
        f"  {'x':>6}   {'sin x':>7}   {'network':>7}",
    ]
    for x, y in zip(probe[:, 0], fitted, strict=True):
        lines.append(f"  {x:>6.3f}   {np.sin(x):>7.4f}   {y:>7.4f}")
    lines += ["", _loss_line(history.loss)]
    return "\n".join(lines)


def _demo_moons(seed: int) -> str:
    data = datasets.two_moons(n_samples=400, noise=0.15, seed=seed)
    net = Network([2, 16, 16, 2], hidden="relu", output="softmax", loss="cross_entropy", seed=seed)
    history = fit(
        net,
        data.X,
        data.y,
        epochs=200,
        batch_size=32,
        optimizer=Adam(lr=0.01),
        validation_split=0.25,
    )
    lines = [
        "two moons, learned by a 2-16-16-2 ReLU network with softmax + cross-entropy (Adam)",
        "",
        _loss_line(history.loss),
        f"validation accuracy: {history.val_accuracy[-1]:.1%} of {round(0.25 * 400)} held-out"
        " points",
    ]
    return "\n".join(lines)


DEMOS = {"xor": _demo_xor, "sin": _demo_sin, "moons": _demo_moons}


def _loss_line(losses: list[float]) -> str:
    marks = sorted({0, len(losses) // 10, len(losses) // 2, len(losses) - 1})
    shown = ", ".join(f"epoch {i + 1}: {losses[i]:.5f}" for i in marks)
    return f"training loss  {shown}"


def _accuracy_line(predicted, target) -> str:
    correct = int((np.asarray(predicted) == np.asarray(target)).sum())
    return f"correct: {correct} of {len(target)}"


def load_network_spec(path: str | Path) -> Network:
    """A float64 network from a JSON file ``{"loss": ..., "layers": [{"activation", "W", "b"}]}``.

    W of layer l has shape (n_out, n_in), rows in the order of the units; n_in of the first
    layer is the number of inputs.
    """
    path = Path(path)
    try:
        spec = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise UsageError(f"{path}: not a readable JSON network file ({error})") from None
    layers = spec.get("layers") if isinstance(spec, dict) else None
    if not isinstance(layers, list) or not layers:
        raise UsageError(f'{path}: needs a non-empty "layers" list')
    shapes = []
    for l, layer in enumerate(layers, start=1):
        try:
            W = np.asarray(layer["W"], dtype=float)
            b = np.asarray(layer["b"], dtype=float)
            activation = layer.get("activation", "sigmoid")
        except (KeyError, TypeError, ValueError) as error:
            raise UsageError(f"{path}: layer {l} needs numeric W and b ({error})") from None
        if W.ndim != 2 or b.shape != (W.shape[0],):
            raise UsageError(f"{path}: layer {l}: W must be (n_out, n_in) and b (n_out,)")
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


def _numbers(text: str, option: str) -> list[float]:
    try:
        return [float(part) for part in text.split(",")]
    except ValueError:
        raise UsageError(f"{option} must be comma-separated numbers, got {text!r}") from None


def _explain(args) -> str:
    net = load_network_spec(args.network)
    X, Y = [_numbers(args.input, "--input")], [_numbers(args.target, "--target")]
    if args.lr is not None and not args.lr > 0:
        raise UsageError(f"--lr must be > 0, got {args.lr}")
    trace = net.backprop(X, Y)
    text = trace.explain(args.format, precision=args.precision, lr=args.lr)
    if args.steps:
        if args.lr is None:
            raise UsageError("--steps needs --lr")
        losses = [trace.loss]
        for _ in range(args.steps):
            fit(net, X, Y, epochs=1, batch_size=None, optimizer=SGD(lr=args.lr))
            losses.append(net.backprop(X, Y).loss)
        rows = "\n".join(
            f"  {step:>5}   {loss:.{args.precision}g}" for step, loss in enumerate(losses)
        )
        text += f"\nError over {args.steps} iterations (η = {args.lr:g}):\n   step   E\n{rows}\n"
    return text


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="backprop", description="Backpropagation written out, and made fast."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="train on a built-in dataset and show the result")
    demo.add_argument("dataset", nargs="?", default="xor", choices=sorted(DEMOS))
    demo.add_argument("--seed", type=int, default=0, help="seed for initialisation and data")
    explain = commands.add_parser(
        "explain", help="write one backpropagation iteration out with the numbers substituted"
    )
    explain.add_argument(
        "network", help='JSON file: {"loss": ..., "layers": [{"activation", "W", "b"}]}'
    )
    explain.add_argument("--input", required=True, help="one input vector, e.g. 0.05,0.10")
    explain.add_argument("--target", required=True, help="its target, e.g. 0.01,0.99")
    explain.add_argument("--lr", type=float, default=None, help="learning rate for the update step")
    explain.add_argument("--format", choices=["text", "markdown", "latex"], default="text")
    explain.add_argument("--precision", type=int, default=6, help="significant digits shown")
    explain.add_argument("--steps", type=int, default=0, help="continue N iterations, tabulate E")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "demo":
            print(DEMOS[args.dataset](args.seed))
        elif args.command == "explain":
            print(_explain(args), end="")
    except (UsageError, ValueError, TypeError, OSError) as error:
        print(f"backprop: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
