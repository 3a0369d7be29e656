"""Training data larger than the GPU's memory, streamed from the host a chunk at a time
(``backprop.gpu.streaming``), over the numpy stand-in for CuPy: the same batches, hence the
same network, as data copied to the GPU whole, and copies ordered against the steps by events.
"""

from __future__ import annotations

import fake_cupy
import numpy as np
import pytest

import backprop as bp
from backprop.gpu import set_stream_limit, stream_limit, streaming, streaming_above
from backprop.training.batches import Data


@pytest.fixture
def cupy(monkeypatch, registry):
    monkeypatch.setattr(streaming, "CHUNK_BYTES", 40 * 24)  # chunks of 40 rows of 6 floats
    return fake_cupy.install(monkeypatch, device_count=1, free_memory=1 << 30)


def data(n=150):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, 4)).astype(np.float32)
    return X, np.arange(n) % 2, rng.uniform(0.5, 2.0, size=n)


def train(limit, **options):
    net = bp.Network([4, bp.Layer(8, "tanh", dropout=0.2), bp.Layer(2, "softmax")],
                     loss="cross_entropy", seed=3, device="cuda")  # fmt: skip
    X, y, weights = data()
    settings = dict(epochs=3, batch_size=16, optimizer="adam", warn=False, sample_weight=weights)
    with streaming_above(limit):
        history = net.fit(X, y, **{**settings, **options})
    return net.backend.to_host(net.params), history


@pytest.mark.parametrize(
    "options",
    [{}, {"shuffle": False}, {"validation_split": 0.2, "early_stopping": True}],
    ids=["shuffled", "in order", "held out"],
)
def test_a_streamed_fit_trains_the_network_a_whole_copy_trains(cupy, options):
    params, history = train(0, **options)  # every byte streamed: 4 chunks, the last partial
    assert any(entry[0] == "copy" for entry in fake_cupy.Stream.log)
    expected, expected_history = train(None, **options)  # 1 GiB free: copied over whole
    np.testing.assert_array_equal(params, expected)
    assert history.records == expected_history.records  # losses, and any validation's


def test_data_above_half_the_free_memory_is_streamed(cupy):
    xp = bp.Network([4, 2], device="cuda").xp
    assert stream_limit() is None
    assert not xp.streams(1 << 29) and xp.streams((1 << 29) + 1)  # half of 1 GiB
    with streaming_above(1000):
        assert xp.streams(1001) and not xp.streams(1000)
    assert stream_limit() is None
    X, y, _ = data()
    assert xp.stream_batches(Data(xp.asarray(X), xp.asarray(y[:, None])), 16) is None
    assert isinstance(xp.stream_batches(Data(X, y[:, None].astype(np.float32)), 16),
                      streaming.StreamedBatches)  # fmt: skip


@pytest.mark.parametrize("limit, error", [(-1, ValueError), (1.5, TypeError), (True, TypeError)])
def test_a_stream_limit_must_be_bytes(limit, error):
    with pytest.raises(error, match="stream limit must be"):
        set_stream_limit(limit)
    assert stream_limit() is None


def test_chunks_are_copied_ahead_and_ordered_by_events(cupy):
    xp = bp.Network([4, 2], device="cuda").xp
    X, y, _ = data()
    Y = np.eye(2, dtype=np.float32)[y]
    batches = streaming.StreamedBatches(xp, Data(X, Y), 16)
    assert batches.chunk == 32  # whole batches: 40 rows' bytes hold 2 of 16
    order = xp.permutation(np.random.default_rng(0), 150)
    rows = xp.to_host(order)
    log = fake_cupy.Stream.log
    log.clear()
    for start in range(0, 150, 16):
        got_X, got_Y, _ = batches.get(order, start)
        np.testing.assert_array_equal(xp.to_host(got_X), X[rows[start : start + 16]])
        np.testing.assert_array_equal(xp.to_host(got_Y), Y[rows[start : start + 16]])
    copies = [entry for entry in log if entry[0] == "copy"]
    assert len(copies) == 2 * 5  # inputs and targets of 5 chunks (150 rows), each copied once
    assert all(entry[2] is batches.copy_stream for entry in copies)
    # chunk 1 is copied before chunk 0's second batch is served: ahead of the steps
    first_wait = [i for i, entry in enumerate(log) if entry[0] == "wait"]
    assert [entry[0] for entry in log[: first_wait[0]]].count("copy") == 4
    # a copy into a buffer waits (on the copy stream) for the steps that read it last
    read_events = [entry[1] for entry in log if entry[0] == "record" and entry[2] is not
                   batches.copy_stream]  # fmt: skip
    waited = [entry[2] for entry in log if entry[0] == "wait" and entry[1] is batches.copy_stream]
    assert read_events and read_events[:-1] == waited[: len(read_events) - 1]


def test_predict_copies_inputs_larger_than_the_gpu_holds_a_batch_at_a_time(cupy, monkeypatch):
    net = bp.Network([4, 8, 2], "tanh", "softmax", "cross_entropy", seed=3, device="cuda")
    X = data()[0]
    net.predict(X[:1])  # the first product checks cuBLAS, copying its own test arrays
    copied = []
    asarray = cupy.asarray
    monkeypatch.setattr(
        cupy, "asarray", lambda a, dtype=None: copied.append(len(a)) or asarray(a, dtype)
    )
    whole = net.backend.to_host(net.predict(X, batch_size=64))
    assert copied == [150]
    copied.clear()
    with streaming_above(X.nbytes - 1):
        streamed = net.backend.to_host(net.predict(X, batch_size=64))
    assert copied == [64, 64, 22]
    np.testing.assert_array_equal(streamed, whole)
    np.testing.assert_allclose(whole, net.copy(backend="cpu").predict(X), rtol=1e-6)
