"""The fit loop: the three modes of gradient descent, reference problems, and the extras."""

import numpy as np
import pytest

import backprop as bp
from backprop.engine.backend import NUMPY
from backprop.training.batches import Batches, Data


def toy_problem(n=10, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    Y = np.stack([np.sin(X[:, 0]), X[:, 1] * X[:, 2]], axis=1)
    return X, Y


def toy_network(seed=1, dtype="float64"):
    return bp.Network([3, 5, 2], hidden="tanh", output="identity", dtype=dtype, seed=seed)


def by_hand(net, X, Y, batches, lr):
    """Plain gradient descent from backprop()'s gradients, one batch (row index list) at a time."""
    net = net.copy()
    for rows in batches:
        trace = net.backprop(X[rows], Y[rows])
        for l in range(1, net.n_layers + 1):
            net.layers[l].W = trace.W[l] - lr * trace.grad_W[l]
            net.layers[l].b = trace.b[l] - lr * trace.grad_b[l]
    return net.params


@pytest.mark.parametrize(
    "batch_size, batches",
    [
        (None, [list(range(10))]),  # batch: one update per epoch
        (1, [[i] for i in range(10)]),  # stochastic: one per sample
        (4, [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]),  # mini-batch, last batch partial
    ],
    ids=["batch", "stochastic", "mini-batch"],
)
def test_each_mode_makes_the_updates_one_makes_by_hand(batch_size, batches):
    X, Y = toy_problem()
    net = toy_network()
    expected = by_hand(net, X, Y, batches * 2, lr=0.1)
    net.fit(X, Y, epochs=2, batch_size=batch_size, shuffle=False, optimizer=bp.SGD(lr=0.1))
    np.testing.assert_allclose(net.params, expected, rtol=1e-12, atol=1e-14)


def test_shuffled_mini_batches_follow_the_seeded_permutation():
    X, Y = toy_problem()
    net = toy_network()
    order = np.random.default_rng(1).permutation(10)  # the network's generator after init
    reference = net.copy()
    reference.rng = np.random.default_rng(1)
    reference.initialize()  # advance the generator exactly as construction did
    order = reference.rng.permutation(10)
    expected = by_hand(net, X, Y, [order[:4], order[4:8], order[8:]], lr=0.05)
    net.fit(X, Y, epochs=1, batch_size=4, optimizer=bp.SGD(lr=0.05))
    np.testing.assert_allclose(net.params, expected, rtol=1e-12, atol=1e-14)


def test_the_same_seed_gives_bitwise_the_same_training():
    X, Y = toy_problem(50)
    runs = []
    for _ in range(2):
        net = bp.Network([3, bp.Layer(8, "relu", dropout=0.2), 2], output="identity", seed=7)
        net.fit(X, Y, epochs=5, batch_size=8, optimizer="adam")
        runs.append(net.params.copy())
    assert runs[0].dtype == np.float32
    assert np.array_equal(runs[0], runs[1])


def test_xor_is_learned_by_batch_gradient_descent_from_nearly_every_seed():
    X, y = bp.datasets.xor()[:2]
    learned = 0
    for seed in range(20):
        net = bp.Network([2, 4, 1], hidden="sigmoid", output="sigmoid", seed=seed)
        net.fit(X, y, epochs=4000, batch_size=None, optimizer=bp.SGD(lr=2.0))
        learned += bool(np.array_equal(net.predict_classes(X), y))
    assert learned >= 18


def test_sin_is_fitted_by_one_tanh_hidden_layer():
    data = bp.datasets.sin(n_samples=200)
    net = bp.Network([1, 16, 1], hidden="tanh", output="identity", seed=0)
    history = net.fit(data.X, data.y, epochs=300, batch_size=16, optimizer="adam", lr=0.01)
    assert np.abs(net.predict(data.X)[:, 0] - data.y).max() < 0.1
    assert history.loss[-1] < history.loss[0] / 100


def test_history_records_every_epoch():
    X, y = bp.datasets.two_moons(n_samples=120, seed=0)[:2]
    net = bp.Network([2, 8, 8, 2], hidden="relu", output="softmax", loss="cross_entropy", seed=0)
    history = net.fit(X, y, epochs=6, batch_size=16, optimizer="adam", validation_split=0.25)
    assert len(history) == 6
    for key in ("loss", "val_loss", "val_accuracy", "lr"):
        assert len(history[key]) == 6 and all(np.isfinite(history[key]))
    assert history.mean_abs_delta.shape == (6, 3) and history.grad_norm.shape == (6, 3)
    assert (history.grad_norm > 0).all()
    assert history.loss[-1] < history.loss[0]
    assert 0 <= history.val_accuracy[-1] <= 1


def test_history_records_the_l2_part_of_the_loss():
    X, Y = toy_problem(40)
    net = toy_network()
    start = np.array(net.params[: net.n_weights], dtype=np.float64)
    history = net.fit(X, Y, epochs=2, batch_size=None, l2=0.5)
    # one batch per epoch: the term of the weights the first gradient was taken at
    assert history.l2_penalty[0] == pytest.approx(0.25 * float(start @ start), rel=1e-5)
    assert 0 < history.l2_penalty[1] < history.loss[1]
    assert "l2_penalty" not in toy_network().fit(X, Y, epochs=1).records


def test_validation_data_and_metrics():
    X, Y = toy_problem(40)
    net = toy_network()
    history = net.fit(
        X[:30], Y[:30], epochs=3, validation_data=(X[30:], Y[30:]), metrics=["mae", "mse"]
    )
    expected = bp.evaluate(net, X[30:], Y[30:], ["mae"])
    assert history.val_loss[-1] == pytest.approx(expected["val_loss"], rel=1e-12)
    assert history.val_mae[-1] == pytest.approx(expected["val_mae"], rel=1e-12)
    assert "val_mse" in history


def test_early_stopping_restores_the_best_weights():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(60, 5)), rng.normal(size=60)  # pure noise: validation loss rises
    net = bp.Network([5, 64, 1], hidden="relu", output="identity", seed=0)
    seen = []
    history = net.fit(
        X[:40],
        y[:40],
        epochs=500,
        batch_size=8,
        optimizer="adam",
        lr=0.01,
        validation_data=(X[40:], y[40:]),
        early_stopping=bp.EarlyStopping(patience=5),
        callbacks=[lambda net, epoch, logs: seen.append(net.params.copy())],
    )
    assert history.stopped_early and len(history) < 500
    best = history.best_epoch
    assert history.val_loss[best] == min(history.val_loss)
    assert len(history) == best + 1 + 6  # patience 5: stops on the 6th epoch without progress
    np.testing.assert_array_equal(net.params, seen[best])


def test_early_stopping_on_accuracy_keeps_the_most_accurate_weights():
    data = bp.datasets.two_moons(n_samples=120, noise=0.35, seed=2)
    net = bp.Network([2, 32, 2], hidden="relu", output="softmax", loss="cross_entropy", seed=1)
    seen = []
    history = net.fit(
        data.X[:80],
        data.y[:80],
        epochs=200,
        batch_size=8,
        optimizer="adam",
        lr=0.05,
        validation_data=(data.X[80:], data.y[80:]),
        early_stopping=bp.EarlyStopping(patience=4, monitor="val_accuracy"),
        callbacks=[lambda net, epoch, logs: seen.append(net.params.copy())],
    )
    accuracy = history.val_accuracy
    best = history.best_epoch
    assert accuracy[best] == max(accuracy) > min(accuracy)  # the most accurate, not the least
    assert best == accuracy.index(max(accuracy))
    np.testing.assert_array_equal(net.params, seen[best])


@pytest.mark.parametrize("monitor", ["val_los", "val_accuracy", "accuracy"])
def test_a_monitor_training_does_not_record_is_refused(monitor):
    X, Y = toy_problem()
    net = toy_network()
    before = net.params.copy()
    with pytest.raises(ValueError, match=f"monitors '{monitor}'.*loss, val_loss"):
        net.fit(
            X,
            Y,
            epochs=3,
            validation_split=0.25,
            early_stopping=bp.EarlyStopping(monitor=monitor),
            metrics=["mae"],
        )
    np.testing.assert_array_equal(net.params, before)


def test_a_schedule_monitoring_a_name_training_does_not_record_is_refused():
    X, Y = toy_problem()
    schedule = bp.schedules.ReduceOnPlateau(monitor="val_acuracy")
    with pytest.raises(ValueError, match="schedule monitors 'val_acuracy'"):
        toy_network().fit(X, Y, epochs=3, validation_split=0.25, schedule=schedule)


def test_the_convergence_warning_points_at_the_callers_line():
    X, Y = toy_problem()
    with pytest.warns(bp.ConvergenceWarning) as caught:
        toy_network().fit(X, Y, epochs=12, batch_size=None, optimizer=bp.SGD(0.01))
    assert caught[0].filename == __file__
    with pytest.warns(bp.ConvergenceWarning) as caught:
        bp.fit(toy_network(), X, Y, epochs=12, batch_size=None, optimizer=bp.SGD(0.01))
    assert caught[0].filename == __file__


def test_callback_returning_true_stops_training():
    X, Y = toy_problem()
    history = toy_network().fit(X, Y, epochs=50, callbacks=[lambda net, e, logs: e == 2])
    assert len(history) == 3


def test_l2_adds_lambda_w_to_the_weight_gradient_only():
    X, Y = toy_problem()
    net = toy_network()
    trace = net.backprop(X, Y)
    lam, lr = 0.3, 0.1
    expected_W = trace.W[1] - lr * (trace.grad_W[1] + lam * trace.W[1])
    expected_b = trace.b[1] - lr * trace.grad_b[1]
    history = net.fit(X, Y, epochs=1, batch_size=None, l2=lam, optimizer=bp.SGD(lr=lr))
    np.testing.assert_allclose(net.layers[1].W, expected_W, rtol=1e-12)
    np.testing.assert_allclose(net.layers[1].b, expected_b, rtol=1e-12)
    penalty = 0.5 * lam * sum((trace.W[l] ** 2).sum() for l in (1, 2))
    assert history.loss[0] == pytest.approx(trace.loss + penalty, rel=1e-12)


def test_clip_norm_limits_the_step():
    X, Y = toy_problem()
    net = toy_network()
    before = net.params.copy()
    net.fit(X, Y * 100, epochs=1, batch_size=None, clip_norm=0.01, optimizer=bp.SGD(lr=1.0))
    assert np.linalg.norm(net.params - before) == pytest.approx(0.01, rel=1e-9)


def test_schedule_sets_the_learning_rate_each_epoch():
    X, Y = toy_problem()
    history = toy_network().fit(
        X, Y, epochs=5, optimizer=bp.SGD(lr=0.1), schedule=bp.schedules.StepDecay(2, 0.5)
    )
    assert history.lr == pytest.approx([0.1, 0.1, 0.05, 0.05, 0.025])


@pytest.mark.parametrize("optimizer", ["sgd", "adam", "rmsprop", "adagrad"])
def test_every_optimizer_reduces_the_loss_and_keeps_the_buffers(optimizer):
    X, Y = toy_problem(64)
    net = toy_network(dtype="float32")
    params, grads, W = net.params, net.grads, net.layers[1].W
    history = net.fit(X, Y, epochs=30, batch_size=16, optimizer=optimizer)
    assert history.loss[-1] < history.loss[0]
    assert net.params is params and net.grads is grads  # updated in place
    assert np.shares_memory(net.layers[1].W, params) and np.shares_memory(W, params)
    assert net.params.dtype == np.float32


def test_sample_weights_equal_repeated_rows():
    X, Y = toy_problem(6)
    counts = np.array([1, 3, 0, 2, 1, 1])
    weighted, repeated = toy_network(), toy_network()
    weighted.fit(X, Y, epochs=3, batch_size=None, sample_weight=counts, optimizer=bp.SGD(0.1))
    repeated.fit(
        np.repeat(X, counts, 0),
        np.repeat(Y, counts, 0),
        epochs=3,
        batch_size=None,
        optimizer=bp.SGD(0.1),
    )
    np.testing.assert_allclose(weighted.params, repeated.params, rtol=1e-12)


def test_divergence_stops_with_a_clear_error_and_restores_weights():
    X, Y = toy_problem()
    net = bp.Network(
        [3, 8, 2], hidden="relu", output="exp", loss="poisson", dtype="float32", seed=0
    )
    with pytest.raises(bp.TrainingDiverged, match=r"epoch \d+, batch \d+.*learning rate"):
        net.fit(X * 100, np.abs(Y), epochs=50, optimizer=bp.SGD(lr=100.0))
    assert np.isfinite(net.params).all()


def test_verbose_shows_progress(capsys):
    X, Y = toy_problem()
    toy_network().fit(X, Y, epochs=3, verbose=True)
    err = capsys.readouterr().err
    assert "loss" in err


def test_epochs_zero_changes_nothing():
    X, Y = toy_problem()
    net = toy_network()
    before = net.params.copy()
    history = net.fit(X, Y, epochs=0)
    assert len(history) == 0 and np.array_equal(net.params, before)


def test_l2_per_sample_divides_the_penalty_by_the_batch_weight():
    X, Y = toy_problem()
    net = toy_network()
    trace = net.backprop(X, Y)
    lam, lr = 0.3, 0.1
    expected_W = trace.W[1] - lr * (trace.grad_W[1] + lam / 10 * trace.W[1])
    net.fit(X, Y, epochs=1, batch_size=None, l2=lam, l2_per_sample=True, optimizer=bp.SGD(lr))
    np.testing.assert_allclose(net.layers[1].W, expected_W, rtol=1e-12)


def test_optimizer_state_continues_training_exactly():
    X, Y = toy_problem(32)
    whole, split = toy_network(), toy_network()
    whole.fit(X, Y, epochs=4, batch_size=None, optimizer="adam")
    first = split.fit(X, Y, epochs=2, batch_size=None, optimizer="adam")
    assert first.optimizer_state.step == 2
    split.fit(
        X,
        Y,
        epochs=2,
        batch_size=None,
        optimizer=first.optimizer,
        optimizer_state=first.optimizer_state,
    )
    np.testing.assert_array_equal(whole.params, split.params)


def test_batches_whose_weights_are_all_zero_are_skipped():
    X, Y = toy_problem(8)
    weights = np.array([0, 0, 0, 0, 1, 2, 1, 1.0])
    net = toy_network()
    history = net.fit(
        X, Y, epochs=2, batch_size=4, shuffle=False, sample_weight=weights, optimizer=bp.SGD(0.1)
    )
    expected = toy_network()
    expected.fit(
        X[4:],
        Y[4:],
        epochs=2,
        batch_size=4,
        shuffle=False,
        sample_weight=weights[4:],
        optimizer=bp.SGD(0.1),
    )
    np.testing.assert_array_equal(net.params, expected.params)
    assert np.isfinite(history.loss).all()


# --- the optimised loop against a straightforward one over backprop() ----------------------


def reference_fit(net, X, Y, weights, *, epochs, batch, lr, l2, l2_per_sample, shuffle):
    """fit() written plainly: backprop() per batch, Adam from the paper, losses by hand."""
    net, rng = net.copy(), np.random.default_rng()
    rng.bit_generator.state = net.rng.bit_generator.state  # fit permutes with the net's generator
    beta_1, beta_2, eps = 0.9, 0.999, 1e-8
    moments = {
        key: [np.zeros(getattr(layer, key[1]).shape) for layer in net.layers[1:]]
        for key in ("mW", "vW", "mb", "vb")
    }
    n, t, losses = X.shape[0], 0, []
    for _ in range(epochs):
        order = rng.permutation(n) if shuffle else np.arange(n)
        total = total_share = 0.0
        for start in range(0, n, batch):
            rows = order[start : start + batch]
            w = None if weights is None else weights[rows]
            share = len(rows) if w is None else float(w.sum())
            trace = net.backprop(X[rows], Y[rows], sample_weight=w)
            lam = l2 / share if l2_per_sample else l2
            Ws = [np.asarray(layer.W, dtype=float) for layer in net.layers[1:]]
            penalty = 0.5 * lam * sum((W**2).sum() for W in Ws)
            total += share * (trace.loss + penalty)
            total_share += share
            t += 1
            for i, layer in enumerate(net.layers[1:]):
                for key, param, grad in (
                    ("W", Ws[i], trace.grad_W[i + 1] + lam * Ws[i]),
                    ("b", np.asarray(layer.b, dtype=float), trace.grad_b[i + 1]),
                ):
                    m, v = moments["m" + key], moments["v" + key]
                    m[i] = beta_1 * m[i] + (1 - beta_1) * grad
                    v[i] = beta_2 * v[i] + (1 - beta_2) * grad**2
                    m_hat, v_hat = m[i] / (1 - beta_1**t), v[i] / (1 - beta_2**t)
                    setattr(layer, key, param - lr * m_hat / (np.sqrt(v_hat) + eps))
        losses.append(total / total_share)
    return net.params, losses


FAST_PATH_CASES = {
    # name: (hidden, output, loss, dtype, batch, weighted, l2, l2_per_sample)
    "softmax-ce-f64-minibatch": ("relu", "softmax", "cross_entropy", "float64", 7, False, 0, False),
    "softmax-ce-f64-weighted-l2": (
        "relu",
        "softmax",
        "cross_entropy",
        "float64",
        16,
        True,
        0.01,
        True,
    ),
    "sigmoid-squared-f64-sgd": ("tanh", "sigmoid", "squared", "float64", 1, False, 0.001, False),
    "identity-huber-f64-weighted": (
        "leaky_relu",
        "identity",
        "huber",
        "float64",
        5,
        True,
        0,
        False,
    ),
    "softmax-ce-f32": ("relu", "softmax", "cross_entropy", "float32", 8, True, 0.001, False),
}


@pytest.mark.parametrize("case", FAST_PATH_CASES.values(), ids=FAST_PATH_CASES)
@pytest.mark.parametrize(
    "log_rows", [4096, 24, None], ids=["log-whole-epoch", "log-flushes-often", "log-read-per-epoch"]
)
@pytest.mark.usefixtures("kernels")
def test_optimised_loop_equals_a_plain_loop_over_backprop(case, log_rows, monkeypatch):
    """Same weights and epoch losses after several Adam steps, shuffled, with the extras on."""
    hidden, output, loss, dtype, batch, weighted, l2, l2_per_sample = case
    monkeypatch.setattr(NUMPY, "loss_log_rows", log_rows)
    rng = np.random.default_rng(5)
    X = rng.normal(size=(45, 4))
    labels = rng.integers(0, 3, size=45)
    Y = np.eye(3)[labels] if output == "softmax" else rng.uniform(0.1, 0.9, size=(45, 3))
    weights = rng.uniform(0.2, 3.0, size=45) if weighted else None
    net = bp.Network([4, 6, 5, 3], hidden=hidden, output=output, loss=loss, dtype=dtype, seed=2)
    options = dict(epochs=3, batch=batch, lr=0.01, l2=l2, l2_per_sample=l2_per_sample)
    expected, expected_losses = reference_fit(net, X, Y, weights, shuffle=True, **options)
    history = net.fit(
        X,
        Y,
        epochs=3,
        batch_size=batch,
        optimizer="adam",
        lr=0.01,
        sample_weight=weights,
        l2=l2,
        l2_per_sample=l2_per_sample,
        warn=False,
    )
    rtol = 1e-10 if dtype == "float64" else 2e-4
    np.testing.assert_allclose(net.params, expected, rtol=rtol, atol=rtol * 1e-2)
    np.testing.assert_allclose(history.loss, expected_losses, rtol=rtol)


@pytest.mark.parametrize(
    "log_rows", [4096, 24, None], ids=["log-whole-epoch", "log-flushes-often", "log-read-per-epoch"]
)
def test_divergence_names_the_batch_where_the_loss_first_went_non_finite(log_rows, monkeypatch):
    monkeypatch.setattr(NUMPY, "loss_log_rows", log_rows)
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(60, 3)), rng.normal(size=(60, 2))
    Y[37] = 1e30  # (o − y)² overflows float32 in row 37, which is in batch 37 // 4 = 9
    net = bp.Network([3, 4, 2], output="identity", loss="squared", dtype="float32", seed=0)
    before = net.params.copy()
    with pytest.raises(bp.TrainingDiverged, match=r"epoch 0, batch 9: the loss is inf \(last"):
        net.fit(X, Y, epochs=2, batch_size=4, shuffle=False, optimizer=bp.SGD(0.01))
    np.testing.assert_array_equal(net.params, before)


@pytest.mark.parametrize("shuffle", [True, False])
def test_zero_one_targets_kept_as_uint8_train_exactly_the_same(shuffle, monkeypatch):
    rng = np.random.default_rng(3)
    X, labels = rng.normal(size=(90, 4)), rng.integers(0, 3, size=90)

    def train(compact_bytes):
        monkeypatch.setattr(Batches, "COMPACT_BYTES", compact_bytes)
        net = bp.Network([4, 6, 3], output="softmax", loss="cross_entropy", seed=1)
        history = net.fit(X, labels, epochs=2, batch_size=16, optimizer="adam", shuffle=shuffle)
        return net.params, history.loss

    compact_params, compact_loss = train(0)
    params, loss = train(1 << 40)
    np.testing.assert_array_equal(compact_params, params)
    np.testing.assert_array_equal(compact_loss, loss)


def test_only_zero_one_targets_are_kept_as_uint8(monkeypatch):
    monkeypatch.setattr(Batches, "COMPACT_BYTES", 0)
    one_hot = np.eye(3, dtype=np.float32)[[0, 2, 1, 1]]
    compact = Batches(NUMPY, Data(np.zeros((4, 2)), one_hot), 2)
    assert compact.data.Y.dtype == np.uint8
    np.testing.assert_array_equal(compact.get(np.array([3, 0, 1, 2]), 0)[1], one_hot[[3, 0]])
    soft = one_hot * 0.5
    kept = Batches(NUMPY, Data(np.zeros((4, 2)), soft), 2)
    assert kept.data.Y.dtype == np.float32


@pytest.mark.parametrize("compact_bytes", [0, 1 << 40], ids=["uint8-targets", "float-targets"])
def test_gathering_per_epoch_or_per_batch_trains_exactly_the_same(compact_bytes, monkeypatch):
    monkeypatch.setattr(Batches, "COMPACT_BYTES", compact_bytes)
    rng = np.random.default_rng(4)
    X, labels = rng.normal(size=(70, 4)), rng.integers(0, 3, size=70)
    weights = rng.uniform(0.5, 2.0, size=70)

    def train(whole_bytes):
        monkeypatch.setattr(Batches, "WHOLE_BYTES", whole_bytes)
        net = bp.Network([4, 6, 3], output="softmax", loss="cross_entropy", seed=1)
        history = net.fit(
            X, labels, epochs=3, batch_size=16, optimizer="adam", sample_weight=weights
        )
        return net.params, history.loss

    per_epoch, per_epoch_loss = train(1 << 40)
    per_batch, per_batch_loss = train(0)
    np.testing.assert_array_equal(per_epoch, per_batch)
    np.testing.assert_array_equal(per_epoch_loss, per_batch_loss)


def test_shuffled_training_on_large_data_never_copies_it():
    import tracemalloc

    rng = np.random.default_rng(6)
    X = rng.normal(size=(40_000, 50)).astype(np.float32)  # 8 MB: gathered batch by batch
    labels = rng.integers(0, 10, size=40_000)
    net = bp.Network([50, 32, 10], hidden="relu", output="softmax", loss="cross_entropy")
    net.fit(X[:256], labels[:256], epochs=1, batch_size=64, optimizer="adam", warn=False)
    tracemalloc.start()
    try:
        net.fit(X, labels, epochs=2, batch_size=64, optimizer="adam", warn=False)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert net.params.dtype == np.float32
    assert peak < X.nbytes / 2  # the one-hot targets (1.6 MB, then uint8) and small buffers
