"""Parameters held fixed: Layer(train_weights=False / train_bias=False), honoured by fit and every
optimiser, by explain, by model files and by the JSON networks of ``backprop explain``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from test_delta_rule import MAZUR_X, MAZUR_Y

import backprop as bp
from backprop import io
from backprop.explain import steps
from backprop.training.checkpoint import fingerprint

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def frozen_network(dtype="float32", seed=0):
    """Layer 1 keeps its biases, layer 2 its weights; layer 3 trains everything."""
    return bp.Network(
        [
            3,
            bp.Layer(4, "tanh", train_bias=False),
            bp.Layer(4, "relu", train_weights=False),
            bp.Layer(2, "sigmoid"),
        ],
        loss="log_loss",
        dtype=dtype,
        seed=seed,
    )


def randomise_biases(net, seed=1):
    """Non-zero biases, so a step that touched them would show."""
    rng = np.random.default_rng(seed)
    for layer in net.layers[1:]:
        layer.b = rng.normal(size=layer.b.shape)


def data(n=40, seed=2):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 3)), rng.integers(0, 2, size=(n, 2))


OPTIMIZERS = {
    "sgd": bp.SGD(lr=0.1),
    "momentum": bp.SGD(lr=0.1, momentum=0.9),
    "nesterov": bp.SGD(lr=0.1, momentum=0.9, nesterov=True),
    "adam": bp.Adam(lr=0.01),
    "rmsprop": bp.RMSprop(lr=0.01),
    "adagrad": bp.AdaGrad(lr=0.1),
}


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_every_optimizer_leaves_fixed_parameters_bitwise_unchanged(name, dtype):
    net = frozen_network(dtype)
    randomise_biases(net)
    fixed_b1, fixed_W2 = net.layers[1].b.copy(), net.layers[2].W.copy()
    trained = {"W1": net.layers[1].W.copy(), "b2": net.layers[2].b.copy()}
    trained["W3"], trained["b3"] = net.layers[3].W.copy(), net.layers[3].b.copy()
    X, y = data()
    net.fit(
        X, y, epochs=5, batch_size=8, optimizer=OPTIMIZERS[name], l2=0.01, clip_norm=0.5, warn=False
    )
    assert np.array_equal(net.layers[1].b, fixed_b1)  # bitwise, not approximately
    assert np.array_equal(net.layers[2].W, fixed_W2)
    now = {"W1": net.layers[1].W, "b2": net.layers[2].b, "W3": net.layers[3].W}
    now["b3"] = net.layers[3].b
    for key, before in trained.items():
        assert not np.array_equal(now[key], before), key


def test_the_backward_pass_still_shows_the_true_gradient_of_fixed_parameters():
    net = frozen_network("float64")
    randomise_biases(net)
    X, y = data(n=5)
    trace = net.backprop(X, y)
    assert np.abs(trace.grad_b[1]).max() > 1e-6  # ∂E/∂b¹ is computed even though b¹ is fixed
    assert np.abs(trace.grad_W[2]).max() > 1e-6
    assert bp.gradcheck(net, X, y) < 1e-6


def test_fixed_ranges_of_the_flat_buffer():
    net = frozen_network()
    W2 = net._offsets[2]["W"]
    b1 = net._offsets[1]["b"]
    assert net.frozen_ranges() == [W2, b1]
    both = bp.Network([2, bp.Layer(3, train_bias=False), bp.Layer(1, train_bias=False)])
    assert both.frozen_ranges() == [(both.n_weights, both.n_weights + 4)]  # merged b¹, b²
    assert bp.Network([2, 3, 1]).frozen_ranges() == []


def test_bad_flags_are_refused_and_the_repr_says_what_is_fixed():
    with pytest.raises(TypeError, match="train_bias"):
        bp.Layer(2, train_bias="no")
    with pytest.raises(TypeError, match="train_weights"):
        bp.Layer(2, train_weights=None)
    net = frozen_network()
    assert "4 tanh, b fixed" in repr(net) and "4 relu, W fixed" in repr(net)


def test_a_changed_freezing_is_a_changed_setup_for_resuming():
    settings = {"l2": 0.0, "l2_per_sample": False, "clip_norm": None}
    plain = bp.Network([3, 4, 2], seed=0)
    fixed = bp.Network([3, bp.Layer(4, train_bias=False), 2], seed=0)
    setups = [fingerprint(net, 10, 0, 10, bp.SGD(), settings, True) for net in (plain, fixed)]
    assert setups[0]["network"] != setups[1]["network"]


# -- Mazur's page: weights learn, biases stay -------------------------------------------------


def mazur_fixed_biases():
    net = bp.Network(
        [2, bp.Layer(2, "sigmoid", train_bias=False), bp.Layer(2, "sigmoid", train_bias=False)],
        loss="squared",
        dtype="float64",
    )
    net.layers[1].W = [[0.15, 0.20], [0.25, 0.30]]
    net.layers[1].b = [0.35, 0.35]
    net.layers[2].W = [[0.40, 0.45], [0.50, 0.55]]
    net.layers[2].b = [0.60, 0.60]
    return net


def test_mazur_error_after_one_update_and_after_ten_thousand():
    net = mazur_fixed_biases()
    net.fit(MAZUR_X, MAZUR_Y, epochs=1, batch_size=None, optimizer=bp.SGD(lr=0.5))
    assert net.backprop(MAZUR_X, MAZUR_Y).loss == pytest.approx(0.291027774, abs=5e-10)
    np.testing.assert_array_equal(net.layers[1].b, [0.35, 0.35])
    np.testing.assert_allclose(
        net.layers[2].W, [[0.35891648, 0.408666186], [0.51130127, 0.561370121]], atol=1e-9
    )
    history = net.fit(
        MAZUR_X, MAZUR_Y, epochs=9_999, batch_size=None, optimizer=bp.SGD(lr=0.5), warn=False
    )
    assert net.backprop(MAZUR_X, MAZUR_Y).loss == pytest.approx(3.51019e-05, rel=2e-6)
    # the page's 0.0000351085 is this computation's error after 9,999 updates
    assert history.loss[-1] == pytest.approx(3.51085e-05, rel=2e-6)
    np.testing.assert_array_equal(net.layers[2].b, [0.60, 0.60])


def test_mazur_explained_with_fixed_biases():
    trace = mazur_fixed_biases().backprop(MAZUR_X, MAZUR_Y)
    text = trace.explain(precision=9, lr=0.5)
    assert "the error went from 0.298371109 to 0.291027774 (down)" in text
    assert "held fixed (train_bias=False)" in text
    updated = [step.symbol.name for step in steps(trace, lr=0.5) if step.section == "update"]
    assert updated == ["w"] * 8  # the biases take no step
    gradients = [step for step in steps(trace) if step.symbol.name == "dE/db"]
    assert [step.value for step in gradients] == [*trace.grad_b[2], *trace.grad_b[1]]
    assert all(step.value != 0 for step in gradients)  # ∂E/∂b shown as it is


def run(*args):
    return subprocess.run(
        [sys.executable, "-m", "backprop", *args], capture_output=True, text=True, timeout=300
    )


def test_the_mazur_example_file_reproduces_his_page():
    spec = json.loads((EXAMPLES / "mazur.json").read_text())
    assert all(layer["train_bias"] is False for layer in spec["layers"])
    args = ["explain", str(EXAMPLES / "mazur.json"), "--input", "0.05,0.10"]
    result = run(*args, "--target", "0.01,0.99", "--lr", "0.5", "--precision", "9")
    assert result.returncode == 0, result.stderr
    assert "from 0.298371109 to 0.291027774 (down)" in result.stdout
    assert "0.280471447" not in result.stdout  # what training the biases too would give


def test_a_bad_flag_in_a_json_network_exits_2(tmp_path):
    spec = json.loads((EXAMPLES / "mazur.json").read_text())
    spec["layers"][0]["train_bias"] = "no"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(spec))
    result = run("explain", str(bad), "--input", "0.05,0.10", "--target", "0.01,0.99")
    assert result.returncode == 2 and "train_bias" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


# -- model files ------------------------------------------------------------------------------


def test_model_files_keep_what_is_fixed(tmp_path):
    pytest.importorskip("safetensors")
    net = frozen_network()
    path = tmp_path / "frozen.safetensors"
    net.save(path)
    again = bp.load(path)
    assert [(layer.train_weights, layer.train_bias) for layer in again.layers[1:]] == [
        (True, False),
        (False, True),
        (True, True),
    ]
    assert again.frozen_ranges() == net.frozen_ranges()
    fixed = again.layers[2].W.copy()
    again.fit(*data(), epochs=2, optimizer="adam", warn=False)
    assert np.array_equal(again.layers[2].W, fixed)


def test_networks_that_train_everything_write_the_old_config(tmp_path):
    """A file from before the options, or of a network that trains everything, has no
    train_* keys, so files stay readable both ways."""
    config = io.config.network_config(bp.Network([2, 3, 1], seed=0))
    assert all(not any(key.startswith("train_") for key in layer) for layer in config["layers"])
    layers = io.config.network_config(frozen_network())["layers"]
    assert [layer.get("train_bias", True) for layer in layers] == [False, True, True]


@pytest.mark.parametrize("value", ["no", 0, None])
def test_a_model_file_with_a_bad_flag_is_refused(tmp_path, value):
    pytest.importorskip("safetensors")
    from test_io import rewrite_network

    path = tmp_path / "net.safetensors"
    bp.Network([2, 3, 1], seed=0).save(path)
    rewrite_network(path, lambda config: config["layers"][0].update(train_bias=value))
    with pytest.raises(ValueError, match="net.safetensors.*train_bias"):
        bp.load(path)


def test_the_worked_example_script_prints_both_errors_beside_his(tmp_path):
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / "mazur_worked_example.py"), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "error after 1 update:      0.291027774  (his page: 0.291027924)" in result.stdout
    assert "error after 10,000 updates: 0.0000351019  (his page: 0.0000351085)" in result.stdout
