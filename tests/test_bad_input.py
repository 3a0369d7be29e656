"""Bad input: every check raises ValueError/TypeError with a useful message and changes nothing."""

from __future__ import annotations

import copy

import numpy as np
import pytest

import backprop as bp

N = 5


def make_net(kind="squared"):
    """A small network for each kind of target check."""
    if kind == "squared":
        return bp.Network([2, 3, 1], seed=0)
    if kind == "multi":
        return bp.Network([2, 3, 2], seed=0)
    if kind == "log_loss":
        return bp.Network([2, 3, 1], loss="log_loss", seed=0)
    if kind == "cross_entropy":
        return bp.Network([2, 3, 3], output="softmax", loss="cross_entropy", seed=0)
    if kind == "poisson":
        return bp.Network([2, 3, 1], output="exp", loss="poisson", seed=0)
    raise AssertionError(kind)


def good_X():
    return np.arange(N * 2, dtype=float).reshape(N, 2) / 10


def good_Y(kind="squared"):
    if kind == "multi":
        return np.zeros((N, 2))
    if kind == "cross_entropy":
        return np.array([0, 1, 2, 0, 1])
    return np.full((N, 1), 0.5)


def with_value(array, where, value):
    array = np.array(array, dtype=np.result_type(array, type(value)))
    array[where] = value
    return array


def snapshot(net):
    return net.params.copy(), net.grads.copy(), net.rng.bit_generator.state


def assert_unchanged(net, before):
    params, _, rng_state = before
    assert np.array_equal(net.params, params)
    assert net.params.tobytes() == params.tobytes()
    assert net.rng.bit_generator.state == rng_state


def call(net, method, X, Y=None, sample_weight=None, **options):
    if method == "predict":
        return net.predict(X)
    if method == "backprop":
        return net.backprop(X, Y, sample_weight=sample_weight)
    return net.fit(X, Y, epochs=1, sample_weight=sample_weight, **options)


# -- X ---------------------------------------------------------------------------------------

OBJECT_WITH_DICT = np.array([[0.0, 1.0]] * 4 + [[2.0, {"a": 1}]], dtype=object)

X_CASES = [
    pytest.param(
        np.ones((N, 3)),
        ValueError,
        r"X has 3 features, but the network expects 2",
        id="too-many-features",
    ),
    pytest.param(
        np.ones((N, 1)),
        ValueError,
        r"X has 1 features, but the network expects 2",
        id="too-few-features",
    ),
    pytest.param(
        with_value(good_X(), (2, 1), np.nan),
        ValueError,
        r"X contains NaN at row 2, column 1",
        id="nan",
    ),
    pytest.param(
        with_value(good_X(), (3, 0), np.inf),
        ValueError,
        r"X contains infinity at row 3, column 0",
        id="inf",
    ),
    pytest.param(
        with_value(good_X(), (4, 1), -np.inf),
        ValueError,
        r"X contains infinity at row 4, column 1",
        id="-inf",
    ),
    pytest.param(
        with_value(good_X(), (1, 1), 1e300),
        ValueError,
        r"X \(as float32\) contains infinity at row 1, column 1",
        id="overflows-float32",
        marks=pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning"),
    ),
    pytest.param(
        [["a", "b"]] * N, TypeError, r"X must be numeric; X\[0, 0\] = .*'a'", id="strings"
    ),
    pytest.param(
        with_value(good_X().astype(object), (3, 0), "x"),
        TypeError,
        r"X must be numeric; X\[3, 0\] = .*'x'",
        id="object-string",
    ),
    pytest.param("abc", TypeError, r"X must be", id="a-string"),
    pytest.param(
        OBJECT_WITH_DICT, TypeError, r"X must be numeric; X\[4, 1\] = \{'a': 1\}", id="object-dict"
    ),
    pytest.param(good_X() + 1j, ValueError, r"complex", id="complex"),
    pytest.param(
        [[0.0, 1.0]] * 4 + [[1.0]], ValueError, r"different lengths|inhomogeneous", id="ragged"
    ),
    pytest.param(np.empty((0, 2)), ValueError, r"X is empty: 0 samples", id="empty"),
    pytest.param(np.ones(N), ValueError, r"must be 2-D.*Reshape your data", id="1-D"),
    pytest.param(
        np.ones((N, 2, 1)), ValueError, r"X must be 2-D .*got shape \(5, 2, 1\)", id="3-D"
    ),
    pytest.param(np.float64(1.0), ValueError, r"X must be 2-D", id="scalar"),
]


@pytest.mark.parametrize("method", ["predict", "backprop", "fit"])
@pytest.mark.parametrize("X, error, match", X_CASES)
def test_bad_X(method, X, error, match):
    net = make_net()
    before = snapshot(net)
    with pytest.raises(error, match=match):
        call(net, method, X, good_Y())
    assert_unchanged(net, before)


RAGGED = [[0.0, 1.0]] * 4 + [[1.0]]


@pytest.mark.parametrize(
    "method, X, Y, error, match",
    [
        *(
            pytest.param(method, None, good_Y(), TypeError, r"X is None", id=f"X-None-{method}")
            for method in ("predict", "backprop", "fit")
        ),
        *(
            pytest.param(
                method,
                RAGGED,
                good_Y(),
                ValueError,
                r"X has rows of different lengths",
                id=f"ragged-X-{method}",
            )
            for method in ("predict", "backprop", "fit")
        ),
        *(
            pytest.param(method, good_X(), None, TypeError, r"Y is None", id=f"Y-None-{method}")
            for method in ("backprop", "fit")
        ),
    ],
)
def test_validation_messages_reach_the_network(method, X, Y, error, match):
    net = make_net()
    before = snapshot(net)
    with pytest.raises(error, match=match):
        call(net, method, X, Y)
    assert_unchanged(net, before)


def test_sparse_X_is_accepted_like_in_check_X():
    sparse = pytest.importorskip("scipy.sparse")
    net = make_net()
    X = good_X()
    np.testing.assert_array_equal(net.predict(sparse.csr_matrix(X)), net.predict(X))


# -- Y ---------------------------------------------------------------------------------------

Y_CASES = [
    pytest.param(
        "squared",
        np.zeros((N - 1, 1)),
        ValueError,
        r"X and Y have different numbers of samples: 5 and 4",
        id="short-Y",
    ),
    pytest.param(
        "squared",
        np.zeros(N + 2),
        ValueError,
        r"different numbers of samples: 5 and 7",
        id="long-1-D-Y",
    ),
    pytest.param(
        "squared",
        with_value(good_Y(), (2, 0), np.nan),
        ValueError,
        r"Y contains NaN at row 2, column 0",
        id="nan",
    ),
    pytest.param(
        "multi",
        with_value(good_Y("multi"), (3, 1), np.inf),
        ValueError,
        r"Y contains infinity at row 3, column 1",
        id="inf",
    ),
    pytest.param(
        "squared",
        with_value(good_Y(), (1, 0), 1e39),
        ValueError,
        r"Y \(as float32\) contains infinity at row 1, column 0",
        id="beyond-float32",
    ),
    pytest.param("squared", [["x"]] * N, TypeError, r"Y must be numeric", id="strings"),
    pytest.param(
        "squared",
        np.array([[{}]] * N, dtype=object),
        TypeError,
        r"Y must be numeric",
        id="object-dict",
    ),
    pytest.param("squared", np.zeros((N, 1)) + 2j, ValueError, r"Y holds complex", id="complex"),
    pytest.param(
        "squared",
        np.zeros((N, 3)),
        ValueError,
        r"Y has 3 columns, but the network has 1 outputs",
        id="wrong-columns",
    ),
    pytest.param(
        "multi",
        np.zeros((N, 1)),
        ValueError,
        r"Y has 1 columns, but the network has 2 outputs",
        id="one-column-for-two",
    ),
    pytest.param(
        "multi",
        np.zeros(N),
        ValueError,
        r"Y is 1-D but the network has 2 outputs",
        id="1-D-for-two",
    ),
    pytest.param("squared", np.zeros((N, 1, 1)), ValueError, r"Y must be 1-D or 2-D", id="3-D"),
    pytest.param(
        "cross_entropy",
        np.array([0, 1, 3, 0, 1]),
        ValueError,
        r"class label .*3.* at row 2 is outside 0\.\.2",
        id="label-too-big",
    ),
    pytest.param(
        "cross_entropy",
        np.array([[0], [-1], [2], [0], [1]]),
        ValueError,
        r"class label .*-1.* at row 1 is outside 0\.\.2",
        id="label-negative",
    ),
    pytest.param(
        "cross_entropy",
        np.array([0, 1, 1.5, 0, 1]),
        ValueError,
        r"integer class labels; Y\[2\]",
        id="label-not-integer",
    ),
    pytest.param(
        "cross_entropy",
        np.array([[1, 0, 0], [1, 1, 0], [0, 0, 1], [1, 0, 0], [0, 1, 0]]),
        ValueError,
        r"rows that sum to 1.*row 1 sums to 2",
        id="one-hot-sums-to-2",
    ),
    pytest.param(
        "cross_entropy",
        np.array([[1, 0, 0], [0, 1, 0], [0, 0, 0], [1, 0, 0], [0, 1, 0]]),
        ValueError,
        r"row 2 sums to 0",
        id="one-hot-all-zero",
    ),
    pytest.param(
        "log_loss",
        with_value(good_Y(), (1, 0), 1.5),
        ValueError,
        r"log_loss needs targets in \[0, 1\]; Y\[1, 0\]",
        id="log-loss-above-1",
    ),
    pytest.param(
        "log_loss",
        with_value(good_Y(), (3, 0), -0.5),
        ValueError,
        r"log_loss needs targets in \[0, 1\]; Y\[3, 0\]",
        id="log-loss-negative",
    ),
    pytest.param(
        "poisson",
        with_value(good_Y(), (4, 0), -1.0),
        ValueError,
        r"poisson needs targets >= 0; Y\[4, 0\]",
        id="poisson-negative",
    ),
]


@pytest.mark.parametrize("method", ["backprop", "fit"])
@pytest.mark.parametrize("kind, Y, error, match", Y_CASES)
def test_bad_Y(method, kind, Y, error, match):
    net = make_net(kind)
    before = snapshot(net)
    with pytest.raises(error, match=match):
        call(net, method, good_X(), Y)
    assert_unchanged(net, before)


@pytest.mark.parametrize("method", ["backprop", "fit"])
def test_empty_X_and_Y(method):
    net = make_net()
    before = snapshot(net)
    with pytest.raises(ValueError, match="X is empty"):
        call(net, method, np.empty((0, 2)), np.empty((0, 1)))
    assert_unchanged(net, before)


# -- sample_weight ---------------------------------------------------------------------------

WEIGHT_CASES = [
    pytest.param(
        np.ones(N - 1), ValueError, r"sample_weight must have shape \(5,\), got \(4,\)", id="short"
    ),
    pytest.param(np.ones((N, 1)), ValueError, r"sample_weight must have shape \(5,\)", id="2-D"),
    pytest.param(
        with_value(np.ones(N), 3, -1.0),
        ValueError,
        r"sample_weight must be >= 0; sample_weight\[3\] is negative",
        id="negative",
    ),
    pytest.param(np.zeros(N), ValueError, r"sample_weight are all zero", id="all-zero"),
    pytest.param(
        with_value(np.ones(N), 2, np.nan),
        ValueError,
        r"sample_weight contains NaN at index 2",
        id="nan",
    ),
    pytest.param(
        with_value(np.ones(N), 0, np.inf),
        ValueError,
        r"sample_weight contains infinity at index 0",
        id="inf",
    ),
    pytest.param(["a"] * N, TypeError, r"sample_weight must be numeric", id="strings"),
    pytest.param(
        np.full(N, 1e-50),
        ValueError,
        r"sample_weight: every weight underflows to 0 in float32 \(the largest is 1e-50\)",
        id="underflow-1e-50",
    ),
    pytest.param(
        np.full(N, 5e-324),
        ValueError,
        r"sample_weight: every weight underflows to 0 in float32",
        id="underflow-5e-324",
    ),
    pytest.param(
        np.full(N, 1e-39),
        ValueError,
        r"sample_weight: the total of the weights, 5e-39, underflows float32",
        id="subnormal-total",
    ),
    pytest.param(
        np.full(N, 1e300),
        ValueError,
        r"sample_weight \(as float32\) contains infinity at index 0",
        id="beyond-float32",
    ),
    pytest.param(
        np.full(N, 1e38),
        ValueError,
        r"sample_weight: the total of the weights overflows float32",
        id="total-overflows",
    ),
]


@pytest.mark.parametrize("method", ["backprop", "fit"])
@pytest.mark.parametrize("weights, error, match", WEIGHT_CASES)
def test_bad_sample_weight(method, weights, error, match):
    net = make_net()
    before = snapshot(net)
    with pytest.raises(error, match=match):
        call(net, method, good_X(), good_Y(), sample_weight=weights)
    assert_unchanged(net, before)


# -- fit settings ----------------------------------------------------------------------------

SETTING_CASES = [
    pytest.param(
        {"epochs": -1}, ValueError, r"epochs must be an integer >= 0, got -1", id="epochs-negative"
    ),
    pytest.param({"epochs": 1.5}, ValueError, r"epochs must be an integer", id="epochs-float"),
    pytest.param(
        {"batch_size": 0}, ValueError, r"batch_size must be None .* got 0", id="batch-size-0"
    ),
    pytest.param({"batch_size": -4}, ValueError, r"batch_size must be", id="batch-size-neg"),
    pytest.param({"batch_size": 2.5}, ValueError, r"batch_size must be", id="batch-size-float"),
    pytest.param(
        {"validation_split": 1.5},
        ValueError,
        r"validation_split must be in \[0, 1\)",
        id="validation-split-1.5",
    ),
    pytest.param(
        {"validation_split": -0.2},
        ValueError,
        r"validation_split must be in",
        id="validation-split-neg",
    ),
    pytest.param(
        {"validation_split": 0.05},
        ValueError,
        r"leaves no validation",
        id="validation-split-too-small",
    ),
    pytest.param(
        {"l2": -1}, ValueError, r"l2 must be a finite number >= 0, got -1", id="l2-negative"
    ),
    pytest.param({"l2": float("nan")}, ValueError, r"l2 must be a finite number >= 0", id="l2-nan"),
    pytest.param({"l2": float("inf")}, ValueError, r"l2 must be a finite .* got inf", id="l2-inf"),
    pytest.param({"l2": "0.1"}, TypeError, r"l2 must be a finite number >= 0", id="l2-str"),
    pytest.param({"clip_norm": 0}, ValueError, r"clip_norm must be .*> 0, got 0", id="clip-0"),
    pytest.param({"clip_norm": -2.0}, ValueError, r"clip_norm must be .*> 0", id="clip-neg"),
    pytest.param(
        {"clip_norm": float("nan")}, ValueError, r"clip_norm must be .*finite", id="clip-nan"
    ),
    pytest.param(
        {"clip_norm": "a"},
        TypeError,
        r"clip_norm must be None or a number > 0, got 'a'",
        id="clip-a",
    ),
    pytest.param(
        {"validation_split": "a"}, TypeError, r"validation_split must be a number", id="split-a"
    ),
    pytest.param({"epochs": "3"}, ValueError, r"epochs must be an integer", id="epochs-str"),
    pytest.param(
        {"checkpoint_every": np.float64(2)}, ValueError, r"checkpoint_every", id="every-float"
    ),
    pytest.param({"shuffle": "no"}, TypeError, r"shuffle must be True or False", id="shuffle-no"),
    pytest.param({"shuffle": None}, TypeError, r"shuffle must be True or False", id="shuffle-none"),
    pytest.param({"l2_per_sample": "yes"}, TypeError, r"l2_per_sample must be", id="per-sample"),
    pytest.param({"verbose": 1}, TypeError, r"verbose must be True or False", id="verbose-1"),
    pytest.param({"warn": "no"}, TypeError, r"warn must be True or False", id="warn-no"),
    pytest.param({"resume": "no"}, TypeError, r"resume must be True or False", id="resume-no"),
    pytest.param(
        {"early_stopping": "yes"}, TypeError, r"early_stopping must be", id="early-stopping-yes"
    ),
    pytest.param({"callbacks": print}, TypeError, r"callbacks must be a list", id="callback"),
    pytest.param({"callbacks": [3]}, TypeError, r"callbacks\[0\] is not callable", id="cb-3"),
    pytest.param({"reduce_gradients": 3}, TypeError, r"reduce_gradients", id="reduce-3"),
    pytest.param({"metrics": "accuracy"}, TypeError, r"metrics must be a list", id="metrics-str"),
    pytest.param({"checkpoint": 3}, TypeError, r"checkpoint must be a file path", id="ckpt-3"),
    pytest.param(
        {"checkpoint": "no/such/dir/run.ckpt"},
        ValueError,
        r"checkpoint 'no/such/dir/run.ckpt': the directory .* does not exist",
        id="ckpt-no-dir",
    ),
    pytest.param(
        {"optimizer": "adam", "optimizer_state": bp.SGD(momentum=0.9).init(np.zeros(13))},
        TypeError,
        r"optimizer_state is a SGDState; Adam needs a AdamState",
        id="optimizer-state-other",
    ),
    pytest.param(
        {"optimizer": "adam", "optimizer_state": bp.Adam().init(np.zeros(12, np.float32))},
        ValueError,
        r"optimizer_state.m must be an array of shape \(13,\)",
        id="optimizer-state-shape",
    ),
    pytest.param(
        {"metrics": ["accuracy", "f1"]}, ValueError, r"unknown metric 'f1'", id="unknown-metric"
    ),
    pytest.param(
        {"optimizer": "adamw"}, ValueError, r"unknown optimizer 'adamw'", id="unknown-optimizer"
    ),
    pytest.param(
        {"optimizer": 3}, TypeError, r"optimizer must be a name or an Optimizer", id="optimizer-int"
    ),
    pytest.param(
        {"schedule": "sawtooth"}, ValueError, r"unknown schedule 'sawtooth'", id="unknown-schedule"
    ),
    pytest.param(
        {"early_stopping": True},
        ValueError,
        r"early_stopping needs validation_data or validation_split",
        id="early-stop",
    ),
    pytest.param(
        {"validation_data": (np.ones((3, 2)),)},
        ValueError,
        r"validation_data must be a pair",
        id="validation-data-not-pair",
    ),
    pytest.param(
        {"validation_data": (with_value(np.ones((3, 2)), (1, 0), np.nan), np.ones((3, 1)))},
        ValueError,
        r"X_val contains NaN at row 1, column 0",
        id="validation-X-nan",
    ),
    pytest.param(
        {"validation_data": (np.ones((3, 2)), np.ones((2, 1)))},
        ValueError,
        r"X and Y_val have different numbers of samples",
        id="validation-Y-short",
    ),
]


@pytest.mark.parametrize("options, error, match", SETTING_CASES)
def test_bad_fit_settings(options, error, match):
    net = make_net()
    before = snapshot(net)
    with pytest.raises(error, match=match):
        net.fit(good_X(), good_Y(), **{"epochs": 1, **options})
    assert_unchanged(net, before)


@pytest.mark.parametrize(
    "options, error, match", [case for case in SETTING_CASES if case.id != "early-stop"]
)
def test_bad_fit_settings_with_a_validation_split(options, error, match):
    """The split draws from the generator: every setting is checked before it."""
    net = make_net()
    before = snapshot(net)
    with pytest.raises(error, match=match):
        net.fit(good_X(), good_Y(), **{"epochs": 1, "validation_split": 0.4, **options})
    assert_unchanged(net, before)


@pytest.mark.parametrize(
    "options, match",
    [
        ({"optimizer": "adamw"}, r"unknown optimizer"),
        ({"schedule": "sawtooth"}, r"unknown schedule"),
        ({"metrics": ["f1"]}, r"unknown metric"),
    ],
)
def test_bad_fit_settings_with_validation_split_leave_rng(options, match):
    net = make_net()
    before = snapshot(net)
    with pytest.raises(ValueError, match=match):
        net.fit(good_X(), good_Y(), epochs=1, validation_split=0.4, **options)
    assert_unchanged(net, before)


def test_fit_still_trains_after_rejected_calls():
    net = make_net()
    with pytest.raises(ValueError):
        net.fit(good_X(), good_Y(), epochs=-1)
    before = net.params.copy()
    history = net.fit(good_X(), good_Y(), epochs=2, batch_size=2)
    assert len(history) == 2
    assert not np.array_equal(net.params, before)


# -- constructor -----------------------------------------------------------------------------

CONSTRUCTOR_CASES = [
    pytest.param(
        {"sizes": [0, 3, 1]},
        ValueError,
        r"layer 0 \(the input\) must have >= 1 unit",
        id="zero-inputs",
    ),
    pytest.param({"sizes": [-2, 3, 1]}, ValueError, r"layer 0 .*>= 1", id="negative-inputs"),
    pytest.param(
        {"sizes": [2, 0, 1]},
        ValueError,
        r"layer 1: layer size must be >= 1, got 0",
        id="zero-hidden",
    ),
    pytest.param(
        {"sizes": [2, 3, -1]}, ValueError, r"layer 2: layer size must be >= 1", id="negative-output"
    ),
    pytest.param(
        {"sizes": [2, 2.5, 1]},
        TypeError,
        r"layer 1: layer size must be an integer",
        id="float-hidden",
    ),
    pytest.param(
        {"sizes": [2, "3", 1]},
        TypeError,
        r"layer 1: layer size must be an integer",
        id="string-hidden",
    ),
    pytest.param(
        {"sizes": [2, True, 1]},
        TypeError,
        r"layer 1: layer size must be an integer",
        id="bool-hidden",
    ),
    pytest.param(
        {"sizes": [2.0, 3, 1]}, TypeError, r"sizes\[0\] .* must be an integer", id="float-inputs"
    ),
    pytest.param({"sizes": [2]}, ValueError, r"at least an input and an output", id="one-size"),
    pytest.param({"sizes": "2,3,1"}, TypeError, r"sizes must be a list", id="string-sizes"),
    pytest.param(
        {"hidden": "swish"}, ValueError, r"layer 1: unknown activation 'swish'", id="unknown-hidden"
    ),
    pytest.param(
        {"output": "swish"}, ValueError, r"layer 2: unknown activation 'swish'", id="unknown-output"
    ),
    pytest.param(
        {"hidden": 3}, TypeError, r"activation must be a name or an Activation", id="activation-int"
    ),
    pytest.param(  # no layer takes ``hidden``: the name is checked all the same
        {"sizes": [3, 1], "hidden": "sigmoidd"},
        ValueError,
        r"hidden: unknown activation 'sigmoidd'",
        id="unknown-unused-hidden",
    ),
    pytest.param(
        {"sizes": [2, bp.Layer(1, "tanh")], "output": "swish"},
        ValueError,
        r"output: unknown activation 'swish'",
        id="unknown-unused-output",
    ),
    pytest.param({"loss": "hinge"}, ValueError, r"unknown loss 'hinge'", id="unknown-loss"),
    pytest.param({"loss": 3}, TypeError, r"loss must be a name or a Loss", id="loss-int"),
    pytest.param(
        {"init": "orthogonal"}, ValueError, r"unknown init 'orthogonal'", id="unknown-init"
    ),
    pytest.param({"dtype": "int32"}, ValueError, r"dtype must be one of .*got 'int32'", id="int32"),
    pytest.param(
        {"dtype": "float16"}, ValueError, r"dtype must be one of .*got 'float16'", id="float16"
    ),
    pytest.param({"dtype": "complex128"}, ValueError, r"dtype must be one of", id="complex128"),
    pytest.param(
        {"dtype": "double precision"}, TypeError, r"dtype must be one of", id="unknown-dtype"
    ),
]


@pytest.mark.parametrize("kwargs, error, match", CONSTRUCTOR_CASES)
def test_bad_constructor_arguments(kwargs, error, match):
    kwargs = {"sizes": [2, 3, 1], **kwargs}
    with pytest.raises(error, match=match):
        bp.Network(**kwargs)


@pytest.mark.parametrize(
    "args, kwargs, error, match",
    [
        pytest.param((0,), {}, ValueError, r"layer size must be >= 1, got 0", id="size-0"),
        pytest.param((1.5,), {}, TypeError, r"layer size must be an integer", id="size-float"),
        pytest.param((3, "swish"), {}, ValueError, r"unknown activation 'swish'", id="act"),
        pytest.param(
            (3,),
            {"combine": "mean"},
            ValueError,
            r"combine must be 'concat' or 'sum'",
            id="combine",
        ),
        pytest.param(
            (3,), {"dropout": 1.0}, ValueError, r"dropout must be in \[0, 1\)", id="dropout-1"
        ),
        pytest.param((3,), {"dropout": -0.1}, ValueError, r"dropout must be in", id="dropout-neg"),
        pytest.param((3,), {"init": "lecun"}, ValueError, r"unknown init 'lecun'", id="init"),
    ],
)
def test_bad_layer_arguments(args, kwargs, error, match):
    with pytest.raises(error, match=match):
        bp.Layer(*args, **kwargs)


def test_good_data_passes_the_same_checks():
    """The fixtures above are valid as given: each case fails only through its one defect."""
    for kind in ("squared", "multi", "log_loss", "cross_entropy", "poisson"):
        net = make_net(kind)
        trace = net.backprop(good_X(), good_Y(kind), sample_weight=np.ones(N))
        assert np.isfinite(trace.loss)
    assert make_net().predict(good_X()).shape == (N, 1)


# -- settings and weights that reach training ------------------------------------------------


def weights_only_in_the_validation_part(net, n, dtype_weight=1.0):
    """Weights non-zero only in the samples validation_split=0.5 will hold out."""
    held = copy.deepcopy(net.rng).permutation(n)[: n // 2]
    weights = np.zeros(n)
    weights[held] = dtype_weight
    return weights


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_weights_only_in_the_validation_part_are_refused(dtype):
    X = np.random.default_rng(0).normal(size=(20, 2))
    net = bp.Network([2, 3, 1], seed=0, dtype=dtype)
    before = snapshot(net)
    weights = weights_only_in_the_validation_part(net, 20)
    with pytest.raises(ValueError, match=r"sample_weight: the weights of the samples "):
        net.fit(X, X[:, :1], epochs=2, sample_weight=weights, validation_split=0.5)
    assert_unchanged(net, before)
    weights[np.flatnonzero(weights == 0)[0]] = 1e-320  # a subnormal total for training
    match = r"sample_weight: .*(all zero|underflows float64)"
    with pytest.raises(ValueError, match=match):
        net.fit(X, X[:, :1], epochs=2, sample_weight=weights, validation_split=0.5)
    assert_unchanged(net, before)


def test_large_weights_whose_total_fits_float64_train():
    X = np.random.default_rng(0).normal(size=(20, 2))
    plain = bp.Network([2, 3, 1], seed=0, dtype="float64")
    heavy = bp.Network([2, 3, 1], seed=0, dtype="float64")
    plain.fit(X, X[:, :1], epochs=3, batch_size=5, sample_weight=np.ones(20), warn=False)
    heavy.fit(X, X[:, :1], epochs=3, batch_size=5, sample_weight=np.full(20, 1e300), warn=False)
    np.testing.assert_allclose(heavy.params, plain.params, rtol=1e-12)


def test_numpy_numbers_are_taken_as_their_python_values():
    """np.int8(3) no longer overflows in the loop; np.float32(0.1) is a valid l2."""
    X = np.random.default_rng(0).normal(size=(300, 2))
    numpy_typed, python_typed = make_net(), make_net()
    settings = dict(
        epochs=np.int8(3),
        batch_size=np.int8(3),
        l2=np.float32(0.1),
        clip_norm=np.float16(2),
        validation_split=np.float32(0.25),
        checkpoint_every=np.int64(1),
        shuffle=np.bool_(True),
        warn=False,
    )
    numpy_typed.fit(X, X[:, :1], **settings)
    plain = {k: v.item() if isinstance(v, np.generic) else v for k, v in settings.items()}
    python_typed.fit(X, X[:, :1], **plain)
    assert np.array_equal(numpy_typed.params, python_typed.params)
    assert numpy_typed.rng.bit_generator.state == python_typed.rng.bit_generator.state
