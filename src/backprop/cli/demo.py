"""``backprop demo``: train on a built-in dataset and show what was learned."""

from __future__ import annotations

import numpy as np

from .. import datasets
from ..engine.network import Network
from ..single_layer import Perceptron
from ..training import fit
from ..training.optimizers import SGD, Adam
from .files import Output
from .pictures import picture_folder, save_figures

ONE_UNIT = "XOR: one perceptron, one straight line"
TWO_LAYERS = "XOR: a 2-4-1 sigmoid network"


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


def demo_xor(seed: int, plots: str | None = None) -> str:
    """The perceptron failing XOR, then a 2-4-1 network learning it; pictures into ``plots``."""
    folder = _picture_folder(plots) if plots else None
    data = datasets.xor()
    net = Network([2, 4, 1], hidden="sigmoid", output="sigmoid", loss="squared", seed=seed)
    history = fit(
        net, data.X, data.y, epochs=5000, batch_size=None, optimizer=SGD(lr=2.0), warn=False
    )
    pictures = _xor_pictures(folder, seed, net, history, data) if folder else None
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
    if pictures:
        lines.append(pictures)
    return "\n".join(lines)


XOR_PICTURES = ["xor_two_layers.png", "xor_perceptron.png", "xor_history.png"]


def _picture_folder(folder: str) -> list[Output] | str:
    """The checked picture files in ``folder``, or a hint when matplotlib is not installed."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return 'For the pictures: pip install "backprop[plot]"'
    return picture_folder("--plots", folder, XOR_PICTURES)


def _xor_pictures(pictures: list[Output] | str, seed: int, net: Network, history, data) -> str:
    """Save the decision regions of the perceptron and of the two-layer network."""
    if isinstance(pictures, str):
        return pictures
    two_layers, one_unit, curve = pictures
    perceptron = Perceptron(seed=seed).fit(data.X, data.y, epochs=100)
    save_figures(
        {
            two_layers: ("decision_regions", (net, data.X, data.y), {"title": TWO_LAYERS}),
            one_unit: ("decision_regions", (perceptron, data.X, data.y), {"title": ONE_UNIT}),
            curve: ("history", (history,), {"title": "XOR: the 2-4-1 network's loss"}),
        }
    )
    return f"Pictures: {', '.join(picture.shown for picture in pictures)}"


def demo_sin(seed: int, plots: str | None = None) -> str:
    """A 1-16-1 tanh network fitting sin(x), tabulated at nine points."""
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


def demo_moons(seed: int, plots: str | None = None) -> str:
    """A softmax network on two moons, scored on a held-out quarter."""
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


DEMOS = {"xor": demo_xor, "sin": demo_sin, "moons": demo_moons}


def _loss_line(losses: list[float]) -> str:
    marks = sorted({0, len(losses) // 10, len(losses) // 2, len(losses) - 1})
    shown = ", ".join(f"epoch {i + 1}: {losses[i]:.5f}" for i in marks)
    return f"training loss  {shown}"


def _accuracy_line(predicted, target) -> str:
    correct = int((np.asarray(predicted) == np.asarray(target)).sum())
    return f"correct: {correct} of {len(target)}"
