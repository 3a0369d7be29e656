"""One training step: forward, backward, the gradient hook, the gradient transforms, the update.

    X, Y ─ forward ─ backward (the delta rule) ─ reduce_gradients ─ transforms ─ optimiser ─ θ

The step reads no number back from the device: the batch's share of the data, the L2 penalty
and the loss stay the backend's scalars until the loop's readout (``readout.py``) asks for them
once per epoch, so on a GPU a step is only queued work and can be captured as a graph.

``reduce_gradients(grads, share) -> share`` is the seam for data-parallel training: it is
called with the batch-mean gradient of this process and its share (N or Σw) and must leave in
``grads`` the mean over every process's samples, returning the total share.

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
        backward(net, work, Y, training=True)  # ∂E/∂θ into net.grads
        stats = layer_statistics(net, work) if observe else None
        if self.reduce_gradients is not None:
            share = self.reduce_gradients(net.grads, share)
        penalty = None
        for transform in self.transforms:
            transform.apply(net, share)
            penalty = _add(penalty, transform.penalty(share))
        optimizer_state = self.optimizer.update(
            net.params, net.grads, optimizer_state, rate, xp=net.xp
        )
        return StepResult(work, share, penalty, optimizer_state, stats)


def layer_statistics(net, work) -> dict:
    """Each layer's mean |δ| and ‖∂E/∂W‖ for the batch in ``work``, as the backend's scalars."""
    xp, layers = net.xp, net.layers[1:]
    return {
        "mean_abs_delta": [xp.abs(work.delta[layer.index]).mean() for layer in layers],
        "grad_norm": [xp.global_norm(layer.grad_W.reshape(-1)) for layer in layers],
    }


def _add(total, term):
    if term is None:
        return total
    return term if total is None else total + term
