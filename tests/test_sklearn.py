"""scikit-learn estimators: sklearn's own estimator checks, then our behaviours."""

import pytest

pytest.importorskip("sklearn")
pytest.importorskip("scipy")

from sklearn.utils.estimator_checks import (  # noqa: E402
    check_estimator,
    parametrize_with_checks,
)

from backprop.sklearn import MLPClassifier, MLPRegressor  # noqa: E402


@parametrize_with_checks([MLPClassifier(), MLPRegressor()])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


@pytest.mark.parametrize("estimator", [MLPClassifier(), MLPRegressor()], ids=repr)
def test_check_estimator_reports_no_failure(estimator):
    results = check_estimator(estimator, on_fail=None, on_skip=None)
    failed = [r["check_name"] for r in results if r["status"] == "failed"]
    assert failed == [] and len(results) > 50


# --- our behaviours -------------------------------------------------------------------------

import pickle  # noqa: E402
import re  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402
import scipy.sparse as sp  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from sklearn.datasets import make_blobs, make_classification, make_regression  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.model_selection import GridSearchCV, cross_val_score  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import LabelBinarizer, StandardScaler  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def blobs():
    X, y = make_blobs(150, centers=3, n_features=4, random_state=0)
    return X, y


def test_pipeline_grid_search_and_cross_val(blobs):
    X, y = blobs
    # lr 0.01: trained to convergence, so the scores do not hang on one initial draw
    # (with the default 1e-3, 300 full-batch steps leave about a quarter of draws short of 0.9)
    clf = MLPClassifier((8,), learning_rate_init=0.01, max_iter=300, random_state=0)
    pipe = make_pipeline(StandardScaler(), clf)
    grid = {"mlpclassifier__alpha": [1e-4, 1e-2], "mlpclassifier__hidden_layer_sizes": [(4,), (8,)]}
    search = GridSearchCV(pipe, grid, cv=3).fit(X, y)
    assert set(search.best_params_) == set(grid)
    assert search.best_score_ > 0.9
    assert cross_val_score(pipe, X, y, cv=3).mean() > 0.9


@pytest.mark.parametrize("solver", ["sgd", "lbfgs"])
def test_integer_sample_weight_equals_repeated_rows(solver):
    rng = np.random.default_rng(0)
    X, y = rng.random((20, 5)), rng.integers(0, 3, 20)
    weights = rng.integers(0, 4, 20)
    weights[:3] = 1  # every class keeps a row
    y[:3] = [0, 1, 2]
    params = dict(hidden_layer_sizes=(6,), solver=solver, alpha=0.5, shuffle=False, max_iter=60)
    params["random_state"] = 0
    weighted = MLPClassifier(**params).fit(X, y, sample_weight=weights)
    repeated = MLPClassifier(**params).fit(X.repeat(weights, axis=0), y.repeat(weights))
    np.testing.assert_allclose(weighted.predict_proba(X), repeated.predict_proba(X), rtol=1e-7)
    np.testing.assert_allclose(weighted.loss_, repeated.loss_, rtol=1e-7)


def test_class_weight_balanced_favours_the_minority():
    X, y = make_classification(
        300, n_features=4, weights=[0.9, 0.1], class_sep=0.3, flip_y=0.1, random_state=0
    )
    # lr 0.01: with 1e-3, 100 epochs of 2 batches leave the predictions to the initial draw
    params = dict(hidden_layer_sizes=(4,), learning_rate_init=0.01, max_iter=100, random_state=0)
    plain = MLPClassifier(**params).fit(X, y)
    balanced = MLPClassifier(class_weight="balanced", **params).fit(X, y)
    assert (balanced.predict(X) == 1).sum() > (plain.predict(X) == 1).sum()
    assert balanced.predict_proba(X)[:, 1].mean() > plain.predict_proba(X)[:, 1].mean()


def test_string_labels_round_trip_and_probabilities(blobs):
    X, y = blobs
    names = np.array(["ant", "bee", "cat"])[y]
    clf = MLPClassifier((8,), max_iter=300, random_state=0).fit(X, names)
    assert list(clf.classes_) == ["ant", "bee", "cat"]
    assert set(clf.predict(X)) <= set(names) and clf.score(X, names) > 0.9
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1, atol=1e-6)
    assert (clf.classes_[proba.argmax(axis=1)] == clf.predict(X)).all()
    np.testing.assert_allclose(clf.predict_log_proba(X), np.log(proba))


def test_binary_probabilities_and_argmax():
    X, y = make_classification(80, n_features=3, n_informative=2, n_redundant=0, random_state=1)
    clf = MLPClassifier((5,), max_iter=50, random_state=0).fit(X, y == 1)
    proba = clf.predict_proba(X)
    assert proba.shape == (80, 2) and clf.out_activation_ == "logistic"
    np.testing.assert_allclose(proba.sum(axis=1), 1, atol=1e-12)
    assert (clf.classes_[proba.argmax(axis=1)] == clf.predict(X)).all()


def test_float32_stays_float32(blobs):
    X, y = blobs
    clf = MLPClassifier((8,), max_iter=20, random_state=0).fit(X.astype(np.float32), y)
    assert all(W.dtype == np.float32 for W in clf.coefs_ + clf.intercepts_)
    assert clf.predict_proba(X.astype(np.float32)).dtype == np.float32
    reg = MLPRegressor((8,), max_iter=20, random_state=0).fit(X.astype(np.float32), X[:, 0])
    assert reg.predict(X.astype(np.float32)).dtype == np.float32
    ints = MLPRegressor((8,), max_iter=5, random_state=0).fit(X.astype(np.int64), X[:, 0])
    assert ints.network_.dtype == np.float64


def test_sparse_input_matches_dense(blobs):
    X, y = blobs
    X = np.where(np.abs(X) > 3, X, 0.0)
    dense = MLPClassifier((8,), max_iter=30, random_state=0).fit(X, y)
    sparse = MLPClassifier((8,), max_iter=30, random_state=0).fit(sp.csr_matrix(X), y)
    np.testing.assert_array_equal(dense.predict_proba(X), sparse.predict_proba(sp.csc_matrix(X)))


def test_transform_gives_hidden_layers(blobs):
    X, y = blobs
    clf = MLPClassifier((7, 5), activation=["tanh", "relu"], max_iter=10, random_state=0)
    clf.fit(X, y)
    assert clf.transform(X, layer=1).shape == (150, 7)
    assert clf.transform(X).shape == (150, 5)
    assert (clf.transform(X) >= 0).all()  # relu
    assert (np.abs(clf.transform(X, layer=1)) <= 1).all()  # tanh
    assert clf.n_layers_ == 4 and [W.shape for W in clf.coefs_] == [(4, 7), (7, 5), (5, 3)]
    with pytest.raises(ValueError, match="layer"):
        clf.transform(X, layer=3)


def test_partial_fit_improves_and_keeps_adam_state(blobs):
    X, y = blobs
    clf = MLPClassifier((8,), learning_rate_init=0.01, batch_size=50, random_state=0)
    with pytest.raises(ValueError, match="classes"):
        clf.partial_fit(X, y)
    clf.partial_fit(X[:50], y[:50], classes=[0, 1, 2])
    steps = [clf.optimizer_state_.step]
    for _ in range(20):
        for start in range(0, 150, 50):
            clf.partial_fit(X[start : start + 50], y[start : start + 50])
        steps.append(clf.optimizer_state_.step)
    assert steps[0] == 1 and steps[-1] == 1 + 20 * 3
    assert clf.loss_curve_[-1] < 0.5 * clf.loss_curve_[0]
    assert clf.n_iter_ == 1 and clf.t_ == 61 * 50  # as scikit-learn counts them
    with pytest.raises(ValueError, match="features"):
        clf.partial_fit(X[:, :3], y)
    params, step = clf.network_.params.copy(), clf.optimizer_state_.step
    with pytest.raises(ValueError, match=r"`y` has classes not in `self.classes_`"):
        clf.partial_fit(X[:5], [0, 1, 2, 3, 0])
    assert np.array_equal(clf.network_.params, params) and clf.optimizer_state_.step == step


LABELS = {
    "int": [-3, 0, 2, 7, 11, 40],
    "str": ["ant", "bee", "cat", "dog", "eel", "fox"],
    "bool": [False, True],
    "float": [-3.0, 0.0, 2.0, 7.0, 11.0, 40.0],  # integral: other floats are not labels
}


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_labels_are_encoded_as_label_binarizer_encodes_them(data):
    pool = LABELS[data.draw(st.sampled_from(sorted(LABELS)))]
    classes = data.draw(st.lists(st.sampled_from(pool), min_size=2, max_size=6, unique=True))
    first, later = (
        np.asarray(data.draw(st.lists(st.sampled_from(classes), min_size=1, max_size=30)))
        for _ in range(2)
    )
    expected = LabelBinarizer().fit(classes)
    clf = MLPClassifier()
    got_first = clf._encode_y(first, first=True, classes=classes, incremental=True)
    np.testing.assert_array_equal(got_first, expected.transform(first))
    np.testing.assert_array_equal(clf._encode_y(later), expected.transform(later))
    assert got_first.dtype == np.float64


def test_unknown_labels_are_refused_by_name(blobs):
    X, y = blobs
    clf = MLPClassifier((4,), max_iter=1).partial_fit(X, y, classes=[0, 1, 2])
    params = clf.network_.params.copy()
    for bad, shown in (([0, 5, 5, 1], "'y' has [0 1 5]"), ([0.5, 1], "Unknown label type")):
        with pytest.raises(ValueError, match=re.escape(shown)):
            clf.partial_fit(X[: len(bad)], bad)
    assert np.array_equal(clf.network_.params, params)
    with pytest.raises(ValueError, match=r"y\[0\] is None"):
        clf.partial_fit(X[:2], np.array([None, 1], dtype=object))


def test_warm_start_continues(blobs):
    X, y = blobs
    clf = MLPClassifier((8,), max_iter=5, random_state=0, warm_start=True).fit(X, y)
    weights = clf.network_.params.copy()
    first_curve = list(clf.loss_curve_)
    clf.set_params(max_iter=1).fit(X, y)
    # As in scikit-learn: n_iter_ counts this fit's epochs, the loss curve goes on, and
    # each fit starts a new optimiser (one batch of 150 samples: one step).
    assert clf.n_iter_ == 1 and clf.loss_curve_[:5] == first_curve and len(clf.loss_curve_) == 6
    assert clf.optimizer_state_.step == 1
    fresh = MLPClassifier((8,), max_iter=1, random_state=0).fit(X, y)
    assert clf.loss_curve_[-1] < fresh.loss_curve_[-1]
    assert not np.array_equal(weights, clf.network_.params)
    clf.set_params(warm_start=False).fit(X, y)  # cold again: starts over
    assert clf.n_iter_ == 1 and clf.loss_ == fresh.loss_
    for solver, momentum, state in (("sgd", 0.9, "SGDState"), ("sgd", 0.0, "SGDState")):
        clf.set_params(warm_start=True, solver=solver, momentum=momentum).fit(X, y)
        assert type(clf.optimizer_state_).__name__ == state  # another optimiser starts afresh


def test_early_stopping_with_validation_data():
    X, y = make_regression(200, n_features=5, noise=20, random_state=0)
    y = y / y.std()
    reg = MLPRegressor((32,), early_stopping=True, n_iter_no_change=5, max_iter=500)
    reg.set_params(learning_rate_init=0.05, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        reg.fit(X[:100], y[:100], X_val=X[100:], y_val=y[100:])
    scores = reg.validation_scores_
    assert len(scores) == reg.n_iter_ == len(reg.loss_curve_) < 500
    assert reg.best_validation_score_ == max(scores) and reg.best_loss_ is None
    restored = reg.score(X[100:], y[100:])
    np.testing.assert_allclose(restored, max(scores), rtol=1e-5)  # best weights put back
    with pytest.raises(ValueError, match="early_stopping=True"):
        MLPRegressor((4,)).fit(X[:100], y[:100], X_val=X[100:], y_val=y[100:])


def test_multilabel_and_multioutput_shapes():
    X, _ = make_blobs(60, n_features=4, random_state=0)
    Y = np.c_[X[:, 0] > 0, X[:, 1] > 0, X[:, 0] + X[:, 1] > 0].astype(int)
    clf = MLPClassifier((8,), max_iter=50, random_state=0).fit(X, Y)
    assert clf.predict(X).shape == (60, 3) and set(np.unique(clf.predict(X))) <= {0, 1}
    assert clf.predict_proba(X).shape == (60, 3) and clf.n_outputs_ == 3
    reg = MLPRegressor((8,), max_iter=20, random_state=0).fit(X, X[:, :2])
    assert reg.predict(X).shape == (60, 2) and reg.n_outputs_ == 2
    assert reg.predict(X[:3]).dtype == np.float64


@pytest.mark.parametrize("loss", ["squared", "absolute", "huber", "poisson"])
def test_regression_losses_fit(loss):
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, (200, 2))
    y = np.exp(0.5 * X[:, 0] - 0.3 * X[:, 1]) + 0.05 * rng.normal(size=200)
    reg = MLPRegressor((16,), solver="lbfgs", loss=loss, max_iter=300, random_state=0)
    reg.fit(X, y)
    assert reg.score(X, y) > 0.9
    assert reg.out_activation_ == ("exp" if loss == "poisson" else "identity")


def test_pickle_round_trip_is_bitwise(blobs):
    X, y = blobs
    clf = MLPClassifier((8,), dropout=0.1, max_iter=10, random_state=0).fit(X, y)
    copy = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(copy.predict_proba(X), clf.predict_proba(X))
    np.testing.assert_array_equal(copy.transform(X), clf.transform(X))
    copy.partial_fit(X, y)  # the rebuilt network still trains
    clf.partial_fit(X, y)
    np.testing.assert_array_equal(copy.predict_proba(X), clf.predict_proba(X))


def test_lbfgs_beats_one_epoch_of_sgd(blobs):
    X, y = blobs
    sgd = MLPClassifier((8,), solver="sgd", max_iter=1, random_state=0).fit(X, y)
    lbfgs = MLPClassifier((8,), solver="lbfgs", max_iter=50, random_state=0).fit(X, y)
    assert lbfgs.loss_ < sgd.loss_ and lbfgs.n_iter_ >= 1


@pytest.mark.parametrize("activation, factor", [("relu", 6.0), ("tanh", 6.0), ("logistic", 2.0)])
def test_initial_weights_are_drawn_as_scikit_learn_draws_them(activation, factor):
    X, y = make_blobs(300, centers=3, n_features=20, random_state=0)
    clf = MLPClassifier((60, 40), activation=activation, learning_rate_init=1e-12, max_iter=1)
    clf.set_params(random_state=0).fit(X, y)  # one step of 1e-12 leaves the initial draw
    for W, b in zip(clf.coefs_, clf.intercepts_, strict=True):
        bound = np.sqrt(factor / (W.shape[0] + W.shape[1]))  # coefs_ are (fan_in, fan_out)
        assert 0.9 * bound < np.abs(W).max() <= bound * (1 + 1e-6)
        assert np.var(W) == pytest.approx(bound**2 / 3, rel=0.15)  # uniform on ±bound
        assert 0.5 * bound < np.abs(b).max() <= bound * (1 + 1e-6)  # drawn too, not zeros


def _blas_threads():
    """{filepath: threads} of every BLAS library loaded, and numpy's own paths."""
    import os

    from threadpoolctl import ThreadpoolController

    libraries = ThreadpoolController().select(user_api="blas").lib_controllers
    numpy_dir = os.path.dirname(np.__file__)
    threads = {library.filepath: library.num_threads for library in libraries}
    return threads, {path for path in threads if path.startswith(numpy_dir)}


def test_lbfgs_runs_scipys_own_blas_on_one_thread(blobs, monkeypatch):
    from backprop.sklearn import _lbfgs

    before, numpy_paths = _blas_threads()
    others = set(before) - numpy_paths
    if not numpy_paths or not others:
        pytest.skip("numpy and scipy share one BLAS here: nothing to limit")
    seen = []
    call = _lbfgs._LbfgsObjective.__call__

    def recording(self, theta):
        seen.append(_blas_threads()[0])
        return call(self, theta)

    monkeypatch.setattr(_lbfgs._LbfgsObjective, "__call__", recording)
    X, y = blobs
    MLPClassifier((8,), solver="lbfgs", max_iter=5, random_state=0).fit(X, y)
    assert seen, "the objective was never evaluated"
    for threads in seen:  # during the fit: the others on one thread, numpy's untouched
        assert all(threads[path] == 1 for path in others)
        assert all(threads[path] == before[path] for path in numpy_paths)
    assert _blas_threads()[0] == before  # restored afterwards


@pytest.mark.parametrize("learning_rate", ["constant", "invscaling", "adaptive"])
def test_sgd_learning_rates(learning_rate, blobs):
    X, y = blobs
    clf = MLPClassifier((8,), solver="sgd", learning_rate=learning_rate, random_state=0)
    clf.set_params(learning_rate_init=0.05, max_iter=300, tol=1e-3, n_iter_no_change=3)
    clf.fit(StandardScaler().fit_transform(X), y)
    assert clf.loss_ < clf.loss_curve_[0] and clf.n_iter_ >= 1


@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
def test_convergence_warning_points_at_the_line_that_called_fit(solver, blobs):
    X, y = blobs
    with pytest.warns(ConvergenceWarning) as record:
        MLPClassifier((4,), solver=solver, max_iter=2, random_state=0).fit(X, y)
    assert record[0].filename == __file__


def test_convergence_warning_points_at_the_search_that_called_fit(blobs):
    X, y = blobs
    search = GridSearchCV(MLPClassifier((4,), max_iter=2), {"alpha": [1e-4]}, cv=2)
    with pytest.warns(ConvergenceWarning) as record:
        search.fit(X, y)
    assert {warning.filename for warning in record} == {__file__}


def test_convergence_warning_and_invalid_parameters(blobs):
    X, y = blobs
    with pytest.warns(ConvergenceWarning, match="Maximum iterations"):
        MLPClassifier((4,), max_iter=2, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="activation"):
        MLPClassifier(activation="sigmoidd").fit(X, y)
    with pytest.raises(ValueError, match="unknown activation 'sigmoid'"):
        MLPClassifier((4,), activation=["sigmoid"]).fit(X, y)  # only scikit-learn's names
    with pytest.raises(ValueError, match="2 hidden layers"):
        MLPClassifier((4, 4), activation=["tanh"]).fit(X, y)
    with pytest.raises(ValueError, match="loss"):
        MLPRegressor(loss="cubic").fit(X, y)


# -- safe model files ------------------------------------------------------------------------


def _round_trip(estimator, X, tmp_path):
    from backprop.sklearn import load

    path = tmp_path / "model.safetensors"
    estimator.save(path)
    loaded = load(path)
    assert type(loaded) is type(estimator)
    assert loaded.get_params() == estimator.get_params()
    return loaded


@pytest.mark.parametrize("labels", [["cat", "dog", "emu"], [3, 7, 9], [-1, 1]])
def test_classifier_save_load_predicts_identically(labels, tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 4))
    y = np.array(labels)[rng.integers(0, len(labels), 60)]
    clf = MLPClassifier((8,), max_iter=30, random_state=0, class_weight="balanced").fit(X, y)
    loaded = _round_trip(clf, X, tmp_path)
    np.testing.assert_array_equal(loaded.predict(X), clf.predict(X))
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    np.testing.assert_array_equal(loaded.classes_, clf.classes_)
    assert loaded.loss_curve_ == clf.loss_curve_ and loaded.n_iter_ == clf.n_iter_


def test_multilabel_and_regressor_round_trip(tmp_path):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(50, 3))
    Y = (X[:, :2] > 0).astype(int)
    clf = MLPClassifier((6,), max_iter=20, random_state=0).fit(X, Y)
    np.testing.assert_array_equal(_round_trip(clf, X, tmp_path).predict(X), clf.predict(X))
    reg = MLPRegressor((6,), loss="huber", max_iter=20, random_state=0).fit(X, X @ [1, 2, 3])
    np.testing.assert_array_equal(_round_trip(reg, X, tmp_path).predict(X), reg.predict(X))


def test_feature_names_survive_the_model_file(tmp_path):
    pd = pytest.importorskip("pandas")
    X = pd.DataFrame(np.random.default_rng(2).normal(size=(30, 2)), columns=["age", "income"])
    reg = MLPRegressor((4,), max_iter=10, random_state=0).fit(X, X["age"] * 2)
    loaded = _round_trip(reg, X, tmp_path)
    assert list(loaded.feature_names_in_) == ["age", "income"]
    with pytest.raises(ValueError, match="feature names"):
        loaded.predict(X.rename(columns={"age": "height"}))


def test_estimator_load_refuses_other_files(tmp_path):
    import pickle

    from backprop import Network
    from backprop.sklearn import load

    network_file = tmp_path / "net.safetensors"
    Network([2, 2, 1]).save(network_file)
    with pytest.raises(ValueError, match="not a backprop estimator file"):
        load(network_file)
    pickled = tmp_path / "model.pkl"
    pickled.write_bytes(pickle.dumps(MLPRegressor()))
    with pytest.raises(ValueError):
        load(pickled)


def test_crafted_estimator_files_are_refused(tmp_path):
    """Valid files (their checksums right) whose metadata does not describe their network."""
    from backprop import io
    from backprop.sklearn import load

    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 4))
    clf = MLPClassifier((5,), max_iter=5, random_state=0).fit(X, np.arange(40) % 3)
    reg = MLPRegressor((5,), max_iter=5, random_state=0).fit(X, X[:, 0])
    cases = [
        (clf, "fitted", "classes_", [0, 1, 2, 3, 4], r"5 multiclass classes"),
        (clf, "fitted", "classes_", [2, 1, 0], r"classes_ \[2, 1, 0\] are not sorted"),
        (clf, "fitted", "classes_", [0, 1, 1], r"not sorted and distinct"),
        (clf, "fitted", "classes_", [0, "a", 2], r"classes_ mixes labels"),
        (clf, "fitted", "target_type", "continuous", r"unknown target_type"),
        (clf, "fitted", "n_features_in_", {"float": "inf"}, r"n_features_in_ must be an integer"),
        (clf, "fitted", "n_features_in_", {"float": "nan"}, r"n_features_in_ must be an integer"),
        (clf, "fitted", "n_features_in_", 4.5, r"n_features_in_ must be an integer"),
        (clf, "fitted", "n_features_in_", 7, r"n_features_in_=7"),
        (clf, "fitted", "n_iter_", -1, r"n_iter_ must be an integer >= 0"),
        (clf, "fitted", "feature_names_in_", ["a", "b"], r"2 feature names"),
        (clf, "params", "hidden_layer_sizes", [6], r"hidden_layer_sizes=\(6,\)"),
        (clf, "params", "activation", "tanh", r"activation='tanh'"),
        (clf, "params", "alpha", -1.0, r"alpha"),
        (reg, "fitted", "n_outputs_", 3, r"n_outputs_=3"),
        (reg, "params", "loss", "poisson", r"exp outputs with loss 'poisson'"),
    ]
    for estimator, part, key, value, message in cases:
        path = tmp_path / "model.safetensors"
        estimator.save(path)
        net, meta, _ = io.load_with_metadata(path)
        meta[part][key] = value
        io.save(net, path, metadata=meta)
        with pytest.raises(ValueError, match=r"model\.safetensors.*" + message):
            load(path)


MIXED_LABELS = {
    "int-and-str": (
        np.array([1, "a"] * 15, dtype=object),
        TypeError,
        r"y mixes labels .*y\[1\] = 'a'",
    ),
    "None": (np.array([1, None, 2] * 10, dtype=object), ValueError, r"y\[1\] is None"),
    "str-and-None": (np.array(["a", "b", None] * 10, dtype=object), ValueError, r"y\[2\] is None"),
}


@pytest.mark.parametrize("labels, error, message", MIXED_LABELS.values(), ids=MIXED_LABELS)
def test_mixed_or_missing_labels_name_y(labels, error, message):
    from sklearn.neural_network import MLPClassifier as SklearnMLP

    X = np.random.default_rng(0).normal(size=(30, 3))
    with pytest.raises(TypeError) as theirs:  # scikit-learn's own: a sorting error
        SklearnMLP((4,), max_iter=5).fit(X, labels)
    assert not re.search(r"\by\b", str(theirs.value))  # it does not name y
    with pytest.raises(error, match=message):
        MLPClassifier((4,), max_iter=5).fit(X, labels)
    clf = MLPClassifier((4,), max_iter=5, random_state=0).fit(X, np.arange(30) % 2)
    before = clf.network_.params.copy(), clf.network_.rng.bit_generator.state
    with pytest.raises(error, match=message):
        clf.partial_fit(X, labels)
    with pytest.raises(error, match=message.replace("y", "classes")):
        MLPClassifier((4,)).partial_fit(X, labels, classes=list(labels[:3]))
    assert np.array_equal(clf.network_.params, before[0])
    assert clf.network_.rng.bit_generator.state == before[1]


def test_partial_fit_with_other_classes_is_refused_as_scikit_learn_refuses_it(blobs):
    from sklearn.neural_network import MLPClassifier as SklearnMLP

    X, y = blobs
    for estimator in (SklearnMLP((4,)), MLPClassifier((4,), random_state=0)):
        estimator.partial_fit(X, y, classes=[0, 1, 2])
        estimator.partial_fit(X, y, classes=[2, 0, 1])  # the same classes: accepted
        weights = [W.copy() for W in estimator.coefs_]
        for other in ([0, 1], [0, 1, 2, 3]):
            with pytest.raises(ValueError, match=r"classes=.* is not the same as on last call"):
                estimator.partial_fit(X, y, classes=other)
        assert all(np.array_equal(a, b) for a, b in zip(weights, estimator.coefs_, strict=True))


@pytest.mark.parametrize(
    "change",
    [{"hidden_layer_sizes": (7,)}, {"activation": "tanh"}, {"dropout": 0.5}, {"dtype": "float32"}],
    ids=lambda change: next(iter(change)),
)
def test_continuing_with_another_architecture_is_refused(blobs, change):
    """scikit-learn's MLP keeps the fitted shapes without a word; here it is an error."""
    from sklearn.neural_network import MLPClassifier as SklearnMLP

    X, y = blobs
    name = next(iter(change))
    if name in ("hidden_layer_sizes", "activation"):
        theirs = SklearnMLP((4,), warm_start=True, max_iter=2).fit(X, y)
        theirs.set_params(**change).fit(X, y)
        assert [W.shape for W in theirs.coefs_] == [(4, 4), (4, 3)]  # silently kept
    clf = MLPClassifier((4,), warm_start=True, max_iter=2, random_state=0).fit(X, y)
    before = clf.network_.params.copy(), clf.network_.rng.bit_generator.state
    clf.set_params(**change)
    with pytest.raises(ValueError, match=rf"warm_start=True continues .*{name}="):
        clf.fit(X, y)
    with pytest.raises(ValueError, match=rf"partial_fit continues .*{name}="):
        clf.partial_fit(X, y)
    assert np.array_equal(clf.network_.params, before[0])
    assert clf.network_.rng.bit_generator.state == before[1]
    clf.set_params(warm_start=False).fit(X, y)  # a new network of the new shape
    assert clf.network_.params.size != before[0].size or name in ("activation", "dropout", "dtype")


@pytest.mark.parametrize("solver", ["lbfgs", "adam"])
@pytest.mark.parametrize(
    "weight, message",
    [(1e-50, "underflows to 0 in float32"), (1e300, r"\(as float32\) contains infinity")],
)
def test_sample_weights_beyond_float32_are_refused_by_both_solvers(solver, weight, message):
    X = np.random.default_rng(0).normal(size=(30, 3))
    reg = MLPRegressor((4,), solver=solver, max_iter=3, dtype="float32", random_state=0)
    with pytest.raises(ValueError, match=f"sample_weight.*{message}"):
        reg.fit(X, X[:, 0], sample_weight=np.full(30, weight))


def test_validation_labels_need_only_be_among_the_classes(blobs):
    X, y = blobs
    clf = MLPClassifier((4,), early_stopping=True, warm_start=True, max_iter=3, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
        clf.fit(X[:100], y[:100], X_val=X[y < 2], y_val=y[y < 2])  # two of the three classes
    assert len(clf.validation_scores_) == 3 + clf.n_iter_
    with pytest.raises(ValueError, match="`y` has classes not in `self.classes_`"):
        clf.fit(X[:100], y[:100], X_val=X[:2], y_val=[0, 7])
