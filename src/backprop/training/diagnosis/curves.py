"""Checks on the loss curves: where the loss started, where it ended, and how it got there.

Each check compares a change in the loss with the progress training made, ``loss[0] − min``,
rather than with the loss itself: near a loss of zero, the noise of mini-batches is a large
share of the loss and a small share of what was learned.
"""

from __future__ import annotations

import numpy as np

from .evidence import Evidence, capital
from .finding import Finding

HEALTHY_RATIO = 1e-3  # ‖ΔW‖/‖W‖ per update of a network learning at a good pace
CHANCE_SHARE = 0.9  # a loss that ends above 90% of the chance-level loss learned nothing
INITIAL_FACTOR = 2.0  # a first epoch above twice the chance-level loss started far from it
GIVEN_BACK = 0.2  # rising at the end: a fifth of the progress lost again
SWING = 0.05  # oscillating: the typical epoch-to-epoch change, as a share of the progress
FLAT = 0.01  # flat: the loss moved less than 1% from where it started
STILL_FALLING = 0.01  # more epochs: the last tenth of training still took 1% off,
PACE = 5e-4  # at more than 0.05% of the first epoch's loss per epoch
OVERFIT_RISE = 0.1  # overfitting: the validation loss gave back a tenth of its progress


def chance_level(evidence: Evidence, explained: bool) -> Finding | None:
    """The loss ends near the loss of outputs that ignore the input: nothing was learned."""
    chance = evidence.chance_loss
    if chance is None:
        return None
    level, written, meaning = chance
    end = evidence.recent_loss
    if end < CHANCE_SHARE * level:
        return None
    accuracy = ""
    if evidence.val_accuracy.size:
        accuracy = f", validation accuracy {evidence.val_accuracy[-1]:.0%}"
    if explained:
        advice = "The findings that follow say why."
    else:
        advice = (
            f"{capital(evidence.unscaled_inputs())}."
            if evidence.unscaled_inputs()
            else "Check that the targets belong to the inputs, then raise the learning rate."
        )
    return Finding(
        "chance_level",
        f"The training loss ended at {end:.4g} (median of the last {evidence.window} epochs"
        f"{accuracy}), not clearly below {written} = {level:.4g}, the loss of {meaning}: the "
        f"network learned nothing from its inputs. {advice}",
    )


def high_initial_loss(evidence: Evidence) -> Finding | None:
    """The first epoch's loss far above the chance-level loss a new network starts near."""
    chance = evidence.chance_loss
    if chance is None:
        return None
    level, written, _ = chance
    first = evidence.loss[0]
    if first <= INITIAL_FACTOR * level:
        return None
    scale = evidence.unscaled_inputs()
    if scale:
        cause = (
            f"the inputs are far from standardised, so the first outputs were confidently "
            f"wrong: {scale}"
        )
    else:
        rms = evidence.input_rms
        size = f" (root mean square {rms:.3g})" if np.isfinite(rms) else ""
        cause = (
            f"the inputs are of ordinary size{size}, so the first updates overshot: lower the "
            f"learning rate"
        )
    return Finding(
        "high_initial_loss",
        f"The first epoch's loss, {first:.4g}, is {first / level:.3g} times {written} = "
        f"{level:.4g}, near which a newly initialised network starts: {cause}.",
    )


def unstable(evidence: Evidence) -> Finding | None:
    """The loss rises at the end, or swings from epoch to epoch, by much of its progress."""
    loss = evidence.loss
    lowest = loss.min()
    progress = max(loss[0] - lowest, 1e-12 * abs(loss[0]), 1e-300)
    end = evidence.recent_loss
    rising = end > 1.5 * lowest and end - lowest > GIVEN_BACK * progress
    half = loss[loss.size // 2 :]
    step = np.median(np.abs(np.diff(half)))
    rises = (np.diff(loss) > 0).mean()
    swinging = rises > 0.3 and step > 0.1 * np.median(half) and step > SWING * progress
    if not (rising or swinging):
        return None
    if rising:
        what = (
            f"rose again at the end (lowest {lowest:.4g}, {end:.4g} over the last "
            f"{evidence.window} epochs)"
        )
    else:
        what = (
            f"swings by {step:.3g} from epoch to epoch (up in {rises:.0%} of them), "
            f"{step / progress:.0%} of what training gained ({loss[0]:.4g} → {lowest:.4g})"
        )
    return Finding("lower_learning_rate", f"The training loss {what}: lower the learning rate.")


def flat(evidence: Evidence) -> Finding | None:
    loss = evidence.loss
    if abs(loss[0] - loss[-1]) > FLAT * abs(loss[0]):
        return None
    scale = evidence.unscaled_inputs()
    ratios = evidence.overall("update_ratio")
    ratio = np.nanmax(ratios) if np.isfinite(ratios).any() else np.nan
    if scale:
        advice = scale
    elif ratio < HEALTHY_RATIO:
        advice = (
            f"raise the learning rate (no layer's weights changed by more than {ratio:.2g} of "
            f"their norm per update, against a healthy ~{HEALTHY_RATIO:g})"
        )
    elif np.isfinite(ratio):
        advice = (
            f"the weights do move (up to {ratio:.2g} of their norm per update) yet the loss "
            f"does not: check that the targets belong to the inputs"
        )
    else:
        advice = "scale the inputs (standardise each feature) or raise the learning rate"
    return Finding(
        "flat_loss",
        f"The training loss stayed flat ({loss[0]:.4g} → {loss[-1]:.4g}): {advice}.",
    )


def still_falling(evidence: Evidence) -> Finding | None:
    """The loss fell in every one of the last epochs, at a pace that still matters."""
    loss = evidence.loss
    tail = max(2, loss.size // 10)
    recent = loss[-tail - 1 :]
    falling = np.all(np.diff(recent) < 0)
    drop = (recent[0] - recent[-1]) / max(abs(recent[0]), 1e-12)
    pace = (recent[0] - recent[-1]) / tail / max(abs(loss[0]), 1e-12)  # per epoch
    settled = loss[-1] < 1e-2 * loss[0]  # already a hundredfold down: good enough
    if falling and drop > STILL_FALLING and pace > PACE and not settled:
        return Finding(
            "more_epochs",
            f"The training loss was still falling at the end ({drop:.1%} over the last "
            f"{tail} epochs): train for more epochs.",
        )
    return None


def overfitting(evidence: Evidence) -> Finding | None:
    """Validation loss far above the training loss, and risen from its best by much of what it
    had gained (both read from the running median over the window, which the noise of a
    validation loss near zero does not move)."""
    loss, val = evidence.loss, evidence.val_loss
    if val.size < 3 or not np.isfinite(val).all():
        return None
    smooth = np.array(
        [np.median(val[max(0, i + 1 - evidence.window) : i + 1]) for i in range(val.size)]
    )
    best, end = smooth.min(), smooth[-1]
    far_above = end > 1.5 * loss[-1] and end - loss[-1] > 1e-3
    gained = max(val[0] - best, 0.0)
    rising = end > 1.1 * best and end - best > OVERFIT_RISE * gained
    if not (far_above and rising):
        return None
    return Finding(
        "overfitting",
        f"The training loss ({loss[-1]:.4g}) is far below the validation loss ({end:.4g}, "
        f"median of the last {evidence.window} epochs), which rose from its best ({best:.4g} "
        f"around epoch {int(smooth.argmin()) + 1}): regularise (l2, dropout) or use early "
        f"stopping.",
    )
