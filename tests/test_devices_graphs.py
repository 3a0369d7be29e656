"""The training step as a CUDA graph (``backprop.gpu.graphs``) and the direct cuBLAS calls
that let it be captured (``backprop.gpu.blas``), over the numpy stand-in for CuPy.

The stand-in's graphs replay by running the captured function again with the arguments it
was captured with, so anything the step computes on the host and a real graph would hold
fixed stays fixed here too: a replayed step that differs from the step run kernel by kernel
shows here as it would on a GPU. ``tests/gpu`` runs the same comparisons on a GPU.
"""

from __future__ import annotations

import itertools
import re
import warnings

import fake_cupy
import numpy as np
import pytest
from test_devices import OPTIMIZERS

import backprop as bp
from backprop.gpu import blas, cuda_graphs, cuda_graphs_enabled, graphs, set_cuda_graphs
from backprop.gpu.graphs import ConstantRing, GraphedStep
from backprop.gpu.walk import Walk
from backprop.training.batches import Batches, Data
from backprop.training.readout import LossLog
from backprop.training.step import TrainingStep


@pytest.fixture
def cupy(monkeypatch, registry):
    fake_cupy.ReplayedGraph.captures.clear()
    return fake_cupy.install(monkeypatch, device_count=1)


def data(n=50):
    rng = np.random.default_rng(0)
    return rng.normal(size=(n, 4)).astype(np.float32), np.arange(n) % 3


def fit(graphs_on: bool, optimizer="adam", hidden=None, epochs=3, n=50, **options):
    """The parameters and history of a GPU network trained on ``n`` rows in batches of 16,
    with graphs on or off."""
    hidden = hidden or bp.Layer(8, "relu", dropout=0.2)
    net = bp.Network([4, hidden, bp.Layer(3, "softmax")], loss="cross_entropy", seed=1,
                     device="cuda")  # fmt: skip
    X, y = data(n)
    settings = dict(epochs=epochs, batch_size=16, optimizer=optimizer, warn=False)
    with cuda_graphs(graphs_on):
        history = net.fit(X, y, **{**settings, **options})
    return net.backend.to_host(net.params), history


def train(graphs_on: bool, **options):
    """The parameters and epoch losses of ``fit``."""
    params, history = fit(graphs_on, **options)
    return params, history.loss


# -- the layout of a product, as cuBLAS reads it ---------------------------------------------


def _flat(x: np.ndarray) -> np.ndarray:
    """The memory from ``x``'s first element to its last, as a flat array."""
    steps = zip(x.shape, x.strides, strict=True)
    extent = 1 + sum((n - 1) * stride // x.itemsize for n, stride in steps)
    return np.lib.stride_tricks.as_strided(x, (extent,), (x.itemsize,))


def _operands(rng, m, k, n, a_transposed, b_transposed):
    a = rng.standard_normal((k, m)).T if a_transposed else rng.standard_normal((m, k))
    b = rng.standard_normal((n, k)).T if b_transposed else rng.standard_normal((k, n))
    return a, b


@pytest.mark.parametrize("m, k, n", [(5, 3, 4), (1, 3, 4), (5, 1, 4), (5, 3, 1), (1, 1, 1)])
def test_every_layout_of_a_product_is_planned_as_cublas_computes_it(m, k, n):
    rng = np.random.default_rng(m * 100 + k * 10 + n)
    for a_transposed, b_transposed in itertools.product([False, True], repeat=2):
        a, b = _operands(rng, m, k, n, a_transposed, b_transposed)
        out = np.full((m, n), np.nan)
        gemm = blas.plan(a, b, out)
        fake_cupy.column_major_gemm(gemm, _flat(a), _flat(b), _flat(out))
        np.testing.assert_allclose(out, a @ b, rtol=1e-12, err_msg=str(gemm))


def test_the_engines_products_are_planned_without_copies():
    rng = np.random.default_rng(0)
    u, W = rng.standard_normal((6, 5)), rng.standard_normal((4, 5))
    delta = rng.standard_normal((6, 4))
    s, out_of_rows = rng.standard_normal(6), np.full((6, 8), np.nan)
    products = {
        "u·Wᵀ": (u, W.T, np.empty((6, 4))),
        "δᵀ·u": (delta.T, u, np.empty((4, 5))),
        "sᵀ·δ": (s, delta, np.empty(4)),
        "δ·W[:, 1:3]": (delta, W[:, 1:3], np.empty((6, 2))),
        "into columns of a wider array": (delta, W, out_of_rows[:, 2:7]),
        "W·s (a column)": (W.T, rng.standard_normal(4), np.empty(5)),
    }
    for name, (a, b, out) in products.items():
        gemm = blas.plan(a, b, out)
        assert gemm is not None, name
        fake_cupy.column_major_gemm(gemm, _flat(a), _flat(b), _flat(out))
        np.testing.assert_allclose(out, a @ b, rtol=1e-12, err_msg=name)


def test_layouts_cublas_cannot_read_in_place_are_left_to_cupy():
    x = np.ones((6, 6))
    assert blas.plan(x[::2, ::2], x[:3, :3], np.empty((3, 3))) is None  # strided both ways
    assert blas.plan(x, x, np.empty((6, 6)).T) is None  # a column-major result
    assert blas.plan(x, x[:5], np.empty((6, 6))) is None  # shapes that do not chain
    assert blas.plan(x[:0], x, np.empty((0, 6))) is None  # nothing to compute
    tall = np.lib.stride_tricks.as_strided  # views only: plan reads no element
    rows = 2**31  # past a C int
    a, out = tall(x, (rows, 1), (8, 8)), tall(x, (rows, 3), (24, 8))
    assert blas.plan(a[: rows - 1], x[:1, :3], out[: rows - 1]) is not None
    assert blas.plan(a, x[:1, :3], out) is None


def test_gpu_products_go_to_cublas_and_agree_with_cupy(cupy):
    net = bp.Network([4, 8, 3], device="cuda", seed=0)
    X = data()[0]
    assert net.backend.graph_refusal() is None  # cuBLAS loaded and checked against cupy.matmul
    before = cupy.cublas.calls
    got = net.backend.to_host(net.predict(X))
    assert cupy.cublas.calls - before == 2  # one product per layer
    np.testing.assert_allclose(got, bp.Network([4, 8, 3], seed=0).predict(X), rtol=1e-5)


def test_cublas_that_disagrees_with_cupy_is_not_used(cupy, monkeypatch):
    monkeypatch.setattr(fake_cupy.CublasLibrary, "cublasSgemm_v2", lambda self, *args: 0)
    with pytest.warns(RuntimeWarning, match="disagreed with cupy.matmul on u·Wᵀ in float32"):
        params, _ = train(True)
    expected, _ = train(False)
    np.testing.assert_array_equal(params, expected)  # products by cupy.matmul, kernel by kernel
    assert not fake_cupy.ReplayedGraph.captures


def test_without_cublas_to_call_directly_steps_run_kernel_by_kernel(cupy, monkeypatch):
    def unavailable(module):
        raise blas.CublasUnavailable("cuBLAS is not loaded in this process")

    monkeypatch.setattr(blas, "load_cublas", unavailable)
    with pytest.warns(RuntimeWarning, match=r"kernel by kernel.*cuBLAS could not be called"):
        train(True)
    assert not fake_cupy.ReplayedGraph.captures


# -- the graph -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_replayed_steps_equal_the_steps_run_kernel_by_kernel(cupy, name):
    options = dict(optimizer=OPTIMIZERS[name], l2=1e-3, weight_decay=1e-2, clip_norm=1.0)
    params, losses = train(True, **options)
    (graph,) = fake_cupy.ReplayedGraph.captures
    assert graph.launches == 8  # 3 full batches an epoch, less the first, run to warm up
    expected, expected_losses = train(False, **options)
    np.testing.assert_array_equal(params, expected)
    assert losses == expected_losses


OUTPUTS = {  # every output activation with a loss it is used with, and targets for n rows
    "softmax-cross_entropy": ("softmax", "cross_entropy", lambda rng, n: rng.integers(0, 3, n)),
    "softmax-squared": ("softmax", "squared", lambda rng, n: rng.uniform(size=(n, 3))),
    "sigmoid-log_loss": ("sigmoid", "log_loss", lambda rng, n: rng.integers(0, 2, (n, 3))),
    "identity-huber": ("identity", "huber", lambda rng, n: rng.normal(size=(n, 3))),
    "tanh-absolute": ("tanh", "absolute", lambda rng, n: rng.uniform(-1, 1, (n, 3))),
    "exp-poisson": ("exp", "poisson", lambda rng, n: rng.poisson(1.0, (n, 3))),
}


def fit_with_skips(outputs, X, batch_size, device="cuda"):
    """(parameters, losses) of two epochs of a network with summed and concatenated skip
    connections, every hidden activation, and the output and loss ``OUTPUTS[outputs]``; graphs
    on unless switched off around the call."""
    output, loss, targets = OUTPUTS[outputs]
    n_in, width = X.shape[1], 2 * X.shape[1]
    layers = [n_in, bp.Layer(width, "sigmoid"), bp.Layer(width, "leaky_relu"),
              bp.Layer(width, "softplus", inputs=[1, 2], combine="sum"),
              bp.Layer(width, "tanh", inputs=[0, 3]), bp.Layer(3, output)]  # fmt: skip
    net = bp.Network(layers, loss=loss, seed=2, device=device)
    y = targets(np.random.default_rng(3), X.shape[0])
    history = net.fit(X, y, epochs=2, batch_size=batch_size, optimizer="adam", warn=False)
    return net.backend.to_host(net.params), history.loss


@pytest.mark.parametrize("outputs", OUTPUTS)
def test_every_activation_loss_and_skip_connection_replays_exactly(cupy, outputs):
    """Captured for every output and loss (``nothing_refused_in_a_capture`` fails the test
    if a capture is refused), and replayed exactly."""
    X = data()[0]
    params, losses = fit_with_skips(outputs, X, 16)
    (graph,) = fake_cupy.ReplayedGraph.captures
    assert graph.launches == 5  # 3 full batches an epoch, less the first, run to warm up
    with cuda_graphs(False):
        expected, expected_losses = fit_with_skips(outputs, X, 16)
    np.testing.assert_array_equal(params, expected)
    assert losses == expected_losses


def test_sample_weights_and_a_schedule_replay_exactly(cupy):
    weights = np.random.default_rng(2).uniform(0.5, 2.0, size=50)
    options = dict(sample_weight=weights, schedule=bp.schedules.StepDecay(1, 0.5), epochs=4)
    params, losses = train(True, **options)
    assert len(fake_cupy.ReplayedGraph.captures) == 4  # a new learning rate each epoch
    expected, expected_losses = train(False, **options)
    np.testing.assert_array_equal(params, expected)
    assert losses == expected_losses


@pytest.mark.parametrize("gathered", [True, False], ids=["a batch at a time", "whole"])
def test_the_graph_gathers_and_logs_its_own_batches(cupy, monkeypatch, gathered):
    """With the training data on the GPU, the graph gathers each batch from the data and logs
    it (``walk``): outside the graph, no batch is gathered or copied, except the last, partial
    one (run kernel by kernel), and the fit is the fit without graphs, bit for bit."""
    if gathered:  # shuffled data too large to gather whole comes a batch at a time
        monkeypatch.setattr(Batches, "WHOLE_BYTES", 0)
    made = []
    for name in ("copyto", "take"):
        monkeypatch.setattr(cupy, name, _counting(made, getattr(np, name)), raising=False)
    weights = np.random.default_rng(2).uniform(0.5, 2.0, size=50)
    params, losses = train(True, sample_weight=weights)
    (graph,) = fake_cupy.ReplayedGraph.captures
    assert graph.launches == 8  # 3 epochs of 3 full batches, less the first (warming up)
    assert not [shape for shape in made if shape[0] == 16]  # a full batch's rows
    assert [shape for shape in made if shape[0] == 2]  # the partial batch's, so this counts
    expected, expected_losses = train(False, sample_weight=weights)
    np.testing.assert_array_equal(params, expected)
    assert losses == expected_losses


def test_batches_skipped_or_run_outside_the_graph_leave_it_reading_the_right_rows(cupy):
    """A batch whose weights are all 0 is skipped, and the graph's position in the data and in
    the loss log is set past it; so too after the batches run kernel by kernel."""
    weights = np.ones(50)
    weights[16:32] = 0  # the second batch, unshuffled
    options = dict(sample_weight=weights, shuffle=False, epochs=4)
    params, losses = train(True, **options)
    assert fake_cupy.ReplayedGraph.captures[0].launches == 7  # 2 full batches an epoch, less 1
    expected, expected_losses = train(False, **options)
    np.testing.assert_array_equal(params, expected)
    assert losses == expected_losses


def test_the_batch_that_records_the_layer_statistics_is_a_graph_of_its_own(cupy):
    """With full batches only, the epoch's last batch, which records the layer statistics,
    warms up in the first epoch, is captured in the second and replays in the third; the
    statistics, like the weights and the losses, are those of the fit without graphs."""
    params, history = fit(True, n=48)  # full batches only
    plain, observed = fake_cupy.ReplayedGraph.captures
    assert (plain.launches, observed.launches) == (5, 2)
    expected, expected_history = fit(False, n=48)
    np.testing.assert_array_equal(params, expected)
    assert history.loss == expected_history.loss
    assert history.layer_records == expected_history.layer_records
    assert len(history.layer_records["update_ratio"]) == 3
    assert all(value > 0 for value in history.layer_records["update_ratio"][2])


def test_a_statistics_batch_that_cannot_be_captured_leaves_the_plain_step_replayed(
    cupy, monkeypatch
):
    """Should only the capture of the step that records the statistics fail, that batch runs
    kernel by kernel, with a warning, and every other batch still replays."""
    real = graphs.capture
    made = []

    def second_refused(*args):
        made.append(args)
        if len(made) == 2:  # the plain step is captured in the first epoch, this in the second
            raise NotImplementedError("refused")
        return real(*args)

    monkeypatch.setattr(graphs, "capture", second_refused)
    with pytest.warns(RuntimeWarning, match="not as a CUDA graph: NotImplementedError: refused"):
        params, history = fit(True, n=48)  # full batches only
    (plain,) = fake_cupy.ReplayedGraph.captures
    assert plain.launches == 5  # both full batches of every epoch, less the first
    expected, expected_history = fit(False, n=48)
    np.testing.assert_array_equal(params, expected)
    assert history.layer_records == expected_history.layer_records


def test_streamed_batches_are_copied_into_the_graphs_inputs(cupy, monkeypatch):
    """Batches that come from host memory a chunk at a time are given to the step as arrays,
    copied into the graph's inputs before each launch."""
    made = []
    monkeypatch.setattr(cupy, "copyto", _counting(made, np.copyto), raising=False)
    with bp.gpu.streaming_above(0):
        params, losses = train(True)
    (graph,) = fake_cupy.ReplayedGraph.captures
    assert graph.launches == 8
    assert len([shape for shape in made if shape == (16, 4)]) == 9  # every full batch's X
    with bp.gpu.streaming_above(0):
        expected, expected_losses = train(False)
    np.testing.assert_array_equal(params, expected)
    assert losses == expected_losses


def _counting(shapes: list, function):
    """``function`` (numpy's ``copyto`` or ``take``), noting the shape it writes outside a
    graph's capture or replay."""

    def counted(*args, **options):
        out = options.get("out", args[0] if function is np.copyto else None)
        if out is not None and fake_cupy.Stream.capturing is None:
            shapes.append(out.shape)
        plain = [np.asarray(a).view(np.ndarray) for a in args]
        if "out" in options:
            options["out"] = options["out"].view(np.ndarray)
        return fake_cupy._device(function(*plain, **options))

    return counted


def test_turning_tf32_on_between_fits_captures_the_step_anew(cupy):
    net = bp.Network([4, 8, 3], loss="cross_entropy", output="softmax", device="cuda", seed=0)
    X, y = data(48)
    step = GraphedStep(TrainingStep(net, bp.SGD(0.1)))
    state = step.optimizer.init(net.params, xp=net.xp)
    X, Y, _ = net.check_data(X, y)
    for tf32 in (False, False, False, True, True):
        with bp.gpu.tf32(tf32):
            state = step(X[:16], Y[:16], None, 0.1, state).optimizer_state
    assert len(fake_cupy.ReplayedGraph.captures) == 2


def test_partial_and_observed_batches_and_reducers_are_not_captured(cupy):
    net = bp.Network([4, 8, 3], loss="cross_entropy", output="softmax", device="cuda", seed=0)
    X, Y, _ = net.check_data(*data(48))
    step = GraphedStep(TrainingStep(net, bp.SGD(0.1)))
    state = step.optimizer.init(net.params, xp=net.xp)
    for rows, observe in [(16, False), (16, True), (10, False), (16, False), (16, False)]:
        state = step(X[:rows], Y[:rows], None, 0.1, state, observe=observe).optimizer_state
    (graph,) = fake_cupy.ReplayedGraph.captures
    assert graph.launches == 2  # the 4th and 5th call; the 1st warmed up, the rest eager
    reducing = TrainingStep(net, bp.SGD(0.1), reduce_gradients=lambda grads, share: share)
    assert net.xp.wrap_step(reducing) is reducing


def test_a_capture_that_fails_warns_and_training_goes_on(cupy, monkeypatch):
    def refuse(*args):
        raise NotImplementedError("calling cuBLAS API during stream capture is unsupported")

    monkeypatch.setattr(graphs, "capture", refuse)
    with pytest.warns(RuntimeWarning, match="not as a CUDA graph: NotImplementedError: calling"):
        params, losses = train(True)
    expected, expected_losses = train(False)
    np.testing.assert_array_equal(params, expected)
    assert losses == expected_losses


HOST_WORK_IN_A_STEP = {
    "float() of a device array": lambda net, cupy: float(net.params[0]),
    "a copy from host memory": lambda net, cupy: net.xp.asarray(np.ones(3, np.float32)),
    "a copy to host memory": lambda net, cupy: net.xp.to_host(net.params),
    "cupy.matmul": lambda net, cupy: cupy.matmul(net.params[None, :], net.params[:, None]),
    "the @ operator": lambda net, cupy: net.params @ net.params,
    "cupy.einsum": lambda net, cupy: cupy.einsum("i,i->", net.params, net.params),
    "a cuRAND draw": lambda net, cupy: cupy.random.RandomState(np.uint64(0)).random_sample(3),
}


@pytest.mark.parametrize("refused", HOST_WORK_IN_A_STEP)
def test_what_a_capture_cannot_hold_is_refused_and_the_step_runs_kernel_by_kernel(
    cupy, monkeypatch, refused
):
    """The stand-in refuses in a capture what CUDA and CuPy refuse (``fake_cuda``): a step
    doing any of it is not captured, and the fit goes on kernel by kernel with a warning."""
    step_call = TrainingStep.__call__

    def step_with_host_work(self, *args, **kwargs):
        HOST_WORK_IN_A_STEP[refused](self.net, cupy)  # first: the stand-in's capture runs it
        return step_call(self, *args, **kwargs)

    monkeypatch.setattr(TrainingStep, "__call__", step_with_host_work)
    with pytest.warns(RuntimeWarning, match=f"CaptureRefused: {re.escape(refused)}"):
        params, _ = train(True)
    assert fake_cupy.Stream.refused and fake_cupy.Stream.capturing is None
    fake_cupy.Stream.refused.clear()
    monkeypatch.setattr(TrainingStep, "__call__", step_call)
    np.testing.assert_array_equal(params, train(False)[0])


def test_graphs_can_be_switched_off_and_back(cupy):
    assert cuda_graphs_enabled()
    with cuda_graphs(False):
        assert not cuda_graphs_enabled()
        train(True)  # train() turns them on again for the fit
        assert not cuda_graphs_enabled()
    assert cuda_graphs_enabled() and len(fake_cupy.ReplayedGraph.captures) == 1
    set_cuda_graphs(False)
    try:
        net = bp.Network([4, 3], device="cuda")
        step = TrainingStep(net, bp.SGD(0.1))
        assert net.xp.wrap_step(step) is step
    finally:
        set_cuda_graphs(True)
    with pytest.raises(TypeError, match="enabled must be True or False"):
        set_cuda_graphs("no")


def test_cpu_networks_never_wrap_their_step():
    net = bp.Network([2, 1])
    step = TrainingStep(net, bp.SGD(0.1))
    assert net.xp.wrap_step(step) is step


def test_the_constant_ring_waits_only_for_the_half_it_writes_again(cupy, monkeypatch):
    waits, recorded = [], []

    class Event:
        def record(self, stream=None):
            recorded.append(self)

        def synchronize(self):
            waits.append(recorded.index(self))

    monkeypatch.setattr(cupy.cuda, "Event", Event)
    ring = ConstantRing(cupy, np.float32, rows=4, width=2)
    buffer = cupy.asarray(np.zeros(2, np.float32))
    for step in range(9):
        ring.copy((step, -step), buffer)
        assert cupy.asnumpy(buffer).tolist() == [step, -step]
    assert len(recorded) == 4  # one each time a half is left
    assert waits == [0, 1, 2]  # before rows 0-1 are written again, then 2-3, then 0-1


def test_graphs_leave_no_warning_when_they_work(cupy):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        train(True)


def test_the_graph_takes_a_batch_only_where_it_stays_inside_the_data_and_the_log(cupy):
    """The captured gathers and writes have no bounds of their own (on a GPU, rows past the end
    are someone else's memory), so ``take`` declines a batch that would run past either."""
    net = bp.Network([4, 8, 3], loss="cross_entropy", output="softmax", device="cuda", seed=0)
    X, Y, _ = net.check_data(*data(48))
    batches = Batches(net.xp, Data(net.xp.asarray(X), net.xp.asarray(Y)), 16)
    log = LossLog(net, 16, 48, weighted=False)
    walk = Walk(net.xp, batches, log)
    assert Walk.suits(batches, log) and walk.fits(0) and walk.fits(32)
    assert not walk.fits(33)  # past the data
    log.used = 40
    assert not walk.fits(0)  # past the log
