"""``bp.ensemble``: K networks as one, its output layer's z the mean of theirs."""

import os

import numpy as np
import pytest

import backprop as bp
from backprop.io import load, save

HIDDEN = ("sigmoid", "tanh", "relu", "leaky_relu", "softplus", "identity")


def random_member(rng, n_in, n_out, output, loss, dtype="float64"):
    """A network with 0-3 hidden layers of random sizes and activations, sometimes with a skip
    connection from the input (concatenated) or a summed pair of equal-width layers."""
    depth = int(rng.integers(0, 4))
    widths = [int(rng.integers(1, 7)) for _ in range(depth)]
    layers = [
        bp.Layer(width, str(rng.choice(HIDDEN)), dropout=float(rng.choice([0.0, 0.2])))
        for width in widths
    ]
    shape = rng.integers(0, 3)
    if depth >= 2 and shape == 1:
        layers[-1] = bp.Layer(widths[-1], "tanh", inputs=[0, depth - 1])
    if depth >= 2 and shape == 2:
        layers[-1] = bp.Layer(widths[-2], "tanh")
        skip = [depth - 1, depth]
        return bp.Network(
            [n_in, *layers, bp.Layer(n_out, output, inputs=skip, combine="sum")],
            loss=loss,
            dtype=dtype,
            seed=int(rng.integers(1000)),
        )
    if depth and rng.random() < 0.3:
        return bp.Network(
            [n_in, *layers, bp.Layer(n_out, output, inputs=[0, depth])],
            loss=loss,
            dtype=dtype,
            seed=int(rng.integers(1000)),
        )
    return bp.Network(
        [n_in, *layers, n_out], output=output, loss=loss, dtype=dtype, seed=int(rng.integers(1000))
    )


def randomize_biases(net, rng):
    for layer in net.layers[1:]:
        layer.b = rng.normal(size=layer.size)


@pytest.mark.parametrize("seed", range(40))
def test_identity_outputs_predict_the_members_mean_exactly(seed):
    rng = np.random.default_rng(seed)
    n_in, n_out = int(rng.integers(1, 5)), int(rng.integers(1, 4))
    members = [
        random_member(rng, n_in, n_out, "identity", "squared")
        for _ in range(int(rng.integers(1, 5)))
    ]
    for member in members:
        randomize_biases(member, rng)
    X = rng.normal(size=(7, n_in))
    expected = np.mean([member.predict(X) for member in members], axis=0)
    np.testing.assert_allclose(bp.ensemble(members).predict(X), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("seed", range(15))
def test_softmax_outputs_average_the_members_logits(seed):
    rng = np.random.default_rng(100 + seed)
    n_in, n_out = int(rng.integers(1, 5)), int(rng.integers(2, 5))
    members = [random_member(rng, n_in, n_out, "softmax", "cross_entropy") for _ in range(3)]
    X = rng.normal(size=(6, n_in))
    Y = np.eye(n_out)[rng.integers(0, n_out, size=6)]
    combined = bp.ensemble(members)
    mean_logits = np.mean([member.backprop(X, Y).z[-1] for member in members], axis=0)
    np.testing.assert_allclose(combined.backprop(X, Y).z[-1], mean_logits, rtol=1e-12, atol=1e-12)
    probabilities = np.exp(mean_logits - mean_logits.max(axis=1, keepdims=True))
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(combined.predict(X), probabilities, rtol=1e-12, atol=1e-12)


def test_the_members_are_left_as_they_were_and_the_ensemble_is_independent():
    members = [
        bp.Network([3, 4, 2], output="softmax", loss="cross_entropy", seed=s) for s in (0, 1)
    ]
    before = [member.params.copy() for member in members]
    combined = bp.ensemble(members)
    combined.params[...] = 0
    for member, params in zip(members, before, strict=True):
        np.testing.assert_array_equal(member.params, params)


def test_layout_keeps_each_members_layers_and_reads_their_last_hidden_layers():
    members = [
        bp.Network([4, 5, 3, 2], hidden="tanh", output="softmax", loss="cross_entropy", seed=0),
        bp.Network(
            [4, bp.Layer(6, "relu", dropout=0.1), 2], output="softmax", seed=1, loss="cross_entropy"
        ),
    ]
    combined = bp.ensemble(members)
    assert combined.sizes == [4, 5, 3, 6, 2]
    assert [layer.activation.name for layer in combined.layers[1:]] == [
        "tanh",
        "tanh",
        "relu",
        "softmax",
    ]
    assert combined.layers[3].inputs == (0,) and combined.layers[3].dropout == 0.1
    assert combined.layers[4].inputs == (2, 3)
    np.testing.assert_array_equal(combined.layers[4].W[:, :3], members[0].layers[3].W / 2)
    np.testing.assert_array_equal(combined.layers[4].W[:, 3:], members[1].layers[2].W / 2)
    assert combined.dtype == np.float32 and combined.seed == 0


def test_members_without_hidden_layers_share_the_input_columns():
    rng = np.random.default_rng(3)
    members = [bp.Network([3, 2], output="identity", dtype="float64", seed=s) for s in (0, 1, 2)]
    combined = bp.ensemble(members)
    assert combined.sizes == [3, 2]
    np.testing.assert_allclose(
        combined.layers[1].W, np.mean([m.layers[1].W for m in members], axis=0), rtol=1e-15
    )
    X = rng.normal(size=(4, 3))
    np.testing.assert_allclose(
        combined.predict(X), np.mean([m.predict(X) for m in members], axis=0), rtol=1e-12
    )


def test_frozen_parts_stay_frozen():
    member = bp.Network(
        [2, bp.Layer(3, "tanh", train_bias=False), bp.Layer(1, "sigmoid", train_weights=False)],
        seed=0,
    )
    combined = bp.ensemble([member, member])
    assert [layer.trains("b") for layer in combined.layers[1:]] == [False, False, True]
    assert [layer.trains("W") for layer in combined.layers[1:]] == [True, True, False]


def test_a_saved_ensemble_loads_and_predicts_the_same(tmp_path):
    rng = np.random.default_rng(5)
    members = [random_member(rng, 3, 2, "softmax", "cross_entropy", "float32") for _ in range(3)]
    combined = bp.ensemble(members)
    path = os.path.join(tmp_path, "ensemble.safetensors")
    save(combined, path)
    X = rng.normal(size=(5, 3)).astype(np.float32)
    np.testing.assert_array_equal(load(path).predict(X), combined.predict(X))


@pytest.mark.parametrize(
    "other, problem",
    [
        (bp.Network([3, 4, 2], output="softmax", loss="cross_entropy"), "member 1 has inputs 3"),
        (bp.Network([2, 4, 3], output="softmax", loss="cross_entropy"), "member 1 has outputs 3"),
        (bp.Network([2, 4, 2], output="sigmoid", loss="cross_entropy"), "output activation"),
        (bp.Network([2, 4, 2], output="softmax", loss="squared"), "loss"),
        (bp.Network([2, 2], output="softmax", loss="cross_entropy", dtype="float64"), "dtype"),
    ],
)
def test_members_that_do_not_match_are_refused_naming_what(other, problem):
    first = bp.Network([2, 3, 2], output="softmax", loss="cross_entropy")
    with pytest.raises(ValueError, match=problem):
        bp.ensemble([first, other])


def test_not_a_list_of_networks_is_refused():
    net = bp.Network([2, 1])
    with pytest.raises(TypeError, match="list of networks"):
        bp.ensemble(net)
    with pytest.raises(ValueError, match="at least one network"):
        bp.ensemble([])
    with pytest.raises(TypeError, match="member 1 is a str"):
        bp.ensemble([net, "net"])
