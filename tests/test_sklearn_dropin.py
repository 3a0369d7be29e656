"""backprop.sklearn as a drop-in for sklearn.neural_network, side by side.

Each test fits scikit-learn's estimator and ours on the same small data with the same settings
and compares what a user can observe: the attributes and their types, the errors and their
messages, the printed lines, the predictions' shapes and dtypes, and scores within a stated
tolerance. The installed scikit-learn is the reference (1.6 to 1.9 differ in places).
"""

from __future__ import annotations

import contextlib
import functools
import io
import re
import warnings

import numpy as np
import pytest
from sklearn import neural_network as sk
from sklearn.datasets import make_blobs, make_multilabel_classification
from sklearn.exceptions import ConvergenceWarning

from backprop import TrainingDiverged
from backprop import sklearn as bp

SK = {"MLPClassifier": sk.MLPClassifier, "MLPRegressor": sk.MLPRegressor}
BP = {"MLPClassifier": bp.MLPClassifier, "MLPRegressor": bp.MLPRegressor}
FAST = {"hidden_layer_sizes": (6,), "max_iter": 15, "random_state": 0}


def _data(kind: str):
    X, y = make_blobs(80, n_features=3, centers=3, random_state=0)
    X = (X - X.mean(0)) / X.std(0)
    if kind == "MLPRegressor":
        return X, X @ np.array([1.0, -2.0, 0.5]) + 0.3 * y
    if kind == "multilabel":
        return make_multilabel_classification(80, 3, n_classes=3, random_state=0)
    return X, y


def _both(kind: str, **params):
    """scikit-learn's estimator and ours, with FAST settings and ``params``."""
    name = "MLPClassifier" if kind == "multilabel" else kind
    settings = {**FAST, **params}
    return SK[name](**settings), BP[name](**settings)


def _quietly(call, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return call(*args, **kwargs)


def _public_fitted(est) -> dict[str, str]:
    """Each public fitted attribute and the kind of its value."""
    kinds = {}
    for name, value in vars(est).items():
        if name.endswith("_") and not name.startswith("_"):
            kinds[name] = _kind(value)
    return kinds


def _kind(value) -> str:
    if value is None:
        return "None"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, np.integer)):
        return "int"
    if isinstance(value, (float, np.floating)):
        return "float"
    return type(value).__name__


FITS = [
    (kind, solver, early)
    for kind in ("MLPClassifier", "MLPRegressor", "multilabel")
    for solver, early in (("adam", False), ("adam", True), ("sgd", True), ("lbfgs", False))
]


@pytest.mark.parametrize("kind, solver, early", FITS)
def test_fitted_attributes_and_their_kinds_are_scikit_learns(kind, solver, early):
    X, y = _data(kind)
    theirs, ours = _both(kind, solver=solver, early_stopping=early)
    _quietly(theirs.fit, X, y)
    _quietly(ours.fit, X, y)
    expected, got = _public_fitted(theirs), _public_fitted(ours)
    assert {name: got.get(name) for name in expected} == expected
    assert set(got) - set(expected) <= {"network_", "optimizer_state_"}  # backprop's own
    for name in ("n_outputs_", "n_layers_", "out_activation_", "n_features_in_"):
        assert getattr(ours, name) == getattr(theirs, name), name
    if solver != "lbfgs":  # t_: samples trained on, over every epoch
        assert ours.t_ / ours.n_iter_ == theirs.t_ / theirs.n_iter_
        assert len(ours.loss_curve_) == ours.n_iter_
    if early:
        assert len(ours.validation_scores_) == ours.n_iter_
        assert ours.best_validation_score_ == max(ours.validation_scores_)
        assert np.isfinite(ours.predict(X)).all()
    if kind != "MLPRegressor":
        np.testing.assert_array_equal(ours.classes_, theirs.classes_)
    for method in ("predict", "predict_proba") if kind != "MLPRegressor" else ("predict",):
        a, b = getattr(theirs, method)(X), getattr(ours, method)(X)
        assert (a.shape, a.dtype) == (b.shape, b.dtype), method


@pytest.mark.parametrize("kind", ["MLPClassifier", "MLPRegressor"])
@pytest.mark.parametrize("early", [False, True])
def test_verbose_prints_scikit_learns_lines(kind, early):
    X, y = _data(kind)
    params = {"solver": "sgd", "learning_rate_init": 0.2, "n_iter_no_change": 2, "tol": 0.5}
    printed = []
    for est in _both(kind, verbose=True, early_stopping=early, **params):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            _quietly(est.fit, X, y)
        printed.append(out.getvalue().splitlines())
    theirs, ours = (
        [re.sub(r"-?\d+(\.\d+)?(e[-+]?\d+)?", "#", line) for line in lines] for lines in printed
    )
    assert ours == theirs  # the same lines, numbers aside (tol=0.5 stops both at epoch 3)
    assert ours[0] == "Iteration #, loss = #" and ours[-1].endswith("Stopping.")
    assert re.fullmatch(r"Iteration 1, loss = \d+\.\d{8}", printed[1][0])


def test_warm_start_counts_n_iter_and_t_as_scikit_learn():
    X, y = _data("MLPClassifier")
    pairs = _both("MLPClassifier", max_iter=10, warm_start=True)
    for est in pairs:
        _quietly(est.fit, X, y)
        _quietly(est.set_params(max_iter=20).fit, X, y)
    theirs, ours = pairs
    assert ours.n_iter_ == theirs.n_iter_ == 20
    assert len(ours.loss_curve_) == len(theirs.loss_curve_) == 30
    assert ours.t_ == theirs.t_ == 30 * X.shape[0]
    for est in pairs:
        est.set_params(warm_start=False).partial_fit(X, y)
        est.partial_fit(X, y)
    assert ours.n_iter_ == theirs.n_iter_ == 1 and ours.t_ == theirs.t_ == 32 * X.shape[0]


def _outcome(call):
    """("ok", None) or the error's type name and message."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            call()
    except (ValueError, TypeError, AttributeError) as error:
        return type(error).__name__, str(error)
    return "ok", None


X3, Y3 = _data("MLPClassifier")
MISUSES = {
    "partial_fit: y has a label outside classes": lambda M: M(**FAST).partial_fit(
        X3, Y3, classes=[0, 1]
    ),
    "partial_fit: no classes on the first call": lambda M: M(**FAST).partial_fit(X3, Y3),
    "partial_fit: other classes later": lambda M: (
        M(**FAST).partial_fit(X3, Y3, classes=[0, 1, 2]).partial_fit(X3, Y3, classes=[0, 1, 2, 3])
    ),
    "partial_fit: with early_stopping": lambda M: M(early_stopping=True, **FAST).partial_fit(
        X3, Y3, classes=[0, 1, 2]
    ),
    "partial_fit: lbfgs": lambda M: M(solver="lbfgs", **FAST).partial_fit(
        X3, Y3, classes=[0, 1, 2]
    ),
    "warm_start: other classes": lambda M: (
        M(warm_start=True, **FAST).fit(X3, Y3).fit(X3, np.where(Y3 == 2, 1, Y3))
    ),
    "warm_start: the same classes": lambda M: M(warm_start=True, **FAST).fit(X3, Y3).fit(X3, Y3),
    "hidden_layer_sizes=0": lambda M: M(**{**FAST, "hidden_layer_sizes": 0}).fit(X3, Y3),
    "hidden_layer_sizes=[3, 0]": lambda M: M(**{**FAST, "hidden_layer_sizes": [3, 0]}).fit(X3, Y3),
    "validation_fraction=1.0": lambda M: M(validation_fraction=1.0, **FAST).fit(X3, Y3),
    # scikit-learn stratifies the split of single-output (binary) targets only
    "early_stopping: 1 held-out sample of 2 classes": lambda M: M(
        early_stopping=True, validation_fraction=0.01, **FAST
    ).fit(X3[Y3 < 2], Y3[Y3 < 2]),
    "early_stopping: 2 held-out samples of 3 classes": lambda M: M(
        early_stopping=True, validation_fraction=0.02, **FAST
    ).fit(X3, Y3),
}


@pytest.mark.parametrize("case", sorted(MISUSES))
def test_misuse_is_answered_as_scikit_learn_answers_it(case):
    theirs = _outcome(lambda: MISUSES[case](sk.MLPClassifier))
    ours = _outcome(lambda: MISUSES[case](bp.MLPClassifier))
    assert ours == theirs


def test_partial_fit_exists_for_the_stochastic_solvers_only():
    for solver in ("lbfgs", "sgd", "adam"):
        theirs = hasattr(sk.MLPClassifier(solver=solver), "partial_fit")
        assert hasattr(bp.MLPClassifier(solver=solver), "partial_fit") == theirs
    assert not hasattr(bp.MLPRegressor(solver="lbfgs"), "partial_fit")


def test_a_validation_set_of_one_sample_is_refused():
    X, y = _data("MLPRegressor")
    message = "The validation set is too small"
    settings = {"early_stopping": True, "validation_fraction": 0.01}
    theirs, ours = _both("MLPRegressor", **settings)
    with pytest.raises(ValueError, match=message):
        ours.fit(X[:50], y[:50])
    assert not hasattr(ours, "network_")  # refused before anything changed
    expected = _outcome(lambda: theirs.fit(X[:50], y[:50]))
    if expected[0] != "ok":  # scikit-learn 1.6 trains on a one-sample validation set
        assert _outcome(lambda: ours.fit(X[:50], y[:50])) == expected


def test_multilabel_y_trains_sigmoid_outputs_with_every_solver_path():
    X, Y = _data("multilabel")
    for est in _both("multilabel"):
        _quietly(est.partial_fit, X, Y, classes=[0, 1, 2])
        _quietly(est.partial_fit, X, Y)
    theirs, ours = _both("multilabel")
    _quietly(theirs.fit, X, Y)
    _quietly(ours.fit, X, Y)
    assert ours.out_activation_ == theirs.out_activation_ == "logistic" and ours.n_outputs_ == 3
    assert ours.predict(X).shape == theirs.predict(X).shape == Y.shape
    assert ours.predict(X).dtype == theirs.predict(X).dtype
    assert abs(ours.score(X, Y) - theirs.score(X, Y)) < 0.25  # subset accuracy, 80 samples


DIVERGING = {"solver": "sgd", "learning_rate_init": 1e4, "momentum": 0.0, "max_iter": 30}


def test_a_diverging_run_raises_the_value_error_scikit_learn_raises():
    X, y = _data("MLPRegressor")
    X, y = X * 1e3, y * 1e3
    theirs, ours = _both("MLPRegressor", **DIVERGING)
    expected = _outcome(lambda: theirs.fit(X, y))
    with pytest.raises(TrainingDiverged) as raised:
        _quietly(ours.fit, X, y)
    assert isinstance(raised.value, ValueError) and expected[0] == "ValueError"
    assert str(raised.value).startswith(expected[1])


def test_early_stopping_ends_a_diverging_run_with_the_best_weights():
    X, y = _data("MLPRegressor")
    X, y = X * 1e3, y * 1e3
    theirs, ours = _both("MLPRegressor", early_stopping=True, **DIVERGING)
    assert _outcome(lambda: theirs.fit(X, y)) == _outcome(lambda: ours.fit(X, y)) == ("ok", None)
    assert np.isfinite(ours.predict(X)).all() and np.isfinite(ours.network_.params).all()


def test_lbfgs_fits_a_regression_as_well_as_scikit_learns():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 5)).astype(np.float32)
    y = np.sin(2 * X[:, 0]) + X[:, 1] * X[:, 2] + 0.1 * rng.normal(size=200)
    X, y = (X - X.mean(0)) / X.std(0), (y - y.mean()) / y.std()
    settings = {"solver": "lbfgs", "hidden_layer_sizes": 50, "max_iter": 200, "tol": 1e-3}
    scores = []
    for M in (sk.MLPRegressor, bp.MLPRegressor):
        est = _quietly(M(random_state=1, **settings).fit, X, y)
        scores.append(est.score(X, y))
    assert scores[0] > 0.98 and scores[1] >= 0.95  # stated tolerance; both reach ~0.997


@pytest.mark.parametrize("kind", ["MLPClassifier", "MLPRegressor"])
@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
@pytest.mark.parametrize("fit_dtype", [np.float32, np.float64, np.int64])
def test_output_dtypes_follow_scikit_learn(kind, solver, fit_dtype):
    X, y = _data(kind)
    X = (X * 3).astype(fit_dtype)
    theirs, ours = _both(kind, solver=solver)
    _quietly(theirs.fit, X, y)
    _quietly(ours.fit, X, y)
    assert ours.coefs_[0].dtype == theirs.coefs_[0].dtype
    methods = ("predict", "predict_proba") if kind == "MLPClassifier" else ("predict",)
    for predict_dtype in (np.float32, np.float64):
        for method in methods:
            a = getattr(theirs, method)(X.astype(predict_dtype))
            b = getattr(ours, method)(X.astype(predict_dtype))
            assert a.dtype == b.dtype, (method, predict_dtype)


def _warnings_and_error(call) -> tuple:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        outcome = _outcome(call)
    shown = sorted(str(w.message) for w in caught if not issubclass(w.category, ConvergenceWarning))
    return shown, outcome


def test_feature_names_are_checked_as_scikit_learn_checks_them():
    pd = pytest.importorskip("pandas")
    X, y = _data("MLPClassifier")
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    renamed = frame.rename(columns={"c": "z"})
    uses = {
        "names at fit, none at predict": lambda est: est.fit(frame, y).predict(X),
        "none at fit, names at predict": lambda est: est.fit(X, y).predict(frame),
        "other names at predict": lambda est: est.fit(frame, y).predict(renamed),
        "other names in partial_fit": lambda est: est.partial_fit(
            frame, y, classes=[0, 1, 2]
        ).partial_fit(renamed, y),
        "names kept": lambda est: est.fit(frame, y).feature_names_in_.tolist(),
    }
    for use, call in uses.items():
        theirs, ours = _both("MLPClassifier")
        expected = _warnings_and_error(functools.partial(call, theirs))
        assert _warnings_and_error(functools.partial(call, ours)) == expected, use


def test_invscaling_follows_scikit_learns_rate_epoch_by_epoch():
    from sklearn.neural_network._stochastic_optimizers import SGDOptimizer

    from backprop.sklearn._stochastic import _InvScaling

    params = [np.zeros(2)]
    theirs = SGDOptimizer(params, 0.1, "invscaling", power_t=0.5)
    ours = _InvScaling(power_t=0.5, t_start=0, n_samples=80, fresh=True)
    for epoch in range(5):
        assert ours(epoch, 0.1) == pytest.approx(theirs.learning_rate, rel=1e-12)
        theirs.iteration_ends((epoch + 1) * 80)


@pytest.mark.parametrize("solver, early", [("adam", True), ("lbfgs", False)])
def test_a_model_file_keeps_the_fitted_attributes_scikit_learn_sets(tmp_path, solver, early):
    X, y = _data("MLPClassifier")
    est = _quietly(bp.MLPClassifier(solver=solver, early_stopping=early, **FAST).fit, X, y)
    est.save(tmp_path / "model.safetensors")
    loaded = bp.load(tmp_path / "model.safetensors")
    kept = {**_public_fitted(est), "optimizer_state_": "None"}  # the moments are not kept
    assert _public_fitted(loaded) == kept
    for name in ("validation_scores_", "best_validation_score_", "best_loss_", "n_iter_", "t_"):
        assert getattr(loaded, name, "absent") == getattr(est, name, "absent"), name


def _all_warnings(call) -> list[tuple[str, str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        call()
    return sorted({(w.category.__name__, str(w.message)) for w in caught})


WARNED = {
    "batch_size above n_samples": {"batch_size": 500, "max_iter": 3},
    "adam stopped by max_iter": {"max_iter": 3},
    "lbfgs stopped by max_iter": {"solver": "lbfgs", "max_iter": 3},
}


@pytest.mark.parametrize("case", sorted(WARNED))
def test_warnings_are_scikit_learns(case):
    X, y = _data("MLPRegressor")
    theirs, ours = _both("MLPRegressor", **WARNED[case])
    expected = _all_warnings(lambda: theirs.fit(X, y))
    assert expected and _all_warnings(lambda: ours.fit(X, y)) == expected
