"""One training step: forward, backward, the gradient hook, the gradient transforms, the update.

    X, Y ─ forward ─ backward (the delta rule) ─ reduce_gradients ─ transforms ─ optimiser ─ θ

The step reads no number back from the device: the batch's share of the data, the L2 penalty
and the loss stay the backend's scalars until the loop's readout (``readout.py``) asks for them
once per epoch, so on a GPU a step is only queued work and can be captured as a graph.

``reduce_gradients(grads, share) -> share`` is the seam for data-parallel training: it is
called with the batch-mean gradient of this process and its share (N or Σw) and must leave in
``grads`` the mean over every process's samples, returning the total share. A reducer that can
start on a layer's gradient while the backward pass goes on below also has
``begin(share) -> on_layer_gradient | None``: called before the backward pass, it returns the
callable the pass calls with each layer's index as soon as that layer's ∂E/∂W and ∂E/∂b are
written (last layer first); ``reduce_gradients(grads, share)`` then finishes the reduction. On
a step that records the layer statistics, which read the local gradients, ``begin`` is not
called.

>>> import backprop as bp
>>> from backprop.training.step import TrainingStep
>>> net = bp.Network([2, 3, 1], seed=0)
>>> step = TrainingStep(net, bp.SGD(lr=0.1))
>>> X, y = bp.datasets.xor()[:2]
>>> X, Y, _ = net.check_data(X, y)
>>> state = step.optimizer.init(net.params)
>>> result = step(X, Y, None, 0.1, state)
>>> result.share
4
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import NamedTuple

from ..engine.delta_rule import backward, forward
from .transforms import GradientTransform


class StepResult(NamedTuple):
    """What a step leaves for the loop: the work arrays of its batch (outputs, deltas), the
    batch's share of the data, the L2 penalty times that share (None without L2), the
    optimiser's new state, and, when asked for, each layer's mean |δ| and ‖∂E/∂W‖ (the
    backend's scalars, taken before the transforms)."""

    work: object
    share: object
    penalty: object
    optimizer_state: object
    layer_stats: dict | None = None


class TrainingStep:
    """The update of ``net`` from one batch, with ``optimizer`` and gradient ``transforms``."""

    def __init__(
        self,
        net,
        optimizer,
        transforms: Sequence[GradientTransform] = (),
        reduce_gradients: Callable | None = None,
    ) -> None:
        self.net, self.optimizer = net, optimizer
        self.transforms = list(transforms)
        self.reduce_gradients = reduce_gradients

    def __call__(self, X, Y, weights, rate, optimizer_state, observe: bool = False) -> StepResult:
        net = self.net
        work = net.workspace(X.shape[0])
        share = work.set_scale(weights)  # sₙ = 1/N or wₙ/Σw; share = N or Σw
        forward(net, work, X, training=True, rng=net.rng)
        on_layer_gradient = self._layer_hook(share, observe)
        backward(net, work, Y, training=True, on_layer_gradient=on_layer_gradient)  # ∂E/∂θ
        stats = layer_statistics(net, work) if observe else None
        if self.reduce_gradients is not None:
            share = self.reduce_gradients(net.grads, share)
        penalty = None
        for transform in self.transforms:
            transform.apply(net, share)
            penalty = _add(penalty, transform.penalty(share))
        for transform in self.transforms:
            transform.before_update(net, rate)
        optimizer_state = self.optimizer.update(
            net.params, net.grads, optimizer_state, rate, xp=net.xp
        )
        return StepResult(work, share, penalty, optimizer_state, stats)

    def _layer_hook(self, share, observe: bool):
        """The reducer's per-layer callable for this step's backward pass, if it has one."""
        begin = getattr(self.reduce_gradients, "begin", None)
        if begin is None or observe:
            return None
        return begin(share)


LAYER_STATISTICS = (
    "input_rms",
    "mean_abs_delta",
    "grad_norm",
    "update_ratio",
    "dead_fraction",
    "saturated_fraction",
)
# a unit within this much of one of its activation's asymptotes on nine rows of a batch in ten
# is saturated: f'(z) ≈ 0 for nearly every sample
SATURATION_MARGIN = 0.01
SATURATED_ROWS = 0.9


def layer_statistics(net, work) -> dict:
    """Each layer's statistics for the batch in ``work``, as the backend's scalars.

    Keys (``LAYER_STATISTICS``, one value per layer 1..L):

    * ``input_rms`` — the root mean square of the layer's inputs uˡ (for layer 1, the data);
    * ``mean_abs_delta`` — mean |δˡ|; ``grad_norm`` — ‖∂E/∂Wˡ‖ (both before the transforms);
    * ``update_ratio`` — ‖ΔWˡ‖/‖Wˡ‖ of the update this batch is about to make: a function,
      since the update is not made yet; call it after the step;
    * ``dead_fraction`` — for activations with a kink (ReLU), the share of units whose
      derivative f'(zˡ) is 0 on every row: they pass no gradient and cannot recover;
    * ``saturated_fraction`` — for saturating activations (``Activation.asymptotes``: sigmoid,
      tanh), the share of units within ``SATURATION_MARGIN`` of an asymptote, where f'(zˡ) ≈ 0,
      on at least
      ``SATURATED_ROWS`` of the rows;

    NaN where the activation cannot die or saturate. ``network`` describes what was measured:
    each layer's activation and number of units, and the loss.
    """
    xp, layers = net.xp, net.layers[1:]
    return {
        "input_rms": [_rms(xp, work.u[layer.index]) for layer in layers],
        "mean_abs_delta": [xp.abs(work.delta[layer.index]).mean() for layer in layers],
        "grad_norm": [xp.global_norm(layer.grad_W.reshape(-1)) for layer in layers],
        "update_ratio": [_update_ratio(xp, layer.W) for layer in layers],
        "dead_fraction": [_dead_fraction(xp, layer, work) for layer in layers],
        "saturated_fraction": [_saturated_fraction(layer, work) for layer in layers],
        "network": {
            "activations": [layer.activation.name for layer in layers],
            "units": [layer.size for layer in layers],
            "loss": net.loss.name,
        },
    }


def _rms(xp, u):
    return xp.global_norm(u.reshape(-1)) / math.sqrt(u.size)  # √(Σ u² / size)


def _update_ratio(xp, W):
    """A function giving ‖W − W₀‖/‖W₀‖, W₀ being W now, once W has been updated in place."""
    before = W.copy()

    def ratio():
        change = W - before  # ΔW of the update made since
        scale = xp.maximum(xp.global_norm(before.reshape(-1)), 1e-30)
        return xp.global_norm(change.reshape(-1)) / scale

    return ratio


def _dead_fraction(xp, layer, work):
    activation = layer.activation
    if activation.kink is None or not activation.elementwise:
        return math.nan
    l = layer.index
    x = work.z[l] if activation.derivative_of == "z" else work.a[l]
    slope = xp.empty_like(x)
    activation.derivative_function(xp, x, slope)  # f'(zˡ)
    return (slope == 0).all(axis=0).mean()


def _saturated_fraction(layer, work):
    if layer.activation.asymptotes is None:
        return math.nan
    low, high = layer.activation.asymptotes
    a = work.a[layer.index]
    near = (a < low + SATURATION_MARGIN) | (a > high - SATURATION_MARGIN)
    return (near.mean(axis=0) >= SATURATED_ROWS).mean()


def _add(total, term):
    if term is None:
        return total
    return term if total is None else total + term
