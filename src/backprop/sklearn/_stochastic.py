"""The ``adam`` and ``sgd`` solvers, through :func:`backprop.training.fit`, with
scikit-learn's training record (``n_iter_``, ``t_``, ``loss_curve_``, ``validation_scores_``),
stopping rule, learning-rate schedules, early-stopping split and ``verbose`` lines."""

from __future__ import annotations

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state

from ..engine.warn import warn_at_caller
from ..training import TrainingDiverged
from ..training import fit as train
from ..training.optimizers import SGD, Adam, Optimizer
from ..training.schedules import Schedule
from ..training.settings import check_optimizer_state
from ._lbfgs import WARNING_PACKAGES

NON_FINITE_WEIGHTS = (
    "Solver produced non-finite parameter weights. The input data may contain large values "
    "and need to be preprocessed."
)


class _InvScaling(Schedule):
    """scikit-learn's "invscaling": the first epoch of a fit at ``learning_rate_init``, then
    lr = learning_rate_init / (t + 1)**power_t, t the samples seen (``t_``) before the epoch."""

    name = "invscaling"

    def __init__(self, power_t: float, t_start: int, n_samples: int, fresh: bool):
        self.power_t, self.t_start, self.n_samples, self.fresh = power_t, t_start, n_samples, fresh

    def __call__(self, epoch: int, base_lr: float) -> float:
        if epoch == 0 and self.fresh:
            return float(base_lr)
        return float(base_lr) / (self.t_start + epoch * self.n_samples + 1) ** self.power_t


class _Adaptive(Schedule):
    """A constant rate times ``scale``, which the stopping callback divides by 5."""

    name = "adaptive"

    def __init__(self, scale: float = 1.0):
        self.scale = scale

    def __call__(self, epoch: int, base_lr: float) -> float:
        return float(base_lr) * self.scale


class _Stopper:
    """The per-epoch callback: keeps the record, prints scikit-learn's ``verbose`` lines and
    applies its stopping rule (on the training loss, or on the validation score with
    ``early_stopping``, keeping the weights of the best score)."""

    def __init__(self, est, n_samples: int, validation, adaptive: _Adaptive | None):
        self.est, self.n_samples, self.validation, self.adaptive = (
            est,
            n_samples,
            validation,
            adaptive,
        )
        self.converged = False

    def __call__(self, net, epoch, logs) -> bool:
        est = self.est
        est.n_iter_ += 1
        est.t_ += self.n_samples
        est.loss_ = est._reported_loss(float(logs["loss"]), float(logs.get("l2_penalty", 0.0)))
        est.loss_curve_.append(est.loss_)
        self._say(f"Iteration {est.n_iter_}, loss = {est.loss_:.8f}")
        if self.validation is None:
            improved = est.loss_ <= est.best_loss_ - est.tol
            est.best_loss_ = min(est.best_loss_, est.loss_)
        else:
            score = est._validation_score(*self.validation)
            est.validation_scores_.append(score)
            self._say(f"Validation score: {score:f}")
            improved = score >= est.best_validation_score_ + est.tol
            if score > est.best_validation_score_:
                est.best_validation_score_ = score
                est._best_params = net.params.copy()
        est._no_improvement_count = 0 if improved else est._no_improvement_count + 1
        if est._no_improvement_count <= est.n_iter_no_change:
            return False
        return self._stop_or_slow_down()

    def _stop_or_slow_down(self) -> bool:
        est = self.est
        what = "Training loss" if self.validation is None else "Validation score"
        message = (
            f"{what} did not improve more than tol={est.tol:f} for "
            f"{est.n_iter_no_change} consecutive epochs."
        )
        if self.adaptive is None:
            self._say(f"{message} Stopping.")
        elif est.learning_rate_init * self.adaptive.scale <= 1e-6:
            self._say(f"{message} Learning rate too small. Stopping.")
        else:
            self.adaptive.scale /= 5.0
            rate = est.learning_rate_init * self.adaptive.scale
            self._say(f"{message} Setting learning rate to {rate:f}")
            est._no_improvement_count = 0
            return False
        self.converged = True
        return True

    def _say(self, line: str) -> None:
        if self.est.verbose:
            print(line)


def _optimizer(est) -> Optimizer:
    if est.solver == "adam":
        return Adam(est.learning_rate_init, est.beta_1, est.beta_2, est.epsilon)
    nesterov = bool(est.nesterovs_momentum and est.momentum > 0)
    return SGD(est.learning_rate_init, momentum=est.momentum, nesterov=nesterov)


def _kept_state(est, optimizer: Optimizer, incremental: bool):
    """The optimiser state to continue from: ``partial_fit`` keeps it, ``fit`` starts a new
    optimiser (as scikit-learn's does), and so does a changed ``solver`` or ``momentum``."""
    if not incremental:
        return None
    try:
        check_optimizer_state(optimizer, est.optimizer_state_, est.network_)
    except (TypeError, ValueError):
        return None
    return est.optimizer_state_


def _schedule(est, n_samples: int, incremental: bool) -> Schedule | None:
    if est.solver == "sgd" and est.learning_rate == "invscaling":
        fresh = not incremental or est.optimizer_state_ is None
        return _InvScaling(est.power_t, est.t_, n_samples, fresh)
    if est.solver == "sgd" and est.learning_rate == "adaptive":
        kept = incremental and est.optimizer_state_ is not None
        return _Adaptive(getattr(est, "_adaptive_scale", 1.0) if kept else 1.0)
    return None


def validation_split(est, X, Y, sample_weight, y, val):
    """(train X, Y, weights), and the (X, Y, weights) that early stopping scores, or None.

    ``X_val``/``y_val`` given to ``fit`` are used as they are; otherwise ``early_stopping``
    holds out ``validation_fraction`` of the samples, stratified by label for single-output
    classification, and refuses a validation set of fewer than 2 samples, as scikit-learn does.
    """
    if val is not None and val[0] is not None:
        X_val, y_val = est._validate_Xy(val[0], val[1], reset=False)
        Y_val = est._encode_y(y_val, held_out=True)
        return (X, Y, sample_weight), (X_val, Y_val, None)
    if not est.early_stopping:
        return (X, Y, sample_weight), None
    stratify = y if est._stratify(Y) else None
    train_rows, held = train_test_split(
        np.arange(X.shape[0]),
        test_size=est.validation_fraction,
        random_state=check_random_state(est.random_state),
        stratify=stratify,
    )
    if held.shape[0] < 2:
        raise ValueError(
            "The validation set is too small. Increase 'validation_fraction' "
            "or the size of your dataset."
        )
    train_weights = None if sample_weight is None else sample_weight[train_rows]
    held_weights = None if sample_weight is None else sample_weight[held]
    return (X[train_rows], Y[train_rows], train_weights), (X[held], Y[held], held_weights)


def fit_stochastic(est, training, validation, incremental: bool) -> None:
    """Train with adam or sgd: one epoch for ``partial_fit``, else up to ``max_iter``.

    ``training`` is (X, Y, weights); ``validation`` the (X, Y, weights) that early stopping
    scores, or None. A run that diverges raises a ``TrainingDiverged`` (a ValueError), except
    under early stopping, which ends it with the weights of the best validation score.
    """
    X, Y, sample_weight = training
    n = X.shape[0]
    if est.batch_size != "auto" and est.batch_size > n:
        warn_at_caller(
            "Got `batch_size` less than 1 or larger than sample size. It is going to be clipped",
            UserWarning,
            packages=WARNING_PACKAGES,
        )
    batch = min(200, n) if est.batch_size == "auto" else min(est.batch_size, n)
    schedule = _schedule(est, n, incremental)
    adaptive = schedule if isinstance(schedule, _Adaptive) else None
    stopper = _Stopper(est, n, validation if est.early_stopping else None, adaptive)
    optimizer = _optimizer(est)
    est.n_iter_ = 0
    try:
        history = train(
            est.network_,
            X,
            Y,
            epochs=1 if incremental else est.max_iter,
            batch_size=batch,
            optimizer=optimizer,
            shuffle=est.shuffle,
            sample_weight=sample_weight,
            l2=float(est.alpha),
            l2_per_sample=True,
            schedule=schedule,
            metrics=[],
            callbacks=[stopper],
            optimizer_state=_kept_state(est, optimizer, incremental),
            warn=False,
        )
    except TrainingDiverged as error:
        if not est.early_stopping:
            raise TrainingDiverged(f"{NON_FINITE_WEIGHTS} ({error})") from None
        history = None
    if history is not None:
        est.optimizer_state_ = history.optimizer_state
    if adaptive is not None:
        est._adaptive_scale = adaptive.scale
    if est.early_stopping:
        est.network_.params[...] = est._best_params
    if (
        history is not None
        and not incremental
        and not stopper.converged
        and len(history) == est.max_iter
    ):
        warn_at_caller(
            f"Stochastic Optimizer: Maximum iterations ({est.max_iter}) reached and the "
            f"optimization hasn't converged yet.",
            ConvergenceWarning,
            packages=WARNING_PACKAGES,
        )
