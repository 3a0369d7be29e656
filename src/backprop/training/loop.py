"""The fit loop: gradient descent in batch, stochastic or mini-batch mode.

One epoch shows every training sample once. With ``batch_size=None`` (batch mode) it makes one
update from the gradient over the whole set, with ``batch_size=1`` (stochastic mode) one update
per sample, and with ``batch_size=k`` (mini-batch mode) one per k samples, the last batch
possibly smaller. Each update is

    forward → backward (the delta rule) → [+ λ·W for L2] → [clip ‖∇‖] → optimiser step

on the flat parameter buffer. Per epoch the ``History`` records the training loss (the mean of
the batch errors during the epoch), the validation loss and metrics, the learning rate, and each
layer's mean |δ| and ‖∂E/∂W‖ on the epoch's last batch.

>>> import backprop as bp
>>> X, y = bp.datasets.xor()[:2]
>>> net = bp.Network([2, 4, 1], seed=3)
>>> history = net.fit(X, y, epochs=3000, batch_size=None, optimizer=bp.SGD(lr=2.0))
>>> history.loss[-1] < 0.01
True
"""

from __future__ import annotations

import contextlib
import math
import signal
import sys
import threading
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..engine.delta_rule import backward, batch_error, forward
from ..engine.losses import per_sample_loss
from ..engine.validation import check_X, check_Y
from . import checkpoint as checkpoints
from .diagnosis import ConvergenceWarning, diagnose
from .optimizers import get_optimizer
from .schedules import clip_by_global_norm, get_schedule

CLASSIFICATION_LOSSES = ("log_loss", "cross_entropy")


class TrainingDiverged(RuntimeError):
    """The loss or the gradients became NaN or infinite; the weights were restored."""


@dataclass
class EarlyStopping:
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs, and
    (with ``restore_best``) put back the weights of the best epoch."""

    patience: int = 10
    min_delta: float = 0.0
    monitor: str = "val_loss"
    restore_best: bool = True

    def __post_init__(self):
        if self.patience < 0:
            raise ValueError(f"patience must be >= 0, got {self.patience}")
        if self.min_delta < 0:
            raise ValueError(f"min_delta must be >= 0, got {self.min_delta}")


class History:
    """What training recorded, one entry per epoch.

    ``history["loss"]`` or ``history.loss``; likewise ``val_loss``, ``lr`` and ``val_<metric>``.
    ``mean_abs_delta`` and ``grad_norm`` are (epochs, L) arrays, column l − 1 for layer l.
    """

    def __init__(self):
        self.records: dict[str, list[float]] = {}
        self.layer_records: dict[str, list[list[float]]] = {"mean_abs_delta": [], "grad_norm": []}
        self.best_epoch: int | None = None
        self.stopped_early = False
        self.optimizer = None
        self.optimizer_state = None

    def append(self, logs: dict[str, float], layer_stats: dict[str, list[float]]) -> None:
        for key, value in logs.items():
            self.records.setdefault(key, []).append(value)
        for key, values in layer_stats.items():
            self.layer_records[key].append(values)

    def __getitem__(self, key: str) -> list[float]:
        return self.records[key]

    def __getattr__(self, key: str):
        if key.startswith("_") or key in ("records", "layer_records"):
            raise AttributeError(key)
        if key in self.layer_records:
            return np.array(self.layer_records[key])
        if key in self.records:
            return self.records[key]
        raise AttributeError(f"History has no record {key!r}; it has {sorted(self.records)}")

    def diagnose(self) -> list:
        """What the curves say to change; see ``backprop.diagnosis``."""
        return diagnose(self)

    def __contains__(self, key: str) -> bool:
        return key in self.records

    def __len__(self) -> int:
        return len(self.records.get("loss", []))

    def __repr__(self) -> str:
        last = {k: round(v[-1], 6) for k, v in self.records.items() if v}
        return f"History({len(self)} epochs, last: {last})"


@dataclass
class _Data:
    X: np.ndarray
    Y: np.ndarray
    weights: np.ndarray | None = None


@dataclass
class _LoopState:
    epoch: int = 0
    optimizer_state: object = None
    best: float = math.inf
    best_params: np.ndarray | None = None
    waited: int = 0
    stopped: bool = False
    history: History = field(default_factory=History)


def fit(
    net,
    X,
    Y,
    *,
    epochs: int = 100,
    batch_size: int | None = 32,
    optimizer="sgd",
    lr: float | None = None,
    shuffle: bool = True,
    sample_weight=None,
    validation_data: tuple | None = None,
    validation_split: float = 0.0,
    early_stopping: bool | EarlyStopping = False,
    l2: float = 0.0,
    l2_per_sample: bool = False,
    clip_norm: float | None = None,
    schedule=None,
    metrics: Sequence[str] | None = None,
    callbacks: Sequence[Callable] = (),
    verbose: bool = False,
    optimizer_state=None,
    warn: bool = True,
    checkpoint=None,
    checkpoint_every: int = 1,
    resume: bool = False,
) -> History:
    """Train ``net`` on (X, Y) and return the ``History``.

    Parameters
    ----------
    epochs : passes over the training data.
    batch_size : ``None`` for batch gradient descent, 1 for stochastic, k for mini-batches.
    optimizer : ``"sgd"``, ``"adam"``, ``"rmsprop"``, ``"adagrad"`` or an optimiser instance
        (``bp.SGD(lr, momentum, nesterov)``, ``bp.Adam(...)``, …); ``lr`` overrides its rate.
    shuffle : reshuffle the samples every epoch (with the network's seeded generator).
    sample_weight : per-sample weights wₙ; the batch error becomes Σ wₙJₙ / Σ wₙ.
    validation_data : ``(X_val, Y_val)``; or ``validation_split``, a fraction of (X, Y) held out
        at random before training.
    early_stopping : ``True`` or an ``EarlyStopping``: stop when the validation loss stops
        improving and restore the best weights.
    l2 : weight decay λ: the objective gains (λ/2) Σ‖Wˡ‖² (biases are not decayed).
    l2_per_sample : divide that term by the batch's total sample weight (scikit-learn's
        ``alpha`` convention), so its pull on the weights shrinks as batches grow.
    clip_norm : rescale the whole gradient to this Euclidean norm when it is larger.
    schedule : a learning-rate schedule from ``backprop.schedules`` (or its name).
    metrics : names among ``"accuracy"``, ``"mae"``, ``"mse"`` computed on the validation data;
        default ``["accuracy"]`` for classification losses.
    callbacks : functions ``f(net, epoch, logs)``; one that returns True stops training.
    verbose : show a progress bar (tqdm when installed) with the losses.
    optimizer_state : the state returned in ``history.optimizer_state`` by an earlier call,
        to continue training with the optimiser's moments and step count (warm start).
    warn : when training ends with the loss still falling or unstable, issue a
        ``ConvergenceWarning`` carrying ``history.diagnose()``'s advice.
    checkpoint : a file to write the whole training state to, atomically, every
        ``checkpoint_every`` epochs and at the end (see ``backprop.checkpoint``). Ctrl-C or
        SIGTERM during training rolls the network back to the last completed epoch, saves that
        epoch's checkpoint and re-raises KeyboardInterrupt.
    resume : continue from ``checkpoint`` when it exists (a fresh start when it does not); the
        result is bitwise the same as an uninterrupted run. A changed setup is refused.
    """
    if resume and checkpoint is None:
        raise ValueError("resume=True needs checkpoint=PATH")
    if isinstance(checkpoint_every, bool) or not (
        isinstance(checkpoint_every, int) and checkpoint_every >= 1
    ):
        raise ValueError(f"checkpoint_every must be an integer >= 1, got {checkpoint_every!r}")
    settings = _check_settings(net, epochs, batch_size, validation_split, l2, clip_norm)
    settings["l2_per_sample"] = bool(l2_per_sample)
    optimizer = get_optimizer(optimizer, lr)
    schedule = get_schedule(schedule)
    metrics = _check_metrics(net, metrics)
    stopper = EarlyStopping() if early_stopping is True else (early_stopping or None)
    has_validation = validation_data is not None or validation_split > 0
    if stopper is not None and not has_validation and stopper.monitor.startswith("val_"):
        raise ValueError("early_stopping needs validation_data or validation_split > 0")
    saved = checkpoints.read(checkpoint) if resume else None
    rng_before = net.rng.bit_generator.state
    split_rng_state = saved.meta["split_rng"] if saved is not None else rng_before
    net.rng.bit_generator.state = split_rng_state  # the same validation split as the saved run
    try:
        train, validation = _prepare_data(
            net, X, Y, sample_weight, validation_data, validation_split
        )
        n = train.X.shape[0]
        batch = n if batch_size is None else min(batch_size, n)
        n_validation = 0 if validation is None else validation.X.shape[0]
        setup = checkpoints.fingerprint(net, n, n_validation, batch, optimizer, settings, shuffle)
        if saved is not None:
            checkpoints.check_setup(saved, setup)
    except (TypeError, ValueError):
        net.rng.bit_generator.state = rng_before
        raise

    if optimizer_state is None:
        optimizer_state = optimizer.init(net.params)
    state = _LoopState(optimizer_state=optimizer_state, epoch=-1)
    if saved is not None:
        checkpoints.restore(saved, net, state, optimizer, schedule)
    batches = _Batches(train, batch)
    del train  # the batches keep what they need (0/1 targets as uint8)

    def save_checkpoint():
        checkpoints.save(checkpoint, net, state, optimizer, schedule, split_rng_state, setup)

    progress = _Progress(epochs, verbose)
    first = state.epoch + 1
    # overflow and NaN are caught by the divergence check, which says more than a warning
    with np.errstate(over="ignore", invalid="ignore"), _sigterm_interrupts(checkpoint):
        try:
            for epoch in range(first, 0 if state.stopped else epochs):
                point = checkpoints.ResumePoint.take(net, state, schedule) if checkpoint else None
                state.epoch = epoch
                rate = schedule(epoch, optimizer.lr)
                # one batch covering the whole set sees the same gradient in any order
                order = net.rng.permutation(n) if shuffle and batch < n else None
                loss, layer_stats = _run_epoch(
                    net, batches, order, optimizer, state, rate, settings
                )
                logs = {"loss": loss, "lr": rate}
                if validation is not None:
                    logs.update(evaluate(net, validation.X, validation.Y, metrics, _checked=True))
                state.history.append(logs, layer_stats)
                schedule.observe(logs)
                progress.update(logs)
                state.stopped = _epoch_says_stop(net, state, logs, callbacks, stopper)
                last = state.stopped or epoch == epochs - 1
                if checkpoint is not None and ((epoch + 1) % checkpoint_every == 0 or last):
                    save_checkpoint()
                point = None
                if state.stopped:
                    break
        except KeyboardInterrupt:
            if point is not None:
                point.roll_back(net, state, schedule)
                state.epoch = epoch - 1
                if state.epoch >= 0:
                    save_checkpoint()
            raise
        finally:
            progress.close()
    if stopper is not None and stopper.restore_best and state.best_params is not None:
        net.params[...] = state.best_params
    state.history.optimizer = optimizer
    state.history.optimizer_state = state.optimizer_state
    if warn and not state.stopped:
        _warn_if_unconverged(state.history)
    return state.history


def _warn_if_unconverged(history: History) -> None:
    findings = [f for f in diagnose(history) if f.code in ("more_epochs", "lower_learning_rate")]
    if findings and len(history) >= 10:
        advice = " ".join(str(f) for f in findings)
        warnings.warn(f"Training did not converge. {advice}", ConvergenceWarning, stacklevel=3)


@contextlib.contextmanager
def _sigterm_interrupts(active):
    """While checkpointing, turn SIGTERM into KeyboardInterrupt so the run saves and stops."""
    if active is None or threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _epoch_says_stop(net, state: _LoopState, logs, callbacks, stopper) -> bool:
    """Every callback sees the epoch; any that returns True, or early stopping, ends training."""
    requests = [bool(callback(net, state.epoch, logs)) for callback in callbacks]
    if stopper is not None and _should_stop(stopper, net, state, logs):
        state.history.stopped_early = True
        return True
    return any(requests)


def _run_epoch(net, batches, order, optimizer, state, rate, settings):
    """One pass over the data; returns the mean batch error and the last batch's layer stats."""
    n, batch = batches.n, batches.size
    start_params = net.params.copy()
    errors = _ErrorLog(net, batch, batches.weighted, start_params, state.epoch)
    layer_stats = {key: [math.nan] * net.n_layers for key in ("mean_abs_delta", "grad_norm")}
    for batch_number, start in enumerate(range(0, n, batch)):
        X, Y, weights = batches.get(order, start)
        work = net.workspace(X.shape[0])
        share = work.set_scale(weights)  # N, or Σw
        if share == 0:
            continue  # every sample here has weight 0: no gradient, no step
        forward(net, work, X, training=True, rng=net.rng)
        backward(net, work, Y, training=True)
        l2 = settings["l2"] / share if settings["l2_per_sample"] else settings["l2"]
        errors.add(work, Y, weights, batch_number, share * _penalty(net, l2))
        if start + batch >= n:
            layer_stats = _layer_stats(net, work)
        _update(net, optimizer, state, rate, l2, settings["clip_norm"])
    loss = errors.epoch_error()
    if not np.isfinite(net.params).all():  # the epoch's last update went non-finite
        errors.diverged(batch_number, math.nan)
    return loss, layer_stats


class _ErrorLog:
    """The epoch's training error E, evaluated a few thousand samples at a time.

    The gradient needs no error value (the delta rule starts from δᴸ); only the history does.
    So each small batch's output, targets and weights are copied into a log, and Jₙ is computed
    for the whole log in one vectorised call when it fills. The epoch's error is the mean of the
    batch errors weighted by each batch's share, Σ_b share_b·E_b / Σ_b share_b, which is
    Σₙ wₙJₙ / Σₙ wₙ (wₙ = 1 without sample weights), plus each batch's L2 term. Large batches
    are evaluated straight from the work arrays. A non-finite error stops training with the
    number of the batch where it first appeared.
    """

    ROWS = 4096

    def __init__(self, net, batch: int, weighted: bool, start_params, epoch: int):
        L = net.n_layers
        self.net, self.batch, self.start_params, self.epoch = net, batch, start_params, epoch
        self.from_logits = (
            net.loss.canonical == net.output_activation.name
            and net.loss.value_from_logits is not None
        )
        self.capacity = 0 if batch > self.ROWS // 2 else (self.ROWS // batch) * batch
        xp, dtype, width = net.xp, net.dtype, net.layers[L].size
        if self.capacity:
            self.outputs = xp.empty((self.capacity, width), dtype)
            self.targets = xp.empty((self.capacity, width), dtype)
            self.weights = xp.empty(self.capacity, dtype) if weighted else None
        self.used = 0
        self.logged: list[tuple[int, int, int, float]] = []  # (number, first row, rows, L2)
        self.total, self.total_weight, self.last_finite = 0.0, 0.0, math.nan

    def add(self, work, Y, weights, batch_number: int, penalty: float) -> None:
        """Log one batch; ``penalty`` is its share times its L2 term."""
        output = work.z[-1] if self.from_logits else work.a[-1]
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
        self.logged.append((batch_number, self.used, m, penalty))
        self.used += m
        if self.used + self.batch > self.capacity:
            self._flush()

    def epoch_error(self) -> float:
        """Σ_b share_b·E_b / Σ_b share_b over the batches logged this epoch."""
        self._flush()
        return self.total / self.total_weight

    def _flush(self) -> None:
        if self.used:
            weights = None if self.weights is None else self.weights[: self.used]
            self._evaluate(self.outputs[: self.used], self.targets[: self.used], weights)
            self.used = 0

    def _evaluate(self, outputs, targets, weights) -> None:
        net = self.net
        J = per_sample_loss(net.loss, net.output_activation.name, outputs, outputs, targets)
        total = float(J.sum() if weights is None else weights @ J)
        total += sum(penalty for *_, penalty in self.logged)
        if not math.isfinite(total):
            self._find_divergence(J, weights)
        self.total += total
        self.total_weight += float(J.shape[0] if weights is None else weights.sum())
        _, first, rows, penalty = self.logged[-1]
        self.last_finite = self._batch_error(J, weights, first, rows, penalty)
        self.logged.clear()

    def _batch_error(self, J, weights, first, rows, penalty) -> float:
        J = J[first : first + rows]
        if weights is None:
            return (float(J.sum()) + penalty) / rows
        w = weights[first : first + rows]
        share = float(w.sum())
        return (float(w @ J) + penalty) / share

    def _find_divergence(self, J, weights) -> None:
        for number, first, rows, penalty in self.logged:
            error = self._batch_error(J, weights, first, rows, penalty)
            if not math.isfinite(error):
                self.diverged(number, error)
            self.last_finite = error
        self.diverged(self.logged[-1][0], math.nan)

    def diverged(self, batch_number: int, error: float):
        net = self.net
        net.params[...] = self.start_params
        raise TrainingDiverged(
            f"training diverged in epoch {self.epoch}, batch {batch_number}: the loss is {error} "
            f"(last finite batch loss {self.last_finite:.6g}); the weights are back at the start "
            f"of the epoch. Likely causes: a learning rate too high, or inputs that are not scaled."
        )


def _update(net, optimizer, state, rate, l2, clip_norm) -> None:
    """[∇ += λW] → [clip] → optimiser step, all on the flat buffers."""
    if l2:
        weights = slice(0, net.n_weights)
        net.grads[weights] += l2 * net.params[weights]
    if clip_norm is not None:
        clip_by_global_norm(net.grads, clip_norm)
    state.optimizer_state = optimizer.update(net.params, net.grads, state.optimizer_state, rate)


def _layer_stats(net, work) -> dict[str, list[float]]:
    layers = net.layers[1:]
    return {
        "mean_abs_delta": [float(np.abs(work.delta[layer.index]).mean()) for layer in layers],
        "grad_norm": [float(np.sqrt(np.vdot(layer.grad_W, layer.grad_W))) for layer in layers],
    }


def _penalty(net, l2: float) -> float:
    if not l2:
        return 0.0
    weights = net.params[: net.n_weights]
    return 0.5 * l2 * float(np.vdot(weights, weights))


def _should_stop(stopper: EarlyStopping, net, state: _LoopState, logs) -> bool:
    value = logs.get(stopper.monitor, logs["loss"])
    if value < state.best - stopper.min_delta:
        state.best, state.waited = value, 0
        state.history.best_epoch = state.epoch
        if stopper.restore_best:
            state.best_params = net.params.copy()
        return False
    state.waited += 1
    return state.waited > stopper.patience


class _Batches:
    """Mini-batches of the training data, in order or gathered through a permutation.

    A small data set (at most ``WHOLE_BYTES``) is gathered through the permutation once per
    epoch into buffers allocated once, and its batches are slices of them. A larger one is
    gathered one batch at a time into buffers of one batch, so shuffling never costs a second
    copy of the data. Without shuffling, a batch is a view. Targets that are all 0 or 1
    (one-hot classes, binary labels) are kept as uint8 when that saves at least
    ``COMPACT_BYTES``, and each batch is widened back to the network's dtype.
    """

    COMPACT_BYTES = 1 << 20
    WHOLE_BYTES = 1 << 20

    def __init__(self, data: _Data, size: int):
        self.size, self.n = size, data.X.shape[0]
        self.weighted = data.weights is not None
        Y = data.Y
        if Y.nbytes - Y.size >= self.COMPACT_BYTES and np.all((Y == 0) | (Y == 1)):
            Y = Y.astype(np.uint8)
        self.data = _Data(data.X, Y, data.weights)
        self.whole = data.X.nbytes + Y.nbytes <= self.WHOLE_BYTES
        self.shuffled = None  # the permutation the whole-set buffers hold
        rows = self.n if self.whole else size
        self.X = np.empty((rows, data.X.shape[1]), data.X.dtype)
        self.Y = np.empty((rows, Y.shape[1]), Y.dtype)
        self.weights = None if data.weights is None else np.empty(rows, data.weights.dtype)
        self.widened = (
            None if Y.dtype == data.Y.dtype else np.empty((size, Y.shape[1]), data.Y.dtype)
        )

    def get(self, order, start: int):
        """(X, Y, weights) of the batch that starts at ``start``."""
        rows = slice(start, start + self.size)
        if order is None:
            source = self.data
        elif self.whole:
            if self.shuffled is not order:
                self._gather(order)
                self.shuffled = order
            source = self
        else:
            m = self._gather(order[rows])
            source, rows = self, slice(0, m)
        weights = None if source.weights is None else source.weights[rows]
        return source.X[rows], self._widen(source.Y[rows]), weights

    def _gather(self, picked) -> int:
        m = picked.shape[0]
        data = self.data
        # mode="clip" lets numpy write straight into the buffer; "raise" gathers via a temporary
        np.take(data.X, picked, axis=0, out=self.X[:m], mode="clip")
        np.take(data.Y, picked, axis=0, out=self.Y[:m], mode="clip")
        if data.weights is not None:
            np.take(data.weights, picked, out=self.weights[:m], mode="clip")
        return m

    def _widen(self, Y):
        if self.widened is None:
            return Y
        out = self.widened[: Y.shape[0]]
        np.copyto(out, Y)
        return out


def evaluate(net, X, Y, metrics: Sequence[str] = (), *, _checked: bool = False) -> dict:
    """Loss and metrics of ``net`` on (X, Y), with keys ``val_loss``, ``val_<metric>``."""
    if not _checked:
        X = check_X(X, net.n_inputs, net.dtype)
        Y = check_Y(Y, X.shape[0], net.n_outputs, net.loss, net.dtype)
    outputs = np.empty((X.shape[0], net.n_outputs), net.dtype)
    total = 0.0
    chunk = 4096
    for start in range(0, X.shape[0], chunk):
        rows = slice(start, start + chunk)
        work = net.workspace(X[rows].shape[0])
        work.set_scale(None)
        outputs[rows] = forward(net, work, X[rows])
        total += batch_error(net, work, Y[rows]) * work.n
    logs = {"val_loss": total / X.shape[0]}
    for name in metrics:
        logs[f"val_{name}"] = METRICS[name](net, outputs, Y)
    return logs


def _accuracy(net, outputs, Y) -> float:
    if net.n_outputs == 1 or net.output_activation.name == "sigmoid":
        return float(((outputs > 0.5) == (Y > 0.5)).mean())
    return float((outputs.argmax(axis=1) == Y.argmax(axis=1)).mean())


METRICS = {
    "accuracy": _accuracy,
    "mae": lambda net, outputs, Y: float(np.abs(outputs - Y).mean()),
    "mse": lambda net, outputs, Y: float(((outputs - Y) ** 2).mean()),
}


def _check_metrics(net, metrics) -> list[str]:
    if metrics is None:
        return ["accuracy"] if net.loss.name in CLASSIFICATION_LOSSES else []
    unknown = [m for m in metrics if m not in METRICS]
    if unknown:
        raise ValueError(f"unknown metric {unknown[0]!r}; known: {', '.join(METRICS)}")
    return list(metrics)


def _check_settings(net, epochs, batch_size, validation_split, l2, clip_norm) -> dict:
    if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 0:
        raise ValueError(f"epochs must be an integer >= 0, got {epochs!r}")
    if batch_size is not None and (
        isinstance(batch_size, bool)
        or not isinstance(batch_size, (int, np.integer))
        or batch_size < 1
    ):
        raise ValueError(
            f"batch_size must be None (whole set) or an integer >= 1, got {batch_size!r}"
        )
    if not 0 <= validation_split < 1:
        raise ValueError(f"validation_split must be in [0, 1), got {validation_split!r}")
    if not (isinstance(l2, (int, float)) and l2 >= 0):
        raise ValueError(f"l2 must be a number >= 0, got {l2!r}")
    if clip_norm is not None and not clip_norm > 0:
        raise ValueError(f"clip_norm must be > 0, got {clip_norm!r}")
    return {"l2": float(l2), "clip_norm": clip_norm}


def _prepare_data(net, X, Y, sample_weight, validation_data, validation_split):
    X, Y, weights = net.check_data(X, Y, sample_weight)
    validation = None
    if validation_data is not None:
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
            raise ValueError("validation_data must be a pair (X_val, Y_val)")
        X_val = check_X(validation_data[0], net.n_inputs, net.dtype, name="X_val")
        Y_val = check_Y(
            validation_data[1], X_val.shape[0], net.n_outputs, net.loss, net.dtype, name="Y_val"
        )
        validation = _Data(X_val, Y_val)
    elif validation_split:
        n_val = int(round(validation_split * X.shape[0]))
        if n_val < 1 or n_val >= X.shape[0]:
            raise ValueError(
                f"validation_split={validation_split} of {X.shape[0]} samples leaves no "
                f"validation or no training data"
            )
        order = net.rng.permutation(X.shape[0])
        held, kept = order[:n_val], order[n_val:]
        validation = _Data(X[held], Y[held])
        X, Y = X[kept], Y[kept]
        weights = None if weights is None else weights[kept]
    return _Data(X, Y, weights), validation


class _Progress:
    """A tqdm bar over epochs when tqdm is installed, else a line per epoch on stderr."""

    def __init__(self, epochs: int, verbose: bool):
        self.bar = None
        self.verbose = verbose
        self.epoch = 0
        if verbose:
            try:
                from tqdm.auto import tqdm
            except ImportError:
                return
            self.bar = tqdm(total=epochs, unit="epoch", file=sys.stderr)

    def update(self, logs: dict) -> None:
        if not self.verbose:
            return
        self.epoch += 1
        shown = {k: f"{v:.4g}" for k, v in logs.items() if k != "lr"}
        if self.bar is not None:
            self.bar.set_postfix(shown, refresh=False)
            self.bar.update(1)
        else:
            text = " ".join(f"{k}={v}" for k, v in shown.items())
            print(f"epoch {self.epoch}: {text}", file=sys.stderr)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
