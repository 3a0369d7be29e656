"""The forward and backward pass against published numbers and against the derivation."""

import numpy as np
import pytest
from backprop.losses import get_loss

import backprop as bp
from backprop.engine.delta_rule import backward, forward


def mazur_network(dtype="float64"):
    """Matt Mazur's 'A Step by Step Backpropagation Example' (2015)."""
    net = bp.Network([2, 2, 2], hidden="sigmoid", output="sigmoid", loss="squared", dtype=dtype)
    net.layers[1].W = [[0.15, 0.20], [0.25, 0.30]]  # w1 w2 / w3 w4
    net.layers[1].b = [0.35, 0.35]
    net.layers[2].W = [[0.40, 0.45], [0.50, 0.55]]  # w5 w6 / w7 w8
    net.layers[2].b = [0.60, 0.60]
    return net


MAZUR_X, MAZUR_Y = [[0.05, 0.10]], [[0.01, 0.99]]


def test_mazur_forward_pass_and_error():
    trace = mazur_network().backprop(MAZUR_X, MAZUR_Y)
    np.testing.assert_allclose(trace.a[1][0], [0.593269992, 0.596884378], atol=1e-9)
    np.testing.assert_allclose(trace.a[2][0], [0.75136507, 0.772928465], atol=1e-8)
    assert trace.loss == pytest.approx(0.298371109, abs=1e-9)


def test_mazur_weights_after_one_step():
    net = mazur_network()
    trace = net.backprop(MAZUR_X, MAZUR_Y)
    new_W2 = trace.W[2] - 0.5 * trace.grad_W[2]
    new_W1 = trace.W[1] - 0.5 * trace.grad_W[1]
    np.testing.assert_allclose(
        new_W2, [[0.35891648, 0.408666186], [0.511301270, 0.561370121]], atol=1e-8
    )
    np.testing.assert_allclose(
        new_W1, [[0.149780716, 0.19956143], [0.24975114, 0.29950229]], atol=1e-8
    )


def test_mazur_step_through_fit_matches_published_weights():
    net = mazur_network()
    net.fit(MAZUR_X, MAZUR_Y, epochs=1, batch_size=None, optimizer=bp.SGD(lr=0.5))
    np.testing.assert_allclose(
        net.layers[2].W, [[0.35891648, 0.408666186], [0.511301270, 0.561370121]], atol=1e-8
    )
    np.testing.assert_allclose(
        net.layers[1].W, [[0.149780716, 0.19956143], [0.24975114, 0.29950229]], atol=1e-8
    )


def test_mazur_deltas_match_the_derivation():
    trace = mazur_network().backprop(MAZUR_X, MAZUR_Y)
    o, h = trace.a[2][0], trace.a[1][0]
    y = np.array(MAZUR_Y[0])
    delta_out = (o - y) * o * (1 - o)  # δₖ = (oₖ − yₖ) oₖ (1 − oₖ)
    np.testing.assert_allclose(trace.delta[2][0], delta_out, rtol=1e-12)
    W2 = np.array([[0.40, 0.45], [0.50, 0.55]])
    delta_hidden = h * (1 - h) * (W2.T @ delta_out)  # δⱼ = f'(zⱼ) Σₖ wₖⱼ δₖ
    np.testing.assert_allclose(trace.delta[1][0], delta_hidden, rtol=1e-12)
    np.testing.assert_allclose(trace.grad_W[2], np.outer(delta_out, h), rtol=1e-12)
    np.testing.assert_allclose(trace.grad_b[1], delta_hidden, rtol=1e-12)


def test_float32_reproduces_mazur_to_float32_precision():
    trace = mazur_network("float32").backprop(MAZUR_X, MAZUR_Y)
    assert trace.a[2].dtype == np.float32
    np.testing.assert_allclose(trace.a[2][0], [0.75136507, 0.772928465], atol=1e-6)


def test_backprop_does_not_change_the_weights():
    net = mazur_network()
    before = net.params.copy()
    net.backprop(MAZUR_X, MAZUR_Y)
    assert np.array_equal(net.params, before)


def test_trace_lists_are_indexed_by_layer():
    net = bp.Network([3, 5, 4, 2], hidden="tanh", output="softmax", loss="cross_entropy", seed=1)
    X = np.random.default_rng(0).normal(size=(7, 3))
    trace = net.backprop(X, [0, 1, 1, 0, 1, 0, 0])
    assert len(trace.a) == len(trace.z) == len(trace.delta) == len(trace.grad_W) == 4
    assert trace.z[0] is None and trace.delta[0] is None and trace.grad_W[0] is None
    np.testing.assert_array_equal(trace.a[0], X.astype(np.float32))
    for l, size in enumerate([3, 5, 4, 2]):
        assert trace.a[l].shape == (7, size)
    for l in (1, 2, 3):
        assert trace.grad_W[l].shape == net.layers[l].W.shape
        assert trace.delta[l].shape == trace.z[l].shape
    np.testing.assert_allclose(trace.a[3].sum(axis=1), 1, rtol=1e-6)


def test_trace_is_a_copy_not_the_workspace():
    net = bp.Network([2, 3, 1], seed=0)
    first = net.backprop([[0.0, 1.0]], [1.0])
    kept = first.delta[1].copy()
    net.backprop([[5.0, -3.0]], [0.0])
    np.testing.assert_array_equal(first.delta[1], kept)


def test_batch_gradient_is_the_mean_of_per_sample_gradients():
    rng = np.random.default_rng(2)
    net = bp.Network(
        [4, 6, 3], hidden="relu", output="sigmoid", loss="log_loss", dtype="float64", seed=2
    )
    X, Y = rng.normal(size=(9, 4)), rng.integers(0, 2, size=(9, 3))
    whole = net.backprop(X, Y)
    singles = [net.backprop(X[i : i + 1], Y[i : i + 1]) for i in range(9)]
    # an entry whose nine terms nearly cancel keeps only the sum's absolute rounding: atol
    for l in (1, 2):
        np.testing.assert_allclose(
            whole.grad_W[l], np.mean([s.grad_W[l] for s in singles], axis=0), rtol=1e-12, atol=1e-15
        )
        np.testing.assert_allclose(
            whole.grad_b[l], np.mean([s.grad_b[l] for s in singles], axis=0), rtol=1e-12, atol=1e-15
        )
        # per-sample deltas are the same whether the sample is alone or in a batch
        np.testing.assert_allclose(
            whole.delta[l], np.vstack([s.delta[l] for s in singles]), rtol=1e-12
        )
    assert whole.loss == pytest.approx(np.mean([s.loss for s in singles]), rel=1e-12)


def test_sample_weights_weight_the_mean():
    rng = np.random.default_rng(3)
    net = bp.Network([3, 4, 2], output="identity", dtype="float64", seed=0)
    X, Y = rng.normal(size=(5, 3)), rng.normal(size=(5, 2))
    w = np.array([1.0, 0.0, 2.0, 3.0, 0.5])
    weighted = net.backprop(X, Y, sample_weight=w)
    singles = [net.backprop(X[i : i + 1], Y[i : i + 1]) for i in range(5)]
    expected = sum(w_i * s.grad_W[1] for w_i, s in zip(w, singles, strict=True)) / w.sum()
    np.testing.assert_allclose(weighted.grad_W[1], expected, rtol=1e-12)
    repeated = net.backprop(np.repeat(X, [2, 0, 4, 6, 1], axis=0), np.repeat(Y, [2, 0, 4, 6, 1], 0))
    w_int = net.backprop(X, Y, sample_weight=[2, 0, 4, 6, 1])
    np.testing.assert_allclose(w_int.grad_W[2], repeated.grad_W[2], rtol=1e-12)
    assert w_int.loss == pytest.approx(repeated.loss, rel=1e-12)


@pytest.mark.parametrize(
    "output, loss",
    [
        ("identity", "squared"),
        ("sigmoid", "log_loss"),
        ("softmax", "cross_entropy"),
        ("exp", "poisson"),
    ],
)
def test_canonical_shortcut_equals_the_general_output_delta(output, loss):
    """δᴸ = o − y (used for canonical pairs) equals f'(z) ⊙ ∂J/∂o computed the long way."""
    rng = np.random.default_rng(4)
    net = bp.Network([3, 5, 4], hidden="tanh", output=output, loss=loss, dtype="float64", seed=1)
    X = rng.normal(size=(6, 3))
    Y = {
        "squared": rng.normal(size=(6, 4)),
        "log_loss": rng.integers(0, 2, size=(6, 4)).astype(float),
        "cross_entropy": np.eye(4)[rng.integers(0, 4, size=6)],
        "poisson": rng.poisson(1.5, size=(6, 4)).astype(float),
    }[loss]
    trace = net.backprop(X, Y)
    activation, loss_fn = net.output_activation, get_loss(loss)
    z, o = trace.z[2], trace.a[2]
    general = np.empty_like(z)
    activation.backward(z, o, loss_fn.derivative(o, Y), general)
    np.testing.assert_allclose(trace.delta[2], o - Y, rtol=1e-12)
    np.testing.assert_allclose(general, o - Y, rtol=1e-9, atol=1e-12)
    # and the loss from logits equals the loss from the outputs where both are finite
    assert trace.loss == pytest.approx(float(loss_fn.value(o, Y).mean()), rel=1e-9)


def test_canonical_log_loss_stays_finite_when_outputs_saturate():
    net = bp.Network([1, 1], output="sigmoid", loss="log_loss", dtype="float32")
    net.layers[1].W = [[1.0]]
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        trace = net.backprop([[200.0], [-200.0]], [[0.0], [1.0]])
    assert np.isfinite(trace.loss) and trace.loss == pytest.approx(200.0, rel=1e-5)
    np.testing.assert_allclose(trace.delta[1], [[1.0], [-1.0]])


def test_softmax_works_with_a_non_canonical_loss():
    """Softmax + squared loss: δ is the Jacobian-vector product J·(o − y)."""
    net = bp.Network([2, 3], output="softmax", loss="squared", dtype="float64", seed=0)
    X, Y = [[0.3, -0.7]], [[0.0, 1.0, 0.0]]
    trace = net.backprop(X, Y)
    o = trace.a[1][0]
    jacobian = np.diag(o) - np.outer(o, o)
    np.testing.assert_allclose(trace.delta[1][0], jacobian @ (o - np.array(Y[0])), rtol=1e-12)
    assert bp.gradcheck(net, X, Y) < 1e-6


def test_residual_connection_sums_deltas_from_every_consumer():
    """h2 = h1 + relu(W2·h1 + b2): layer 1 feeds layer 2 and layer 3, so δ¹ gets both terms."""
    net = bp.Network(
        [
            3,
            bp.Layer(4, "tanh"),
            bp.Layer(4, "relu"),
            bp.Layer(2, "identity", inputs=[1, 2], combine="sum"),
        ],
        loss="squared",
        dtype="float64",
        seed=5,
    )
    rng = np.random.default_rng(5)
    X, Y = rng.normal(size=(4, 3)), rng.normal(size=(4, 2))
    t = net.backprop(X, Y)
    W2, W3 = net.layers[2].W, net.layers[3].W
    np.testing.assert_allclose(t.z[3], (t.a[1] + t.a[2]) @ W3.T + net.layers[3].b, rtol=1e-12)
    error_1 = t.delta[3] @ W3 + t.delta[2] @ W2  # Σ over both consumers
    np.testing.assert_allclose(t.delta[1], (1 - t.a[1] ** 2) * error_1, rtol=1e-12)
    assert bp.gradcheck(net, X, Y) < 1e-6


def test_concatenated_skip_from_the_input():
    net = bp.Network(
        [2, bp.Layer(3, "sigmoid"), bp.Layer(1, "sigmoid", inputs=[0, 1])],
        dtype="float64",
        seed=2,
    )
    X, Y = [[0.5, -1.0], [1.5, 0.25]], [[1.0], [0.0]]
    t = net.backprop(X, Y)
    u = np.hstack([t.a[0], t.a[1]])
    np.testing.assert_allclose(t.grad_W[2], (t.delta[2] * 0.5).T @ u, rtol=1e-12)
    np.testing.assert_allclose(
        t.delta[1], t.a[1] * (1 - t.a[1]) * (t.delta[2] @ net.layers[2].W[:, 2:]), rtol=1e-12
    )
    assert bp.gradcheck(net, X, Y) < 1e-6


def test_summary_reports_per_layer_delta_norms():
    net = bp.Network([2, 3, 3, 1], seed=0)
    text = net.backprop([[1.0, 0.0]], [1.0]).summary()
    assert "loss E =" in text
    for l in (1, 2, 3):
        assert f"layer {l} (sigmoid" in text
    assert "mean |δ|" in text


def test_the_layer_gradient_hook_sees_each_layer_finished_last_first_and_may_change_it():
    """``on_layer_gradient(l)`` comes once per layer, L first, with ∂E/∂Wˡ and ∂E/∂bˡ final;
    the pass no longer reads them, so overwriting them (as an in-place all-reduce does) leaves
    every lower layer's gradient as it is without the hook."""
    net = bp.Network(
        [3, bp.Layer(4, "tanh"), bp.Layer(4, "relu"), bp.Layer(2, inputs=[1, 2], combine="sum")],
        loss="squared",
        dtype="float64",
        seed=5,
    )
    rng = np.random.default_rng(5)
    X, Y = rng.normal(size=(4, 3)), rng.normal(size=(4, 2))
    work = net.workspace(4)
    work.set_scale(None)
    forward(net, work, X, training=True)
    backward(net, work, Y, training=True)
    expected = net.grads.copy()
    seen = []

    def spoil(l):
        layer = net.layers[l]
        seen.append((l, layer.grad_W.copy(), layer.grad_b.copy()))
        layer.grad_W[...] = np.nan
        layer.grad_b[...] = np.nan

    net.grads[...] = 0
    forward(net, work, X, training=True)
    backward(net, work, Y, training=True, on_layer_gradient=spoil)
    assert [l for l, _, _ in seen] == [3, 2, 1]
    net.grads[...] = expected
    for l, grad_W, grad_b in seen:
        assert np.array_equal(grad_W, net.layers[l].grad_W)
        assert np.array_equal(grad_b, net.layers[l].grad_b)
