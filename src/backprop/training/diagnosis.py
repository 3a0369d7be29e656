"""Read a training History and say what to change.

``history.diagnose()`` looks for five patterns in what training recorded:

=====================  ==========================================  ===========================
code                   what the curves show                        what to change
=====================  ==========================================  ===========================
more_epochs            the loss is still falling at the end        train for more epochs
lower_learning_rate    the loss oscillates or rises                lower the learning rate
vanishing_gradients    early layers get far smaller deltas         ReLU hidden units, He init
overfitting            training loss far below validation loss     regularise (l2, dropout),
                                                                   early stopping
flat_loss              the loss barely moved from the start        scale the inputs, raise
                                                                   the learning rate
=====================  ==========================================  ===========================

>>> import backprop as bp
>>> X, y = bp.datasets.two_moons(n_samples=300, seed=0)[:2]
>>> net = bp.Network([2, 16, 1], hidden="tanh", loss="log_loss", seed=0)
>>> history = net.fit(X, y, epochs=15, optimizer=bp.SGD(lr=0.05), warn=False)
>>> [finding.code for finding in history.diagnose()]
['more_epochs']
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class ConvergenceWarning(UserWarning):
    """Training ended while the curves still show a problem (see ``History.diagnose``)."""


class Finding(NamedTuple):
    code: str
    message: str

    def __str__(self) -> str:
        return self.message


def diagnose(history) -> list[Finding]:
    """The problems the recorded curves show, most urgent first (empty when none)."""
    loss = np.asarray(history.records.get("loss", []), dtype=float)
    if loss.size < 3 or not np.isfinite(loss).all():
        return []
    findings = []
    checks = (_unstable, _flat, _still_falling, _overfitting)
    for check in checks:
        finding = check(loss, history)
        if finding is not None:
            findings.append(finding)
    vanishing = _vanishing(history)
    if vanishing is not None:
        findings.append(vanishing)
    if any(f.code == "flat_loss" for f in findings):  # a flat curve is not "still falling"
        findings = [f for f in findings if f.code != "more_epochs"]
    return findings


def _unstable(loss, history) -> Finding | None:
    rises = (np.diff(loss) > 0).mean()
    half = loss[loss.size // 2 :]
    swing = np.median(np.abs(np.diff(half))) / max(np.median(half), 1e-12)
    rising_at_end = loss[-1] > 1.5 * loss.min()
    settled = np.median(half) < 0.01 * loss[0]  # noise on a loss near zero is harmless
    if rising_at_end or (rises > 0.3 and swing > 0.1 and not settled):
        what = (
            "rose"
            if rising_at_end
            else f"swings by {swing:.0%} from epoch to epoch (up in {rises:.0%} of them)"
        )
        return Finding(
            "lower_learning_rate",
            f"The training loss {what} (lowest {loss.min():.4g}, last {loss[-1]:.4g}): "
            f"lower the learning rate.",
        )
    return None


def _flat(loss, history) -> Finding | None:
    if abs(loss[0] - loss[-1]) <= 0.01 * abs(loss[0]):
        return Finding(
            "flat_loss",
            f"The training loss stayed flat ({loss[0]:.4g} → {loss[-1]:.4g}): scale the inputs "
            f"(standardise each feature) or raise the learning rate.",
        )
    return None


def _still_falling(loss, history) -> Finding | None:
    tail = max(2, loss.size // 10)
    recent = loss[-tail - 1 :]
    falling = np.all(np.diff(recent) < 0)
    drop = (recent[0] - recent[-1]) / max(abs(recent[0]), 1e-12)
    settled = loss[-1] < 1e-2 * loss[0]  # already a hundredfold down: good enough
    if falling and drop > 0.01 and not settled:
        return Finding(
            "more_epochs",
            f"The training loss was still falling at the end ({drop:.1%} over the last "
            f"{tail} epochs): train for more epochs.",
        )
    return None


def _overfitting(loss, history) -> Finding | None:
    val = np.asarray(history.records.get("val_loss", []), dtype=float)
    if val.size < 3 or not np.isfinite(val).all():
        return None
    far_below = val[-1] > 1.5 * loss[-1] and val[-1] - loss[-1] > 1e-3
    val_rising = val[-1] > 1.1 * val.min()
    if far_below and val_rising:
        return Finding(
            "overfitting",
            f"The training loss ({loss[-1]:.4g}) is far below the validation loss "
            f"({val[-1]:.4g}), which rose from its best ({val.min():.4g} at epoch "
            f"{int(val.argmin()) + 1}): regularise (l2, dropout) or use early stopping.",
        )
    return None


def _vanishing(history) -> Finding | None:
    deltas = np.asarray(history.layer_records.get("mean_abs_delta", []), dtype=float)
    if deltas.ndim != 2 or deltas.shape[1] < 3 or not np.isfinite(deltas).all():
        return None
    first, last = deltas[:, 0].mean(), deltas[:, -1].mean()
    if last > 0 and first < 1e-2 * last:
        return Finding(
            "vanishing_gradients",
            f"The first layer's deltas are {first / last:.1e} times the output layer's: the "
            f"gradients vanish on the way back. Use ReLU hidden units with He initialisation "
            f"(or fewer layers).",
        )
    return None
