"""On a CUDA GPU: training, checkpoints, model files and the estimators give what the CPU
gives, and the same files serve either device."""

from __future__ import annotations

import copy

import numpy as np
import pytest

import backprop as bp

OPTIMIZERS = {
    "sgd": bp.SGD(0.1),
    "momentum": bp.SGD(0.1, momentum=0.9),
    "nesterov": bp.SGD(0.1, momentum=0.9, nesterov=True),
    "adam": bp.Adam(0.01),
    "rmsprop": bp.RMSprop(0.01),
    "adagrad": bp.AdaGrad(0.1),
}
TOLERANCE = {"float64": 1e-10, "float32": 1e-4}


def data(n=96, n_in=5, n_out=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, n_in)), rng.integers(0, n_out, size=n)


def classifier(dtype="float64", **options):
    sizes = [5, bp.Layer(16, "relu"), bp.Layer(8, "tanh", inputs=[0, 1]), bp.Layer(3, "softmax")]
    return bp.Network(sizes, loss="cross_entropy", dtype=dtype, seed=3, **options)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", OPTIMIZERS)
def test_one_epoch_of_fit_matches_the_cpu(gpu, name, dtype):
    X, y = data()
    weights = np.random.default_rng(2).uniform(0.5, 2.0, size=len(y))
    options = dict(epochs=1, batch_size=16, shuffle=False, warn=False, sample_weight=weights)
    options.update(l2=1e-3, clip_norm=5.0)
    host, device = classifier(dtype), classifier(dtype, device="cuda")
    expected = host.fit(X, y, optimizer=copy.deepcopy(OPTIMIZERS[name]), **options)
    got = device.fit(X, y, optimizer=copy.deepcopy(OPTIMIZERS[name]), **options)
    tolerance = TOLERANCE[dtype]
    np.testing.assert_allclose(
        gpu.to_host(device.params), host.params, rtol=tolerance, atol=tolerance
    )
    np.testing.assert_allclose(got.loss, expected.loss, rtol=tolerance)
    forms = (gpu._kernels.get((name, from_buffer)) for from_buffer in (False, True))
    assert any(kernel is not None for kernel in forms)  # the update ran as its CUDA kernel


def test_dropout_and_shuffles_drawn_on_the_gpu_repeat_and_resume_exactly(gpu, tmp_path):
    X, y = data()
    sizes = [5, bp.Layer(32, "relu", dropout=0.3), bp.Layer(3, "softmax")]

    def run(epochs, **options):
        net = bp.Network(sizes, loss="cross_entropy", seed=2, device="cuda")
        net.fit(X, y, epochs=epochs, batch_size=16, optimizer="adam", warn=False, **options)
        return gpu.to_host(net.params)

    straight = run(4)
    np.testing.assert_array_equal(run(4), straight)
    assert not np.array_equal(run(4, shuffle=False), straight)
    checkpoint = dict(checkpoint=tmp_path / "run.ckpt")
    run(2, **checkpoint)
    np.testing.assert_array_equal(run(4, resume=True, **checkpoint), straight)


@pytest.mark.parametrize("first, second", [("cpu", "cuda"), ("cuda", "cpu")])
def test_a_checkpoint_resumes_on_the_other_device(gpu, tmp_path, first, second):
    X, y = data()
    options = dict(batch_size=16, optimizer="adam", shuffle=False, warn=False)
    straight = classifier()
    straight.fit(X, y, epochs=4, **options)
    checkpoint = tmp_path / "run.ckpt"
    classifier(device=first).fit(X, y, epochs=2, checkpoint=checkpoint, **options)
    resumed = classifier(device=second)
    resumed.fit(X, y, epochs=4, checkpoint=checkpoint, resume=True, **options)
    params = resumed.backend.to_host(resumed.params)
    np.testing.assert_allclose(params, straight.params, rtol=1e-10, atol=1e-12)


def test_model_files_and_to_move_between_devices(gpu, cupy, tmp_path):
    X, y = data()
    net = classifier(device="cuda")
    net.fit(X, y, epochs=2, batch_size=16, warn=False)
    assert isinstance(net.params, cupy.ndarray) and isinstance(net.layers[2].W, cupy.ndarray)
    net.save(tmp_path / "gpu.safetensors")
    on_cpu = bp.load(tmp_path / "gpu.safetensors")
    on_gpu = bp.load(tmp_path / "gpu.safetensors", device="cuda")
    assert on_cpu.device == "cpu" and on_gpu.device == "cuda:0"
    np.testing.assert_array_equal(on_cpu.params, gpu.to_host(net.params))
    np.testing.assert_array_equal(gpu.to_host(on_gpu.params), on_cpu.params)
    on_cpu.save(tmp_path / "cpu.safetensors")
    assert (tmp_path / "cpu.safetensors").read_bytes() == (
        tmp_path / "gpu.safetensors"
    ).read_bytes()
    expected = on_cpu.predict(X)
    assert on_cpu.to("cuda") is on_cpu and isinstance(on_cpu.params, cupy.ndarray)
    np.testing.assert_allclose(gpu.to_host(on_cpu.predict(X)), expected, rtol=1e-12)
    on_cpu.to("cpu")
    assert type(on_cpu.params) is np.ndarray
    np.testing.assert_allclose(on_cpu.predict(gpu.asarray(X)), expected, rtol=1e-12)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_the_estimators_on_the_gpu_predict_as_on_the_cpu(gpu, solver):
    from backprop.sklearn import MLPClassifier, MLPRegressor

    X, y = data(n=200)
    options = dict(hidden_layer_sizes=(32,), solver=solver, max_iter=20, shuffle=False)
    options.update(random_state=0, dtype="float64")
    cpu = MLPClassifier(**options).fit(X, y)
    on_gpu = MLPClassifier(device="cuda", **options).fit(X, y)
    assert on_gpu.network_.device == "cuda:0"
    proba = on_gpu.predict_proba(X)
    assert type(proba) is np.ndarray
    # L-BFGS's line search can turn rounding differences of 1e-16 into more: 1e-6 allows it
    np.testing.assert_allclose(proba, cpu.predict_proba(X), rtol=1e-6, atol=1e-8)
    target = X @ np.arange(1.0, 6.0)
    cpu = MLPRegressor(**options).fit(X, target)
    on_gpu = MLPRegressor(device="cuda", **options).fit(X, target)
    np.testing.assert_allclose(on_gpu.predict(X), cpu.predict(X), rtol=1e-6, atol=1e-6)


def test_a_gpu_that_is_not_there_is_refused(gpu, cupy):
    count = cupy.cuda.runtime.getDeviceCount()
    with pytest.raises(bp.DeviceUnavailable, match=f"no GPU {count}; this machine has {count}"):
        bp.Network([2, 1], device=f"cuda:{count}")


def test_the_readme_examples_train_on_the_gpu(gpu, capsys):
    import re
    from pathlib import Path

    from backprop.gpu import tf32_enabled

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    examples = [e for e in re.findall(r"```python\n(.*?)```", readme, re.S) if "cuda" in e]
    scopes = [{}, {}]
    for example, scope in zip(examples, scopes, strict=True):  # moving there, then TF32
        exec(example, scope)
        assert capsys.readouterr().out == ""  # no DeviceUnavailable line: it ran on the GPU
    assert scopes[0]["net"].device == "cpu" and scopes[0]["labels"].shape == (2000,)
    assert scopes[1]["net"].device == "cuda:0" and not tf32_enabled()
