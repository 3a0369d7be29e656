"""Devices by name (``device="cpu"``, ``"cuda"``), moving networks between them, and the GPU
backend's own code run on the CPU over a numpy stand-in for CuPy (``fake_cupy``).

Without CuPy or without a GPU, ``device="cuda"`` must raise one clear ``DeviceUnavailable``;
with the stand-in, training, model files and checkpoints must give what the CPU gives, and the
same files must read on either device.
"""

from __future__ import annotations

import copy
import pickle
import sys

import fake_cupy
import numpy as np
import pytest
from strict_backend import STRICT, DeviceArray

import backprop as bp
from backprop.engine.backend import base
from backprop.gpu import CupyBackend, cuda_graphs

INSTALL_LINE = "device='cuda' needs CuPy: pip install \"backprop[gpu]\""


@pytest.fixture
def fake_gpu(monkeypatch, registry):
    """``import cupy`` gives the numpy stand-in with one GPU; returns the "cuda" backend."""
    fake_cupy.install(monkeypatch, device_count=1)
    backend = bp.Network([1, 1], device="cuda").backend
    assert isinstance(backend, CupyBackend) and backend.device == "cuda:0"
    return backend


def data(n=48, n_in=4, n_out=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, n_in)), rng.integers(0, n_out, size=n)


def classifier(**options):
    sizes = [4, bp.Layer(7, "tanh"), bp.Layer(5, "relu", inputs=[0, 1]), bp.Layer(3, "softmax")]
    return bp.Network(sizes, loss="cross_entropy", dtype="float64", seed=5, **options)


# -- devices that cannot be used -----------------------------------------------------------


def test_cuda_without_cupy_says_how_to_install_it(monkeypatch, registry, tmp_path):
    monkeypatch.setitem(sys.modules, "cupy", None)  # import cupy raises ImportError
    with pytest.raises(bp.DeviceUnavailable) as caught:
        bp.Network([2, 1], device="cuda")
    assert str(caught.value) == INSTALL_LINE
    assert isinstance(caught.value, RuntimeError)
    net = bp.Network([2, 1], seed=0)
    before = net.params.copy()
    with pytest.raises(bp.DeviceUnavailable, match="needs CuPy"):
        net.to("cuda:1")
    assert net.device == "cpu" and np.array_equal(net.params, before)
    net.save(tmp_path / "m.safetensors")
    with pytest.raises(bp.DeviceUnavailable, match="needs CuPy"):
        bp.load(tmp_path / "m.safetensors", device="cuda")


def test_cupy_without_a_gpu_says_none_was_found(monkeypatch, registry):
    monkeypatch.setitem(sys.modules, "cupy", fake_cupy.make(device_count=0))
    with pytest.raises(bp.DeviceUnavailable, match=r"^device='cuda': no CUDA GPU was found"):
        bp.Network([2, 1], device="cuda")


def test_a_gpu_number_past_the_last_is_refused(monkeypatch, registry):
    monkeypatch.setitem(sys.modules, "cupy", fake_cupy.make(device_count=1))
    with pytest.raises(bp.DeviceUnavailable, match="no GPU 1; this machine has 1"):
        bp.Network([2, 1], device="cuda:1")


def test_cupy_that_fails_to_load_says_so(monkeypatch, registry, tmp_path):
    (tmp_path / "cupy.py").write_text("raise OSError('libcudart.so.13: cannot open')\n")
    monkeypatch.delitem(sys.modules, "cupy", raising=False)
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(bp.DeviceUnavailable, match="CuPy is installed but cannot load.*libcudart"):
        bp.Network([2, 1], device="cuda")


@pytest.mark.parametrize(
    "options, error, message",
    [
        (dict(device="tpu"), ValueError, "unknown device 'tpu'; known: cpu, cuda"),
        (dict(device=3), TypeError, "device must be a name"),
        (dict(device="cpu", backend="numpy"), ValueError, "device or backend, not both"),
    ],
)
def test_bad_device_arguments(options, error, message):
    with pytest.raises(error, match=message):
        bp.Network([2, 1], **options)


# -- moving between devices ----------------------------------------------------------------


def test_cpu_is_the_numpy_backend_and_a_registered_name_is_a_device():
    assert bp.Network([2, 1], device="cpu").backend is bp.Network([2, 1]).backend
    assert bp.Network([2, 1], device="strict").backend is STRICT


def test_to_moves_params_and_grads_and_back():
    X, y = data()
    net = classifier()
    expected = net.predict(X)
    trace = net.backprop(X[:5], np.eye(3)[y[:5]])
    net.grads[...] = np.concatenate([g.ravel() for g in trace.grad_W[1:]] + [np.zeros(15)])
    grads = net.grads.copy()
    assert net.to(STRICT) is net
    assert isinstance(net.params, DeviceArray) and isinstance(net.grads, DeviceArray)
    assert isinstance(net.layers[2].W, DeviceArray)  # the views follow the buffer
    np.testing.assert_array_equal(STRICT.to_host(net.grads), grads)
    np.testing.assert_array_equal(STRICT.to_host(net.predict(X)), expected)
    net.to("cpu")
    assert type(net.params) is np.ndarray and net.layers[2].W.base is not None
    np.testing.assert_array_equal(net.predict(X), expected)


def test_arrays_of_another_device_are_moved_to_the_networks():
    X, y = data()
    host, device = classifier(), classifier(device=STRICT)
    np.testing.assert_array_equal(STRICT.to_host(device.predict(X)), host.predict(X))
    np.testing.assert_array_equal(host.predict(STRICT.asarray(X)), host.predict(X))


def test_the_same_seed_gives_the_same_network_on_every_device(fake_gpu):
    np.testing.assert_array_equal(
        fake_gpu.to_host(classifier(device="cuda").params), classifier().params
    )


# -- the GPU backend's own code, over the numpy stand-in -------------------------------------

OPTIMIZERS = {
    "sgd": bp.SGD(0.1),
    "momentum": bp.SGD(0.1, momentum=0.9),
    "nesterov": bp.SGD(0.1, momentum=0.9, nesterov=True),
    "adam": bp.Adam(0.01),
    "rmsprop": bp.RMSprop(0.01),
    "adagrad": bp.AdaGrad(0.1),
}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", OPTIMIZERS)
def test_fit_on_the_gpu_backend_matches_the_cpu(fake_gpu, name, dtype):
    X, y = data()
    weights = np.random.default_rng(1).uniform(0.5, 2.0, size=len(y))
    options = dict(epochs=2, batch_size=16, shuffle=False, warn=False, sample_weight=weights)
    host = classifier().copy(dtype)
    fake_cupy.ElementwiseKernel.compiled.clear()
    fake_gpu._kernels.clear()
    expected = host.fit(X, y, optimizer=copy.deepcopy(OPTIMIZERS[name]), **options)
    rtol = 1e-12 if dtype == "float64" else 1e-5
    for graphs in (True, False):  # the update's kernel as a graph replays it, and eagerly
        device = classifier(device="cuda").copy(dtype)
        with cuda_graphs(graphs):
            got = device.fit(X, y, optimizer=copy.deepcopy(OPTIMIZERS[name]), **options)
        kernel = f"backprop_{name}_step" + ("_from_buffer" if graphs else "")
        assert kernel in fake_cupy.ElementwiseKernel.compiled  # fused
        params = fake_gpu.to_host(device.params)
        np.testing.assert_allclose(params, host.params, rtol=rtol, atol=rtol)
        np.testing.assert_allclose(got.loss, expected.loss, rtol=rtol)


def test_shuffles_and_dropout_are_drawn_on_the_device_and_resume_exactly(fake_gpu, tmp_path):
    X, y = data()
    sizes = [4, bp.Layer(8, "relu", dropout=0.3), bp.Layer(3, "softmax")]

    def run(epochs, **options):
        net = bp.Network(sizes, loss="cross_entropy", seed=2, device="cuda")
        net.fit(X, y, epochs=epochs, batch_size=8, optimizer="adam", warn=False, **options)
        return fake_gpu.to_host(net.params)

    fake_cupy.RandomState.draws.clear()
    straight = run(4)
    draws = fake_cupy.RandomState.draws
    assert draws.count(("permutation", 48)) == 4  # each epoch's shuffle, drawn on the device
    assert draws.count(("random_sample", (8, 8))) == 4 * 6  # each batch's dropout mask
    np.testing.assert_array_equal(run(4), straight)  # the same seed, the same run
    assert not np.array_equal(run(4, shuffle=False), straight)  # the shuffle mattered
    checkpoint = dict(checkpoint=tmp_path / "run.ckpt")
    run(2, **checkpoint)
    np.testing.assert_array_equal(run(4, resume=True, **checkpoint), straight)


@pytest.mark.parametrize("first, second", [("cpu", "cuda"), ("cuda", "cpu")])
def test_a_checkpoint_resumes_on_the_other_device(fake_gpu, tmp_path, first, second):
    X, y = data()
    options = dict(batch_size=16, optimizer="adam", shuffle=False, warn=False)
    straight = classifier()
    straight.fit(X, y, epochs=4, **options)
    checkpoint = tmp_path / "run.ckpt"
    classifier(device=first).fit(X, y, epochs=2, checkpoint=checkpoint, **options)
    resumed = classifier(device=second)
    resumed.fit(X, y, epochs=4, checkpoint=checkpoint, resume=True, **options)
    np.testing.assert_allclose(resumed.backend.to_host(resumed.params), straight.params, rtol=1e-12)


def test_model_files_read_the_same_on_either_device(fake_gpu, tmp_path):
    X, y = data()
    net = classifier(device="cuda")
    net.fit(X, y, epochs=1, batch_size=16, warn=False)
    net.save(tmp_path / "gpu.safetensors")
    on_cpu = bp.load(tmp_path / "gpu.safetensors")
    on_gpu = bp.load(tmp_path / "gpu.safetensors", device="cuda")
    assert on_cpu.device == "cpu" and on_gpu.device == "cuda:0"
    assert isinstance(on_gpu.params, fake_cupy.FakeDeviceArray)
    np.testing.assert_array_equal(on_cpu.params, fake_gpu.to_host(net.params))
    np.testing.assert_array_equal(fake_gpu.to_host(on_gpu.params), on_cpu.params)
    on_cpu.save(tmp_path / "cpu.safetensors")
    assert (tmp_path / "cpu.safetensors").read_bytes() == (
        tmp_path / "gpu.safetensors"
    ).read_bytes()


def test_a_gpu_network_pickles_onto_the_same_device(fake_gpu):
    X, _ = data()
    net = classifier(device="cuda")
    stored = pickle.dumps(net)
    del base._BACKENDS["cupy"]  # as in a new process, where no GPU backend is made yet
    again = pickle.loads(stored)
    assert isinstance(again.backend, CupyBackend) and again.device == "cuda:0"
    assert isinstance(again.params, fake_cupy.FakeDeviceArray)
    np.testing.assert_array_equal(
        fake_gpu.to_host(again.predict(X)), fake_gpu.to_host(net.predict(X))
    )
