"""The fit loop: epochs of training steps, with validation, early stopping, callbacks and
checkpoints around them.

One epoch shows every training sample once. With ``batch_size=None`` (batch mode) it makes one
update from the gradient over the whole set, with ``batch_size=1`` (stochastic mode) one update
per sample, and with ``batch_size=k`` (mini-batch mode) one per k samples, the last batch
possibly smaller. Each update is a ``TrainingStep`` (``step.py``):

    forward → backward (the delta rule) → [reduce_gradients] → [+ λ·W] → [fixed θ: ∇ ← 0]
            → [clip ‖∇‖] → optimiser

on the flat parameter buffer; parameters of layers made with ``train_weights=False`` or
``train_bias=False`` get a zero gradient and so never change. Per epoch the ``History``
records the training loss (the mean of the batch errors during the epoch; with ``l2``, the part
of it that is the L2 term as ``l2_penalty``), the validation loss and metrics, the learning
rate, and each layer's mean |δ| and ‖∂E/∂W‖ on the epoch's last batch (before decay and
clipping). The numbers the loop needs from the device are read in
``readout.py``, not in the step.

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
import threading
from collections.abc import Callable, Sequence

from ..engine.validation import check_weight_total, check_X, check_Y
from ..engine.warn import warn_at_caller
from . import checkpoint as checkpoints
from . import readout
from .batches import Batches, Data
from .diagnosis import ConvergenceWarning, diagnose
from .evaluation import check_metrics, evaluate
from .history import History
from .optimizers import get_optimizer
from .parallel import distributable, session_for
from .progress import Progress
from .readout import LossLog
from .schedules import get_schedule
from .settings import (
    check_checkpoint,
    check_flags,
    check_hooks,
    check_monitors,
    check_optimizer_state,
    check_settings,
)
from .state import ResumePoint, TrainingState
from .step import TrainingStep
from .stopping import EarlyStopping
from .transforms import gradient_transforms


@distributable
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
    weight_decay: float = 0.0,
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
    reduce_gradients: Callable | None = None,
    distributed=False,
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
    early_stopping : ``True`` or an ``EarlyStopping``: stop when the validation loss (or the
        ``monitor`` chosen, in the direction its ``mode`` says) stops improving, and restore
        the best weights. A ``monitor`` that training does not record is refused.
    l2 : weight decay λ: the objective gains (λ/2) Σ‖Wˡ‖² (biases are not decayed); applied as
        the gradient transform ``transforms.WeightDecay``. That term's part of the epoch's loss
        is recorded as ``l2_penalty``.
    l2_per_sample : divide that term by the batch's total sample weight (scikit-learn's
        ``alpha`` convention), so its pull on the weights shrinks as batches grow.
    weight_decay : decoupled weight decay λ (AdamW's): before every update W ← (1 − η·λ)·W,
        η the step's learning rate (``transforms.DecoupledWeightDecay``; biases not decayed).
    clip_norm : rescale the whole gradient to this Euclidean norm when it is larger
        (``transforms.ClipByGlobalNorm``, after the decay).
    schedule : a learning-rate schedule from ``backprop.schedules`` (or its name).
    metrics : names among ``"accuracy"``, ``"mae"``, ``"mse"`` computed on the validation data;
        default ``["accuracy"]`` for classification losses.
    callbacks : functions ``f(net, epoch, logs)``; one that returns True stops training.
    verbose : show a progress bar (tqdm when installed) with the losses.
    optimizer_state : the state returned in ``history.optimizer_state`` by an earlier call,
        to continue training with the optimiser's moments and step count (warm start).
    warn : when training ends with a problem ``history.diagnose()`` finds (all but
        overfitting), issue a ``ConvergenceWarning`` carrying its advice.
    checkpoint : a file to write the whole training state to, atomically, every
        ``checkpoint_every`` epochs and at the end (see ``backprop.training.checkpoint``). Ctrl-C or
        SIGTERM during training rolls the network back to the last completed epoch, saves that
        epoch's checkpoint and re-raises KeyboardInterrupt.
    reduce_gradients : a function ``(grads, share) -> share`` called after each backward pass,
        the seam for data-parallel training (see ``backprop.training.step``).
    resume : continue from ``checkpoint`` when it exists (a fresh start when it does not); the
        result is bitwise the same as an uninterrupted run. A changed setup is refused.
    distributed : ``True`` to train one model across the ranks of ``mpiexec`` (X, Y being this
        rank's rows; or a ``backprop.distributed.Session``); see ``backprop.distributed``.
        With one process, a plain fit.
    """
    check_flags(
        shuffle=shuffle, l2_per_sample=l2_per_sample, verbose=verbose, warn=warn, resume=resume
    )
    check_checkpoint(checkpoint, checkpoint_every, resume)
    settings = check_settings(
        epochs=epochs,
        batch_size=batch_size,
        validation_split=validation_split,
        l2=l2,
        clip_norm=clip_norm,
        weight_decay=weight_decay,
    )
    settings["l2_per_sample"] = bool(l2_per_sample)
    epochs, batch_size = settings["epochs"], settings["batch_size"]
    validation_split = settings["validation_split"]
    stopper = check_hooks(callbacks, reduce_gradients, early_stopping, metrics)
    session = session_for(distributed)
    optimizer = get_optimizer(optimizer, lr)
    check_optimizer_state(optimizer, optimizer_state, net)
    schedule = get_schedule(schedule)
    metrics = check_metrics(net, metrics)
    has_validation = validation_data is not None or validation_split > 0
    session.check_validation(has_validation)
    check_monitors(stopper, schedule, has_validation, metrics)
    xp = net.xp
    saved = checkpoints.read(checkpoint, net, optimizer, schedule) if resume else None
    rng_before = xp.rng_state(net.rng)
    split_rng_state = saved.meta["split_rng"] if saved is not None else rng_before
    xp.set_rng_state(net.rng, split_rng_state)  # the same validation split as the saved run
    try:
        train, validation = _prepare_data(
            net, X, Y, sample_weight, validation_data, validation_split
        )
        n = train.X.shape[0]
        batch = n if batch_size is None else min(batch_size, n)
        n_validation = 0 if validation is None else validation.X.shape[0]
        setup = checkpoints.fingerprint(
            net, session.total_rows(n), n_validation, batch, optimizer, settings, shuffle
        )
        if saved is not None:
            checkpoints.check_setup(saved, setup)
    except BaseException:  # the generator is put back whatever stopped the preparation
        xp.set_rng_state(net.rng, rng_before)
        raise

    if saved is not None:
        state = saved.state
        checkpoints.restore(saved, net, schedule)
    else:
        if optimizer_state is None:
            optimizer_state = optimizer.init(net.params, xp=xp)
        state = TrainingState(optimizer_state=optimizer_state)
    session.start(net, state, split_rng_state)
    step = TrainingStep(
        net,
        optimizer,
        gradient_transforms(
            settings["l2"],
            settings["l2_per_sample"],
            settings["clip_norm"],
            net.frozen_ranges(),
            settings["weight_decay"],
        ),
        reduce_gradients,
    )
    step = xp.wrap_step(session.wrap_step(step))  # on a GPU: replayed from a CUDA graph
    batches = xp.stream_batches(train, batch) or Batches(xp, train, batch)
    del train  # the batches keep what they need (0/1 targets as uint8)
    errors = LossLog(net, batches.size, n, batches.weighted)  # one for the fit

    def save_checkpoint():
        if session.rank == 0:
            checkpoints.save(checkpoint, net, state, schedule, split_rng_state, setup)

    progress = Progress(epochs, verbose and session.rank == 0)
    first = state.epoch + 1
    # overflow and NaN are caught by the divergence check, which says more than a warning
    with xp.errstate(over="ignore", invalid="ignore"), _sigterm_interrupts(checkpoint):
        try:
            for epoch in range(first, 0 if state.stopped else epochs):
                point = ResumePoint.take(net, state, schedule) if checkpoint else None
                state.epoch = epoch
                rate = schedule(epoch, optimizer.lr)
                # one batch covering the whole set sees the same gradient in any order
                order = session.order(net, n, epoch) if shuffle and batch < n else None
                loss, penalty, layer_stats = _run_epoch(
                    step, batches, order, state, rate, session, errors
                )
                logs = {"loss": loss, "lr": rate}
                if settings["l2"]:
                    logs["l2_penalty"] = penalty
                if validation is not None:
                    logs.update(
                        session.mean(
                            evaluate(net, validation.X, validation.Y, metrics, _checked=True),
                            n_validation,
                        )
                    )
                logs, layer_stats = session.agree(logs, layer_stats)
                state.history.append(logs, layer_stats)
                schedule.observe(logs)
                progress.update(logs)
                state.stopped = session.any(_epoch_says_stop(net, state, logs, callbacks, stopper))
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
    best = state.stopping.best_params
    if stopper is not None and stopper.restore_best and best is not None:
        net.params[...] = best
    state.history.optimizer = optimizer
    state.history.optimizer_state = state.optimizer_state
    if warn and not state.stopped and session.rank == 0:
        _warn_if_unconverged(state.history)
    return state.history


def _warn_if_unconverged(history: History) -> None:
    """Warn with every finding about how training went (overfitting is about the data)."""
    findings = [f for f in diagnose(history) if f.about_training]
    if findings and len(history) >= 10:
        advice = " ".join(str(f) for f in findings)
        warn_at_caller(f"Training did not converge. {advice}", ConvergenceWarning)


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


def _epoch_says_stop(net, state: TrainingState, logs, callbacks, stopper) -> bool:
    """Every callback sees the epoch; any that returns True, or early stopping, ends training."""
    requests = [bool(callback(net, state.epoch, logs)) for callback in callbacks]
    if stopper is not None:
        improved, exhausted = state.stopping.observe(stopper, logs[stopper.monitor], net.params)
        if improved:
            state.history.best_epoch = state.epoch
        if exhausted:
            state.history.stopped_early = True
            return True
    return any(requests)


def _run_epoch(
    step: TrainingStep, batches: Batches, order, state: TrainingState, rate, session, errors
):
    """One pass over the data, logged in ``errors``; returns the mean batch error, the L2
    terms' part of it and the last batch's layer stats.

    A step with a ``take`` method (a GPU's graphed step) may run a batch from the data itself,
    gathering it and logging it on the device; where it does not (``None``), the batch is
    gathered here and given to the step."""
    net, xp = step.net, step.net.xp
    n, batch = batches.n, batches.size
    errors.begin_epoch(state.epoch)
    starts = session.batch_starts(n, batch)
    skipped = session.empty_batches(xp, batches.data.weights, order, batch, starts)
    last_start = (n - 1) // batch * batch
    take = getattr(step, "take", None)
    stats = None
    for batch_number, start in enumerate(starts):
        if batch_number in skipped:
            continue  # every sample here has weight 0: no gradient, no step
        observe = start == last_start
        result = None
        if take is not None:
            optimizer_state = state.optimizer_state
            result = take(
                batches, order, start, errors, batch_number, rate, optimizer_state, observe
            )
        if result is None:
            X, Y, weights = batches.get(order, start)
            result = step(X, Y, weights, rate, state.optimizer_state, observe=observe)
            if start < n:  # a rank whose rows ran out takes part with no batch
                errors.add(result.work, Y, weights, batch_number, result.penalty)
        state.optimizer_state = result.optimizer_state
        stats = result.layer_stats if result.layer_stats is not None else stats
    loss, penalty = session.epoch_error(errors)
    if not readout.params_finite(net):  # the epoch's last update went non-finite
        errors.diverged(batch_number, math.nan)
    return loss, penalty, readout.layer_stats(stats, net.n_layers)


_TRAINING_WEIGHTS = "the weights of the samples validation_split leaves for training"


def _prepare_data(net, X, Y, sample_weight, validation_data, validation_split):
    """The training and validation ``Data`` on the network's device, except training inputs
    and targets too large for it, which stay on the host to be streamed (``xp.streams``)."""
    xp = net.xp
    X, Y, weights = net.check_data(X, Y, sample_weight, on_device=False)
    streamed = xp.streams(X.nbytes + Y.nbytes)
    if not streamed:
        X, Y = xp.asarray(X), xp.asarray(Y)
    weights = None if weights is None else xp.asarray(weights)
    validation = None
    if validation_data is not None:
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
            raise ValueError("validation_data must be a pair (X_val, Y_val)")
        X_val = check_X(net._to_host(validation_data[0]), net.n_inputs, net.dtype, name="X_val")
        Y_val = check_Y(
            net._to_host(validation_data[1]),
            X_val.shape[0],
            net.n_outputs,
            net.loss,
            net.dtype,
            name="Y_val",
        )
        validation = Data(net.xp.asarray(X_val), net.xp.asarray(Y_val))
    elif validation_split:
        n_val = int(round(validation_split * X.shape[0]))
        if n_val < 1 or n_val >= X.shape[0]:
            raise ValueError(
                f"validation_split={validation_split} of {X.shape[0]} samples leaves no "
                f"validation or no training data"
            )
        order = xp.permutation(net.rng, X.shape[0])
        held, kept = order[:n_val], order[n_val:]
        rows = (xp.to_host(held), xp.to_host(kept)) if streamed else (held, kept)
        validation = Data(xp.asarray(X[rows[0]]), xp.asarray(Y[rows[0]]))
        X, Y = X[rows[1]], Y[rows[1]]
        if weights is not None:
            weights = weights[kept]
            check_weight_total(float(weights.sum()), net.dtype, _TRAINING_WEIGHTS)
    return Data(X, Y, weights), validation
