"""Every place where the training loop waits for a value from the device.

A training step (``step.py``) never reads a number back: on a GPU it only queues work. What the
loop must know as numbers lives here, read in a few vectorised calls per epoch (on the CPU,
where reading costs nothing, the loss every ``backend.loss_log_rows`` rows):

* the epoch's training error, from a log of the batches' outputs (``LossLog``), which also
  finds the batch where the loss first turned NaN or infinite;
* the L2 penalty each batch added to its error (kept by ``WeightDecay`` as the backend's
  scalars);
* which batches have no weight at all, so the loop skips them (``empty_batches``);
* the last batch's statistics per layer (``layer_stats``: mean |δ|, ‖∂E/∂W‖, the update
  ratio ‖ΔW‖/‖W‖, the dead and saturated units), and whether the weights stayed finite.

The validation loss and metrics are read once per epoch by ``evaluation.evaluate``, and the
backend decides whether a scalar is read at once (``xp.scalar``: on the CPU, where it is free)
or stays on the device.
"""

from __future__ import annotations

import math

from ..engine.losses import per_sample_loss
from .step import LAYER_STATISTICS


class TrainingDiverged(ValueError):
    """The loss or the gradients became NaN or infinite; the weights were restored.

    A ``ValueError``, as scikit-learn's estimators raise for non-finite weights."""


def empty_batches(xp, weights, order, batch: int) -> frozenset[int]:
    """The numbers of the batches whose sample weights are all 0 (none without weights)."""
    if weights is None:
        return frozenset()
    positive = (weights if order is None else weights[order]) > 0
    n = positive.shape[0]
    running = xp.cumsum(positive.astype(xp.int64))  # positive weights up to each row
    last_rows = xp.minimum(xp.arange(batch, n + batch, batch), n) - 1
    counts = xp.diff(running[last_rows], prepend=0)  # per batch
    return frozenset(int(i) for i in xp.to_host(counts == 0).nonzero()[0])


def layer_stats(stats: dict | None, n_layers: int) -> dict:
    """The last batch's per-layer statistics (``step.layer_statistics``) as numbers, read after
    the batch's update (NaN when no batch recorded them); ``network`` passes through."""
    if stats is None:
        return {key: [math.nan] * n_layers for key in LAYER_STATISTICS}
    numbers = {
        key: [float(value() if callable(value) else value) for value in stats[key]]
        for key in LAYER_STATISTICS
    }
    return {**numbers, "network": stats["network"]}


def params_finite(net) -> bool:
    return bool(net.xp.isfinite(net.params).all())


class LossLog:
    """The epoch's training error E, evaluated many samples at a time.

    The gradient needs no error value (the delta rule starts from δᴸ); only the history does.
    So each batch's output, targets and weights are copied into a log, and Jₙ is computed for
    the whole log in one vectorised call when it fills (every ``backend.loss_log_rows`` rows, or
    once per epoch where that is None). The epoch's error is the mean of the batch errors
    weighted by each batch's share, Σ_b share_b·E_b / Σ_b share_b, which is Σₙ wₙJₙ / Σₙ wₙ
    (wₙ = 1 without sample weights), plus each batch's L2 term. A non-finite error stops
    training with the number of the batch where it first appeared.

    One log serves a whole fit (``begin_epoch`` starts each epoch), so its arrays stay where
    they are in memory: a step that writes its batch's rows into the log itself (a GPU's
    captured step) finds them there every epoch, and then only notes the batch (``note``).
    """

    def __init__(self, net, batch: int, n: int, weighted: bool):
        L, xp = net.n_layers, net.xp
        self.net, self.batch = net, batch
        self.from_logits = (
            net.loss.canonical == net.output_activation.name
            and net.loss.per_sample_from_logits is not None
        )
        rows = xp.loss_log_rows
        if rows is None:  # the whole epoch, read once
            self.capacity = -(-n // batch) * batch
        else:
            self.capacity = 0 if batch > rows // 2 else (rows // batch) * batch
        width = net.layers[L].size
        self.outputs = self.targets = self.weights = None
        if self.capacity:
            self.outputs = xp.empty((self.capacity, width), net.dtype)
            self.targets = xp.empty((self.capacity, width), net.dtype)
            self.weights = xp.empty(self.capacity, net.dtype) if weighted else None
        self.start_params = xp.empty_like(net.params)
        self.begin_epoch(0)

    def begin_epoch(self, epoch: int) -> None:
        """Start logging ``epoch``, whose starting weights a divergence puts back."""
        self.epoch = epoch
        self.net.xp.copyto(self.start_params, self.net.params)
        self.used = 0
        self.logged: list[tuple] = []  # (batch number, first row, rows, penalty)
        self.total, self.total_weight, self.last_finite = 0.0, 0.0, math.nan
        self.penalty_total = 0.0  # the L2 terms' part of ``total``

    def output(self, work):
        """The network's output as the log keeps it: zᴸ where the loss is computed from it
        (a canonical pair), else aᴸ."""
        return work.z[-1] if self.from_logits else work.a[-1]

    def add(self, work, Y, weights, batch_number: int, penalty) -> None:
        """Log one batch; ``penalty`` is its share times its L2 term (None for none)."""
        output = self.output(work)
        m = Y.shape[0]
        if not self.capacity:
            self.logged.append((batch_number, 0, m, penalty))
            self._evaluate(output, Y, weights)
            return
        rows = slice(self.used, self.used + m)
        xp = self.net.xp
        xp.copyto(self.outputs[rows], output)
        xp.copyto(self.targets[rows], Y)
        if weights is not None:
            xp.copyto(self.weights[rows], weights)
        self.note(batch_number, m, penalty)

    def note(self, batch_number: int, m: int, penalty) -> None:
        """Log a batch of ``m`` rows whose output, targets and weights are already in the
        log's arrays at row ``used`` (written there by the step)."""
        self.logged.append((batch_number, self.used, m, penalty))
        self.used += m
        if self.used + self.batch > self.capacity:
            self._flush()

    def epoch_error(self) -> float:
        """Σ_b share_b·E_b / Σ_b share_b over the batches logged this epoch."""
        self._flush()
        return self.total / self.total_weight

    def epoch_penalty(self) -> float:
        """The L2 terms' part of ``epoch_error``: Σ_b share_b·P_b / Σ_b share_b."""
        self._flush()
        return self.penalty_total / self.total_weight

    def _flush(self) -> None:
        if self.used:
            weights = None if self.weights is None else self.weights[: self.used]
            self._evaluate(self.outputs[: self.used], self.targets[: self.used], weights)
            self.used = 0

    def _evaluate(self, outputs, targets, weights) -> None:
        net = self.net
        xp = net.xp
        J = per_sample_loss(xp, net.loss, net.output_activation.name, outputs, outputs, targets)
        total = float(J.sum() if weights is None else weights @ J)
        penalties = [penalty for *_, penalty in self.logged if penalty is not None]
        penalty = float(sum(penalties)) if penalties else 0.0  # added up on the device, read once
        total += penalty
        if not math.isfinite(total):
            self._find_divergence(J, weights)
        self.total += total
        self.penalty_total += penalty
        self.total_weight += float(J.shape[0] if weights is None else weights.sum())
        _, first, rows, penalty = self.logged[-1]
        self.last_finite = self._batch_error(J, weights, first, rows, penalty)
        self.logged.clear()

    def _batch_error(self, J, weights, first, rows, penalty) -> float:
        J = J[first : first + rows]
        if weights is None:
            return (float(J.sum()) + _number(penalty)) / rows
        w = weights[first : first + rows]
        return (float(w @ J) + _number(penalty)) / float(w.sum())

    def _find_divergence(self, J, weights) -> None:
        for number, first, rows, penalty in self.logged:
            error = self._batch_error(J, weights, first, rows, penalty)
            if not math.isfinite(error):
                self.diverged(number, error)
            self.last_finite = error
        self.diverged(self.logged[-1][0], math.nan)

    def diverged(self, batch_number: int, error: float):
        self.net.params[...] = self.start_params
        raise TrainingDiverged(
            f"training diverged in epoch {self.epoch}, batch {batch_number}: the loss is {error} "
            f"(last finite batch loss {self.last_finite:.6g}); the weights are back at the start "
            f"of the epoch. Likely causes: a learning rate too high, or inputs that are not scaled."
        )


def _number(penalty) -> float:
    return 0.0 if penalty is None else float(penalty)
