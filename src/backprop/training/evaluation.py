"""The loss and metrics of a network on held-out data, computed on the network's backend and
read once."""

from __future__ import annotations

from collections.abc import Sequence

from ..engine.delta_rule import batch_error, forward
from ..engine.validation import check_X, check_Y

CLASSIFICATION_LOSSES = ("log_loss", "cross_entropy")
CHUNK = 4096


def evaluate(net, X, Y, metrics: Sequence[str] = (), *, _checked: bool = False) -> dict:
    """Loss and metrics of ``net`` on (X, Y), with keys ``val_loss``, ``val_<metric>``.

    >>> import backprop as bp
    >>> X, y = bp.datasets.xor()[:2]
    >>> sorted(evaluate(bp.Network([2, 3, 1], loss="log_loss", seed=0), X, y, ["accuracy"]))
    ['val_accuracy', 'val_loss']
    """
    xp = net.xp
    if not _checked:
        X = xp.asarray(check_X(net._to_host(X), net.n_inputs, net.dtype))
        Y = xp.asarray(check_Y(net._to_host(Y), X.shape[0], net.n_outputs, net.loss, net.dtype))
    outputs = xp.empty((X.shape[0], net.n_outputs), net.dtype)
    total = 0.0
    for start in range(0, X.shape[0], CHUNK):
        rows = slice(start, start + CHUNK)
        work = net.workspace(X[rows].shape[0])
        work.set_scale(None)
        outputs[rows] = forward(net, work, X[rows])
        total = total + xp.scalar(batch_error(net, work, Y[rows])) * work.n
    logs = {"val_loss": float(total) / X.shape[0]}
    for name in metrics:
        logs[f"val_{name}"] = float(METRICS[name](xp, net, outputs, Y))
    return logs


def _accuracy(xp, net, outputs, Y):
    if net.n_outputs == 1 or net.output_activation.name == "sigmoid":
        return ((outputs > 0.5) == (Y > 0.5)).mean()
    return (outputs.argmax(axis=1) == Y.argmax(axis=1)).mean()


METRICS = {
    "accuracy": _accuracy,
    "mae": lambda xp, net, outputs, Y: xp.abs(outputs - Y).mean(),
    "mse": lambda xp, net, outputs, Y: ((outputs - Y) ** 2).mean(),
}


def check_metrics(net, metrics) -> list[str]:
    """The metric names to compute: ``metrics`` checked, or accuracy for classification."""
    if metrics is None:
        return ["accuracy"] if net.loss.name in CLASSIFICATION_LOSSES else []
    unknown = [m for m in metrics if m not in METRICS]
    if unknown:
        raise ValueError(f"unknown metric {unknown[0]!r}; known: {', '.join(METRICS)}")
    return list(metrics)
