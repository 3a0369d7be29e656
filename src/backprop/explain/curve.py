"""The error over many gradient descent steps, as a table that stays short.

``error_curve_section(trace, lr, steps)`` trains a copy of the traced network for ``steps``
full-batch gradient descent steps on the traced batch (parameters held fixed stay fixed) and
tabulates E after each; a long run shows its first rows, a few in between and its last rows,
marking the gaps.

>>> shown_steps(8)
[0, 1, 2, 3, 4, 5, 6, 7, 8]
>>> shown_steps(10000)
[0, 1, 2, 3, 4, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 9998, 9999, 10000]
"""

from __future__ import annotations

from ..training import fit
from ..training.optimizers import SGD
from .data import Number, Prose, Section, Symbol, Table

ALL_ROWS_UP_TO = 20
"""Runs of at most this many steps are tabulated in full."""


def shown_steps(steps: int) -> list[int]:
    """The step numbers a table of ``steps`` steps shows: all of a short run; of a long one the
    first six, 1-2-5 steps in between and the last three."""
    if steps <= ALL_ROWS_UP_TO:
        return list(range(steps + 1))
    last = [steps - 2, steps - 1, steps]
    between = []
    scale = 10
    while scale < last[0]:
        between += [k for k in (scale, 2 * scale, 5 * scale) if 5 < k < last[0]]
        scale *= 10
    return [*range(6), *between, *last]


def error_curve(trace, lr: float, steps: int) -> dict[int, float]:
    """E after 0, 1, …, ``steps`` steps of w ← w − η·∂E/∂w on the traced batch, for the rows
    ``shown_steps`` keeps."""
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be an integer >= 1, got {steps!r}")
    if not lr > 0:
        raise ValueError(f"lr must be > 0, got {lr!r}")
    trace = trace.to_host()
    net = trace.network.copy()
    X, Y, weights = trace.a[0], trace.Y, trace.scale
    history = fit(
        net,
        X,
        Y,
        epochs=steps,
        batch_size=None,
        optimizer=SGD(lr=lr),
        sample_weight=weights,
        warn=False,
    )
    errors = [*history.loss, net.backprop(X, Y, weights).loss]  # loss[k]: E after k steps
    return {step: float(errors[step]) for step in shown_steps(steps)}


def error_curve_section(trace, lr: float, steps: int) -> Section:
    """The table of ``error_curve``: step and E, gaps marked where rows were left out."""
    errors = error_curve(trace, lr, steps)
    rows: list = []
    previous = None
    for step, error in errors.items():
        if previous is not None and step > previous + 1:
            rows.append(None)
        rows.append((Prose(str(step)), Number(error)))
        previous = step
    table = Table(((Prose("step"),), (Symbol("E"),)), tuple(rows))
    kept = "" if len(errors) == steps + 1 else " (the first, some in between and the last)"
    note = (Prose(f"E after each full-batch step{kept}; held-fixed parameters stay fixed."),)
    title = f"Error over {steps} steps, learning rate η = {lr:g}"
    return Section("error_curve", title, None, (note,), table=table)
