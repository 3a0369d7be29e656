"""Model files for the estimators: the network's safetensors file, with the hyperparameters,
the label encoding, the feature names and the training record as JSON metadata. Reading one
runs no code, as unpickling would."""

from __future__ import annotations

import numpy as np
from sklearn.utils.validation import check_is_fitted

from ..io import model_file as model_files

# Fitted attributes kept in the file beside the network.
FITTED_SCALARS = (
    "n_iter_",
    "t_",
    "loss_",
    "best_loss_",
    "loss_curve_",
    "validation_scores_",
    "best_validation_score_",
    "n_outputs_",
    "out_activation_",
)

_ESTIMATORS: dict[str, type] = {}


def loadable(cls: type) -> type:
    """Class decorator: ``load`` rebuilds files that name ``cls``."""
    _ESTIMATORS[cls.__name__] = cls
    return cls


def save_estimator(estimator, path) -> None:
    """Write a fitted estimator to ``path``; see ``_BaseMLP.save``."""
    check_is_fitted(estimator)
    fitted = {
        name: _plain(getattr(estimator, name))
        for name in FITTED_SCALARS
        if hasattr(estimator, name)  # as in scikit-learn, some belong to some solvers only
    }
    fitted["n_features_in_"] = int(estimator.n_features_in_)
    if hasattr(estimator, "feature_names_in_"):
        fitted["feature_names_in_"] = [str(name) for name in estimator.feature_names_in_]
    fitted.update(estimator._label_encoding())
    params = {key: _plain(value) for key, value in estimator.get_params().items()}
    class_weight = params.get("class_weight")
    if class_weight is not None and isinstance(estimator.class_weight, dict):
        params["class_weight"] = [[_plain(k), float(v)] for k, v in estimator.class_weight.items()]
    metadata = {"estimator": type(estimator).__name__, "params": params, "fitted": fitted}
    model_files.save(estimator.network_, path, metadata=model_files.encode_floats(metadata))


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
        estimator = _rebuild(metadata)
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise ValueError(
            f"cannot load {str(path)!r}: not a backprop estimator file ({error})"
        ) from None
    try:
        _check_fits(estimator, network)
    except (TypeError, ValueError) as error:
        raise ValueError(f"cannot load {str(path)!r}: {error}") from None
    estimator.network_ = network
    estimator.n_layers_ = network.n_layers + 1
    estimator.optimizer_state_ = None
    estimator._no_improvement_count = 0
    estimator._publish_weights()
    return estimator


def _rebuild(metadata: dict):
    """The estimator the metadata describes, fitted attributes set, without its network."""
    cls = _ESTIMATORS[metadata["estimator"]]
    params = dict(metadata["params"])
    fitted = dict(metadata["fitted"])
    if isinstance(params.get("class_weight"), list):
        params["class_weight"] = {k: v for k, v in params["class_weight"]}
    if isinstance(params.get("hidden_layer_sizes"), list):
        params["hidden_layer_sizes"] = tuple(params["hidden_layer_sizes"])
    estimator = cls(**params)
    estimator._validate_params()
    estimator.n_features_in_ = _count(fitted.pop("n_features_in_"), "n_features_in_")
    if "feature_names_in_" in fitted:
        names = fitted.pop("feature_names_in_")
        if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
            raise TypeError(f"feature_names_in_ must be a list of strings, got {names!r}")
        estimator.feature_names_in_ = np.asarray(names, dtype=object)
    for name in FITTED_SCALARS:
        if name in fitted:
            setattr(estimator, name, fitted[name])
    for name in ("n_iter_", "t_", "n_outputs_"):
        _count(getattr(estimator, name), name)
    estimator._restore_labels(fitted)
    return estimator


def _count(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be an integer >= 0, got {value!r}")
    return value


def _check_fits(estimator, network) -> None:
    """Refuse metadata that does not describe the network beside it (ValueError)."""
    problems = []
    if estimator.n_features_in_ != network.n_inputs:
        problems.append(f"n_features_in_={estimator.n_features_in_}")
    names = getattr(estimator, "feature_names_in_", None)
    if names is not None and len(names) != network.n_inputs:
        problems.append(f"{len(names)} feature names")
    if estimator._n_outputs_needed() != network.n_outputs:
        problems.append(estimator._outputs_description())
    activation, loss = estimator._output_spec(network.n_outputs)
    if network.output_activation.name != activation or network.loss.name != loss:
        problems.append(f"{activation} outputs with loss {loss!r}")
    problems += [
        f"{name}={getattr(estimator, name)!r}" for name in estimator._network_differences(network)
    ]
    if problems:
        raise ValueError(
            f"its metadata ({', '.join(problems)}) does not describe its network ({network!r})"
        )


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
