"""Checks on the layers: how far each update moves the weights, which units stopped learning,
and how the deltas shrink on the way back.

The statistics are those of each epoch's last batch (``step.layer_statistics``); the checks
read their medians over a window of epochs, and look only at hidden layers for dead and
saturated units (a confident output unit is what training aims for).
"""

from __future__ import annotations

import numpy as np

from ..step import SATURATED_ROWS, SATURATION_MARGIN
from .curves import HEALTHY_RATIO, INITIAL_FACTOR
from .evidence import Evidence, asymptotes_of, capital
from .finding import Finding

LARGE_RATIO = 1e-1  # a hundred times that: each update rewrites a tenth of the weights
SMALL_RATIO = 1e-4  # a tenth of it in every layer, while the loss has not halved
UNITS_SHARE = 0.5  # at least half of a hidden layer's units dead or saturated
VANISHING = 1e-2  # the first layer's deltas below 1% of the output layer's
SHRINKS = {
    "sigmoid": "sigmoid's derivative is at most 0.25",
    "tanh": "tanh's derivative is below 1 wherever z is not 0",
}


def large_updates(evidence: Evidence) -> Finding | None:
    ratios = evidence.overall("update_ratio")
    large = [(i, r) for i, r in enumerate(ratios) if np.isfinite(r) and r > LARGE_RATIO]
    if not large:
        return None
    where = ", ".join(f"{r:.2g} in layer {i + 1}" for i, r in large)
    return Finding(
        "large_updates",
        f"Each update changed the weights by a large share of their norm: ‖ΔW‖/‖W‖ is {where} "
        f"(median over the epochs), against a healthy ~{HEALTHY_RATIO:g}: lower the learning "
        f"rate.",
    )


def small_updates(evidence: Evidence) -> Finding | None:
    ratios = evidence.early("update_ratio")
    if not np.isfinite(ratios).any():
        return None
    largest = np.nanmax(ratios)
    loss = evidence.loss
    if largest >= SMALL_RATIO or loss[-1] < 0.5 * loss[0]:
        return None
    return Finding(
        "small_updates",
        f"No layer's weights changed by more than {largest:.2g} of their norm per update "
        f"(‖ΔW‖/‖W‖, median of the first {evidence.window} epochs; about {HEALTHY_RATIO:g} is "
        f"healthy), and the loss only went from {loss[0]:.4g} to {loss[-1]:.4g}: raise the "
        f"learning rate.",
    )


def dead_units(evidence: Evidence) -> Finding | None:
    dead = evidence.recent("dead_fraction")
    layers = [i for i in evidence.hidden if np.isfinite(dead[i]) and dead[i] >= UNITS_SHARE]
    if not layers:
        return None
    where = " and ".join(f"{evidence.units_of(dead[i], i)} in hidden layer {i + 1}" for i in layers)
    advice = _remedy(
        evidence,
        "one step too large can leave a unit with z ≤ 0 for every input",
        'check the initialisation (init="he" for ReLU units)',
    )
    if any(evidence.activation(i) == "relu" for i in layers):
        advice += " Or use leaky_relu, whose units keep a small slope and cannot die."
    return Finding(
        "dead_units",
        f"Dead units: {where} were never active (f'(z) = 0) on any row of the epoch's last "
        f"batch, as a median over the last {evidence.window} epochs. A dead unit passes no "
        f"gradient back and never recovers. {advice}",
    )


def saturated_units(evidence: Evidence) -> Finding | None:
    saturated = evidence.recent("saturated_fraction")
    layers = [
        i for i in evidence.hidden if np.isfinite(saturated[i]) and saturated[i] >= UNITS_SHARE
    ]
    if not layers:
        return None
    where = " and ".join(
        f"{evidence.units_of(saturated[i], i)} in hidden layer {i + 1} were "
        f"within {SATURATION_MARGIN:g} of {_asymptotes(evidence.activation(i))}"
        for i in layers
    )
    advice = _remedy(
        evidence,
        "large steps grow the weights until |z| is large",
        'start from smaller weights (init="glorot" keeps |z| near 1)',
    )
    advice += " ReLU units do not saturate."
    return Finding(
        "saturated_units",
        f"Saturated units: {where} on {SATURATED_ROWS:.0%} or more of the rows of the epoch's "
        f"last batch, as a median over the last {evidence.window} epochs. There f'(z) is nearly 0, "
        f"so they barely learn. {advice}",
    )


def vanishing_gradients(evidence: Evidence) -> Finding | None:
    deltas = evidence.stats["mean_abs_delta"]
    if deltas.shape[1] < 3 or not np.isfinite(deltas).all():
        return None
    per_layer = deltas.mean(axis=0)
    first, last = per_layer[0], per_layer[-1]
    if not (last > 0 and first < VANISHING * last):
        return None
    shown = ", ".join(f"{d:.2g}" for d in per_layer)
    saturating = evidence.saturating_hidden()
    if saturating:
        shrink = " and ".join(SHRINKS[name] for name in saturating)
        advice = (
            f"{capital(shrink)}, so every layer shrinks the deltas: use ReLU hidden units with "
            f"He initialisation (or fewer layers)."
        )
    elif evidence.activations:
        names = sorted({evidence.activation(i) for i in evidence.hidden})
        advice = (
            f"The hidden units ({', '.join(names)}) do not saturate, so look at the weights: "
            f'use He initialisation (init="he"), fewer layers, or skip connections.'
        )
    else:  # a history that does not say which activations
        advice = (
            "Sigmoid or tanh hidden units: use ReLU with He initialisation. ReLU units: use "
            'He initialisation (init="he"), fewer layers, or skip connections.'
        )
    return Finding(
        "vanishing_gradients",
        f"The first layer's deltas are {first / last:.1e} times the output layer's (mean |δ| "
        f"per layer, first to last: {shown}): the gradients vanish on the way back. {advice}",
    )


def _remedy(evidence: Evidence, why_steps: str, otherwise: str) -> str:
    """What to change for units that stopped learning, as the evidence says: the inputs' scale
    first, then steps that overshot, else ``otherwise``."""
    scale = evidence.unscaled_inputs()
    if scale:
        return capital(scale) + "."
    overshoot = overshoot_evidence(evidence)
    if overshoot:
        return f"Lower the learning rate ({overshoot}): {why_steps}."
    return f"Nothing shows steps too large: {otherwise}."


def overshoot_evidence(evidence: Evidence) -> str | None:
    """Why the first steps look too large, in numbers: a first epoch's loss far above the
    chance level, or a first update ratio far above the healthy one; None when neither."""
    chance = evidence.chance_loss
    if chance is not None and evidence.loss[0] > INITIAL_FACTOR * chance[0]:
        return f"the first epoch's loss was {evidence.loss[0] / chance[0]:.3g} times {chance[1]}"
    first = evidence.stats["update_ratio"][0] if evidence.epochs else np.array([])
    if np.isfinite(first).any() and np.nanmax(first) > LARGE_RATIO:
        return (
            f"the first epoch's last update changed weights by {np.nanmax(first):.2g} of their norm"
        )
    return None


def _asymptotes(activation: str) -> str:
    asymptotes = asymptotes_of(activation)
    if asymptotes is None:  # a history that does not say which activation
        return "an asymptote"
    low, high = asymptotes
    return "±1" if low == -high else f"{low:g} or {high:g}"
