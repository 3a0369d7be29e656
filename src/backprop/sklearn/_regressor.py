"""``MLPRegressor``: regression with squared, absolute, Huber or Poisson loss."""

from __future__ import annotations

import numpy as np
from sklearn.base import RegressorMixin, TransformerMixin
from sklearn.metrics import r2_score
from sklearn.utils.metaestimators import available_if

from ._base import _BaseMLP, has_stochastic_solver
from ._persistence import loadable
from ._sklearn_internals import StrOptions, _fit_context


@loadable
class MLPRegressor(RegressorMixin, TransformerMixin, _BaseMLP):
    """A multi-layer perceptron regressor trained by ``backprop``.

    ``loss`` is ``"squared"`` (default; sklearn's ``squared_error`` is accepted too),
    ``"absolute"``, ``"huber"`` or ``"poisson"`` (exp output, non-negative targets). 2-D y
    trains one output per column; with several, ``loss_`` reports the squared loss averaged
    over them, as scikit-learn's does (``_reported_loss``).

    >>> import numpy as np
    >>> X = np.linspace(-1, 1, 40).reshape(-1, 1)
    >>> reg = MLPRegressor((16,), solver="lbfgs", random_state=0).fit(X, 2 * X.ravel())
    >>> reg.score(X, 2 * X.ravel()) > 0.99
    True
    """

    _y_numeric = True
    _parameter_constraints: dict = {
        **_BaseMLP._parameter_constraints,
        "loss": [StrOptions({"squared", "squared_error", "absolute", "huber", "poisson"})],
    }

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        solver="adam",
        alpha=1e-4,
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=1e-3,
        power_t=0.5,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
        max_fun=15000,
        dropout=0.0,
        dtype=None,
        device="cpu",
        loss="squared",
    ):
        super().__init__(
            hidden_layer_sizes,
            activation,
            solver=solver,
            alpha=alpha,
            batch_size=batch_size,
            learning_rate=learning_rate,
            learning_rate_init=learning_rate_init,
            power_t=power_t,
            max_iter=max_iter,
            shuffle=shuffle,
            random_state=random_state,
            tol=tol,
            verbose=verbose,
            warm_start=warm_start,
            momentum=momentum,
            nesterovs_momentum=nesterovs_momentum,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            beta_1=beta_1,
            beta_2=beta_2,
            epsilon=epsilon,
            n_iter_no_change=n_iter_no_change,
            max_fun=max_fun,
            dropout=dropout,
            dtype=dtype,
            device=device,
        )
        self.loss = loss

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None, X_val=None, y_val=None):
        """Train on (X, y); ``X_val``/``y_val`` give the early-stopping validation set."""
        return self._fit(X, y, sample_weight, val=(X_val, y_val))

    @available_if(has_stochastic_solver)
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """One epoch over (X, y), keeping the optimiser state (sgd and adam only)."""
        return self._fit(X, y, sample_weight, incremental=True)

    def _output_spec(self, n_out):
        loss = "squared" if self.loss == "squared_error" else self.loss
        return ("exp" if loss == "poisson" else "identity"), loss

    def _reported_loss(self, error: float, l2_term: float) -> float:
        """``loss_`` as scikit-learn reports it: with K > 1 outputs and the squared loss, the
        data term E − P averaged over the outputs, plus the L2 term P unchanged,

            loss_ = (E − P)/K + P,   E − P = Σₙ sₙ ½ Σₖ (aₖ − yₖ)²,   P = ½ α Σ‖W‖² / N.

        Only the report is averaged. scikit-learn's gradient is still that of the sum over the
        outputs (its output delta is δᴸ = a − y, not (a − y)/K), and so is the one trained here,
        so the steps of sgd and adam are scikit-learn's, and ``alpha`` weighs on them as it does
        there. The averaged value is what ``loss_``, ``loss_curve_``, ``best_loss_``, the ``tol``
        tests and ``verbose`` see, and what L-BFGS-B's line search and stopping tests get beside
        the gradient, as scikit-learn gives them. One output, and the other losses (which
        scikit-learn's ``poisson`` sums over the outputs too), report E itself.
        """
        if self.n_outputs_ == 1 or self._output_spec(1)[1] != "squared":
            return error
        return (error - l2_term) / self.n_outputs_ + l2_term

    def _n_outputs_needed(self) -> int:
        return self.n_outputs_

    def _outputs_description(self) -> str:
        return f"n_outputs_={self.n_outputs_}"

    def _score_outputs(self, out, Y, sample_weight) -> float:
        return r2_score(Y, out, sample_weight=sample_weight)

    def _encode_y(self, y, first=False, classes=None, incremental=False, held_out=False):
        y = np.asarray(y, dtype=np.float64)
        return y.reshape(-1, 1) if y.ndim == 1 else y

    def predict(self, X):
        """Predicted targets, shape (n_samples,) for one output, else (n_samples, n_outputs)."""
        out = self._forward(X)
        return out.ravel() if out.shape[1] == 1 else out
