"""scikit-learn estimators on top of ``backprop``: :class:`MLPClassifier` and :class:`MLPRegressor`.

They take scikit-learn's ``MLPClassifier``/``MLPRegressor`` hyperparameters (same names and
defaults where the concept is the same) and train a :class:`backprop.Network` with
:func:`backprop.training.fit` (solvers ``"adam"`` and ``"sgd"``) or with
``scipy.optimize.minimize(method="L-BFGS-B")`` on the flat parameter vector (``"lbfgs"``).
This module needs the optional extras scikit-learn and scipy; ``import backprop`` never loads it.

Differences from scikit-learn worth knowing:

* dtype: float32 X trains a float32 network, float64 X a float64 one, integer X a float64 one
  (``dtype="float32"``/``"float64"`` forces one).
* Initial weights and biases are drawn as scikit-learn draws them (uniform, Glorot's bound;
  ``backprop.Network`` itself uses He for ReLU layers and zero biases), so the two converge
  in about as many epochs.
* ``learning_rate="invscaling"`` decays per epoch: lr = learning_rate_init / epoch**power_t.
  ``"adaptive"`` divides the rate by 5 when the training loss has not improved by ``tol`` for
  ``n_iter_no_change`` epochs, and stops once the rate would fall below 1e-6 (only for sgd).
* ``early_stopping`` monitors the validation *loss* (``validation_loss_curve_``) rather than the
  validation score, and restores the weights of the best epoch. ``X_val``/``y_val`` given to
  ``fit`` replace the ``validation_fraction`` split.
* ``solver="lbfgs"`` holds scipy's own BLAS (where its wheel bundles one beside numpy's) to
  one thread while it runs, so that its idle threads do not slow numpy's matrix products.
* Extras: ``dropout``, ``class_weight``, regression ``loss`` (squared, absolute, huber,
  poisson), ``transform(X, layer=k)`` for hidden activations, per-layer ``activation`` lists.

>>> import numpy as np
>>> from backprop.sklearn import MLPClassifier
>>> X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]] * 10)
>>> y = np.array(["no", "yes", "yes", "no"] * 10)
>>> clf = MLPClassifier((8,), activation="tanh", solver="lbfgs", random_state=0).fit(X, y)
>>> clf.predict(X[:4]).tolist()
['no', 'yes', 'yes', 'no']
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import warnings
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from scipy.optimize import minimize
from sklearn.base import (
    BaseEstimator,
    ClassifierMixin,
    RegressorMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import check_random_state, column_or_1d, compute_sample_weight
from sklearn.utils._param_validation import Interval, Options, StrOptions
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.optimize import _check_optimize_result
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data
from threadpoolctl import ThreadpoolController

from ..engine.delta_rule import backward, batch_error, forward
from ..engine.network import Layer, Network
from ..io import model_file as model_files
from ..training import fit as _train
from ..training.optimizers import SGD, Adam
from ..training.schedules import Schedule

__all__ = ["MLPClassifier", "MLPRegressor", "load"]

_ACTIVATIONS = {
    "identity": "identity",
    "logistic": "sigmoid",
    "tanh": "tanh",
    "relu": "relu",
    "leaky_relu": "leaky_relu",
    "softplus": "softplus",
}
_SPARSE_FORMATS = ["csr", "csc", "coo"]
_FLOAT_DTYPES = [np.float64, np.float32]


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


def _initialize_as_scikit_learn(net: Network, activations) -> None:
    """Draw W and b as scikit-learn's MLPs do: uniform in ±√(k / (fan_in + fan_out)).

    k is 2 for a layer of logistic units and 6 otherwise; the output layer takes the last
    hidden layer's k (scikit-learn takes k from its one ``activation`` for every layer). The
    biases are drawn too. Started from the same distribution, the estimators need about as
    many epochs as scikit-learn's to converge (He initialisation of ReLU layers, ``Network``'s
    default, needed up to twice as many with these hyperparameters). The draws come from the
    network's own generator, which goes on to shuffle the batches.
    """
    rng = net.rng
    factors = [2.0 if activation == "logistic" else 6.0 for activation in activations]
    factors.append(factors[-1] if factors else 6.0)  # the output layer
    for layer, factor in zip(net.layers[1:], factors, strict=True):
        bound = math.sqrt(factor / (layer.n_in + layer.size))
        layer.W = rng.uniform(-bound, bound, (layer.size, layer.n_in))
        layer.b = rng.uniform(-bound, bound, layer.size)


def _hidden_setting(value, n_hidden: int, name: str) -> list:
    """One value per hidden layer from a scalar or a list of that length."""
    if isinstance(value, (list, tuple)):
        if len(value) != n_hidden:
            raise ValueError(
                f"{name} has {len(value)} entries but there are {n_hidden} hidden layers"
            )
        return list(value)
    return [value] * n_hidden


class _BaseMLP(BaseEstimator):
    """The code shared by the classifier and the regressor."""

    _parameter_constraints: dict = {
        "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
        "activation": [StrOptions(set(_ACTIVATIONS)), list, tuple],
        "solver": [StrOptions({"lbfgs", "sgd", "adam"})],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "batch_size": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "learning_rate": [StrOptions({"constant", "invscaling", "adaptive"})],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "power_t": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "tol": [Interval(Real, 0, None, closed="left")],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "momentum": [Interval(Real, 0, 1, closed="left")],
        "nesterovs_momentum": ["boolean"],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "beta_1": [Interval(Real, 0, 1, closed="left")],
        "beta_2": [Interval(Real, 0, 1, closed="left")],
        "epsilon": [Interval(Real, 0, None, closed="neither")],
        "n_iter_no_change": [
            Interval(Integral, 1, None, closed="left"),
            Options(Real, {np.inf}),
        ],
        "max_fun": [Interval(Integral, 1, None, closed="left")],
        "dropout": [Interval(Real, 0, 1, closed="left"), list, tuple],
        "dtype": [None, StrOptions({"float32", "float64"})],
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

    # -- tags and pickling --------------------------------------------------------------
    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.target_tags.multi_output = True
        return tags

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
        return self.dtype if self.dtype is not None else np.dtype(X.dtype).name

    # -- the network --------------------------------------------------------------------
    def _build_network(self, n_in: int, n_out: int, dtype: str) -> Network:
        sizes = self.hidden_layer_sizes
        sizes = [sizes] if isinstance(sizes, (Integral, np.integer)) else list(sizes)
        if any(not isinstance(s, (Integral, np.integer)) or s < 1 for s in sizes):
            raise ValueError(f"hidden_layer_sizes must be positive integers, got {sizes}.")
        activations = _hidden_setting(self.activation, len(sizes), "activation")
        unknown = [a for a in activations if a not in _ACTIVATIONS]
        if unknown:
            raise ValueError(f"unknown activation {unknown[0]!r}; known: {sorted(_ACTIVATIONS)}")
        dropouts = _hidden_setting(self.dropout, len(sizes), "dropout")
        seed = check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
        layers = [
            Layer(int(s), _ACTIVATIONS[a], dropout=float(d))
            for s, a, d in zip(sizes, activations, dropouts, strict=True)
        ]
        out_activation, loss = self._output_spec(n_out)
        layers.append(Layer(n_out, out_activation))
        net = Network([n_in, *layers], loss=loss, dtype=dtype, seed=int(seed))
        _initialize_as_scikit_learn(net, activations)
        return net

    def _reset_state(self, X, Y):
        self.network_ = self._build_network(X.shape[1], Y.shape[1], self._pick_dtype(X))
        self.n_outputs_ = Y.shape[1]
        self.n_layers_ = self.network_.n_layers + 1
        self.out_activation_ = self._out_activation_name()
        self.n_iter_, self.t_ = 0, 0
        self.loss_curve_, self.validation_loss_curve_ = [], []
        self.best_loss_ = self.best_validation_loss_ = math.inf
        self._no_improvement_count = 0
        self.optimizer_state_ = None

    def _out_activation_name(self) -> str:
        name = self.network_.output_activation.name
        return "logistic" if name == "sigmoid" else name

    # -- fitting ------------------------------------------------------------------------
    def _fit(self, X, y, sample_weight=None, *, incremental=False, classes=None, val=None):
        fitted = hasattr(self, "network_")
        first = not fitted or not (incremental or self.warm_start)
        X, y = self._validate_Xy(X, y, reset=first)
        Y = self._encode_y(y, first, classes)
        if first:
            self._reset_state(X, Y)
        X = self._as_network_dtype(X)
        sample_weight = self._sample_weight(sample_weight, X, y)
        if self.solver == "lbfgs":
            self._fit_lbfgs(X, Y, sample_weight)
        else:
            self._fit_stochastic(X, Y, sample_weight, y, incremental, val)
        self._publish_weights()
        return self

    def _sample_weight(self, sample_weight, X, y):
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X, dtype=np.float64)
        return sample_weight

    def _optimizer(self):
        if self.solver == "adam":
            return Adam(self.learning_rate_init, self.beta_1, self.beta_2, self.epsilon)
        nesterov = bool(self.nesterovs_momentum and self.momentum > 0)
        return SGD(self.learning_rate_init, momentum=self.momentum, nesterov=nesterov)

    def _schedule(self):
        if self.solver == "sgd" and self.learning_rate == "invscaling":
            return _InvScaling(self.power_t, self.n_iter_)
        if self.solver == "sgd" and self.learning_rate == "adaptive":
            return _Adaptive(getattr(self, "_adaptive_scale", 1.0))
        return None

    def _validation_split(self, X, Y, sample_weight, y, val):
        """(train X, Y, weights, validation pair or None)."""
        if val is not None and val[0] is not None:
            X_val, y_val = self._validate_Xy(val[0], val[1], reset=False)
            return X, Y, sample_weight, (self._as_network_dtype(X_val), self._encode_y(y_val))
        if not self.early_stopping:
            return X, Y, sample_weight, None
        stratify = y if self._stratify(y) else None
        train, held = train_test_split(
            np.arange(X.shape[0]),
            test_size=self.validation_fraction,
            random_state=self.network_.seed,
            stratify=stratify,
        )
        weights = None if sample_weight is None else sample_weight[train]
        return X[train], Y[train], weights, (X[held], Y[held])

    def _stratify(self, y) -> bool:
        return False

    def _fit_stochastic(self, X, Y, sample_weight, y, incremental, val):
        X, Y, sample_weight, validation = self._validation_split(X, Y, sample_weight, y, val)
        if self.early_stopping and validation is None:
            raise ValueError("early_stopping needs validation data")
        n = X.shape[0]
        batch = min(200, n) if self.batch_size == "auto" else min(self.batch_size, n)
        schedule = self._schedule()
        adaptive = schedule if isinstance(schedule, _Adaptive) else None
        stopper = _Stopper(self, self.early_stopping and validation is not None, adaptive)
        epochs = 1 if incremental else self.max_iter
        history = _train(
            self.network_,
            X,
            Y,
            epochs=epochs,
            batch_size=batch,
            optimizer=self._optimizer(),
            shuffle=self.shuffle,
            sample_weight=sample_weight,
            validation_data=validation,
            l2=float(self.alpha),
            l2_per_sample=True,
            schedule=schedule,
            metrics=[],
            callbacks=[stopper],
            verbose=bool(self.verbose),
            optimizer_state=self.optimizer_state_,
            warn=False,
        )
        self.optimizer_state_ = history.optimizer_state
        if adaptive is not None:
            self._adaptive_scale = adaptive.scale
        self.t_ += n * len(history)
        self.loss_ = self.loss_curve_[-1]
        if stopper.best_params is not None:
            self.network_.params[...] = stopper.best_params
        if not incremental and not stopper.converged and len(history) == self.max_iter:
            warnings.warn(
                f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached and the "
                f"optimization hasn't converged yet.",
                ConvergenceWarning,
                stacklevel=3,
            )

    def _fit_lbfgs(self, X, Y, sample_weight):
        net = self.network_
        objective = _LbfgsObjective(net, X, Y, sample_weight, float(self.alpha))
        with _other_blas_single_threaded():
            result = minimize(
                objective,
                np.asarray(net.params, dtype=np.float64),
                method="L-BFGS-B",
                jac=True,
                options={"maxiter": self.max_iter, "maxfun": self.max_fun, "gtol": self.tol},
            )
        self.n_iter_ += _check_optimize_result("lbfgs", result, self.max_iter)
        net.params[...] = result.x
        self.t_ += X.shape[0]
        self.loss_ = float(result.fun)
        self.loss_curve_.append(self.loss_)
        self.best_loss_ = min(self.best_loss_, self.loss_)

    # -- model files --------------------------------------------------------------------
    _FITTED_SCALARS = (
        "n_iter_",
        "t_",
        "loss_",
        "best_loss_",
        "best_validation_loss_",
        "loss_curve_",
        "validation_loss_curve_",
        "n_outputs_",
        "out_activation_",
    )

    def save(self, path) -> None:
        """Write the fitted estimator to a safetensors model file; ``load(path)`` reads it.

        The file holds the weights and, as JSON, the hyperparameters, the label encoding, the
        feature names and the training record. Unlike a pickle, loading it runs no code.
        The optimiser's moments are not kept: training after ``load`` starts them afresh.
        """
        check_is_fitted(self)
        fitted = {name: _plain(getattr(self, name, None)) for name in self._FITTED_SCALARS}
        fitted["n_features_in_"] = int(self.n_features_in_)
        if hasattr(self, "feature_names_in_"):
            fitted["feature_names_in_"] = [str(name) for name in self.feature_names_in_]
        fitted.update(self._label_encoding())
        params = {key: _plain(value) for key, value in self.get_params().items()}
        if params.get("class_weight") is not None and isinstance(self.class_weight, dict):
            params["class_weight"] = [[_plain(k), float(v)] for k, v in self.class_weight.items()]
        metadata = {"estimator": type(self).__name__, "params": params, "fitted": fitted}
        model_files.save(self.network_, path, metadata=model_files.encode_floats(metadata))

    def _label_encoding(self) -> dict:
        return {}

    def _restore_labels(self, fitted: dict) -> None:
        pass

    def _publish_weights(self):
        layers = self.network_.layers[1:]
        self.coefs_ = [np.array(layer.W.T) for layer in layers]
        self.intercepts_ = [np.array(layer.b) for layer in layers]

    # -- outputs ------------------------------------------------------------------------
    def _forward(self, X):
        check_is_fitted(self)
        X = self._validate_X(X)
        return self.network_.predict(self._as_network_dtype(X))

    def transform(self, X, layer=None):
        """Hidden layer ``layer``'s activations (1-based; default the last hidden layer)."""
        check_is_fitted(self)
        net = self.network_
        n_hidden = net.n_layers - 1
        layer = n_hidden if layer is None else layer
        if isinstance(layer, bool) or not isinstance(layer, Integral) or not 1 <= layer <= n_hidden:
            raise ValueError(f"layer must be an integer in 1..{n_hidden}, got {layer!r}")
        X = self._validate_X(X)
        X = self._as_network_dtype(X)
        out = np.empty((X.shape[0], net.layers[layer].size), net.dtype)
        for start in range(0, X.shape[0], 4096):
            rows = X[start : start + 4096]
            work = net.workspace(rows.shape[0])
            forward(net, work, rows)
            out[start : start + rows.shape[0]] = work.a[layer]
        return out

    def __sklearn_is_fitted__(self):
        return hasattr(self, "network_")


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

    def __init__(self, net, X, Y, sample_weight, alpha):
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


class MLPClassifier(ClassifierMixin, TransformerMixin, _BaseMLP):
    """A multi-layer perceptron classifier trained by ``backprop``.

    Binary targets train one sigmoid output with log-loss, multi-class targets a softmax output
    with cross-entropy, and 2-D 0/1 targets (multi-label) one sigmoid output per label.
    ``class_weight`` (None, ``"balanced"`` or a dict) multiplies the sample weights.

    >>> from sklearn.datasets import make_blobs
    >>> X, y = make_blobs(90, centers=3, random_state=0)
    >>> clf = MLPClassifier((16,), solver="lbfgs", random_state=0).fit(X, y)
    >>> clf.score(X, y) > 0.9
    True
    """

    _y_numeric = False
    _parameter_constraints: dict = {
        **_BaseMLP._parameter_constraints,
        "class_weight": [None, StrOptions({"balanced"}), dict],
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
        class_weight=None,
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
        )
        self.class_weight = class_weight

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None, X_val=None, y_val=None):
        """Train on (X, y); ``X_val``/``y_val`` give the early-stopping validation set."""
        return self._fit(X, y, sample_weight, val=(X_val, y_val))

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """One epoch over (X, y), keeping the optimiser state; ``classes`` on the first call."""
        if self.solver == "lbfgs":
            raise AttributeError("partial_fit is only available for stochastic optimizers")
        if not hasattr(self, "network_") and classes is None:
            raise ValueError("classes must be passed on the first call to partial_fit.")
        return self._fit(X, y, sample_weight, incremental=True, classes=classes)

    def _output_spec(self, n_out):
        if self._binarizer.y_type_ == "multiclass":
            return "softmax", "cross_entropy"
        return "sigmoid", "log_loss"

    def _encode_y(self, y, first=False, classes=None):
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if first:
            check_classification_targets(y)
            self._binarizer = LabelBinarizer().fit(y if classes is None else classes)
            self.classes_ = self._binarizer.classes_
        labels = y.ndim == 1 and self._binarizer.y_type_ in ("binary", "multiclass")
        if labels and self.classes_.size >= 2:
            try:
                return self._one_hot(y)
            except TypeError:  # labels that cannot be ordered with classes_: checked below
                pass
        if not first:  # the first call checked them above
            check_classification_targets(y)
        if type_of_target(y) != "multilabel-indicator":
            self._refuse_unseen(y, np.isin(y, self.classes_))
        return self._binarizer.transform(y).astype(np.float64)

    def _one_hot(self, y):
        """One column per class (one column for two classes, 1 for ``classes_[1]``), as
        ``LabelBinarizer`` encodes labels, without its checks: about 3 µs against 700 for 32
        labels, which is most of a ``partial_fit`` call on a small batch."""
        classes = self.classes_
        index = np.searchsorted(classes, y)
        self._refuse_unseen(y, classes[np.minimum(index, classes.size - 1)] == y)
        if classes.size == 2:
            return (index == 1).astype(np.float64)[:, None]
        Y = np.zeros((y.shape[0], classes.size))
        Y[np.arange(y.shape[0]), index] = 1.0
        return Y

    def _refuse_unseen(self, y, known) -> None:
        if not np.all(known):
            unseen = sorted(
                {
                    label.item() if isinstance(label, np.generic) else label
                    for label in np.asarray(y)[~np.asarray(known)].ravel()
                },
                key=str,
            )
            raise ValueError(f"y has classes {unseen} not in classes_ {self.classes_}")

    def _stratify(self, y) -> bool:
        return self._binarizer.y_type_ != "multilabel-indicator"

    def _sample_weight(self, sample_weight, X, y):
        sample_weight = super()._sample_weight(sample_weight, X, y)
        if self.class_weight is None:
            return sample_weight
        if y.ndim == 2 and y.shape[1] == 1:
            y = y.ravel()
        weights = compute_sample_weight(self.class_weight, y)
        return weights if sample_weight is None else weights * sample_weight

    def _label_encoding(self) -> dict:
        classes = self.classes_
        if classes.dtype.kind not in "iufbUS" and not all(isinstance(c, str) for c in classes):
            raise TypeError(
                "only numeric or string class labels can be saved to a model file, got "
                f"{classes.dtype}; pickle the estimator instead (trusted use only)"
            )
        return {
            "classes_": classes.tolist(),
            "classes_kind": classes.dtype.kind,
            "target_type": self._binarizer.y_type_,
        }

    def _restore_labels(self, fitted: dict) -> None:
        kind = fitted["classes_kind"]
        dtype = {"i": np.int64, "u": np.uint64, "f": np.float64, "b": np.bool_}.get(kind, object)
        classes = np.asarray(fitted["classes_"], dtype=dtype)
        if kind in "US":
            classes = np.asarray(fitted["classes_"])
        if fitted["target_type"] == "multilabel-indicator":
            self._binarizer = LabelBinarizer().fit(np.eye(max(len(classes), 2), dtype=int))
        else:
            self._binarizer = LabelBinarizer().fit(classes)
        self.classes_ = self._binarizer.classes_ if kind not in "US" else classes

    def predict_proba(self, X):
        """Class probabilities, shape (n_samples, n_classes); rows sum to 1 (not multi-label)."""
        out = self._forward(X)
        if len(self.classes_) == 1:
            return np.ones((out.shape[0], 1), out.dtype)
        if self._binarizer.y_type_ == "binary":
            return np.hstack([1 - out, out])
        return out

    def predict_log_proba(self, X):
        """The logarithm of ``predict_proba``."""
        proba = self.predict_proba(X)
        with np.errstate(divide="ignore"):
            return np.log(proba)

    def predict(self, X):
        """Class labels (a 0/1 indicator matrix for multi-label targets)."""
        out = self._forward(X)
        if len(self.classes_) == 1:
            return np.repeat(self.classes_[0], out.shape[0])
        return self._binarizer.inverse_transform(out)


class MLPRegressor(RegressorMixin, TransformerMixin, _BaseMLP):
    """A multi-layer perceptron regressor trained by ``backprop``.

    ``loss`` is ``"squared"`` (default; sklearn's ``squared_error`` is accepted too),
    ``"absolute"``, ``"huber"`` or ``"poisson"`` (exp output, non-negative targets). 2-D y
    trains one output per column.

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
        )
        self.loss = loss

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None, X_val=None, y_val=None):
        """Train on (X, y); ``X_val``/``y_val`` give the early-stopping validation set."""
        return self._fit(X, y, sample_weight, val=(X_val, y_val))

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """One epoch over (X, y), keeping the optimiser state."""
        if self.solver == "lbfgs":
            raise AttributeError("partial_fit is only available for stochastic optimizers")
        return self._fit(X, y, sample_weight, incremental=True)

    def _output_spec(self, n_out):
        loss = "squared" if self.loss == "squared_error" else self.loss
        return ("exp" if loss == "poisson" else "identity"), loss

    def _encode_y(self, y, first=False, classes=None):
        y = np.asarray(y, dtype=np.float64)
        return y.reshape(-1, 1) if y.ndim == 1 else y

    def predict(self, X):
        """Predicted targets, shape (n_samples,) for one output, else (n_samples, n_outputs)."""
        out = self._forward(X)
        return out.ravel() if out.shape[1] == 1 else out


def _plain(value):
    """A JSON-ready version of a hyperparameter or fitted value (TypeError if there is none)."""
    if isinstance(value, np.generic):
        return _plain(value.item())
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, dict):
        return value
    raise TypeError(f"cannot store {type(value).__name__} in a model file: {value!r}")


_ESTIMATORS = {"MLPClassifier": MLPClassifier, "MLPRegressor": MLPRegressor}


def load(path):
    """Read an estimator written by ``save``; refuses anything else with a ValueError.

    >>> import tempfile, pathlib
    >>> from backprop.sklearn import MLPRegressor, load
    >>> X = np.linspace(0, 1, 20).reshape(-1, 1); y = 2 * X[:, 0]
    >>> reg = MLPRegressor((4,), solver="lbfgs", random_state=0).fit(X, y)
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "reg.safetensors"
    >>> reg.save(path)
    >>> bool((load(path).predict(X) == reg.predict(X)).all())
    True
    """
    network, metadata, _ = model_files.load_with_metadata(path)
    metadata = model_files.decode_floats(metadata)
    try:
        cls = _ESTIMATORS[metadata["estimator"]]
        params = dict(metadata["params"])
        fitted = dict(metadata["fitted"])
        if isinstance(params.get("class_weight"), list):
            params["class_weight"] = {k: v for k, v in params["class_weight"]}
        if isinstance(params.get("hidden_layer_sizes"), list):
            params["hidden_layer_sizes"] = tuple(params["hidden_layer_sizes"])
        estimator = cls(**params)
        estimator.network_ = network
        estimator.n_features_in_ = int(fitted.pop("n_features_in_"))
        if "feature_names_in_" in fitted:
            estimator.feature_names_in_ = np.asarray(fitted.pop("feature_names_in_"), dtype=object)
        for name in cls._FITTED_SCALARS:
            setattr(estimator, name, fitted[name])
        estimator._restore_labels(fitted)
    except (KeyError, TypeError, ValueError) as error:
        raise ValueError(
            f"cannot load {str(path)!r}: not a backprop estimator file ({error})"
        ) from None
    estimator.optimizer_state_ = None
    estimator._no_improvement_count = 0
    estimator._publish_weights()
    return estimator
