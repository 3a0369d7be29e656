"""The training recipe (``bp.recipes``) and decoupled weight decay."""

import numpy as np
import pytest

import backprop as bp
from backprop.training import checkpoint as checkpoints
from backprop.training.recipes import (
    MAX_EPOCHS,
    STOPPED_EARLY,
    TIME_LIMIT,
    Recipe,
    balanced_sample_weights,
    default_recipe,
    hidden_sizes,
)
from backprop.training.transforms import DecoupledWeightDecay


def _blobs(n=300, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    X = rng.normal(size=(n, 4)) + np.eye(3, 4)[y] * 2.5
    return X, y


def test_decoupled_decay_is_adamw_step_by_hand():
    """One SGD step: W ← (1 − ηλ)W − η∂E/∂W; the biases get the plain step."""
    X, y = _blobs(40)
    net = bp.Network([4, 5, 3], "relu", "softmax", "cross_entropy", dtype="float64", seed=0)
    before = net.params.copy()
    trace = net.backprop(X, y)
    layers = range(1, net.n_layers + 1)
    grads = np.concatenate(
        [trace.grad_W[l].ravel() for l in layers] + [trace.grad_b[l].ravel() for l in layers]
    )
    lr, decay = 0.1, 0.3
    bp.fit(net, X, y, epochs=1, batch_size=None, optimizer=bp.SGD(lr=lr), weight_decay=decay)
    expected = before - lr * grads
    expected[: net.n_weights] -= lr * decay * before[: net.n_weights]
    np.testing.assert_allclose(net.params, expected, rtol=1e-12, atol=1e-12)


def test_decoupled_decay_is_not_scaled_by_adam():
    """With Adam, L2 in the gradient is rescaled by 1/√v̂; the decoupled decay is not."""
    net = bp.Network([1, 1], seed=0)
    net.params[:] = [2.0, 1.0]
    DecoupledWeightDecay(0.5).before_update(net, 0.1)
    assert net.params.tolist() == pytest.approx([1.9, 1.0])


def test_decoupled_decay_leaves_fixed_weights_alone():
    X, y = _blobs(60)
    layers = [bp.Layer(5, "relu", train_weights=False), bp.Layer(3, "softmax")]
    net = bp.Network([4, *layers], loss="cross_entropy", seed=0)
    fixed, trained = net.layers[1].W.copy(), net.layers[2].W.copy()
    bp.fit(net, X, y, epochs=3, optimizer="adam", weight_decay=0.5)
    np.testing.assert_array_equal(net.layers[1].W, fixed)
    assert not np.array_equal(net.layers[2].W, trained)


def test_weight_decay_refused_when_negative():
    net = bp.Network([4, 3], seed=0)
    before = net.params.copy()
    with pytest.raises(ValueError, match="weight_decay must be"):
        bp.fit(net, *_blobs(20), weight_decay=-1.0)
    np.testing.assert_array_equal(net.params, before)


def test_fingerprint_names_weight_decay_only_when_set():
    """Checkpoints written before decoupled decay existed keep the same fingerprint."""
    net = bp.Network([4, 3], seed=0)
    plain = {"l2": 0.0, "l2_per_sample": False, "clip_norm": None, "weight_decay": 0.0}
    assert "weight_decay" not in checkpoints.fingerprint(net, 10, 0, 5, bp.SGD(), plain, True)
    decayed = dict(plain, weight_decay=0.1)
    assert checkpoints.fingerprint(net, 10, 0, 5, bp.SGD(), decayed, True)["weight_decay"] == 0.1


def test_balanced_weights_match_scikit_learn():
    utils = pytest.importorskip("sklearn.utils.class_weight")
    y = np.array([0, 0, 0, 0, 1, 2, 2, 1, 0, 0])
    per_class = utils.compute_class_weight("balanced", classes=np.unique(y), y=y)
    np.testing.assert_allclose(balanced_sample_weights(y), per_class[y])
    np.testing.assert_allclose(balanced_sample_weights(np.eye(3)[y]), per_class[y])


def test_network_size_follows_the_data():
    assert hidden_sizes(200, 4, 2) == (64,)
    assert len(hidden_sizes(5000, 4, 2)) == 2
    assert hidden_sizes(4000, 100, 10)[0] > hidden_sizes(4000, 10, 2)[0]
    assert max(hidden_sizes(10**7, 10**4, 1000)) <= 512
    assert (
        default_recipe(300, 4, 3).dropout > 0
        and default_recipe(300, 4, 1, "regression").dropout == 0
    )


def test_settings_hold_every_field():
    recipe = default_recipe(300, 4, 3, class_weight="balanced", lr=0.01)
    settings = recipe.settings()
    assert set(settings) == {field for field in Recipe.__dataclass_fields__}
    assert Recipe(**{**settings, "hidden": tuple(settings["hidden"])}) == recipe
    assert "class weights balanced" in recipe.describe()


def test_the_description_names_the_hidden_layers_or_their_absence():
    assert (
        Recipe(hidden=(64, 32), dropout=0.2)
        .describe()
        .startswith("hidden 64-32 relu dropout 0.2, adam")
    )
    assert Recipe(hidden=(64,)).describe().startswith("hidden 64 relu, adam")
    assert Recipe(hidden=(), dropout=0.2).describe().startswith("no hidden layer, adam")


@pytest.mark.parametrize(
    "field, value, message",
    [("class_weight", "even", "class_weight"), ("time_limit", 0, "time_limit")],
)
def test_bad_recipe_fields_are_refused(field, value, message):
    with pytest.raises(ValueError, match=message):
        Recipe(hidden=(4,), **{field: value})


def test_early_stopping_keeps_the_best_epoch():
    X, y = _blobs(300)
    recipe = default_recipe(240, 4, 3, patience=3, plateau_patience=1)
    net = recipe.network(4, 3, seed=0)
    history, outcome = recipe.fit(net, X[:240], y[:240], validation_data=(X[240:], y[240:]))
    assert outcome["stopped"] == STOPPED_EARLY
    assert outcome["epochs_run"] == outcome["best_epoch"] + 4
    kept = bp.evaluate(net, X[240:], y[240:])["val_loss"]
    assert kept == pytest.approx(min(history["val_loss"]), rel=1e-5)
    assert min(history["lr"]) < recipe.lr  # the plateau schedule cut the rate


def test_time_limit_and_max_epochs_end_training():
    X, y = _blobs(100)
    timed = Recipe(hidden=(8,), time_limit=0.01, patience=10**6)
    _, outcome = timed.fit(timed.network(4, 3, seed=0), X, y)
    assert outcome["stopped"] == TIME_LIMIT and outcome["epochs_run"] < 1000
    capped = Recipe(hidden=(8,), max_epochs=3, patience=10**6)
    _, outcome = capped.fit(capped.network(4, 3, seed=0), X, y)
    assert (outcome["stopped"], outcome["epochs_run"]) == (MAX_EPOCHS, 3)


def test_a_fixed_number_of_epochs_runs_them_all_and_keeps_the_last_weights():
    rng = np.random.default_rng(3)
    X, y = rng.normal(size=(80, 4)), rng.integers(0, 3, 80)  # labels without signal: overfits
    recipe = default_recipe(40, 4, 3, patience=1, plateau_patience=2, lr=1e-2)
    train, held_out = (X[:40], y[:40]), (X[40:], y[40:])
    net = recipe.network(4, 3, seed=0)
    history, outcome = recipe.fit(net, *train, validation_data=held_out, epochs=7)
    assert (outcome["epochs_run"], outcome["best_epoch"], outcome["stopped"]) == (7, 7, MAX_EPOCHS)
    assert len(history) == 7 and history.best_epoch is None
    assert history["val_loss"][-1] > min(history["val_loss"][:-1])  # patience 1 would stop
    last = bp.evaluate(net, *held_out)["val_loss"]
    assert last == pytest.approx(history["val_loss"][-1], rel=1e-5)  # not the best epoch's
    assert min(history["lr"]) < recipe.lr  # the plateau schedule still runs
    stopped = recipe.network(4, 3, seed=0)
    _, outcome = recipe.fit(stopped, *train, validation_data=held_out)
    assert outcome["stopped"] == STOPPED_EARLY and outcome["epochs_run"] < 7


@pytest.mark.parametrize("epochs", [0, -3, 2.5, "10", True])
def test_a_bad_number_of_epochs_is_refused_before_training(epochs):
    X, y = _blobs(40)
    recipe = Recipe(hidden=(4,))
    net = recipe.network(4, 3, seed=0)
    before = net.params.copy()
    with pytest.raises(ValueError, match="epochs must be a whole number >= 1"):
        recipe.fit(net, X, y, epochs=epochs)
    np.testing.assert_array_equal(net.params, before)


def test_class_weights_lift_the_rare_class():
    rng = np.random.default_rng(1)
    y = (rng.random(600) < 0.08).astype(int)
    X = rng.normal(size=(600, 2)) + y[:, None] * 1.2
    recalls = {}
    for weight in (None, "balanced"):
        recipe = Recipe(hidden=(16,), class_weight=weight, max_epochs=40, patience=10**6)
        net = recipe.network(2, 2, seed=0)
        recipe.fit(net, X, y)
        recalls[weight] = (net.predict_classes(X)[y == 1] == 1).mean()
    assert recalls["balanced"] > recalls[None] + 0.2


def test_regression_recipe_fits_a_curve():
    rng = np.random.default_rng(0)
    X = rng.uniform(-2, 2, size=(400, 1))
    y = np.sin(2 * X[:, 0])
    recipe = default_recipe(320, 1, 1, "regression")
    net = recipe.network(1, 1, "regression", seed=0)
    recipe.fit(net, X[:320], y[:320], validation_data=(X[320:], y[320:]))
    assert np.mean((net.predict(X[320:])[:, 0] - y[320:]) ** 2) < 0.02


def test_as_good_as_scikit_learn_defaults_on_breast_cancer():
    """Side by side with MLPClassifier's defaults on the same split and scaling."""
    sklearn_datasets = pytest.importorskip("sklearn.datasets")
    from sklearn.model_selection import train_test_split
    from sklearn.neural_network import MLPClassifier
    from sklearn.preprocessing import StandardScaler

    X, y = sklearn_datasets.load_breast_cancer(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0, stratify=y)
    scaler = StandardScaler().fit(X_train)
    X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
    theirs = MLPClassifier(random_state=0, max_iter=500).fit(X_train, y_train).score(X_test, y_test)
    n_val = len(X_train) // 10
    recipe = default_recipe(len(X_train) - n_val, 30, 2)
    net = recipe.network(30, 2, seed=0)
    recipe.fit(
        net, X_train[n_val:], y_train[n_val:], validation_data=(X_train[:n_val], y_train[:n_val])
    )
    ours = (net.predict_classes(X_test) == y_test).mean()
    assert ours >= theirs - 0.015
