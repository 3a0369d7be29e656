"""On a CUDA GPU: training data streamed from pinned host memory a chunk at a time, on a copy
stream of its own, trains bit for bit the network that data copied over whole trains."""

from __future__ import annotations

import numpy as np
import pytest

import backprop as bp
from backprop.gpu import streaming, streaming_above


@pytest.mark.parametrize("shuffle", [True, False])
def test_a_streamed_fit_trains_the_network_a_whole_copy_trains(gpu, monkeypatch, shuffle):
    monkeypatch.setattr(streaming, "CHUNK_BYTES", 1 << 20)  # 7 chunks of 2,048 rows
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(13_000, 100)).astype(np.float32), rng.integers(0, 10, size=13_000)
    weights = rng.uniform(0.5, 2.0, size=13_000)

    def train(limit):
        net = bp.Network([100, bp.Layer(256, "relu", dropout=0.1), bp.Layer(10, "softmax")],
                         loss="cross_entropy", seed=0, device="cuda")  # fmt: skip
        options = dict(shuffle=shuffle, sample_weight=weights, validation_split=0.1, warn=False)
        with streaming_above(limit):
            history = net.fit(X, y, epochs=2, batch_size=256, optimizer="adam", **options)
        return net.backend.to_host(net.params), history.records

    params, records = train(0)
    expected, expected_records = train(None)
    np.testing.assert_array_equal(params, expected)
    assert records == expected_records


def test_predict_on_inputs_copied_a_batch_at_a_time_equals_a_whole_copy(gpu):
    X = np.random.default_rng(1).normal(size=(10_000, 100)).astype(np.float32)
    net = bp.Network([100, 256, 10], "relu", "softmax", "cross_entropy", seed=0, device="cuda")
    whole = net.backend.to_host(net.predict(X, batch_size=4096))
    with streaming_above(0):
        streamed = net.backend.to_host(net.predict(X, batch_size=4096))
    np.testing.assert_array_equal(streamed, whole)
