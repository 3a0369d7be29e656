"""``_BaseMLP``, the code the classifier and the regressor share: hyperparameters and their
constraints, input validation, building the network, the fit dispatch and the outputs."""

from __future__ import annotations

import math
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from ..engine.activations import get_activation
from ..engine.delta_rule import forward
from ..engine.network import Layer, Network
from ..engine.validation import check_sample_weight
from ..training.optimizer_base import state_on
from ._arguments import checked_sample_weight, hidden_setting
from ._lbfgs import fit_lbfgs
from ._persistence import save_estimator
from ._sklearn_internals import MLP_CONSTRAINTS, Interval, StrOptions
from ._stochastic import NON_FINITE_WEIGHTS, fit_stochastic, validation_split

# scikit-learn's activation names, and two of ours; get_activation knows each
# ("logistic" is its alias of "sigmoid").
ACTIVATION_NAMES = frozenset({"identity", "logistic", "tanh", "relu", "leaky_relu", "softplus"})
_SPARSE_FORMATS = ["csr", "csc", "coo"]
_FLOAT_DTYPES = [np.float64, np.float32]
# What a first fit starts afresh (scikit-learn sets each only for the solvers that keep it).
_TRAINING_RECORD = (
    "loss_",
    "loss_curve_",
    "best_loss_",
    "validation_scores_",
    "best_validation_score_",
    "_best_params",
    "_no_improvement_count",
    "_adaptive_scale",
)


def _initialize_as_scikit_learn(net: Network) -> None:
    """Draw W and b as scikit-learn's MLPs do: uniform in ±√(k / (fan_in + fan_out)).

    k is 2 for a layer of logistic units and 6 otherwise; the output layer takes the last
    hidden layer's k (scikit-learn takes k from its one ``activation`` for every layer). The
    biases are drawn too. Started from the same distribution, the estimators need about as
    many epochs as scikit-learn's to converge (He initialisation of ReLU layers, ``Network``'s
    default, needed up to twice as many with these hyperparameters). The draws come from the
    network's own generator, which goes on to shuffle the batches.
    """
    rng = net.rng
    logistic = get_activation("logistic")
    hidden = net.layers[1:-1]
    factors = [2.0 if layer.activation is logistic else 6.0 for layer in hidden]
    factors.append(factors[-1] if factors else 6.0)  # the output layer
    for layer, factor in zip(net.layers[1:], factors, strict=True):
        bound = math.sqrt(factor / (layer.n_in + layer.size))
        layer.W = rng.uniform(-bound, bound, (layer.size, layer.n_in))
        layer.b = rng.uniform(-bound, bound, layer.size)


def has_stochastic_solver(estimator) -> bool:
    """``partial_fit``'s availability: only the stochastic solvers (else AttributeError)."""
    if estimator.solver not in ("sgd", "adam"):
        raise AttributeError(
            f"partial_fit is only available for stochastic optimizers. {estimator.solver} is "
            "not stochastic."
        )
    return True


class _BaseMLP(BaseEstimator):
    """The code shared by the classifier and the regressor."""

    _parameter_constraints: dict = {
        **MLP_CONSTRAINTS,
        "activation": [StrOptions(set(ACTIVATION_NAMES)), list, tuple],  # one per layer too
        "dropout": [Interval(Real, 0, 1, closed="left"), list, tuple],
        "dtype": [None, StrOptions({"float32", "float64"})],
        "device": [str],
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
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.dropout = dropout
        self.dtype = dtype
        self.device = device

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.target_tags.multi_output = True
        return tags

    def __sklearn_is_fitted__(self):
        return hasattr(self, "network_")

    # -- data -----------------------------------------------------------------------------
    def _validate_X(self, X):
        X = validate_data(self, X, reset=False, accept_sparse=_SPARSE_FORMATS, dtype=_FLOAT_DTYPES)
        return X.toarray() if sp.issparse(X) else X

    def _validate_Xy(self, X, y, reset):
        X, y = validate_data(
            self,
            X,
            y,
            reset=reset,
            accept_sparse=_SPARSE_FORMATS,
            dtype=_FLOAT_DTYPES,
            multi_output=True,
            y_numeric=self._y_numeric,
        )
        return (X.toarray() if sp.issparse(X) else X), y

    def _as_network_dtype(self, X):
        return np.ascontiguousarray(X, dtype=self.network_.dtype)

    def _pick_dtype(self, X) -> str:
        """``dtype``, else X's; lbfgs computes in float64 (scikit-learn's lbfgs does too)."""
        if self.dtype is not None:
            return self.dtype
        return "float64" if self.solver == "lbfgs" else np.dtype(X.dtype).name

    def _sample_weight(self, sample_weight, X, y):
        return sample_weight

    # -- the network --------------------------------------------------------------------
    def _hidden_layers(self) -> list[Layer]:
        """The hidden layers the hyperparameters describe."""
        sizes = self.hidden_layer_sizes
        sizes = [sizes] if isinstance(sizes, (Integral, np.integer)) else list(sizes)
        if any(not isinstance(s, (Integral, np.integer)) for s in sizes):
            raise ValueError(f"hidden_layer_sizes must be integers, got {sizes}.")
        if any(s < 1 for s in sizes):
            raise ValueError(f"hidden_layer_sizes must be > 0, got {sizes}.")
        activations = hidden_setting(self.activation, len(sizes), "activation")
        unknown = [a for a in activations if a not in ACTIVATION_NAMES]
        if unknown:
            raise ValueError(
                f"unknown activation {unknown[0]!r}; known: {sorted(ACTIVATION_NAMES)}"
            )
        dropouts = hidden_setting(self.dropout, len(sizes), "dropout")
        return [
            Layer(int(s), get_activation(a), dropout=float(d))
            for s, a, d in zip(sizes, activations, dropouts, strict=True)
        ]

    def _build_network(self, n_in: int, n_out: int, dtype: str) -> Network:
        layers = self._hidden_layers()
        seed = check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
        out_activation, loss = self._output_spec(n_out)
        layers.append(Layer(n_out, out_activation))
        net = Network([n_in, *layers], loss=loss, dtype=dtype, seed=int(seed), device=self.device)
        _initialize_as_scikit_learn(net)
        return net

    def _reset_state(self, X, Y):
        """A new network and the attributes scikit-learn's MLPs set on a first fit."""
        for name in _TRAINING_RECORD:
            if hasattr(self, name):
                delattr(self, name)
        self.network_ = self._build_network(X.shape[1], Y.shape[1], self._pick_dtype(X))
        self.n_outputs_ = Y.shape[1]
        self.n_layers_ = self.network_.n_layers + 1
        self.out_activation_ = self._out_activation_name()
        self.n_iter_, self.t_ = 0, 0
        self.optimizer_state_ = None

    def _start_stochastic_record(self):
        """The stochastic solvers' record, where no earlier fit started it: the loss curve,
        and either the best loss or (early stopping) the validation scores."""
        if not hasattr(self, "loss_curve_"):
            self.loss_curve_ = []
            self._no_improvement_count = 0
        if self.early_stopping and getattr(self, "validation_scores_", None) is None:
            self.validation_scores_, self.best_validation_score_ = [], -math.inf
            self.best_loss_ = None
        elif not self.early_stopping and getattr(self, "best_loss_", None) is None:
            self.best_loss_ = math.inf
            self.validation_scores_ = self.best_validation_score_ = None
        if self.early_stopping and not hasattr(self, "_best_params"):
            self._best_params = self.network_.params.copy()

    def _out_activation_name(self) -> str:
        """scikit-learn's name for the output activation."""
        activation = self.network_.output_activation
        return "logistic" if activation is get_activation("logistic") else activation.name

    def _publish_weights(self):
        net = self.network_
        self.coefs_ = [net.xp.to_host(layer.W).T.copy() for layer in net.layers[1:]]
        self.intercepts_ = [net.xp.to_host(layer.b).copy() for layer in net.layers[1:]]

    # -- fitting ------------------------------------------------------------------------
    def _fit(self, X, y, sample_weight=None, *, incremental=False, classes=None, val=None):
        if incremental and self.early_stopping:
            raise ValueError("partial_fit does not support early_stopping=True")
        if val is not None and val[0] is not None and not self.early_stopping:
            raise ValueError(
                "X_val and y_val are early stopping's validation set: "
                "give them with early_stopping=True"
            )
        fitted = hasattr(self, "network_")
        first = not fitted or not (incremental or self.warm_start)
        if not first:
            self._check_same_network("partial_fit" if incremental else "warm_start=True")
        X, y = self._validate_Xy(X, y, reset=first)
        Y = self._encode_y(y, first, classes, incremental)
        if sample_weight is not None:
            sample_weight = checked_sample_weight(sample_weight, X.shape[0])
        sample_weight = self._sample_weight(sample_weight, X, y)
        if sample_weight is not None:  # in the dtype the network computes in
            dtype = self._pick_dtype(X) if first else self.network_.dtype.name
            check_sample_weight(sample_weight, X.shape[0], dtype)
        if self.solver != "lbfgs":
            training, validation = validation_split(self, X, Y, sample_weight, y, val)
        if first:
            self._reset_state(X, Y)
        self.network_.to(self.device)  # warm_start and partial_fit follow a changed device
        self.optimizer_state_ = state_on(self.optimizer_state_, self.network_.xp)
        if self.solver == "lbfgs":
            fit_lbfgs(self, self._as_network_dtype(X), Y, sample_weight)
        else:
            self._start_stochastic_record()
            X_train, Y_train, weights = training
            fit_stochastic(
                self,
                (self._as_network_dtype(X_train), Y_train, weights),
                validation and (self._as_network_dtype(validation[0]), *validation[1:]),
                incremental,
            )
        self._publish_weights()
        if not np.isfinite(self.network_.xp.to_host(self.network_.params)).all():
            raise ValueError(NON_FINITE_WEIGHTS)
        return self

    def _check_same_network(self, continuing: str) -> None:
        """Refuse to continue the fitted network once the hyperparameters that shaped it have
        changed (scikit-learn's MLPs keep the old shapes without a word)."""
        changed = self._network_differences(self.network_)
        if changed:
            now = ", ".join(f"{name}={getattr(self, name)!r}" for name in changed)
            raise ValueError(
                f"{continuing} continues the fitted network ({self.network_!r}), but {now} "
                "describes another; fit with warm_start=False to build a new network, or set "
                f"{' and '.join(changed)} back"
            )

    def _network_differences(self, net: Network) -> list[str]:
        """The hyperparameters that describe hidden layers or a dtype other than ``net``'s."""
        fitted = [(layer.size, layer.activation, layer.dropout) for layer in net.layers[1:-1]]
        described = [
            (layer.size, layer.activation, layer.dropout) for layer in self._hidden_layers()
        ]
        changed = [
            name
            for name, position in (("hidden_layer_sizes", 0), ("activation", 1), ("dropout", 2))
            if [item[position] for item in fitted] != [item[position] for item in described]
        ]
        if self.dtype is not None and self.dtype != net.dtype.name:
            changed.append("dtype")
        return changed

    def _stratify(self, Y) -> bool:
        return False

    def _reported_loss(self, error: float, l2_term: float) -> float:
        """``loss_`` from the training error E and its L2 term: E itself (the subclass
        that reports it otherwise says why)."""
        return error

    # -- model files --------------------------------------------------------------------
    def save(self, path) -> None:
        """Write the fitted estimator to a safetensors model file; ``load(path)`` reads it.

        The file holds the weights and, as JSON, the hyperparameters, the label encoding, the
        feature names and the training record. Unlike a pickle, loading it runs no code.
        The optimiser's moments are not kept: training after ``load`` starts them afresh.
        """
        save_estimator(self, path)

    def _label_encoding(self) -> dict:
        return {}

    def _restore_labels(self, fitted: dict) -> None:
        pass

    # -- outputs ------------------------------------------------------------------------
    def _forward(self, X):
        """The output layer's activations, in X's dtype where that is the wider one (a
        float32 model given float64 X answers in float64, as scikit-learn's does)."""
        check_is_fitted(self)
        X = self._validate_X(X)
        out = self.network_.xp.to_host(self.network_.predict(self._as_network_dtype(X)))
        return out.astype(np.result_type(X.dtype, self.network_.dtype), copy=False)

    def _validation_score(self, X, Y, sample_weight) -> float:
        """``score`` on the validation set (NaN where the outputs are not finite)."""
        out = self.network_.xp.to_host(self.network_.predict(X))
        if not np.isfinite(out).all():
            return math.nan
        return float(self._score_outputs(out, Y, sample_weight))

    def transform(self, X, layer=None):
        """Hidden layer ``layer``'s activations (1-based; default the last hidden layer)."""
        check_is_fitted(self)
        net = self.network_
        n_hidden = net.n_layers - 1
        layer = n_hidden if layer is None else layer
        if isinstance(layer, bool) or not isinstance(layer, Integral) or not 1 <= layer <= n_hidden:
            raise ValueError(f"layer must be an integer in 1..{n_hidden}, got {layer!r}")
        X = self._as_network_dtype(self._validate_X(X))
        out = np.empty((X.shape[0], net.layers[layer].size), net.dtype)
        for start in range(0, X.shape[0], 4096):
            rows = net.xp.asarray(X[start : start + 4096])
            work = net.workspace(rows.shape[0])
            forward(net, work, rows)
            out[start : start + rows.shape[0]] = net.xp.to_host(work.a[layer])
        return out
