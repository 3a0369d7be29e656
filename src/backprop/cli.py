"""The ``backprop`` command line.

    backprop demo [xor|sin|moons]    train on a built-in dataset and show what was learned

Bad usage exits with status 2 and a one-line message on stderr.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import numpy as np

from . import datasets
from .network import Network
from .optimizers import SGD, Adam
from .training import fit


class UsageError(Exception):
    """A mistake in what the user asked for: reported in one line, exit status 2."""


def _demo_xor(seed: int) -> str:
    data = datasets.xor()
    net = Network([2, 4, 1], hidden="sigmoid", output="sigmoid", loss="squared", seed=seed)
    history = fit(net, data.X, data.y, epochs=5000, batch_size=None, optimizer=SGD(lr=2.0))
    outputs = net.predict(data.X)[:, 0]
    lines = [
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


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="backprop", description="Backpropagation written out, and made fast."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="train on a built-in dataset and show the result")
    demo.add_argument("dataset", nargs="?", default="xor", choices=sorted(DEMOS))
    demo.add_argument("--seed", type=int, default=0, help="seed for initialisation and data")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "demo":
            print(DEMOS[args.dataset](args.seed))
    except (UsageError, ValueError, TypeError, OSError) as error:
        print(f"backprop: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
