"""Every picture renders to a non-empty PNG under the Agg backend."""

import warnings

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

import backprop as bp  # noqa: E402
from backprop import plot  # noqa: E402

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def render(fig, tmp_path, name):
    path = tmp_path / f"{name}.png"
    fig.savefig(path)
    matplotlib.pyplot.close(fig)
    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE) and len(data) > 5000
    return data


@pytest.fixture(scope="module")
def moons_run():
    X, y = bp.datasets.two_moons(n_samples=200, noise=0.15, seed=0)[:2]
    net = bp.Network([2, 8, 8, 2], hidden="tanh", output="softmax", loss="cross_entropy", seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        history = net.fit(X, y, epochs=30, optimizer="adam", lr=0.02, validation_split=0.2)
    return net, X, y, history


def test_network_picture(tmp_path):
    net = bp.Network([2, 3, 2], seed=0)
    fig = plot.network(net.backprop([[0.05, 0.1]], [[0.01, 0.99]]))
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert any(t.startswith("δ=") for t in texts) and "layer 2\nsigmoid" in texts
    render(fig, tmp_path, "network")


def test_network_picture_refuses_wide_layers():
    trace = bp.Network([2, 30, 1], seed=0).backprop([[0.0, 1.0]], [1.0])
    with pytest.raises(ValueError, match="30 units"):
        plot.network(trace)


def test_history_picture(moons_run, tmp_path):
    *_, history = moons_run
    fig = plot.history(history)
    labels = [line.get_label() for ax in fig.axes for line in ax.get_lines()]
    assert {"training loss", "validation loss", "val_accuracy"} <= set(labels)
    render(fig, tmp_path, "history")


def test_decision_regions_picture(moons_run, tmp_path):
    net, X, y, _ = moons_run
    render(plot.decision_regions(net, X, y), tmp_path, "regions")
    with pytest.raises(ValueError, match="2-D inputs"):
        plot.decision_regions(net, np.ones((3, 3)), [0, 1, 0])


def test_gradient_norms_picture(moons_run, tmp_path):
    *_, history = moons_run
    fig = plot.gradient_norms(history)
    assert len(fig.axes[0].get_lines()) == 3
    render(fig, tmp_path, "gradients")
    render(plot.gradient_norms(history, "grad_norm"), tmp_path, "grad_norm")
