"""Tests for backprop.datasets."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from backprop.datasets import (
    DATASETS,
    SKLEARN_DATASETS,
    Dataset,
    and_gate,
    circles,
    load,
    names,
    or_gate,
    sin,
    spirals,
    two_moons,
    xor,
)

GATE_X = [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]]
RANDOM_GENERATORS = [two_moons, circles, spirals, sin]
CLASSIFIERS_2D = [two_moons, circles, spirals]


def _check_classification(ds: Dataset, n: int, n_features: int) -> None:
    assert isinstance(ds, Dataset)
    assert ds.task == "classification"
    assert ds.X.dtype == np.float64 and ds.X.shape == (n, n_features)
    assert ds.y.dtype == np.int64 and ds.y.shape == (n,)
    assert np.all(np.isfinite(ds.X))
    assert isinstance(ds.description, str) and ds.description


# --- gates -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("fn", "labels", "name"),
    [(xor, [0, 1, 1, 0], "xor"), (and_gate, [0, 0, 0, 1], "and"), (or_gate, [0, 1, 1, 1], "or")],
)
def test_gate_tables_exact(fn, labels, name):
    ds = fn()
    _check_classification(ds, 4, 2)
    assert ds.X.tolist() == GATE_X
    assert ds.y.tolist() == labels
    assert ds.name == name


def test_dataset_unpacks_like_a_tuple():
    X, y = xor()[:2]
    X2, y2, name, task, description = xor()
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(y, y2)
    assert (name, task) == ("xor", "classification")
    assert xor().X is not xor().X  # fresh arrays: mutating one does not leak


# --- shapes, dtypes, balance ------------------------------------------------


@pytest.mark.parametrize("fn", [two_moons, circles])
@pytest.mark.parametrize("n", [1, 2, 7, 200])
def test_two_class_shapes_and_balance(fn, n):
    ds = fn(n_samples=n, seed=0)
    _check_classification(ds, n, 2)
    counts = np.bincount(ds.y, minlength=2)
    assert counts.tolist() == [(n + 1) // 2, n // 2]


@pytest.mark.parametrize(("n", "k"), [(300, 2), (30, 3), (31, 3), (101, 5)])
def test_spirals_shapes_and_balance(n, k):
    ds = spirals(n_samples=n, n_classes=k, seed=0)
    _check_classification(ds, n, 2)
    counts = np.bincount(ds.y, minlength=k)
    assert len(counts) == k
    assert counts.sum() == n
    assert counts.max() - counts.min() <= 1
    assert list(counts) == sorted(counts, reverse=True)  # lower labels take the extras


def test_spirals_radius_within_unit_disc_and_arms_distinct():
    ds = spirals(n_samples=300, n_classes=3, noise=0.0, shuffle=False)
    r = np.hypot(ds.X[:, 0], ds.X[:, 1])
    assert r.max() == pytest.approx(1.0)
    assert r.min() > 0.0
    # without noise, the arms never share a point
    assert len(np.unique(ds.X.round(12), axis=0)) == 300


def test_unshuffled_order_is_class_major():
    ds = two_moons(n_samples=9, seed=0, shuffle=False)
    assert ds.y.tolist() == [0] * 5 + [1] * 4


def test_shuffle_mixes_classes():
    ds = two_moons(n_samples=200, seed=0)
    assert not np.all(np.diff(ds.y) >= 0)


def test_two_moons_geometry_without_noise():
    ds = two_moons(n_samples=101, noise=0.0, shuffle=False)
    upper, lower = ds.X[ds.y == 0], ds.X[ds.y == 1]
    np.testing.assert_allclose(np.hypot(*upper.T), 1.0)
    assert np.all(upper[:, 1] >= -1e-12)
    shifted = lower - np.array([1.0, 0.5])
    np.testing.assert_allclose(np.hypot(*shifted.T), 1.0)
    assert np.all(shifted[:, 1] <= 1e-12)


def test_circles_radii_without_noise():
    ds = circles(n_samples=101, noise=0.0, factor=0.3, seed=3)
    r = np.hypot(ds.X[:, 0], ds.X[:, 1])
    np.testing.assert_allclose(r[ds.y == 0], 1.0)
    np.testing.assert_allclose(r[ds.y == 1], 0.3)


def test_circles_noise_moves_points_off_the_circles():
    ds = circles(n_samples=200, noise=0.05, seed=0)
    r = np.hypot(ds.X[:, 0], ds.X[:, 1])
    assert not np.allclose(r[ds.y == 0], 1.0)
    assert abs(r[ds.y == 0].mean() - 1.0) < 0.05
    assert abs(r[ds.y == 1].mean() - 0.5) < 0.05


# --- sin --------------------------------------------------------------------


def test_sin_exact_without_noise():
    ds = sin(n_samples=50)
    assert ds.task == "regression"
    assert ds.X.shape == (50, 1) and ds.X.dtype == np.float64
    assert ds.y.shape == (50,) and ds.y.dtype == np.float64
    x = np.linspace(-np.pi, np.pi, 50)
    np.testing.assert_array_equal(ds.X[:, 0], x)
    np.testing.assert_array_equal(ds.y, np.sin(x))
    assert ds.X[0, 0] == -np.pi and ds.X[-1, 0] == np.pi


def test_sin_noise_has_roughly_the_requested_std():
    ds = sin(n_samples=2000, noise=0.3, seed=0)
    residual = ds.y - np.sin(ds.X[:, 0])
    assert 0.27 < residual.std() < 0.33


def test_sin_single_sample():
    ds = sin(n_samples=1)
    assert ds.X.shape == (1, 1) and ds.y.shape == (1,)


# --- determinism ------------------------------------------------------------


@pytest.mark.parametrize("fn", RANDOM_GENERATORS)
def test_same_seed_same_arrays(fn):
    kwargs = {"noise": 0.1} if fn is sin else {}
    a, b = fn(seed=42, **kwargs), fn(seed=42, **kwargs)
    np.testing.assert_array_equal(a.X, b.X)
    np.testing.assert_array_equal(a.y, b.y)


@pytest.mark.parametrize("fn", RANDOM_GENERATORS)
def test_different_seeds_differ(fn):
    kwargs = {"noise": 0.1} if fn is sin else {}
    a, b = fn(seed=1, **kwargs), fn(seed=2, **kwargs)
    assert not np.array_equal(a.X, b.X) or not np.array_equal(a.y, b.y)


def test_seed_does_not_touch_global_state():
    np.random.seed(0)
    expected = np.random.random()
    np.random.seed(0)
    two_moons(seed=5)
    assert np.random.random() == expected


# --- validation -------------------------------------------------------------


@pytest.mark.parametrize("fn", RANDOM_GENERATORS)
@pytest.mark.parametrize("n", [0, -3])
def test_n_samples_must_be_positive(fn, n):
    with pytest.raises(ValueError, match="n_samples"):
        fn(n_samples=n)


@pytest.mark.parametrize("bad", [2.5, "10", True])
def test_n_samples_must_be_an_integer(bad):
    with pytest.raises(TypeError, match="n_samples"):
        two_moons(n_samples=bad)


def test_numpy_integer_n_samples_accepted():
    assert two_moons(n_samples=np.int64(6), seed=0).X.shape == (6, 2)


@pytest.mark.parametrize("fn", RANDOM_GENERATORS)
@pytest.mark.parametrize("noise", [-0.1, float("nan"), float("inf")])
def test_noise_must_be_nonnegative_and_finite(fn, noise):
    with pytest.raises(ValueError, match="noise"):
        fn(noise=noise)


@pytest.mark.parametrize("k", [1, 0, -2])
def test_n_classes_at_least_two(k):
    with pytest.raises(ValueError, match="n_classes"):
        spirals(n_classes=k)


@pytest.mark.parametrize("factor", [0.0, 1.0, -0.5, 1.5])
def test_factor_strictly_between_zero_and_one(factor):
    with pytest.raises(ValueError, match="factor"):
        circles(factor=factor)


# --- load / names -----------------------------------------------------------


def test_registry_names():
    assert set(DATASETS) == {"xor", "and", "or", "two_moons", "circles", "spirals", "sin"}
    assert names()[: len(DATASETS)] == list(DATASETS)


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_load_each_builtin(name):
    ds = load(name)
    assert isinstance(ds, Dataset)
    assert ds.name == name
    assert ds.X.dtype == np.float64 and ds.X.ndim == 2
    assert ds.y.shape == (ds.X.shape[0],)
    expected_y = np.float64 if name == "sin" else np.int64
    assert ds.y.dtype == expected_y


def test_load_passes_kwargs_and_matches_direct_call():
    a = load("spirals", n_samples=40, n_classes=4, noise=0.1, seed=7)
    b = spirals(n_samples=40, n_classes=4, noise=0.1, seed=7)
    np.testing.assert_array_equal(a.X, b.X)
    np.testing.assert_array_equal(a.y, b.y)


def test_load_name_is_forgiving_about_case_and_dashes():
    assert load("Two-Moons", n_samples=4, seed=0).name == "two_moons"


def test_load_unknown_name_lists_available():
    with pytest.raises(ValueError, match="unknown dataset 'mnist'") as info:
        load("mnist")
    for name in DATASETS:
        assert name in str(info.value)


def test_load_rejects_bad_kwargs():
    with pytest.raises(TypeError):
        load("xor", n_samples=10)


@pytest.fixture
def no_sklearn(monkeypatch):
    """Make scikit-learn look absent, whether or not it is installed."""
    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)


@pytest.mark.parametrize("name", sorted(SKLEARN_DATASETS))
def test_sklearn_name_without_sklearn_says_how_to_install(no_sklearn, name):
    with pytest.raises(ImportError, match=r"pip install 'backprop\[sklearn\]'"):
        load(name)


def test_names_without_sklearn_are_builtins_only(no_sklearn):
    assert names() == list(DATASETS)
    with pytest.raises(ValueError, match=r"backprop\[sklearn\]"):
        load("nope")


SKLEARN_SHAPES = {
    "iris": ((150, 4), "classification", 3),
    "digits": ((1797, 64), "classification", 10),
    "wine": ((178, 13), "classification", 3),
    "breast_cancer": ((569, 30), "classification", 2),
    "diabetes": ((442, 10), "regression", None),
}


@pytest.mark.parametrize("name", sorted(SKLEARN_SHAPES))
def test_load_sklearn_datasets(name):
    pytest.importorskip("sklearn")
    shape, task, n_classes = SKLEARN_SHAPES[name]
    ds = load(name)
    assert name in names()
    assert ds.name == name and ds.task == task
    assert ds.X.shape == shape and ds.X.dtype == np.float64
    assert ds.y.shape == (shape[0],)
    if task == "classification":
        assert ds.y.dtype == np.int64
        assert np.unique(ds.y).tolist() == list(range(n_classes))
    else:
        assert ds.y.dtype == np.float64
