"""Tests for backprop.network: layers, flat buffers, initialisation, dtype, topology, predict."""

from __future__ import annotations

import numpy as np
import pytest

import backprop as bp


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def small_net(**kwargs):
    options = {"hidden": "tanh", "output": "sigmoid", "seed": 0}
    options.update(kwargs)
    return bp.Network([2, 3, 1], **options)


# -- structure, repr and the flat buffers ---------------------------------------------------


def test_repr_shows_architecture():
    net = small_net()
    assert repr(net) == (
        "Network(2 → 3 tanh → 1 sigmoid, loss='squared', dtype=float32, 13 parameters)"
    )


def test_repr_shows_skip_connections_and_dtype():
    net = bp.Network(
        [3, bp.Layer(4, "tanh"), bp.Layer(2, "sigmoid", inputs=[0, 1])],
        loss="log_loss",
        dtype="float64",
    )
    assert repr(net) == (
        "Network(3 → 4 tanh → 2 sigmoid (concat of a0, a1), loss='log_loss', "
        "dtype=float64, 32 parameters)"
    )


def test_layers_and_shapes():
    net = bp.Network([2, 5, 3, 4], seed=0)
    assert isinstance(net.layers[0], bp.Input)
    assert net.layers[0].size == 2
    assert all(isinstance(layer, bp.Layer) for layer in net.layers[1:])
    assert net.n_layers == 3
    assert net.sizes == [2, 5, 3, 4]
    assert [layer.W.shape for layer in net.layers[1:]] == [(5, 2), (3, 5), (4, 3)]
    assert [layer.b.shape for layer in net.layers[1:]] == [(5,), (3,), (4,)]
    assert net.params.shape == (2 * 5 + 5 * 3 + 3 * 4 + 5 + 3 + 4,)
    assert net.grads.shape == net.params.shape


def test_flat_layout_is_all_weights_then_all_biases():
    net = bp.Network([2, 3, 2], seed=0)
    for layer in net.layers[1:]:
        layer.b = np.arange(layer.size) + 10.0 * layer.index
    expected = np.concatenate(
        [net.layers[1].W.ravel(), net.layers[2].W.ravel(), net.layers[1].b, net.layers[2].b]
    )
    assert np.array_equal(net.params, expected)
    assert net.n_weights == 6 + 6


@pytest.mark.parametrize(
    "name, buffer", [("W", "params"), ("b", "params"), ("grad_W", "grads"), ("grad_b", "grads")]
)
def test_views_share_memory_with_flat_buffers(name, buffer):
    net = bp.Network([2, 3, 2], seed=0)
    other = "grads" if buffer == "params" else "params"
    for layer in net.layers[1:]:
        view = getattr(layer, name)
        assert np.shares_memory(view, getattr(net, buffer))
        assert not np.shares_memory(view, getattr(net, other))


def test_grad_views_see_backprop_results():
    net = bp.Network([2, 3, 1], seed=0, dtype="float64")
    trace = net.backprop([[0.5, -1.0], [1.0, 2.0]], [[1.0], [0.0]])
    for index, layer in enumerate(net.layers[1:], start=1):
        assert np.array_equal(layer.grad_W, trace.grad_W[index])
        assert np.array_equal(layer.grad_b, trace.grad_b[index])
    assert np.any(net.grads != 0)


# -- assigning weights ----------------------------------------------------------------------

# The worked example of Mazur's "A Step by Step Backpropagation Example".
MAZUR = {
    "W1": [[0.15, 0.20], [0.25, 0.30]],
    "b1": [0.35, 0.35],
    "W2": [[0.40, 0.45], [0.50, 0.55]],
    "b2": [0.60, 0.60],
}


def assign(layer, name, values, mode):
    if mode == "setattr":
        setattr(layer, name, values)
    else:
        getattr(layer, name)[...] = values


@pytest.mark.parametrize("mode", ["setattr", "setitem"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_assigned_textbook_weights_drive_predict(mode, dtype):
    net = bp.Network([2, 2, 2], dtype=dtype, seed=0)
    before = net.predict([[0.05, 0.10]])
    for index in (1, 2):
        assign(net.layers[index], "W", MAZUR[f"W{index}"], mode)
        assign(net.layers[index], "b", MAZUR[f"b{index}"], mode)
    out = net.predict([[0.05, 0.10]])
    tol = 1e-6 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(out, [[0.75136507, 0.77292847]], atol=max(tol, 1e-8))
    assert not np.allclose(out, before)
    expected_params = np.concatenate(
        [np.ravel(MAZUR["W1"]), np.ravel(MAZUR["W2"]), MAZUR["b1"], MAZUR["b2"]]
    ).astype(dtype)
    assert np.array_equal(net.params, expected_params)
    assert net.params.dtype == np.dtype(dtype)


@pytest.mark.parametrize("mode", ["setattr", "setitem"])
def test_single_weight_assignment_lands_in_params_and_output(mode):
    net = bp.Network([2, 3, 1], hidden="tanh", output="identity", dtype="float64", seed=0)
    X = np.array([[0.3, -0.7], [1.0, 0.5]])
    W1 = net.layers[1].W.copy()
    W1[0, 1] = 0.5
    if mode == "setattr":
        net.layers[1].W = W1
    else:
        net.layers[1].W[0, 1] = 0.5
    assert net.params[1] == 0.5  # W1 is first in the flat buffer; [0, 1] is its 2nd entry
    W2, b2 = net.layers[2].W, net.layers[2].b
    expected = np.tanh(X @ W1.T + net.layers[1].b) @ W2.T + b2
    np.testing.assert_allclose(net.predict(X), expected, rtol=1e-12)


def test_scalar_assignment_fills_the_layer():
    net = bp.Network([2, 3, 1], seed=0)
    net.layers[2].b = 0.25
    net.layers[1].W = 0
    assert np.all(net.layers[1].W == 0)
    assert np.all(net.layers[2].b == np.float32(0.25))


@pytest.mark.parametrize(
    "name, values, match",
    [
        ("W", np.ones((2, 3)), r"layer 1: W must have shape \(3, 2\), got \(2, 3\)"),
        ("W", np.ones(6), r"layer 1: W must have shape \(3, 2\)"),
        ("W", np.ones((3, 2, 1)), r"layer 1: W must have shape"),
        ("b", np.ones(2), r"layer 1: b must have shape \(3,\), got \(2,\)"),
        (
            "W",
            [[0.0, 1.0], [np.nan, 0.0], [0.0, 0.0]],
            r"layer 1 W contains NaN at row 1, column 0",
        ),
        ("W", [[0.0, 1.0], [0.0, 0.0], [0.0, np.inf]], r"layer 1 W contains infinity"),
        ("b", [0.0, 0.0, np.nan], r"layer 1 b contains NaN at index 2"),
    ],
)
def test_bad_assignment_raises_and_leaves_weights(name, values, match):
    net = bp.Network([2, 3, 1], seed=0)
    before = net.params.copy()
    with pytest.raises(ValueError, match=match):
        setattr(net.layers[1], name, values)
    assert np.array_equal(net.params, before)


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
@pytest.mark.parametrize("name", ["W", "b"])
def test_scalar_nan_assignment_raises_value_error(name, value):
    net = bp.Network([2, 3, 1], seed=0)
    before = net.params.copy()
    with pytest.raises(ValueError, match="layer 1"):
        setattr(net.layers[1], name, value)
    assert np.array_equal(net.params, before)


def test_wrong_shape_through_view_does_not_change_weights():
    net = bp.Network([2, 3, 1], seed=0)
    before = net.params.copy()
    with pytest.raises(ValueError):
        net.layers[1].W[...] = np.ones((2, 3))
    assert np.array_equal(net.params, before)


def test_set_params_round_trip_and_checks():
    net = bp.Network([2, 3, 1], dtype="float64", seed=0)
    values = np.arange(net.params.size, dtype=float) / 10
    net.set_params(values)
    assert np.array_equal(net.params, values)
    assert net.layers[1].W[0, 1] == 0.1
    with pytest.raises(ValueError, match=r"params must have shape \(13,\)"):
        net.set_params(values[:-1])
    bad = values.copy()
    bad[4] = np.nan
    with pytest.raises(ValueError, match="params contains NaN at index 4"):
        net.set_params(bad)
    assert np.array_equal(net.params, values)


# -- initialisation -------------------------------------------------------------------------


@pytest.mark.parametrize("activation", ["sigmoid", "tanh"])
def test_glorot_uniform_for_sigmoid_and_tanh(activation):
    net = bp.Network([30, 20, 10], hidden=activation, output=activation, seed=0)
    for layer in net.layers[1:]:
        limit = np.sqrt(6.0 / (layer.n_in + layer.size))
        W = layer.W.astype(float)
        assert np.all(np.abs(W) <= limit)
        assert np.abs(W).max() > 0.9 * limit  # uniform fills the range
        assert W.std() == pytest.approx(limit / np.sqrt(3), rel=0.15)
        assert np.all(layer.b == 0)


@pytest.mark.parametrize("activation", ["relu", "leaky_relu"])
def test_he_normal_for_relu_like(activation):
    net = bp.Network([400, 400, 1], hidden=activation, seed=1)
    W = net.layers[1].W.astype(float)
    expected = np.sqrt(2.0 / 400)
    assert W.std() == pytest.approx(expected, rel=0.05)
    assert abs(W.mean()) < 0.05 * expected
    assert np.abs(W).max() > np.sqrt(6.0 / 800)  # a normal, not a Glorot-bounded uniform
    assert np.all(net.layers[1].b == 0)


@pytest.mark.parametrize(
    "init, check",
    [
        ("he_normal", lambda W, fi, fo: W.std() == pytest.approx(np.sqrt(2 / fi), rel=0.05)),
        ("he", lambda W, fi, fo: W.std() == pytest.approx(np.sqrt(2 / fi), rel=0.05)),
        (
            "he_uniform",
            lambda W, fi, fo: (
                np.abs(W).max() <= np.sqrt(6 / fi)
                and W.std() == pytest.approx(np.sqrt(2 / fi), rel=0.05)
            ),
        ),
        ("glorot_uniform", lambda W, fi, fo: np.abs(W).max() <= np.sqrt(6 / (fi + fo))),
        ("xavier", lambda W, fi, fo: np.abs(W).max() <= np.sqrt(6 / (fi + fo))),
        (
            "glorot_normal",
            lambda W, fi, fo: W.std() == pytest.approx(np.sqrt(2 / (fi + fo)), rel=0.05),
        ),
        ("zeros", lambda W, fi, fo: np.all(W == 0)),
    ],
)
@pytest.mark.parametrize("where", ["network", "layer"])
def test_init_is_selectable(init, check, where):
    # relu uses He and sigmoid Glorot by default; use the activation whose default differs.
    activation = "sigmoid" if init.startswith("he") else "relu"
    if where == "network":
        net = bp.Network([400, 200, 1], hidden=activation, init=init, seed=2)
    else:
        net = bp.Network([400, bp.Layer(200, activation, init=init), 1], seed=2)
    W = net.layers[1].W.astype(float)
    assert check(W, 400, 200)
    assert np.all(net.layers[1].b == 0)


def test_layer_init_overrides_network_init():
    net = bp.Network([50, bp.Layer(40, "relu", init="zeros"), 1], init="he_normal", seed=0)
    assert np.all(net.layers[1].W == 0)
    assert np.any(net.layers[2].W != 0)


def test_same_seed_same_network_different_seed_different():
    a = bp.Network([4, 8, 3], seed=42)
    b = bp.Network([4, 8, 3], seed=42)
    c = bp.Network([4, 8, 3], seed=43)
    assert a.params.tobytes() == b.params.tobytes()
    assert not np.array_equal(a.params, c.params)


def test_initialize_reseeds():
    net = bp.Network([4, 8, 3], seed=1)
    first = net.params.copy()
    net.layers[1].b = 5.0
    returned = net.initialize(seed=7)
    assert returned is net
    assert np.array_equal(net.params, bp.Network([4, 8, 3], seed=7).params)
    assert np.all(net.layers[1].b == 0)
    net.initialize(seed=1)
    assert np.array_equal(net.params, first)
    net.initialize()  # no seed: fresh draws from the generator
    assert not np.array_equal(net.params, first)


# -- dtype ----------------------------------------------------------------------------------


def test_float32_is_the_default():
    net = small_net()
    assert net.dtype == np.float32
    assert net.params.dtype == np.float32
    assert net.grads.dtype == np.float32
    assert net.layers[1].W.dtype == np.float32
    assert net.predict([[0.1, 0.2]]).dtype == np.float32


def test_float64_on_request():
    net = small_net(dtype="float64")
    assert net.params.dtype == np.float64
    assert net.predict(np.array([[0.1, 0.2]], dtype=np.float32)).dtype == np.float64


@pytest.mark.parametrize("X_dtype", [np.float64, np.int64, np.float32])
def test_float32_network_does_not_upcast(X_dtype):
    net = small_net()
    out = net.predict(np.array([[1, 2], [3, 4]], dtype=X_dtype))
    assert out.dtype == np.float32


def test_copy_float64_is_independent_with_equal_weights():
    net = small_net()
    X = np.array([[0.1, -0.4], [2.0, 1.0]])
    original = net.params.copy()
    clone = net.copy("float64")
    assert clone.dtype == np.float64
    assert clone.params.dtype == np.float64
    assert np.array_equal(clone.params, original.astype(np.float64))
    assert np.allclose(clone.predict(X), net.predict(X), atol=1e-6)
    assert not np.shares_memory(clone.params, net.params)
    assert np.shares_memory(clone.layers[1].W, clone.params)
    clone.layers[1].W = np.zeros((3, 2))
    clone.layers[1].W[0, 0] = 3.0
    clone.layers[2].b[...] = 1.0
    assert np.array_equal(net.params, original)
    assert not np.allclose(clone.predict(X), net.predict(X), atol=1e-3)
    net.layers[2].W[...] = 9.0
    assert np.all(clone.layers[2].W != 9.0)


def test_copy_keeps_dtype_and_generator_state():
    net = small_net()
    clone = net.copy()
    assert clone.dtype == np.float32
    assert np.array_equal(clone.params, net.params)
    assert clone.rng.bit_generator.state == net.rng.bit_generator.state
    clone.rng.random()
    assert clone.rng.bit_generator.state != net.rng.bit_generator.state


# -- topology -------------------------------------------------------------------------------


def test_concat_and_sum_input_widths():
    net = bp.Network(
        [
            3,
            bp.Layer(4, "tanh"),
            bp.Layer(5, "relu", inputs=[0, 1]),
            bp.Layer(4, "tanh", inputs=[1]),
            bp.Layer(2, "identity", inputs=[1, 3], combine="sum"),
            bp.Layer(1, "sigmoid", inputs=[0, 2, 4]),
        ],
        seed=0,
    )
    assert [layer.n_in for layer in net.layers[1:]] == [3, 7, 4, 4, 3 + 5 + 2]
    assert [layer.W.shape for layer in net.layers[1:]] == [(4, 3), (5, 7), (4, 4), (2, 4), (1, 10)]
    assert net.predict(np.ones((6, 3))).shape == (6, 1)


def test_residual_forward_matches_numpy():
    net = bp.Network(
        [
            3,
            bp.Layer(4, "tanh"),
            bp.Layer(4, "relu"),
            bp.Layer(2, "identity", inputs=[1, 2], combine="sum"),
        ],
        dtype="float64",
        seed=3,
    )
    rng = np.random.default_rng(0)
    for layer in net.layers[1:]:
        layer.b = rng.normal(size=layer.size)
    X = rng.normal(size=(9, 3))
    W1, W2, W3 = (layer.W for layer in net.layers[1:])
    b1, b2, b3 = (layer.b for layer in net.layers[1:])
    a1 = np.tanh(X @ W1.T + b1)
    a2 = np.maximum(a1 @ W2.T + b2, 0)
    expected = (a1 + a2) @ W3.T + b3
    assert W3.shape == (2, 4)
    np.testing.assert_allclose(net.predict(X), expected, rtol=1e-12, atol=1e-12)
    # and not the plain chain
    assert not np.allclose(net.predict(X), a2 @ W3.T + b3)


def test_concat_skip_from_input_matches_numpy():
    net = bp.Network(
        [3, bp.Layer(4, "tanh"), bp.Layer(2, "sigmoid", inputs=[0, 1])], dtype="float64", seed=5
    )
    rng = np.random.default_rng(1)
    for layer in net.layers[1:]:
        layer.b = rng.normal(size=layer.size)
    X = rng.normal(size=(8, 3))
    W1, W2 = net.layers[1].W, net.layers[2].W
    assert W2.shape == (2, 7)
    a1 = np.tanh(X @ W1.T + net.layers[1].b)
    expected = sigmoid(np.hstack([X, a1]) @ W2.T + net.layers[2].b)
    np.testing.assert_allclose(net.predict(X), expected, rtol=1e-12, atol=1e-12)
    # the column order is [x, a1]: swapping it must give a different answer
    swapped = sigmoid(np.hstack([a1, X[:, :1], X[:, 1:]]) @ W2.T + net.layers[2].b)
    assert not np.allclose(net.predict(X), swapped)


@pytest.mark.parametrize(
    "sizes, match",
    [
        ([2, 3, bp.Layer(1, inputs=[3])], r"layer 2: input 3 is not an earlier layer"),
        ([2, 3, bp.Layer(1, inputs=[2])], r"layer 2: input 2 is not an earlier layer"),
        ([2, 3, bp.Layer(1, inputs=[-1, 1])], r"layer 2: input -1 is not an earlier layer"),
        ([2, 3, bp.Layer(1, inputs=[1, 1])], r"layer 2: .*name a layer twice"),
        ([2, 3, bp.Layer(1, inputs=[])], r"layer 2: inputs is empty"),
        (
            [2, 3, bp.Layer(1, inputs=[0, 1], combine="sum")],
            r"layer 2: 'sum' needs inputs of equal size",
        ),
        ([2, 3, 4, bp.Layer(1, inputs=[1])], r"layer 2's output is never used"),
        ([2, 3, bp.Layer(1, dropout=0.5)], r"layer 2 is the output layer and cannot have dropout"),
        ([2, 3, bp.Layer(1, "softmax")], r"layer 2: a softmax output needs at least 2 units"),
        ([2, bp.Layer(3, "softmax"), 2], r"layer 1: softmax is for outputs"),
    ],
)
def test_topology_errors_name_the_layer(sizes, match):
    with pytest.raises(ValueError, match=match):
        bp.Network(sizes)


def test_user_layer_objects_are_not_bound():
    spec = bp.Layer(3, "tanh")
    net_a = bp.Network([2, spec, 1], seed=0)
    net_b = bp.Network([4, spec, 1], seed=0)
    assert net_a.layers[1] is not spec
    assert net_a.layers[1].W.shape == (3, 2)
    assert net_b.layers[1].W.shape == (3, 4)
    with pytest.raises(AttributeError, match="not part of a network"):
        _ = spec.W


# -- predict --------------------------------------------------------------------------------


def test_predict_shape_and_independent_results():
    net = bp.Network([3, 5, 2], seed=0)
    X = np.random.default_rng(0).normal(size=(11, 3))
    first = net.predict(X)
    assert first.shape == (11, 2)
    kept = first.copy()
    first[...] = 123.0
    second = net.predict(X)
    assert np.array_equal(second, kept)
    assert not np.shares_memory(first, second)
    assert not np.shares_memory(second, net.params)
    assert net.predict(X[:1]).shape == (1, 2)


def test_predict_does_not_change_input_or_params():
    net = bp.Network([3, 5, 2], seed=0)
    X = np.random.default_rng(0).normal(size=(4, 3)).astype(np.float32)
    X_before, params_before = X.copy(), net.params.copy()
    net.predict(X)
    assert np.array_equal(X, X_before)
    assert np.array_equal(net.params, params_before)


@pytest.mark.parametrize("dtype, tol", [("float32", 1e-6), ("float64", 1e-12)])
def test_predict_in_chunks_equals_row_by_row(dtype, tol):
    net = bp.Network(
        [6, bp.Layer(16, "relu"), bp.Layer(8, "tanh", inputs=[0, 1]), 3], dtype=dtype, seed=4
    )
    X = np.random.default_rng(2).normal(size=(100, 6))
    whole = net.predict(X, batch_size=4096)
    chunked = net.predict(X, batch_size=7)
    rows = np.vstack([net.predict(X[i : i + 1]) for i in range(X.shape[0])])
    np.testing.assert_allclose(chunked, whole, rtol=tol, atol=tol)
    np.testing.assert_allclose(rows, whole, rtol=tol, atol=tol)
    assert chunked.dtype == whole.dtype == np.dtype(dtype)


def test_predict_classes_single_output_threshold():
    net = bp.Network([1, 1], output="sigmoid", dtype="float64")
    net.layers[1].W = [[1.0]]
    net.layers[1].b = [0.0]
    labels = net.predict_classes([[-1.0], [2.0], [0.5], [-0.01]])
    assert labels.shape == (4,)
    assert labels.tolist() == [0, 1, 1, 0]


def test_predict_classes_softmax_argmax():
    net = bp.Network([2, 3], output="softmax", loss="cross_entropy", dtype="float64")
    net.layers[1].W = [[1.0, 0.0], [0.0, 1.0], [-1.0, -1.0]]
    net.layers[1].b = 0.0
    X = [[2.0, 0.0], [0.0, 2.0], [-2.0, -2.0], [3.0, 1.0]]
    labels = net.predict_classes(X)
    assert labels.shape == (4,)
    assert labels.tolist() == [0, 1, 2, 0]


def test_predict_classes_multilabel_sigmoid_log_loss():
    net = bp.Network([2, 2], output="sigmoid", loss="log_loss", dtype="float64")
    net.layers[1].W = np.eye(2)
    net.layers[1].b = 0.0
    labels = net.predict_classes([[1.0, -1.0], [-1.0, 1.0], [1.0, 1.0], [-1.0, -1.0]])
    assert labels.shape == (4, 2)
    assert labels.tolist() == [[1, 0], [0, 1], [1, 1], [0, 0]]


def test_predict_classes_sigmoid_squared_multi_output_is_argmax():
    net = bp.Network([2, 2], output="sigmoid", loss="squared", dtype="float64")
    net.layers[1].W = np.eye(2)
    net.layers[1].b = 0.0
    labels = net.predict_classes([[1.0, -1.0], [-1.0, 1.0], [2.0, 1.0]])
    assert labels.shape == (3,)
    assert labels.tolist() == [0, 1, 0]


def test_pickle_round_trip_keeps_views_tied_to_the_buffers():
    import pickle

    net = bp.Network(
        [3, bp.Layer(4, bp.activations.leaky_relu(0.2)), 2],
        output="identity",
        loss=bp.losses.huber(2.0),
        seed=0,
    )
    clone = pickle.loads(pickle.dumps(net))
    assert repr(clone) == repr(net)
    assert np.array_equal(clone.params, net.params)
    assert clone.layers[1].activation.params == {"slope": 0.2} and clone.loss.params == {"d": 2.0}
    clone.layers[1].W[0, 0] = 9.0
    assert clone.params[0] == 9.0 and net.params[0] != 9.0
    X = np.ones((2, 3))
    clone.fit(X, np.zeros((2, 2)), epochs=2, warn=False)
    assert np.shares_memory(clone.layers[2].W, clone.params)


def test_a_trained_network_is_freed_as_soon_as_its_last_reference_goes():
    # no reference cycle: the buffers go back at once, not at the next garbage collection
    import gc
    import weakref

    X = np.random.default_rng(0).normal(size=(40, 3))
    gc.disable()
    try:
        net = bp.Network([3, 5, 2], output="softmax", loss="cross_entropy", seed=0)
        net.fit(X, np.arange(40) % 2, epochs=2, batch_size=8, optimizer="adam", warn=False)
        alive = weakref.ref(net)
        del net
        assert alive() is None
    finally:
        gc.enable()
