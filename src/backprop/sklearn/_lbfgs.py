"""The ``lbfgs`` solver: ``scipy.optimize.minimize(method="L-BFGS-B")`` on the flat parameter
vector, with the loss and gradient of the whole training set, as scikit-learn's MLPs run it.

L-BFGS-B works in float64 and takes ``maxiter=max_iter``, ``maxfun=max_fun`` and
``gtol=tol``; the estimators give it a float64 network unless ``dtype`` asks for float32 (a
float32 loss is too coarse for its line search near the optimum, so it would stop early).
"""

from __future__ import annotations

import contextlib
import functools
import os
import warnings

import numpy as np
from scipy.optimize import OptimizeResult, minimize
from threadpoolctl import ThreadpoolController

from ..engine.delta_rule import backward, batch_error, forward
from ..engine.network import Network
from ..engine.warn import warn_at_caller
from ._sklearn_internals import check_optimize_result

# A warning skips these frames: scikit-learn's decorator wraps fit, and its search and
# cross-validation tools call fit through joblib.
WARNING_PACKAGES = ("backprop", "sklearn", "joblib")


def fit_lbfgs(est, X, Y, sample_weight) -> None:
    """Train ``est.network_`` with L-BFGS-B on the whole set, up to ``max_iter`` iterations.

    As in scikit-learn, ``n_iter_`` counts this call's iterations and ``loss_`` is its final
    loss; ``t_`` and the loss curve are the stochastic solvers' (lbfgs leaves them alone).
    """
    net = est.network_
    objective = _LbfgsObjective(net, X, Y, sample_weight, float(est.alpha), est._reported_loss)
    with _other_blas_single_threaded():
        result = minimize(
            objective,
            net.xp.to_host(net.params).astype(np.float64),
            method="L-BFGS-B",
            jac=True,
            options={"maxiter": est.max_iter, "maxfun": est.max_fun, "gtol": est.tol},
        )
    est.n_iter_ = _lbfgs_iterations(result, est.max_iter)
    net.params[...] = net.xp.asarray(result.x, dtype=net.dtype)
    est.loss_ = float(result.fun)


def _lbfgs_iterations(result: OptimizeResult, max_iter: int) -> int:
    """The iterations L-BFGS-B ran, and scikit-learn's ConvergenceWarning unless it converged
    (its own check writes the message, shown here at the caller's line)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        n_iter = check_optimize_result("lbfgs", result, max_iter)
    for warning in caught:
        warn_at_caller(str(warning.message), warning.category, packages=WARNING_PACKAGES)
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
    """Loss and gradient on the whole set through forward/backward, plus the L2 term.

    The value is the loss as the estimator reports it (``reported(E, L2 term)``), the gradient
    that of E: the pair scikit-learn's lbfgs is given, so L-BFGS-B's line search and its stopping
    tests see the same numbers (they differ from a consistent pair only for a multi-output
    regressor; see ``MLPRegressor._reported_loss``).
    """

    def __init__(self, net: Network, X, Y, sample_weight, alpha: float, reported):
        xp = net.xp  # the data go to the network's device once; θ and ∇ cross every call
        self.net, self.X, self.Y, self.reported = net, xp.asarray(X), xp.asarray(Y), reported
        self.work = net.workspace(X.shape[0])
        self.weights = None if sample_weight is None else xp.asarray(sample_weight, net.dtype)
        total = X.shape[0] if sample_weight is None else float(sample_weight.sum())
        self.l2 = alpha / total

    def __call__(self, theta):
        net, work = self.net, self.work
        net.params[...] = net.xp.asarray(theta, dtype=net.dtype)
        work.set_scale(self.weights)
        with net.xp.errstate(over="ignore", invalid="ignore"):
            forward(net, work, self.X)
            backward(net, work, self.Y)
            loss = float(batch_error(net, work, self.Y))
        W = theta[: net.n_weights]
        grad = net.xp.to_host(net.grads).astype(np.float64)
        grad[: net.n_weights] += self.l2 * W
        penalty = 0.5 * self.l2 * float(W @ W)
        return self.reported(loss + penalty, penalty), grad
