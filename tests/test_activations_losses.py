"""Activations a = f(z) with their derivatives, and per-sample losses J(o, y) with ∂J/∂o."""

from __future__ import annotations

import math
import warnings

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import backprop as bp
from backprop import activations, losses
from backprop.engine.backend import NUMPY

ELEMENTWISE = ["identity", "sigmoid", "tanh", "relu", "leaky_relu", "softplus", "exp"]
KINKED = ("relu", "leaky_relu")
LOSS_NAMES = ["squared", "log_loss", "cross_entropy", "absolute", "huber", "poisson"]
FROM_LOGITS = {"log_loss": "sigmoid", "cross_entropy": "softmax", "poisson": "exp"}
DTYPES = [np.float32, np.float64]


@pytest.fixture(autouse=True)
def _no_leaked_registrations():
    """Remove whatever a test registered, so the module-level tables do not leak."""
    known_activations, known_losses = set(activations.ACTIVATIONS), set(losses.LOSSES)
    yield
    for name in set(activations.ACTIVATIONS) - known_activations:
        del activations.ACTIVATIONS[name]
    for name in set(losses.LOSSES) - known_losses:
        del losses.LOSSES[name]


class _NoWarnings:
    """``with _NoWarnings():`` turns every warning (RuntimeWarning included) into an error."""

    def __enter__(self):
        self._context = warnings.catch_warnings()
        self._context.__enter__()
        warnings.simplefilter("error")
        return self

    def __exit__(self, *exc):
        return self._context.__exit__(*exc)


def _z_for(name, rng, shape=(6, 5)):
    z = rng.uniform(-3.0, 3.0, size=shape)
    if name in KINKED:  # keep finite differences away from the kink at 0
        z = np.where(np.abs(z) < 1e-2, 0.5, z)
    return z


def _central_difference(f, z, h=1e-6):
    return (f(z + h) - f(z - h)) / (2 * h)


# --- element-wise activations -------------------------------------------------------------


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_derivative_matches_finite_difference(name):
    act = activations.get_activation(name)
    z = _z_for(name, np.random.default_rng(1))
    a = act(z)
    numeric = _central_difference(act, z)
    np.testing.assert_allclose(act.derivative(z, a), numeric, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("name", ELEMENTWISE)
@pytest.mark.parametrize("dtype", DTYPES)
def test_forward_writes_into_out_and_keeps_dtype(name, dtype):
    act = activations.get_activation(name)
    z = _z_for(name, np.random.default_rng(2)).astype(dtype)
    out = np.full_like(z, np.nan)
    result = act.forward(z, out)
    assert result is None or result is out
    assert out.dtype == dtype
    assert np.all(np.isfinite(out))
    reference = act(z.astype(np.float64))
    np.testing.assert_allclose(out, reference, rtol=1e-5 if dtype == np.float32 else 1e-12)
    called = act(z)
    assert called.dtype == dtype
    np.testing.assert_array_equal(called, out)
    assert act.derivative(z, called).dtype == dtype


@pytest.mark.parametrize("name", ELEMENTWISE)
@pytest.mark.parametrize("in_place", [False, True], ids=["out", "out_is_g"])
def test_backward_is_derivative_times_g(name, in_place):
    act = activations.get_activation(name)
    rng = np.random.default_rng(3)
    z = _z_for(name, rng)
    a = act(z)
    g = rng.normal(size=z.shape)
    expected = _central_difference(act, z) * g
    g_before = g.copy()
    out = g if in_place else np.empty_like(g)
    act.backward(z, a, g, out)
    np.testing.assert_allclose(out, expected, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(out, act.derivative(z, a) * g_before, rtol=1e-15, atol=0)
    if not in_place:
        np.testing.assert_array_equal(g, g_before)  # g is only read


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_elementwise_flag(name):
    assert activations.get_activation(name).elementwise
    assert not activations.get_activation("softmax").elementwise


# --- values --------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
def test_sigmoid_values_and_saturation_without_warnings(dtype):
    sigmoid = activations.get_activation("sigmoid")
    z = np.array([[0.0, 800.0, -800.0, 2.0]], dtype)
    with _NoWarnings():
        a = sigmoid(z)
    assert a[0, 0] == 0.5
    assert a[0, 1] == 1.0
    assert a[0, 2] == 0.0
    np.testing.assert_allclose(a[0, 3], 1 / (1 + math.exp(-2.0)), rtol=1e-6)
    with _NoWarnings():
        d = sigmoid.derivative(z, a)
    np.testing.assert_array_equal(d[0, :3], np.array([0.25, 0.0, 0.0], dtype))


def test_tanh_values():
    tanh = activations.get_activation("tanh")
    z = np.array([[0.0, 1.0, -0.5, 20.0, -20.0]])
    a = tanh(z)
    np.testing.assert_allclose(a[0], [0.0, math.tanh(1.0), math.tanh(-0.5), 1.0, -1.0])
    np.testing.assert_allclose(tanh.derivative(z, a)[0, :3], 1 - np.tanh(z[0, :3]) ** 2)


def test_relu_values():
    relu = activations.get_activation("relu")
    z = np.array([[-2.0, -0.0, 0.0, 1e-300, 3.5]])
    np.testing.assert_array_equal(relu(z), [[0.0, 0.0, 0.0, 1e-300, 3.5]])
    np.testing.assert_array_equal(relu.derivative(z, relu(z)), [[0.0, 0.0, 0.0, 1.0, 1.0]])


@settings(max_examples=60, deadline=None)
@given(
    rows=st.sampled_from([1, 7, 32, 63, 64, 256]),  # both sides of the small-array form
    seed=st.integers(0, 2**32 - 1),
    dtype=st.sampled_from([np.float32, np.float64]),
)
def test_relu_derivative_is_one_exactly_where_z_is_positive(rows, seed, dtype):
    relu = activations.get_activation("relu")
    rng = np.random.default_rng(seed)
    z = rng.choice([-1.0, -1e-30, -0.0, 0.0, 1e-30, 2.0], size=(rows, 32)).astype(dtype)
    z *= rng.uniform(0.5, 2.0, size=z.shape).astype(dtype)
    derivative = relu.derivative(z, relu(z))
    assert derivative.dtype == dtype
    np.testing.assert_array_equal(derivative, (z > 0).astype(dtype))


def test_leaky_relu_default_slope():
    act = activations.get_activation("leaky_relu")
    assert act.params == {"slope": 0.01}
    z = np.array([[-2.0, 0.0, 3.0]])
    np.testing.assert_allclose(act(z), [[-0.02, 0.0, 3.0]], rtol=1e-15)
    np.testing.assert_allclose(act.derivative(z, act(z)), [[0.01, 0.01, 1.0]], rtol=1e-15)


@pytest.mark.parametrize("dtype", DTYPES)
def test_leaky_relu_custom_slope(dtype):
    act = activations.leaky_relu(0.2)
    assert act.params == {"slope": 0.2}
    assert "0.2" in repr(act)
    z = np.array([[-2.0, -0.5, 3.0]], dtype)
    a = act(z)
    assert a.dtype == dtype
    np.testing.assert_allclose(a, [[-0.4, -0.1, 3.0]], rtol=1e-6)
    np.testing.assert_allclose(act.derivative(z, a), [[0.2, 0.2, 1.0]], rtol=1e-6)
    # the built-in table entry is not changed by making another slope
    assert activations.get_activation("leaky_relu").params == {"slope": 0.01}


@pytest.mark.parametrize("slope", [-0.1, 1.0, 1.5, float("nan")])
def test_leaky_relu_invalid_slope(slope):
    with pytest.raises(ValueError, match="slope"):
        activations.leaky_relu(slope)


def test_leaky_relu_zero_slope_is_relu():
    z = np.array([[-2.0, 0.5, 3.0]])
    np.testing.assert_array_equal(
        activations.leaky_relu(0.0)(z), activations.get_activation("relu")(z)
    )


def test_softplus_matches_mpmath():
    softplus = activations.get_activation("softplus")
    z = np.linspace(-30.0, 30.0, 241)[None, :]
    a = softplus(z)
    with mpmath.workdps(50):
        reference = np.array([float(mpmath.log1p(mpmath.exp(mpmath.mpf(v)))) for v in z[0]])
    np.testing.assert_allclose(a[0], reference, rtol=4e-15, atol=0)
    np.testing.assert_allclose(a[0], np.log1p(np.exp(z[0])), rtol=1e-12)


@pytest.mark.parametrize("dtype", DTYPES)
def test_softplus_large_inputs_finite_without_warnings(dtype):
    softplus = activations.get_activation("softplus")
    z = np.array([[1e4, -1e4, 50.0]], dtype)
    with _NoWarnings():
        a = softplus(z)
        d = softplus.derivative(z, a)
    assert a.dtype == dtype
    assert np.all(np.isfinite(a))
    np.testing.assert_allclose(a[0], [1e4, 0.0, 50.0], rtol=1e-6)
    assert a[0, 1] >= 0
    np.testing.assert_array_equal(d[0, :2], [1.0, 0.0])


def test_exp_values():
    exp = activations.get_activation("exp")
    z = np.array([[0.0, 1.0, -2.0]])
    np.testing.assert_allclose(exp(z), np.exp(z), rtol=1e-15)
    with _NoWarnings():
        big = exp(np.array([[1e4]]))  # overflow to inf is left to training to catch
    assert np.isinf(big[0, 0])


def test_identity_values():
    identity = activations.get_activation("identity")
    z = np.array([[-1e10, 0.0, 3.25]])
    np.testing.assert_array_equal(identity(z), z)
    np.testing.assert_array_equal(identity.derivative(z, z), np.ones_like(z))


# --- softmax -------------------------------------------------------------------------------

softmax = activations.get_activation("softmax")


def test_softmax_rows_sum_to_one_and_shift_invariance():
    rng = np.random.default_rng(4)
    z = rng.normal(scale=5.0, size=(8, 6))
    a = softmax(z)
    assert a.shape == z.shape
    assert np.all(a > 0)
    np.testing.assert_allclose(a.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    expected = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(a, expected, rtol=1e-12)
    for c in (-1000.0, 3.0, 500.0):
        np.testing.assert_allclose(softmax(z + c), a, rtol=1e-10, atol=1e-15)
    row_shift = rng.normal(scale=100.0, size=(8, 1))
    np.testing.assert_allclose(softmax(z + row_shift), a, rtol=1e-10, atol=1e-15)


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_extreme_logits_finite_without_warnings(dtype):
    z = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4], [1e4, 1e4, -1e4]], dtype)
    out = np.empty_like(z)
    with _NoWarnings():
        softmax.forward(z, out)
    assert out.dtype == dtype
    assert np.all(np.isfinite(out))
    np.testing.assert_allclose(out, [[1, 0, 0], [1 / 3, 1 / 3, 1 / 3], [0.5, 0.5, 0]], rtol=1e-6)


@pytest.mark.parametrize("in_place", [False, True], ids=["out", "out_is_g"])
def test_softmax_jvp_equals_explicit_jacobian(in_place):
    rng = np.random.default_rng(5)
    z = rng.normal(scale=2.0, size=(7, 4))
    a = softmax(z)
    g = rng.normal(size=z.shape)
    expected = np.stack(
        [(np.diag(row) - np.outer(row, row)) @ gn for row, gn in zip(a, g, strict=True)]
    )
    out = g if in_place else np.empty_like(g)
    softmax.backward(z, a, g, out)
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-15)
    # and the Jacobian itself is the finite difference of softmax
    h = 1e-6
    for k in range(z.shape[1]):
        step = np.zeros_like(z)
        step[:, k] = h
        column = (softmax(z + step) - softmax(z - step)) / (2 * h)  # ∂a/∂z_k per row
        np.testing.assert_allclose(
            column, a * ((np.arange(4) == k) - a[:, [k]]), rtol=1e-6, atol=1e-10
        )


def test_softmax_derivative_raises():
    z = np.zeros((2, 3))
    with pytest.raises(ValueError, match="Jacobian"):
        softmax.derivative(z, softmax(z))


@settings(max_examples=50, deadline=None)
@given(
    hnp.arrays(
        np.float64,
        hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=8),
        elements=st.floats(-1e4, 1e4, allow_nan=False, allow_infinity=False),
    )
)
def test_softmax_property(z):
    with _NoWarnings():
        a = softmax(z)
    assert a.shape == z.shape
    assert np.all(np.isfinite(a))
    assert np.all((a >= 0) & (a <= 1))
    np.testing.assert_allclose(a.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    # the largest logit of each row gets the largest probability
    rows = np.arange(z.shape[0])
    assert np.all(a[rows, z.argmax(axis=1)] == a.max(axis=1))
    with _NoWarnings():
        shifted = softmax(z - z.max(axis=1, keepdims=True))
    np.testing.assert_allclose(shifted, a, rtol=1e-12, atol=1e-300)


# --- registering and looking up activations ------------------------------------------------


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def _tanh_derivative_in_z(z):
    return 1.0 - np.tanh(z) ** 2


@pytest.mark.parametrize(
    ("f", "df", "of", "reference"),
    [
        (_sigmoid, lambda a: a * (1 - a), "a", "sigmoid"),
        (np.tanh, _tanh_derivative_in_z, "z", "tanh"),
    ],
    ids=["sigmoid_df_of_a", "tanh_df_of_z"],
)
def test_register_activation_both_ways(f, df, of, reference):
    act = bp.register_activation("my_act", f, df, derivative_of=of)
    assert isinstance(act, bp.Activation)
    assert act.derivative_of == of
    assert act.elementwise
    assert activations.get_activation("my_act") is act
    assert activations.ACTIVATIONS["my_act"] is act
    builtin = activations.get_activation(reference)
    rng = np.random.default_rng(6)
    z = rng.normal(size=(5, 3))
    a = act(z)
    np.testing.assert_allclose(a, builtin(z), rtol=1e-14)
    np.testing.assert_allclose(act.derivative(z, a), builtin.derivative(z, a), rtol=1e-13)
    np.testing.assert_allclose(act.derivative(z, a), _central_difference(f, z), rtol=1e-6)
    g = rng.normal(size=z.shape)
    expected = builtin.derivative(z, a) * g
    act.backward(z, a, g, g)
    np.testing.assert_allclose(g, expected, rtol=1e-13)


@pytest.mark.parametrize(
    ("f", "df", "of", "reference"),
    [
        (_sigmoid, lambda a: a * (1 - a), "a", "sigmoid"),
        (np.tanh, _tanh_derivative_in_z, "z", "tanh"),
    ],
    ids=["sigmoid_df_of_a", "tanh_df_of_z"],
)
def test_registered_activation_is_used_by_network(f, df, of, reference):
    bp.register_activation("my_act", f, df, derivative_of=of)
    rng = np.random.default_rng(7)
    X = rng.normal(size=(10, 3))
    Y = rng.uniform(0.1, 0.9, size=(10, 2))
    options = dict(loss="squared", dtype="float64", seed=0)
    custom = bp.Network([3, 4, 2], hidden="my_act", output="my_act", **options)
    builtin = bp.Network([3, 4, 2], hidden=reference, output=reference, **options)
    assert custom.layers[1].activation.name == "my_act"
    assert custom.output_activation.name == "my_act"
    np.testing.assert_array_equal(custom.params, builtin.params)  # same initialisation
    np.testing.assert_allclose(custom.predict(X), builtin.predict(X), rtol=1e-13)
    t_custom, t_builtin = custom.backprop(X, Y), builtin.backprop(X, Y)
    assert t_custom.loss == pytest.approx(t_builtin.loss, rel=1e-13)
    for l in (1, 2):
        np.testing.assert_allclose(t_custom.grad_W[l], t_builtin.grad_W[l], rtol=1e-11, atol=1e-15)
        np.testing.assert_allclose(t_custom.grad_b[l], t_builtin.grad_b[l], rtol=1e-11, atol=1e-15)
    assert bp.gradcheck(custom, X, Y) < 1e-6


@pytest.mark.parametrize("name", sorted(activations.BUILTIN_NAMES))
def test_register_activation_builtin_name_rejected(name):
    with pytest.raises(ValueError, match="already exists"):
        bp.register_activation(name, np.tanh, _tanh_derivative_in_z)
    with pytest.raises(ValueError, match="already exists"):
        bp.register_activation(name, np.tanh, _tanh_derivative_in_z, overwrite=True)
    assert activations.get_activation(name).name == activations.ALIASES.get(name, name)


def test_register_activation_existing_custom_needs_overwrite():
    first = bp.register_activation("my_act", np.tanh, _tanh_derivative_in_z)
    with pytest.raises(ValueError, match="already exists"):
        bp.register_activation("my_act", _sigmoid, lambda a: a * (1 - a), "a")
    assert activations.get_activation("my_act") is first
    second = bp.register_activation("my_act", _sigmoid, lambda a: a * (1 - a), "a", overwrite=True)
    assert activations.get_activation("my_act") is second
    assert second(np.zeros((1, 1)))[0, 0] == 0.5


@pytest.mark.parametrize("bad", ["x", "", None, "A"])
def test_register_activation_bad_derivative_of(bad):
    with pytest.raises(ValueError, match="derivative_of"):
        bp.register_activation("my_act", np.tanh, _tanh_derivative_in_z, derivative_of=bad)
    assert "my_act" not in activations.ACTIVATIONS


@pytest.mark.parametrize(
    ("f", "df"), [(1.0, np.tanh), (np.tanh, "1 - a**2"), (None, None)], ids=["f", "df", "both"]
)
def test_register_activation_non_callables(f, df):
    with pytest.raises(TypeError, match="callable"):
        bp.register_activation("my_act", f, df)
    assert "my_act" not in activations.ACTIVATIONS


@pytest.mark.parametrize("name", ["", None, 3])
def test_register_activation_bad_name(name):
    with pytest.raises(TypeError, match="name"):
        bp.register_activation(name, np.tanh, _tanh_derivative_in_z)


def test_register_activation_mixed_case_name_can_be_looked_up():
    act = bp.register_activation("MyTanh", np.tanh, _tanh_derivative_in_z)
    assert activations.get_activation("MyTanh") is act
    assert activations.get_activation("mytanh") is act


@pytest.mark.parametrize(
    ("spec", "name"),
    [
        ("sigmoid", "sigmoid"),
        ("SIGMOID", "sigmoid"),
        ("Tanh", "tanh"),
        ("logistic", "sigmoid"),
        ("Logistic", "sigmoid"),
        ("linear", "identity"),
        ("LINEAR", "identity"),
        ("SoftMax", "softmax"),
        ("Leaky_ReLU", "leaky_relu"),
    ],
)
def test_get_activation_case_insensitive_and_aliases(spec, name):
    act = activations.get_activation(spec)
    assert act is activations.ACTIVATIONS[name]
    assert act.name == name


def test_get_activation_passes_activation_through_and_rejects_unknown():
    custom = activations.leaky_relu(0.3)
    assert activations.get_activation(custom) is custom
    with pytest.raises(ValueError, match="unknown activation 'swish'") as info:
        activations.get_activation("swish")
    for known in ("identity", "relu", "sigmoid", "softmax", "tanh"):
        assert known in str(info.value)
    with pytest.raises(TypeError):
        activations.get_activation(3)


def test_unknown_activation_message_lists_registered_names():
    bp.register_activation("my_act", np.tanh, _tanh_derivative_in_z)
    with pytest.raises(ValueError, match="my_act"):
        activations.get_activation("nope")


# --- losses: values and derivatives --------------------------------------------------------


def _loss_data(name, rng, n=6, k=4):
    """(o, y) inside each loss's domain, away from kinks."""
    if name == "log_loss":
        return rng.uniform(0.05, 0.95, (n, k)), rng.uniform(0, 1, (n, k))
    if name == "cross_entropy":
        y = rng.dirichlet(np.ones(k), size=n)
        return rng.dirichlet(np.ones(k), size=n) * 0.9 + 0.1 / k, y
    if name == "poisson":
        return rng.uniform(0.2, 5.0, (n, k)), rng.integers(0, 6, (n, k)).astype(float)
    y = rng.normal(size=(n, k))
    sign = rng.choice([-1.0, 1.0], size=(n, k))
    if name == "huber":  # |r| in [0.1, 0.9] or [1.1, 3]: away from 0 and from d = 1
        r = np.where(rng.random((n, k)) < 0.5, rng.uniform(0.1, 0.9, (n, k)), 0)
        r = np.where(r == 0, rng.uniform(1.1, 3.0, (n, k)), r)
    else:
        r = rng.uniform(0.1, 3.0, (n, k))
    return y + sign * r, y


def _hand_formula(name, o, y):
    r = o - y
    if name == "squared":
        return 0.5 * (r**2).sum(axis=1)
    if name == "log_loss":
        return -(y * np.log(o) + (1 - y) * np.log(1 - o)).sum(axis=1)
    if name == "cross_entropy":
        return -(y * np.log(o)).sum(axis=1)
    if name == "absolute":
        return np.abs(r).sum(axis=1)
    if name == "huber":
        return np.where(np.abs(r) <= 1, 0.5 * r**2, np.abs(r) - 0.5).sum(axis=1)
    if name == "poisson":
        ylogy = np.array([[yv * math.log(yv) if yv > 0 else 0.0 for yv in row] for row in y])
        return (ylogy - y * np.log(o) - y + o).sum(axis=1)
    raise AssertionError(name)


@pytest.mark.parametrize("name", LOSS_NAMES)
def test_loss_value_shape_and_formula(name):
    loss = losses.get_loss(name)
    assert isinstance(loss, bp.Loss)
    o, y = _loss_data(name, np.random.default_rng(8))
    value = loss.value(o, y)
    assert value.shape == (o.shape[0],)
    np.testing.assert_allclose(value, _hand_formula(name, o, y), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", LOSS_NAMES)
def test_loss_derivative_matches_finite_difference(name):
    loss = losses.get_loss(name)
    o, y = _loss_data(name, np.random.default_rng(9))
    analytic = loss.derivative(o, y)
    assert analytic.shape == o.shape
    h = 1e-6
    numeric = np.empty_like(o)
    for k in range(o.shape[1]):
        step = np.zeros_like(o)
        step[:, k] = h
        numeric[:, k] = (loss.value(o + step, y) - loss.value(o - step, y)) / (2 * h)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("name", LOSS_NAMES)
def test_loss_gradient_writes_into_out(name):
    loss = losses.get_loss(name)
    o, y = _loss_data(name, np.random.default_rng(10))
    out = np.full_like(o, np.nan)
    loss.gradient(o, y, out)
    np.testing.assert_array_equal(out, loss.derivative(o, y))
    o32 = o.astype(np.float32)
    assert loss.derivative(o32, y.astype(np.float32)).dtype == np.float32


def test_canonical_pairs():
    expected = {
        "squared": "identity",
        "log_loss": "sigmoid",
        "cross_entropy": "softmax",
        "poisson": "exp",
        "absolute": None,
        "huber": None,
    }
    for name, canonical in expected.items():
        loss = losses.get_loss(name)
        assert loss.canonical == canonical
        assert (loss.per_sample_from_logits is not None) == (name in FROM_LOGITS)


@pytest.mark.parametrize("name", sorted(FROM_LOGITS))
def test_value_from_logits_equals_value_of_activation(name):
    loss = losses.get_loss(name)
    act = activations.get_activation(FROM_LOGITS[name])
    assert loss.canonical == act.name
    rng = np.random.default_rng(11)
    z = rng.uniform(-4.0, 4.0, size=(7, 3))
    _, y = _loss_data(name, rng, n=7, k=3)
    from_logits = loss.value_from_logits(z, y)
    assert from_logits.shape == (7,)
    np.testing.assert_allclose(from_logits, loss.value(act(z), y), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(FROM_LOGITS))
def test_value_from_logits_extreme_without_warnings(name, dtype):
    loss = losses.get_loss(name)
    z = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, -1e4], [-1e4, -1e4, -1e4]], dtype)
    if name == "poisson":
        y = np.array([[0.0, 3.0, 1.0]] * 3, dtype)
    else:
        y = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 1.0, 0.0]], dtype)
    with _NoWarnings():
        value = loss.value_from_logits(z, y)
    assert value.shape == (3,)
    if name == "poisson":
        # e^(1e4) is not representable: rows with a logit of +1e4 are +inf, the rest finite
        assert np.isposinf(value[0]) and np.isposinf(value[1])
        assert np.isfinite(value[2])
        # J = Σ y log y − y z − y + e^z, with e^(−1e4) = 0 and y = [0, 3, 1]
        expected = 3 * math.log(3) + 4e4 - 4
        np.testing.assert_allclose(value[2], expected, rtol=1e-6)
    else:
        assert np.all(np.isfinite(value))
        assert np.all(value >= 0)
    if name == "log_loss":  # log 2 for z = 0, plus 1e4 per unit whose target disagrees
        np.testing.assert_allclose(value, [math.log(2), 2e4, 1e4], rtol=1e-6)
    if name == "cross_entropy":
        # float32 keeps log 3 only to the spacing of numbers near 1e4 (about 1e-3)
        atol = 1e-2 if dtype == np.float32 else 1e-9
        np.testing.assert_allclose(value, [0.0, 2e4, math.log(3)], rtol=1e-6, atol=atol)


@pytest.mark.parametrize("dtype", DTYPES)
def test_log_loss_from_logits_far_negative(dtype):
    loss = losses.get_loss("log_loss")
    z = np.array([[0.0, -120.0]], dtype)
    y = np.array([[0.0, 1.0]], dtype)
    with _NoWarnings():
        value = loss.value_from_logits(z, y)
    assert np.isfinite(value[0])
    np.testing.assert_allclose(value[0], math.log(2) + 120, rtol=1e-6)


@pytest.mark.parametrize("dtype", DTYPES)
def test_log_loss_from_probabilities_clipped(dtype):
    loss = losses.get_loss("log_loss")
    o = np.array([[0.0, 1.0], [0.0, 1.0]], dtype)
    y = np.array([[0.0, 1.0], [1.0, 0.0]], dtype)
    with _NoWarnings():
        value = loss.value(o, y)
        grad = loss.derivative(o, y)
    assert np.all(np.isfinite(value)) and np.all(np.isfinite(grad))
    assert value[0] == pytest.approx(0.0, abs=1e-6)
    eps = np.finfo(dtype).eps
    np.testing.assert_allclose(value[1], -2 * np.log(eps), rtol=1e-3)
    assert grad[1, 0] < 0 < grad[1, 1]


@pytest.mark.parametrize("dtype", DTYPES)
def test_cross_entropy_from_probabilities_clipped(dtype):
    loss = losses.get_loss("cross_entropy")
    o = np.array([[0.0, 1.0], [0.0, 1.0]], dtype)
    y = np.array([[0.0, 1.0], [1.0, 0.0]], dtype)
    with _NoWarnings():
        value = loss.value(o, y)
        grad = loss.derivative(o, y)
    assert np.all(np.isfinite(value)) and np.all(np.isfinite(grad))
    assert value[0] == 0.0
    np.testing.assert_allclose(value[1], -np.log(np.finfo(dtype).eps), rtol=1e-3)
    assert grad[1, 0] < 0


def test_cross_entropy_from_logits_matches_mpmath():
    loss = losses.get_loss("cross_entropy")
    rng = np.random.default_rng(12)
    z = rng.uniform(-20.0, 20.0, size=(6, 5))
    y = rng.dirichlet(np.ones(5), size=6)
    y[0] = np.eye(5)[2]
    y[1] *= 2.5  # the logit form holds for any weights y, not only rows summing to 1
    value = loss.value_from_logits(z, y)
    with mpmath.workdps(50):
        reference = []
        for zn, yn in zip(z, y, strict=True):
            lse = mpmath.log(mpmath.fsum(mpmath.exp(mpmath.mpf(v)) for v in zn))
            reference.append(
                float(
                    mpmath.fsum(
                        mpmath.mpf(t) * (lse - mpmath.mpf(v)) for t, v in zip(yn, zn, strict=True)
                    )
                )
            )
    np.testing.assert_allclose(value, reference, rtol=1e-13, atol=1e-13)


def test_huber_threshold():
    o, y = np.array([[3.0, 0.5]]), np.array([[0.0, 0.0]])
    default = losses.get_loss("huber")
    assert default.params == {"d": 1.0}
    np.testing.assert_allclose(default.value(o, y), [1.0 * (3 - 0.5) + 0.125])
    wide = losses.huber(4.0)
    np.testing.assert_allclose(wide.value(o, y), [4.5 + 0.125])
    narrow = losses.huber(0.25)
    np.testing.assert_allclose(narrow.value(o, y), [0.25 * (3 - 0.125) + 0.25 * (0.5 - 0.125)])
    np.testing.assert_allclose(narrow.derivative(o, y), [[0.25, 0.25]])
    np.testing.assert_allclose(wide.derivative(o, y), [[3.0, 0.5]])
    assert "4.0" in repr(wide)


@pytest.mark.parametrize("d", [0, 0.0, -1.0, float("nan")])
def test_huber_invalid_threshold(d):
    with pytest.raises(ValueError, match="threshold"):
        losses.huber(d)


def test_poisson_half_deviance_zero_at_target_and_handles_zero_counts():
    loss = losses.get_loss("poisson")
    y = np.array([[0.5, 2.0, 7.0], [1.0, 1e-3, 30.0]])
    np.testing.assert_allclose(loss.value(y.copy(), y), [0.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(loss.derivative(y.copy(), y), 0.0, atol=1e-12)
    np.testing.assert_allclose(loss.value_from_logits(np.log(y), y), [0.0, 0.0], atol=1e-12)
    zeros = np.zeros((2, 3))
    o = np.array([[0.5, 1.0, 2.0], [3.0, 0.1, 4.0]])
    with _NoWarnings():
        value = loss.value(o, zeros)
        from_logits = loss.value_from_logits(np.log(o), zeros)
        at_zero = loss.value(np.zeros((1, 2)), np.zeros((1, 2)))
    np.testing.assert_allclose(value, o.sum(axis=1), rtol=1e-15)  # J = o when y = 0
    np.testing.assert_allclose(from_logits, o.sum(axis=1), rtol=1e-14)
    np.testing.assert_allclose(loss.derivative(o, zeros), 1.0)
    assert np.all(np.isfinite(at_zero)) and at_zero[0] == pytest.approx(0.0, abs=1e-12)


# --- target checks -------------------------------------------------------------------------


def test_log_loss_check_targets():
    check = losses.get_loss("log_loss").check_targets
    check(np.array([[0.0, 1.0], [0.25, 0.75]]))  # fine
    with pytest.raises(ValueError, match=r"log_loss.*Y\[1, 0\] = 1\.5"):
        check(np.array([[0.0, 1.0], [1.5, 0.0]]))
    with pytest.raises(ValueError, match=r"Y\[0, 1\] = -0\.1"):
        check(np.array([[0.0, -0.1]]))


def test_cross_entropy_check_targets():
    check = losses.get_loss("cross_entropy").check_targets
    check(np.array([[0.0, 1.0, 0.0], [0.2, 0.3, 0.5]]))  # fine
    with pytest.raises(ValueError, match="row 1 sums to 0.9"):
        check(np.array([[0.0, 1.0, 0.0], [0.2, 0.2, 0.5]]))
    with pytest.raises(ValueError, match="row 0 sums to 2"):
        check(np.array([[1.0, 1.0, 0.0]]))
    with pytest.raises(ValueError, match=r"cross_entropy.*Y\[0, 2\]"):
        check(np.array([[0.5, 0.7, -0.2]]))


def test_poisson_check_targets():
    check = losses.get_loss("poisson").check_targets
    check(np.array([[0.0, 3.0], [12.0, 0.5]]))  # fine
    with pytest.raises(ValueError, match=r"poisson.*>= 0.*Y\[1, 1\] = -2\.0"):
        check(np.array([[0.0, 3.0], [1.0, -2.0]]))


@pytest.mark.parametrize("name", ["squared", "absolute", "huber"])
def test_unbounded_losses_have_no_target_check(name):
    assert losses.get_loss(name).check_targets is None


def test_network_rejects_bad_targets_through_check_targets():
    net = bp.Network([2, 2], output="sigmoid", loss="log_loss", dtype="float64", seed=0)
    with pytest.raises(ValueError, match=r"Y\[0, 1\]"):
        net.backprop(np.zeros((1, 2)), np.array([[0.0, 2.0]]))


# --- per_sample_loss -----------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(FROM_LOGITS))
def test_per_sample_loss_uses_logits_for_canonical_pairs(name):
    loss = losses.get_loss(name)
    rng = np.random.default_rng(13)
    z = rng.uniform(-2, 2, size=(5, 3))
    _, y = _loss_data(name, rng, n=5, k=3)
    unrelated_o = np.full_like(z, 0.3)  # deliberately not f(z)
    result = losses.per_sample_loss(NUMPY, loss, loss.canonical, z, unrelated_o, y)
    np.testing.assert_array_equal(result, loss.value_from_logits(z, y))
    assert not np.allclose(result, loss.value(unrelated_o, y))
    # any other activation: computed from o
    other = losses.per_sample_loss(NUMPY, loss, "tanh", z, unrelated_o, y)
    np.testing.assert_array_equal(other, loss.value(unrelated_o, y))


@pytest.mark.parametrize("name", ["squared", "absolute", "huber"])
def test_per_sample_loss_without_logit_form_uses_o(name):
    loss = losses.get_loss(name)
    rng = np.random.default_rng(14)
    z, o, y = rng.normal(size=(3, 4, 2))
    for act in ("identity", "sigmoid", "tanh"):
        np.testing.assert_array_equal(
            losses.per_sample_loss(NUMPY, loss, act, z, o, y), loss.value(o, y)
        )


def test_per_sample_loss_stable_where_o_saturates():
    loss = losses.get_loss("log_loss")
    z = np.array([[-800.0], [800.0]])
    o = activations.get_activation("sigmoid")(z)  # exactly 0 and 1
    y = np.array([[1.0], [0.0]])
    np.testing.assert_allclose(
        losses.per_sample_loss(NUMPY, loss, "sigmoid", z, o, y), [800.0, 800.0]
    )


# --- registering and looking up losses -----------------------------------------------------


def _cubic(o, y):
    return np.abs(o - y) ** 3


def _cubic_derivative(o, y):
    return 3 * (o - y) * np.abs(o - y)


@pytest.mark.parametrize("per_sample", [False, True], ids=["J_per_element", "J_per_sample"])
def test_register_loss(per_sample):
    J = (lambda o, y: _cubic(o, y).sum(axis=1)) if per_sample else _cubic
    loss = bp.register_loss("my_cubic", J, _cubic_derivative)
    assert isinstance(loss, bp.Loss)
    assert losses.get_loss("my_cubic") is loss
    assert losses.get_loss("MY_CUBIC") is loss
    assert loss.canonical is None and loss.per_sample_from_logits is None
    o, y = np.array([[2.0, 1.0], [0.5, -1.0]]), np.zeros((2, 2))
    np.testing.assert_allclose(loss.value(o, y), [9.0, 1.125])
    np.testing.assert_allclose(loss.derivative(o, y), [[12.0, 3.0], [0.75, -3.0]])


def test_registered_loss_is_used_by_network():
    bp.register_loss("my_squared", lambda o, y: 0.5 * (o - y) ** 2, lambda o, y: o - y)
    rng = np.random.default_rng(15)
    X = rng.normal(size=(9, 3))
    Y = rng.normal(size=(9, 2))
    options = dict(hidden="tanh", output="identity", dtype="float64", seed=1)
    custom = bp.Network([3, 5, 2], loss="my_squared", **options)
    builtin = bp.Network([3, 5, 2], loss="squared", **options)
    assert custom.loss.name == "my_squared"
    t_custom, t_builtin = custom.backprop(X, Y), builtin.backprop(X, Y)
    assert t_custom.loss == pytest.approx(t_builtin.loss, rel=1e-13)
    for l in (1, 2):
        np.testing.assert_allclose(t_custom.grad_W[l], t_builtin.grad_W[l], rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(t_custom.grad_b[l], t_builtin.grad_b[l], rtol=1e-12, atol=1e-15)
    assert bp.gradcheck(custom, X, Y) < 1e-6


@pytest.mark.parametrize("name", sorted(losses.BUILTIN_NAMES))
def test_register_loss_builtin_name_rejected(name):
    with pytest.raises(ValueError, match="already exists"):
        bp.register_loss(name, _cubic, _cubic_derivative)
    with pytest.raises(ValueError, match="already exists"):
        bp.register_loss(name, _cubic, _cubic_derivative, overwrite=True)
    assert losses.get_loss(name).name == losses.ALIASES.get(name, name)


def test_register_loss_existing_custom_needs_overwrite():
    first = bp.register_loss("my_cubic", _cubic, _cubic_derivative)
    with pytest.raises(ValueError, match="already exists"):
        bp.register_loss("my_cubic", lambda o, y: o - y, lambda o, y: 1.0)
    assert losses.get_loss("my_cubic") is first
    second = bp.register_loss("my_cubic", lambda o, y: o - y, lambda o, y: 1.0, overwrite=True)
    assert losses.get_loss("my_cubic") is second
    np.testing.assert_allclose(second.value(np.array([[2.0, 1.0]]), np.zeros((1, 2))), [3.0])


@pytest.mark.parametrize(
    ("J", "dJ"), [(1.0, _cubic_derivative), (_cubic, "d"), (None, None)], ids=["J", "dJ", "both"]
)
def test_register_loss_non_callables(J, dJ):
    with pytest.raises(TypeError, match="callable"):
        bp.register_loss("my_cubic", J, dJ)
    assert "my_cubic" not in losses.LOSSES


@pytest.mark.parametrize("name", ["", None, 3])
def test_register_loss_bad_name(name):
    with pytest.raises(TypeError, match="name"):
        bp.register_loss(name, _cubic, _cubic_derivative)


def test_register_loss_mixed_case_name_can_be_looked_up():
    loss = bp.register_loss("MyCubic", _cubic, _cubic_derivative)
    assert losses.get_loss("MyCubic") is loss


@pytest.mark.parametrize(
    ("spec", "name"),
    [
        ("squared", "squared"),
        ("MSE", "squared"),
        ("mse", "squared"),
        ("squared_error", "squared"),
        ("bce", "log_loss"),
        ("Binary_Cross_Entropy", "log_loss"),
        ("LOG_LOSS", "log_loss"),
        ("categorical_cross_entropy", "cross_entropy"),
        ("mae", "absolute"),
        ("Huber", "huber"),
        ("Poisson", "poisson"),
    ],
)
def test_get_loss_case_insensitive_and_aliases(spec, name):
    loss = losses.get_loss(spec)
    assert loss is losses.LOSSES[name]
    assert loss.name == name


def test_get_loss_passes_loss_through_and_rejects_unknown():
    custom = losses.huber(2.0)
    assert losses.get_loss(custom) is custom
    with pytest.raises(ValueError, match="unknown loss 'hinge'") as info:
        losses.get_loss("hinge")
    for known in LOSS_NAMES:
        assert known in str(info.value)
    with pytest.raises(TypeError):
        losses.get_loss(1.0)


@pytest.mark.parametrize("rows", [3, 200])  # below and above the size where relu uses clip
def test_relu_is_max_z_0_at_every_size_with_non_finite_values(rows):
    z = np.random.default_rng(0).normal(size=(rows, 64)).astype(np.float32)
    z[0, :4] = [np.nan, np.inf, -np.inf, -0.0]
    a = np.empty_like(z)
    bp.activations.get_activation("relu").forward(z, a)
    np.testing.assert_array_equal(a, np.maximum(z, 0))
