"""``MLPClassifier``: binary, multi-class and multi-label classification."""

from __future__ import annotations

from numbers import Number

import numpy as np
from sklearn.base import ClassifierMixin, TransformerMixin
from sklearn.metrics import accuracy_score
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import column_or_1d, compute_sample_weight
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets, type_of_target, unique_labels

from ._base import _BaseMLP, has_stochastic_solver
from ._persistence import loadable
from ._sklearn_internals import StrOptions, _fit_context


@loadable
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
        device="cpu",
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
            device=device,
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

    @available_if(has_stochastic_solver)
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """One epoch over (X, y), keeping the optimiser state; ``classes`` on the first call.

        As in scikit-learn, y may hold only some of ``classes`` but no other label, and
        only the stochastic solvers have ``partial_fit``.
        """
        if not hasattr(self, "network_") and classes is None:
            raise ValueError("classes must be passed on the first call to partial_fit.")
        if classes is not None:
            _check_labels(classes, "classes")
            if hasattr(self, "network_") and not np.array_equal(
                self.classes_, unique_labels(classes)
            ):
                raise ValueError(
                    f"`classes={classes!r}` is not the same as on last call to partial_fit, "
                    f"was: {self.classes_!r}"
                )
        return self._fit(X, y, sample_weight, incremental=True, classes=classes)

    def _output_spec(self, n_out):
        if self._binarizer.y_type_ == "multiclass":
            return "softmax", "cross_entropy"
        return "sigmoid", "log_loss"

    def _n_outputs_needed(self) -> int:
        """One output per class, or one for two classes (or one class) of single labels."""
        n = len(self.classes_)
        return n if self._binarizer.y_type_ == "multilabel-indicator" or n > 2 else 1

    def _outputs_description(self) -> str:
        return f"{len(self.classes_)} {self._binarizer.y_type_} classes"

    def _encode_y(self, y, first=False, classes=None, incremental=False, held_out=False):
        """Y for the network: y's labels as ``LabelBinarizer`` encodes them, after
        scikit-learn's checks of the labels against ``classes_`` (held-out labels need only
        be among them)."""
        _check_labels(y, "y")
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        if first:
            multilabel = type_of_target(y).startswith("multilabel")
            self._binarizer = LabelBinarizer().fit(classes if incremental and not multilabel else y)
            self.classes_ = self._binarizer.classes_
        if not first or incremental:
            self._check_classes(y, same=self.warm_start and not held_out)
        labels = y.ndim == 1 and self._binarizer.y_type_ in ("binary", "multiclass")
        if labels and self.classes_.size >= 2 and _is_text(self.classes_) == _is_text(y):
            return self._one_hot(y)
        return self._binarizer.transform(y).astype(np.float64)

    def _check_classes(self, y, same: bool) -> None:
        """scikit-learn's rules: ``warm_start`` needs y's classes to be ``classes_`` (``same``),
        and ``partial_fit`` refuses labels outside ``classes_``."""
        labels = unique_labels(y)
        if same:
            if set(labels) != set(self.classes_):
                raise ValueError(
                    "warm_start can only be used where `y` has the same classes as in the "
                    f"previous call to fit. Previously got {self.classes_}, `y` has {labels}"
                )
        elif len(np.setdiff1d(labels, self.classes_, assume_unique=True)):
            raise ValueError(
                f"`y` has classes not in `self.classes_`. `self.classes_` has {self.classes_}. "
                f"'y' has {labels}."
            )

    def _one_hot(self, y):
        """One column per class (one column for two classes, 1 for ``classes_[1]``), as
        ``LabelBinarizer`` encodes labels known to be in ``classes_``, without its checks."""
        classes = self.classes_
        index = np.searchsorted(classes, y)
        if classes.size == 2:
            return (index == 1).astype(np.float64)[:, None]
        Y = np.zeros((y.shape[0], classes.size))
        Y[np.arange(y.shape[0]), index] = 1.0
        return Y

    def _stratify(self, Y) -> bool:
        """scikit-learn stratifies the early-stopping split of single-output targets."""
        return Y.shape[1] == 1

    def _score_outputs(self, out, Y, sample_weight) -> float:
        decode = self._binarizer.inverse_transform
        return accuracy_score(decode(Y), decode(out), sample_weight=sample_weight)

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
        if fitted["target_type"] not in ("binary", "multiclass", "multilabel-indicator"):
            raise ValueError(f"unknown target_type {fitted['target_type']!r}")
        if not isinstance(fitted["classes_"], list) or not fitted["classes_"]:
            raise ValueError("classes_ must be a non-empty list")
        _check_labels(fitted["classes_"], "classes_")
        dtype = {"i": np.int64, "u": np.uint64, "f": np.float64, "b": np.bool_}.get(kind, object)
        classes = np.asarray(fitted["classes_"], dtype=dtype)
        if kind in "US":
            classes = np.asarray(fitted["classes_"])
        if fitted["target_type"] == "multilabel-indicator":
            self._binarizer = LabelBinarizer().fit(np.eye(max(len(classes), 2), dtype=int))
        else:
            self._binarizer = LabelBinarizer().fit(classes)
        self.classes_ = self._binarizer.classes_ if kind not in "US" else classes
        if fitted["target_type"] != "multilabel-indicator" and not np.array_equal(
            self._binarizer.classes_, classes
        ):
            raise ValueError(f"classes_ {fitted['classes_']} are not sorted and distinct")

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
            return np.log(proba, out=proba)

    def predict(self, X):
        """Class labels (a 0/1 indicator matrix for multi-label targets)."""
        out = self._forward(X)
        if len(self.classes_) == 1:
            return np.repeat(self.classes_[0], out.shape[0])
        return self._binarizer.inverse_transform(out)


def _is_text(labels) -> bool:
    return np.asarray(labels).dtype.kind in "US"


def _check_labels(labels, name: str) -> None:
    """Refuse a missing label (None) and labels that mix strings with numbers, naming the
    first ones; LabelBinarizer would fail to sort them with a message that names neither."""
    labels = np.asarray(labels, dtype=object if isinstance(labels, (list, tuple)) else None)
    if labels.dtype != object:
        return
    first_of_kind: dict[str, tuple] = {}
    for position, label in enumerate(labels.reshape(-1)):
        where = np.unravel_index(position, labels.shape)
        place = f"{name}[{', '.join(str(int(i)) for i in where)}]"
        if label is None:
            raise ValueError(f"{place} is None: every sample needs a label")
        if isinstance(label, str):
            kind = "string"
        else:
            kind = "number" if isinstance(label, (Number, np.bool_)) else type(label).__name__
        first_of_kind.setdefault(kind, (place, label))
        if len(first_of_kind) > 1:
            (a, x), (b, z) = first_of_kind.values()
            raise TypeError(
                f"{name} mixes labels of different types ({a} = {x!r}, {b} = {z!r}); "
                "give every label the same type"
            )
