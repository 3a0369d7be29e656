"""The per-layer statistics training records on each epoch's last batch, for diagnose(): the
inputs' size, the update ratio ‖ΔW‖/‖W‖, the dead and the saturated units."""

import math

import numpy as np
import pytest
from strict_backend import STRICT

import backprop as bp
from backprop.training.history import History
from backprop.training.step import LAYER_STATISTICS

RNG = np.random.default_rng(0)
X = RNG.normal(size=(24, 3))
LABELS = RNG.integers(0, 2, size=24)


def one_epoch(net, X=X, y=LABELS, **options):
    settings = {"epochs": 1, "batch_size": None, "optimizer": bp.SGD(1e-9), "warn": False}
    return net.fit(X, y, **{**settings, **options})


def mixed_network(**options):
    sizes = [3, bp.Layer(4, "relu"), bp.Layer(4, "sigmoid"), bp.Layer(2, "softmax")]
    return bp.Network(sizes, loss="cross_entropy", dtype="float64", seed=0, **options)


def test_dead_and_saturated_units_are_counted_where_the_activation_can_die_or_saturate():
    net = mixed_network()
    net.layers[1].b = [-100.0, -100.0, -100.0, 5.0]  # three units with z < 0 for every row
    net.layers[2].W = net.layers[2].W * 0
    net.layers[2].b = [50.0, -50.0, 50.0, 0.0]  # three units at 1, 0, 1; one at 0.5
    history = one_epoch(net)
    dead, saturated = history.dead_fraction[0], history.saturated_fraction[0]
    assert dead[0] == 0.75 and math.isnan(dead[1]) and math.isnan(dead[2])
    assert math.isnan(saturated[0]) and saturated[1] == 0.75 and math.isnan(saturated[2])


def test_a_unit_active_on_one_row_is_not_dead():
    net = mixed_network()
    net.layers[1].W = [[1.0, 0.0, 0.0]] * 4
    net.layers[1].b = [-X[:, 0].max() + 1e-6, -100.0, -100.0, -100.0]  # unit 1: one row only
    assert one_epoch(net).dead_fraction[0, 0] == 0.75


def test_the_update_ratio_is_the_step_over_the_weights():
    net = bp.Network(
        [3, 5, 2], hidden="tanh", output="identity", loss="squared", seed=1, dtype="float64"
    )
    Y = RNG.normal(size=(24, 2))
    trace = net.backprop(X, Y)
    before = [np.array(layer.W) for layer in net.layers[1:]]
    history = net.fit(X, Y, epochs=1, batch_size=None, optimizer=bp.SGD(0.1), warn=False)
    for l, W in enumerate(before, start=1):
        expected = 0.1 * np.linalg.norm(trace.grad_W[l]) / np.linalg.norm(W)  # ‖η∇‖/‖W‖
        assert history.update_ratio[0, l - 1] == pytest.approx(expected, rel=1e-9)
        changed = np.linalg.norm(net.layers[l].W - W) / np.linalg.norm(W)
        assert history.update_ratio[0, l - 1] == pytest.approx(changed, rel=1e-9)


def test_the_first_layer_sees_the_data_and_the_network_is_described():
    history = one_epoch(mixed_network())
    assert history.input_rms[0, 0] == pytest.approx(np.sqrt(np.mean(X**2)), rel=1e-12)
    assert history.network == {
        "activations": ["relu", "sigmoid", "softmax"],
        "units": [4, 4, 2],
        "loss": "cross_entropy",
    }
    assert set(LAYER_STATISTICS) <= set(history.layer_records)


def test_every_statistic_matches_numpy_on_a_strict_device_backend():
    sizes = [3, bp.Layer(6, "relu"), bp.Layer(5, "tanh"), bp.Layer(2, "softmax")]
    options = dict(epochs=3, batch_size=8, optimizer="adam", warn=False)
    host = bp.Network(sizes, loss="cross_entropy", dtype="float64", seed=4)
    device = bp.Network(sizes, loss="cross_entropy", dtype="float64", seed=4, backend=STRICT)
    expected, got = host.fit(X, LABELS, **options), device.fit(X, LABELS, **options)
    for key in LAYER_STATISTICS:
        np.testing.assert_allclose(getattr(got, key), getattr(expected, key), rtol=1e-9)
    assert got.network == expected.network


def test_statistics_survive_a_checkpoint_and_resume(tmp_path):
    pytest.importorskip("safetensors")
    path = tmp_path / "run.ckpt"
    options = dict(batch_size=8, optimizer="adam", warn=False, checkpoint=path)
    straight = mixed_network().fit(X, LABELS, epochs=4, **{**options, "checkpoint": None})
    mixed_network().fit(X, LABELS, epochs=2, **options)  # NaN for what a layer lacks
    resumed = mixed_network().fit(X, LABELS, epochs=4, resume=True, **options)
    for key in LAYER_STATISTICS:
        np.testing.assert_array_equal(getattr(resumed, key), getattr(straight, key))
    assert resumed.network == straight.network


def test_a_state_saved_before_these_statistics_loads_with_nan_rows():
    history = History()
    history.load_state(
        {
            "records": {"loss": [0.9, 0.8, 0.7]},
            "layer_records": {"mean_abs_delta": [[0.1, 0.2]] * 3, "grad_norm": [[1.0, 2.0]] * 3},
            "best_epoch": None,
        }
    )
    assert history.dead_fraction.shape == (3, 2) and np.isnan(history.update_ratio).all()
    assert history.network is None
    history.append({"loss": 0.6}, {key: [0.001, 0.0] for key in LAYER_STATISTICS})
    assert history.update_ratio.shape == (4, 2) and history.update_ratio[-1, 0] == 0.001
    assert [f.code for f in history.diagnose()] == ["more_epochs"]
