"""The estimators' solvers: ``adam``/``sgd`` through :func:`backprop.training.fit`, and
``lbfgs`` through ``scipy.optimize.minimize`` on the flat parameter vector.

Each ``fit_*`` function trains ``est.network_`` in place and keeps the estimator's training
record (``n_iter_``, ``t_``, ``loss_``, the loss curves) as scikit-learn's MLPs keep theirs.
"""

from __future__ import annotations

import contextlib
import functools
import os

import numpy as np
from scipy.optimize import OptimizeResult, minimize
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import ThreadpoolController

from ..engine.delta_rule import backward, batch_error, forward
from ..engine.network import Network
from ..engine.warn import warn_at_caller
from ..training import fit as train
from ..training.optimizers import SGD, Adam, Optimizer
from ..training.schedules import Schedule
from ..training.settings import check_optimizer_state

# A warning skips these frames: scikit-learn's decorator wraps fit, and its search and
# cross-validation tools call fit through joblib.
WARNING_PACKAGES = ("backprop", "sklearn", "joblib")


class _InvScaling(Schedule):
    """lr = base_lr / t**power_t with t = 1 + epochs trained before this one."""

    name = "invscaling"

    def __init__(self, power_t: float, offset: int = 0):
        self.power_t, self.offset = power_t, offset

    def __call__(self, epoch: int, base_lr: float) -> float:
        return float(base_lr) / (epoch + 1 + self.offset) ** self.power_t


class _Adaptive(Schedule):
    """A constant rate times ``scale``, which the stopping callback divides by 5."""

    name = "adaptive"

    def __init__(self, scale: float = 1.0):
        self.scale = scale

    def __call__(self, epoch: int, base_lr: float) -> float:
        return float(base_lr) * self.scale


class _Stopper:
    """The per-epoch callback: records curves and applies scikit-learn's stopping rule."""

    def __init__(self, est, monitor_validation: bool, adaptive: _Adaptive | None):
        self.est, self.validation, self.adaptive = est, monitor_validation, adaptive
        self.best_params = None
        self.converged = False

    def __call__(self, net, epoch, logs) -> bool:
        est = self.est
        est.n_iter_ += 1
        est.loss_curve_.append(float(logs["loss"]))
        if "val_loss" in logs:
            est.validation_loss_curve_.append(float(logs["val_loss"]))
        value = float(logs["val_loss"] if self.validation else logs["loss"])
        best = est.best_validation_loss_ if self.validation else est.best_loss_
        est._no_improvement_count = est._no_improvement_count + 1 if value > best - est.tol else 0
        if value < best:
            if self.validation:
                est.best_validation_loss_ = value
                self.best_params = net.params.copy()
            else:
                est.best_loss_ = value
        if est._no_improvement_count <= est.n_iter_no_change:
            return False
        if self.adaptive is not None and est.learning_rate_init * self.adaptive.scale > 1e-6:
            self.adaptive.scale /= 5.0
            est._no_improvement_count = 0
            return False
        self.converged = True
        return True


def _optimizer(est) -> Optimizer:
    if est.solver == "adam":
        return Adam(est.learning_rate_init, est.beta_1, est.beta_2, est.epsilon)
    nesterov = bool(est.nesterovs_momentum and est.momentum > 0)
    return SGD(est.learning_rate_init, momentum=est.momentum, nesterov=nesterov)


def _kept_state(est, optimizer: Optimizer):
    """The optimiser state to continue from: none once ``solver`` or ``momentum`` has changed
    (a new optimiser starts afresh, as scikit-learn's does)."""
    try:
        check_optimizer_state(optimizer, est.optimizer_state_, est.network_)
    except (TypeError, ValueError):
        return None
    return est.optimizer_state_


def _schedule(est) -> Schedule | None:
    if est.solver == "sgd" and est.learning_rate == "invscaling":
        return _InvScaling(est.power_t, est.n_iter_)
    if est.solver == "sgd" and est.learning_rate == "adaptive":
        return _Adaptive(getattr(est, "_adaptive_scale", 1.0))
    return None


def fit_stochastic(est, X, Y, sample_weight, validation, incremental: bool) -> None:
    """Train with adam or sgd: one epoch for ``partial_fit``, else up to ``max_iter``.

    ``validation`` is the (X, Y) pair that early stopping monitors, or None.
    """
    if est.early_stopping and validation is None:
        raise ValueError("early_stopping needs validation data")
    n = X.shape[0]
    batch = min(200, n) if est.batch_size == "auto" else min(est.batch_size, n)
    schedule = _schedule(est)
    adaptive = schedule if isinstance(schedule, _Adaptive) else None
    stopper = _Stopper(est, est.early_stopping and validation is not None, adaptive)
    optimizer = _optimizer(est)
    history = train(
        est.network_,
        X,
        Y,
        epochs=1 if incremental else est.max_iter,
        batch_size=batch,
        optimizer=optimizer,
        shuffle=est.shuffle,
        sample_weight=sample_weight,
        validation_data=validation,
        l2=float(est.alpha),
        l2_per_sample=True,
        schedule=schedule,
        metrics=[],
        callbacks=[stopper],
        verbose=bool(est.verbose),
        optimizer_state=_kept_state(est, optimizer),
        warn=False,
    )
    est.optimizer_state_ = history.optimizer_state
    if adaptive is not None:
        est._adaptive_scale = adaptive.scale
    est.t_ += n * len(history)
    est.loss_ = est.loss_curve_[-1]
    if stopper.best_params is not None:
        est.network_.params[...] = stopper.best_params
    if not incremental and not stopper.converged and len(history) == est.max_iter:
        warn_at_caller(
            f"Stochastic Optimizer: Maximum iterations ({est.max_iter}) reached and the "
            f"optimization hasn't converged yet.",
            ConvergenceWarning,
            packages=WARNING_PACKAGES,
        )


def fit_lbfgs(est, X, Y, sample_weight) -> None:
    """Train with L-BFGS-B on the whole set, up to ``max_iter`` iterations."""
    net = est.network_
    objective = _LbfgsObjective(net, X, Y, sample_weight, float(est.alpha))
    with _other_blas_single_threaded():
        result = minimize(
            objective,
            np.asarray(net.params, dtype=np.float64),
            method="L-BFGS-B",
            jac=True,
            options={"maxiter": est.max_iter, "maxfun": est.max_fun, "gtol": est.tol},
        )
    est.n_iter_ += _lbfgs_iterations(result, est.max_iter)
    net.params[...] = result.x
    est.t_ += X.shape[0]
    est.loss_ = float(result.fun)
    est.loss_curve_.append(est.loss_)
    est.best_loss_ = min(est.best_loss_, est.loss_)


def _lbfgs_iterations(result: OptimizeResult, max_iter: int) -> int:
    """The iterations L-BFGS-B ran; a ConvergenceWarning unless it converged."""
    n_iter = min(result.nit, max_iter)  # scipy may count one past maxiter
    if result.status != 0:
        advice = " Increase max_iter or scale the data." if n_iter == max_iter else ""
        warn_at_caller(
            f"lbfgs failed to converge after {n_iter} iteration(s) "
            f"(status={result.status}): {result.message}.{advice}",
            ConvergenceWarning,
            packages=WARNING_PACKAGES,
        )
    return n_iter


def _other_blas_single_threaded():
    """Hold every BLAS library but numpy's to one thread (a context manager).

    scipy's wheels bundle their own OpenBLAS beside numpy's, each with a thread per core. The
    L-BFGS-B step wakes scipy's threads, which then spin for a while and take the cores from
    the matrix products of the next forward and backward pass, run by numpy's: on two cores
    that made an L-BFGS fit 2.7x slower. Where numpy and scipy share one BLAS, nothing is
    limited.
    """
    others = _other_blas()
    return contextlib.nullcontext() if others is None else others.limit(limits=1)


@functools.lru_cache(maxsize=1)
def _other_blas():
    """threadpoolctl's controller of the BLAS libraries other than numpy's, or None.

    Found once per process: the scan of the loaded libraries takes about 4 ms, as long as a
    whole small fit.
    """
    numpy_dir = os.path.dirname(np.__file__)  # also the prefix of the wheel's numpy.libs
    blas = ThreadpoolController().select(user_api="blas")
    paths = [library.filepath for library in blas.lib_controllers]
    others = [path for path in paths if not path.startswith(numpy_dir)]
    if not others or len(others) == len(paths):  # no other BLAS, or numpy's not found
        return None
    return blas.select(filepath=others)


class _LbfgsObjective:
    """Loss and gradient on the whole set through forward/backward, plus the L2 term."""

    def __init__(self, net: Network, X, Y, sample_weight, alpha: float):
        self.net, self.X, self.Y = net, X, Y
        self.work = net.workspace(X.shape[0])
        self.weights = None if sample_weight is None else sample_weight.astype(net.dtype)
        total = X.shape[0] if sample_weight is None else float(sample_weight.sum())
        self.l2 = alpha / total

    def __call__(self, theta):
        net, work = self.net, self.work
        net.params[...] = theta
        work.set_scale(self.weights)
        with np.errstate(over="ignore", invalid="ignore"):
            forward(net, work, self.X)
            backward(net, work, self.Y)
            loss = batch_error(net, work, self.Y)
        W = theta[: net.n_weights]
        grad = np.asarray(net.grads, dtype=np.float64).copy()
        grad[: net.n_weights] += self.l2 * W
        return loss + 0.5 * self.l2 * float(W @ W), grad
