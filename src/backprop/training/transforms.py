"""Gradient transforms: what happens to ∂E/∂θ between the backward pass and the update.

A training step runs forward → backward → [the gradient hook] → transforms → optimiser. Each
transform works in place on the flat gradient buffer ``net.grads`` (layout [W¹ … Wᴸ, b¹ … bᴸ])
through the network's backend, and never makes the host wait for a device value: quantities a
report needs later (the L2 penalty) are kept as the backend's scalars and read by the loop.

>>> import numpy as np
>>> grads = np.array([3.0, 4.0])
>>> clip_by_global_norm(grads, 1.0), grads
(5.0, array([0.6, 0.8]))
"""

from __future__ import annotations

from ..engine.backend import backend_for
from ..engine.validation import real_number


class GradientTransform:
    """Base class: ``apply(net, share)`` changes ``net.grads`` in place.

    ``share`` is the batch's share of the data (N, or Σw with sample weights), as the backend
    keeps it. ``penalty`` is what the transform adds to the batch's error times ``share``
    (None when it adds nothing); the loss log reads it.
    """

    def apply(self, net, share) -> None:
        raise NotImplementedError

    def penalty(self, share):
        return None

    def before_update(self, net, rate) -> None:
        """Change ``net.params`` in place just before the optimiser's update at rate ``rate``."""


class WeightDecay(GradientTransform):
    """L2 weight decay: the objective gains (λ/2) Σ‖Wˡ‖², so ∂E/∂W gains λ·W (biases are not
    decayed). With ``per_sample`` λ is divided by the batch's share (scikit-learn's ``alpha``),
    so its pull on the weights shrinks as batches grow.
    """

    def __init__(self, l2: float, per_sample: bool = False) -> None:
        self.l2, self.per_sample = float(l2), bool(per_sample)
        self._squared_norm = None

    def _rate(self, share):
        return self.l2 / share if self.per_sample else self.l2

    def apply(self, net, share) -> None:
        xp = net.xp
        weights = net.params[: net.n_weights]
        self._squared_norm = xp.scalar(xp.squared_norm(weights))  # ‖W‖², before the update
        net.grads[: net.n_weights] += self._rate(share) * weights  # ∇W += λ·W

    def penalty(self, share):
        """share · (λ/2)‖W‖² of the weights the gradient was taken at."""
        return share * (0.5 * self._rate(share) * self._squared_norm)


class DecoupledWeightDecay(GradientTransform):
    """Decoupled weight decay (Loshchilov & Hutter 2019, AdamW): before each update the
    weights shrink, W ← W − η·λ·W with η the step's learning rate, whatever the optimiser does
    with the gradient; biases are not decayed. Unlike ``WeightDecay`` it adds nothing to the
    gradient, so Adam's per-parameter scaling does not weaken it.

    >>> import backprop as bp
    >>> net = bp.Network([1, 1], seed=0)
    >>> net.params[:] = [2.0, 1.0]
    >>> DecoupledWeightDecay(0.5).before_update(net, 0.1)
    >>> net.params.tolist()
    [1.899999976158142, 1.0]
    """

    def __init__(self, weight_decay: float, frozen=()) -> None:
        self.weight_decay = float(weight_decay)
        self.frozen = [(int(start), int(stop)) for start, stop in frozen]

    def apply(self, net, share) -> None:
        return None

    def before_update(self, net, rate) -> None:
        shrink = 1.0 - rate * self.weight_decay
        for start, stop in _gaps(self.frozen, net.n_weights):
            net.params[start:stop] *= shrink  # W ← (1 − ηλ)·W, fixed weights left alone


def _gaps(ranges, end: int) -> list[tuple[int, int]]:
    """The parts of [0, end) outside the [start, stop) ``ranges``."""
    gaps, position = [], 0
    for start, stop in sorted(ranges):
        if start > position:
            gaps.append((position, min(start, end)))
        position = max(position, stop)
    if position < end:
        gaps.append((position, end))
    return [(start, stop) for start, stop in gaps if start < stop]


class FreezeParameters(GradientTransform):
    """Hold parameters fixed: ∂E/∂θ ← 0 on the ``ranges`` [start, stop) of the flat buffer.

    Every optimiser leaves a parameter whose gradient is always 0 exactly as it was (SGD's
    velocity, Adam's and RMSprop's moments and AdaGrad's sum stay 0, so each step is 0). It
    runs after weight decay, so fixed weights are not decayed either, and before clipping, so
    the norm is that of the trained parameters alone.

    >>> import backprop as bp, numpy as np
    >>> net = bp.Network([1, bp.Layer(1, train_bias=False)])
    >>> net.grads[...] = [0.5, 0.25]                     # [∂E/∂w, ∂E/∂b]
    >>> FreezeParameters(net.frozen_ranges()).apply(net, 1)
    >>> net.grads
    array([0.5, 0. ], dtype=float32)
    """

    def __init__(self, ranges) -> None:
        self.ranges = [(int(start), int(stop)) for start, stop in ranges]

    def apply(self, net, share) -> None:
        for start, stop in self.ranges:
            net.grads[start:stop] = 0


class ClipByGlobalNorm(GradientTransform):
    """Rescale the whole gradient to norm ``max_norm`` when it is larger: ∇ ← ∇·min(1, c/‖∇‖).

    A gradient holding inf or NaN is left as it is, for the divergence check to report.
    """

    def __init__(self, max_norm: float) -> None:
        max_norm = real_number("max_norm", max_norm)
        if not max_norm > 0.0:
            raise ValueError(f"max_norm must be > 0, got {max_norm!r}")
        self.max_norm = max_norm

    def apply(self, net, share) -> None:
        net.xp.clip_to_norm(net.grads, self.max_norm)


def gradient_transforms(
    l2: float, l2_per_sample: bool, clip_norm: float | None, frozen=(), weight_decay: float = 0.0
) -> list:
    """The transforms ``fit``'s ``l2``, ``weight_decay`` and ``clip_norm`` and the network's
    fixed parameters (``frozen``, ranges of the flat buffer) ask for, in the order they apply."""
    transforms: list[GradientTransform] = []
    if l2:
        transforms.append(WeightDecay(l2, l2_per_sample))
    if weight_decay:
        transforms.append(DecoupledWeightDecay(weight_decay, frozen))
    if frozen:
        transforms.append(FreezeParameters(frozen))
    if clip_norm is not None:
        transforms.append(ClipByGlobalNorm(clip_norm))
    return transforms


def clip_by_global_norm(grads, max_norm: float) -> float:
    """Scale the flat gradient in place so its Euclidean norm is at most ``max_norm``.

    Returns the norm before clipping. A gradient holding inf or NaN is left untouched (its
    norm, inf or NaN, is returned so the caller can skip the step).
    """
    max_norm = real_number("max_norm", max_norm)
    if not max_norm > 0.0:
        raise ValueError(f"max_norm must be > 0, got {max_norm!r}")
    return float(backend_for(grads).clip_to_norm(grads, max_norm))
