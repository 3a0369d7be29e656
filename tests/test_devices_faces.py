"""``device=`` in the faces: the scikit-learn estimators and ``backprop train --device``, on the
CPU, over the numpy stand-in for CuPy (``fake_cupy``) and without CuPy."""

from __future__ import annotations

import sys

import fake_cupy
import numpy as np
import pytest
from sklearn.datasets import make_classification, make_regression

import backprop as bp
from backprop.cli import main
from backprop.sklearn import MLPClassifier, MLPRegressor

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture
def fake_gpu(monkeypatch, registry):
    fake_cupy.install(monkeypatch, device_count=1)


@pytest.fixture
def no_cupy(monkeypatch, registry):
    monkeypatch.setitem(sys.modules, "cupy", None)


def test_get_params_names_the_device():
    assert MLPClassifier().get_params()["device"] == "cpu"
    assert MLPRegressor(device="cuda").get_params()["device"] == "cuda"


@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
def test_the_classifier_on_the_gpu_predicts_as_on_the_cpu(fake_gpu, solver):
    X, y = make_classification(120, 6, n_classes=3, n_informative=4, random_state=0)
    options = dict(hidden_layer_sizes=(9,), solver=solver, max_iter=15, shuffle=False)
    options.update(random_state=1, dtype="float64")
    cpu = MLPClassifier(**options).fit(X, y)
    gpu = MLPClassifier(device="cuda", **options).fit(X, y)
    assert gpu.network_.device == "cuda:0" and cpu.network_.device == "cpu"
    proba = gpu.predict_proba(X)
    assert type(proba) is np.ndarray and type(gpu.coefs_[0]) is np.ndarray
    np.testing.assert_allclose(proba, cpu.predict_proba(X), rtol=1e-9, atol=1e-12)
    np.testing.assert_array_equal(gpu.predict(X), cpu.predict(X))
    np.testing.assert_allclose(
        gpu.loss_curve_ if solver != "lbfgs" else [gpu.loss_],
        cpu.loss_curve_ if solver != "lbfgs" else [cpu.loss_],
        rtol=1e-9,
    )
    np.testing.assert_allclose(gpu.transform(X), cpu.transform(X), rtol=1e-9, atol=1e-12)


def test_the_regressor_with_early_stopping_on_the_gpu_matches_the_cpu(fake_gpu, tmp_path):
    X, y = make_regression(150, 5, noise=1.0, random_state=0)
    options = dict(hidden_layer_sizes=(8,), max_iter=12, shuffle=False, early_stopping=True)
    options.update(random_state=2, dtype="float64", learning_rate_init=0.01)
    cpu = MLPRegressor(**options).fit(X, y)
    gpu = MLPRegressor(device="cuda", **options).fit(X, y)
    np.testing.assert_allclose(gpu.predict(X), cpu.predict(X), rtol=1e-9)
    np.testing.assert_allclose(gpu.validation_scores_, cpu.validation_scores_, rtol=1e-9)
    gpu.save(tmp_path / "reg.safetensors")
    loaded = bp.sklearn.load(tmp_path / "reg.safetensors")
    np.testing.assert_array_equal(loaded.predict(X), gpu.predict(X))
    gpu.set_params(device="cpu", warm_start=True).fit(X, y)  # continues, now on the CPU
    assert gpu.network_.device == "cpu"


def test_an_estimator_without_cupy_says_how_to_install_it(no_cupy):
    X, y = make_classification(30, 4, random_state=0)
    with pytest.raises(bp.DeviceUnavailable, match='needs CuPy: pip install "backprop'):
        MLPClassifier(device="cuda", max_iter=2).fit(X, y)


def write_csv(path, n=60):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, 3))
    labels = np.where(X[:, 0] + X[:, 1] > 0, "yes", "no")
    lines = [
        "a,b,c,label",
        *(f"{r[0]:.4f},{r[1]:.4f},{r[2]:.4f},{t}" for r, t in zip(X, labels, strict=True)),
    ]
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def train_args(tmp_path, *extra):
    data = write_csv(tmp_path / "d.csv")
    return [
        "train",
        data,
        "--target",
        "label",
        "--out",
        str(tmp_path / "m.safetensors"),
        "--quiet",
        "--seed",
        "3",
        *extra,
    ]


@pytest.mark.parametrize(
    "device, fixture, message",
    [
        (
            "cuda",
            "no_cupy",
            "--device cuda: device='cuda' needs CuPy: pip install \"backprop[gpu]\"",
        ),
        ("cuda", "no_gpu", "--device cuda: device='cuda': no CUDA GPU was found"),
        ("tpu", None, "--device tpu: unknown device 'tpu'"),
    ],
)
def test_train_on_a_device_that_cannot_be_used_exits_2(
    device, fixture, message, tmp_path, capsys, monkeypatch, registry
):
    if fixture == "no_cupy":
        monkeypatch.setitem(sys.modules, "cupy", None)
    elif fixture == "no_gpu":
        monkeypatch.setitem(sys.modules, "cupy", fake_cupy.make(device_count=0))
    assert main(train_args(tmp_path, "--device", device)) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"backprop: error: {message}") and err.count("\n") == 1
    assert not (tmp_path / "m.safetensors").exists()


def test_train_on_the_gpu_trains_there_and_saves_a_model_file(fake_gpu, tmp_path, capsys):
    fake_cupy.ElementwiseKernel.compiled.clear()
    assert main(train_args(tmp_path, "--device", "cuda", "--epochs", "3")) == 0
    assert fake_cupy.ElementwiseKernel.compiled  # the updates ran as the GPU's fused kernels
    assert "cross-validated accuracy" in capsys.readouterr().out  # 5 fold networks on the GPU
    net = bp.load(tmp_path / "m.safetensors")
    assert net.device == "cpu" and net.n_inputs == 3


@pytest.mark.parametrize("option", [("--search", "1s"), ("--distributed",)])
def test_train_refuses_the_gpu_with_options_that_train_on_the_cpu(
    fake_gpu, tmp_path, capsys, option
):
    assert main(train_args(tmp_path, "--device", "cuda", *option)) == 2
    assert f"{option[0]} trains on the CPU" in capsys.readouterr().err


def test_partial_fit_carries_adams_moments_to_a_new_device(fake_gpu):
    X, y = make_classification(80, 5, n_classes=3, n_informative=3, random_state=0)
    options = dict(hidden_layer_sizes=(6,), shuffle=False, random_state=0, dtype="float64")
    moved = MLPClassifier(device="cuda", **options).partial_fit(X, y, classes=[0, 1, 2])
    moved.set_params(device="cpu").partial_fit(X, y)
    stayed = MLPClassifier(**options).partial_fit(X, y, classes=[0, 1, 2]).partial_fit(X, y)
    assert type(moved.optimizer_state_.m) is np.ndarray
    np.testing.assert_allclose(moved.network_.params, stayed.network_.params, rtol=1e-12)
